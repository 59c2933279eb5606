//! Worker SCPUs: more fuzzers in the same SMACH, sharing its handle table
//! and the published SIOs, running under preemption beside the first one;
//! and a victim SCPU the first fuzzer kills in the middle of a call.
//!
//! Owns the workers' stacks, their configuration and results (statics:
//! SCPUs of one SMACH share memory), [`start_workers`], [`workers_done`],
//! [`collect_workers`], and the victim thread. A worker maps its own zone,
//! fuzzes its budget, closes what it opened, publishes its counts, then
//! blocks until its SMACH's first fuzzer terminates
//! it (a thread killed while blocked in a call: it first tries to end
//! itself, which the ABI allows and the kernel refuses, then waits for a
//! suspended child).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sk_abi::{Call, CallWord, Handle, Kind, SysError};
use sk_user::{OpenFlags, Prot, Sio, Smach, Smem, Stack};
use sk_user_sysfuzz::model::KnownBug;
use sk_user_sysfuzz::plan::{Mode, Plan};
use sk_user_sysfuzz::rng::derive_seed;
use sk_user_sysfuzz::stats::{Cell, Stats, WORDS};

use crate::fuzzer::{word, Expect, Fuzzer};
use crate::memory::{Zone, BUF_BYTES, DATA_BYTES};
use crate::shared::Shared;

/// Worker SCPUs an SMACH may start.
pub(crate) const MAX_WORKERS: usize = 3;

/// Bytes of each worker's stack.
const STACK_BYTES: usize = 96 << 10;

static STACKS: [Stack<STACK_BYTES>; MAX_WORKERS] = [const { Stack::new() }; MAX_WORKERS];
static VICTIM_STACK: Stack<16384> = Stack::new();
static VICTIM_BUF: Stack<{ 128 << 10 }> = Stack::new();

/// What the workers need to know (set before they start).
static TAG: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);
static BUDGET: AtomicU64 = AtomicU64::new(0);
static SPIN_TOP: AtomicU64 = AtomicU64::new(0);
static STRICT: AtomicBool = AtomicBool::new(false);

/// What each worker leaves: its counts, then the flag.
static RESULTS: [[AtomicU64; WORDS]; MAX_WORKERS] =
    [const { [const { AtomicU64::new(0) }; WORDS] }; MAX_WORKERS];
static DONE: [AtomicBool; MAX_WORKERS] = [const { AtomicBool::new(false) }; MAX_WORKERS];

/// Each worker's own SCPU handle (set by the first fuzzer once created).
static HANDLES: [AtomicU32; MAX_WORKERS] = [const { AtomicU32::new(0) }; MAX_WORKERS];

/// The suspended child each finished worker waits for (0: none yet).
static WAITED: [AtomicU32; MAX_WORKERS] = [const { AtomicU32::new(0) }; MAX_WORKERS];

/// A worker's `terminate` on its own SCPU came back `Busy` (the ABI says
/// it ends the thread).
static SELF_TERMINATE_BUSY: AtomicBool = AtomicBool::new(false);

/// The victim's `/dev/zero` handle (0 until it opened it).
static VICTIM_HANDLE: AtomicU32 = AtomicU32::new(0);

/// The published SIOs of this SMACH.
pub(crate) static SHARED: Shared = Shared::new();

/// Maps fuzzer `index`'s zone: `DATA`, `BUF_A`, `BUF_B`. Returns the
/// regions (to free later) or `None`.
pub(crate) fn map_zone(index: u64) -> Option<[Smem; 3]> {
    let zone = Zone::new(index);
    let rw = Prot::READ | Prot::WRITE;
    let data = Smem::create_at(zone.data(), DATA_BYTES, rw).ok()?;
    let Ok(a) = Smem::create_at(zone.buf_a(), BUF_BYTES, rw) else {
        let _ = data.free();
        return None;
    };
    let Ok(b) = Smem::create_at(zone.buf_b(), BUF_BYTES, rw) else {
        let _ = data.free();
        let _ = a.free();
        return None;
    };
    Some([data, a, b])
}

/// Frees a zone's regions.
pub(crate) fn unmap_zone(regions: [Smem; 3]) {
    for region in regions {
        let _ = region.free();
    }
}

/// A worker's entry: fuzzer `arg` of the SMACH.
extern "C" fn worker(arg: u64) -> ! {
    let index = usize::try_from(arg).unwrap_or(0);
    let mut stats = Stats::new();
    if let Some(regions) = map_zone(arg + 1) {
        let handles = regions.each_ref().map(|r| r.handle().index());
        let seed = derive_seed(SEED.load(Ordering::Acquire), arg + 1);
        let mut fuzzer = Fuzzer::new(
            TAG.load(Ordering::Acquire),
            arg + 1,
            seed,
            &handles,
            SPIN_TOP.load(Ordering::Acquire),
        );
        fuzzer.solo = false;
        fuzzer.strict = STRICT.load(Ordering::Acquire);
        fuzzer.shared = Some(&SHARED);
        fuzzer.name_files();
        fuzzer.run(BUDGET.load(Ordering::Acquire));
        fuzzer.cleanup();
        stats = fuzzer.stats;
        unmap_zone(regions);
    } else {
        stats.failures += 1;
        sk_user::println!("sysfuzz: worker {arg}: cannot map its zone");
    }
    if let Some(result) = RESULTS.get(index) {
        for (slot, value) in result.iter().zip(stats.to_words()) {
            slot.store(value, Ordering::Relaxed);
        }
    }
    if let Some(done) = DONE.get(index) {
        done.store(true, Ordering::Release);
    }
    end_worker(index)
}

/// A finished worker ends itself if the kernel lets it (the ABI says a
/// `terminate` on the caller's own SCPU ends that thread), else blocks in
/// a call (waiting for a child that never runs) until killed.
fn end_worker(index: usize) -> ! {
    let slot = HANDLES.get(index);
    let own = loop {
        let handle = slot.map_or(0, |h| h.load(Ordering::Acquire));
        if handle != 0 {
            break handle;
        }
        let _ = sk_user::null_call();
    };
    let word = CallWord::new(Handle::new(own), Call::Terminate).get();
    // SAFETY: terminating the caller's own SCPU ends this thread (which
    // holds nothing) or fails; it touches no memory.
    let rax = unsafe { sk_user::raw::syscall1(word, 0) };
    if SysError::decode_return(rax) == Err(SysError::Busy) {
        SELF_TERMINATE_BUSY.store(true, Ordering::Release);
    }
    let echo = Plan {
        mode: Mode::Echo,
        seed: 0,
        calls: 1,
        strict: false,
    };
    if let Ok(child) = Smach::spawn_with_arg(crate::objects::SYSFUZZ, echo.to_arg()) {
        let _ = child.suspend();
        if let Some(waited) = WAITED.get(index) {
            waited.store(child.handle().index(), Ordering::Release);
        }
        loop {
            let _ = child.wait();
        }
    }
    loop {
        let _ = sk_user::null_call();
    }
}

/// The victim's entry: opens `/dev/zero` and reads 128 KiB at a time
/// (two chunks, a preemption point between) until killed.
extern "C" fn victim(_arg: u64) -> ! {
    let Ok(zero) = Sio::open("/dev/zero", OpenFlags::READ) else {
        loop {
            core::hint::spin_loop();
        }
    };
    VICTIM_HANDLE.store(zero.handle().index(), Ordering::SeqCst);
    let buf = VICTIM_BUF.take().unwrap_or_default();
    loop {
        let _ = zero.read(buf);
    }
}

/// Starts `count` workers for fuzzer `owner` (its SMACH's first), each with
/// `budget` calls and `quantum_us`; returns their handles.
pub(crate) fn start_workers(
    owner: &mut Fuzzer<'_>,
    count: usize,
    seed: u64,
    budget: u64,
) -> ([u32; MAX_WORKERS], usize) {
    TAG.store(owner.tag, Ordering::Release);
    SEED.store(seed, Ordering::Release);
    BUDGET.store(budget, Ordering::Release);
    SPIN_TOP.store(owner.spin_stack_top, Ordering::Release);
    STRICT.store(owner.strict, Ordering::Release);
    let mut handles = [0_u32; MAX_WORKERS];
    let mut started = 0;
    for index in 0..count.min(MAX_WORKERS) {
        let Some(stack) = STACKS.get(index).and_then(Stack::take) else {
            owner.fail("workers", format_args!("stack {index} already taken"));
            continue;
        };
        let quantum = [1000, 2000, 5000][index % 3];
        match start_thread(owner, worker, stack, index as u64, quantum) {
            Some(handle) => {
                if let Some(slot) = handles.get_mut(started) {
                    *slot = handle;
                    started += 1;
                }
                if let Some(slot) = HANDLES.get(index) {
                    slot.store(handle, Ordering::Release);
                }
            }
            None => owner.fail("workers", format_args!("worker {index} did not start")),
        }
    }
    (handles, started)
}

/// `create(Kind::Scpu)` through the owner's checked call.
fn start_thread(
    owner: &mut Fuzzer<'_>,
    entry: extern "C" fn(u64) -> !,
    stack: &'static mut [u8],
    arg: u64,
    quantum_us: u32,
) -> Option<u32> {
    let top = (stack.as_ptr() as u64 + stack.len() as u64) & !15;
    let args = sk_abi::ScpuCreateArgs {
        entry: entry as *const () as u64,
        stack_top: top,
        arg,
        priority: 0,
        quantum_us,
    }
    .to_bytes();
    let ptr = args.as_ptr() as u64;
    let cell = Cell::new(Call::Create, Some(Kind::Scpu), true);
    // SAFETY: the thread runs a safe Rust function on a stack taken from
    // its `Stack` for good (no one else ever uses it); everything it shares
    // with this thread is atomics and its own zone.
    let got = unsafe {
        owner.sys_raw(
            word(0, Call::Create),
            &[u64::from(Kind::Scpu), ptr, 32],
            [(ptr, ptr + 32), (0, 0)],
            cell,
            "create worker SCPU",
            Expect::Ok,
        )
    };
    got.ok().and_then(|h| u32::try_from(h).ok())
}

/// Whether the first `count` workers are done.
pub(crate) fn workers_done(count: usize) -> bool {
    DONE.iter()
        .take(count)
        .all(|done| done.load(Ordering::Acquire))
}

/// Terminates the workers (blocked waiting for a suspended child, which
/// goes too) and adds their counts to `into`.
pub(crate) fn collect_workers(owner: &mut Fuzzer<'_>, handles: &[u32], into: &mut Stats) {
    for (index, &handle) in handles.iter().enumerate() {
        let cell = Cell::new(Call::Terminate, Some(Kind::Scpu), true);
        let _ = owner.sys(
            word(handle, Call::Terminate),
            &[0],
            [(0, 0); 2],
            cell,
            "terminate worker",
            Expect::Is(Ok(0)),
        );
        let waited = WAITED.get(index).map_or(0, |w| w.swap(0, Ordering::AcqRel));
        if waited != 0 {
            let cell = Cell::new(Call::Terminate, Some(Kind::Smach), true);
            let _ = owner.sys(
                word(waited, Call::Terminate),
                &[0],
                [(0, 0); 2],
                cell,
                "release a worker's child",
                Expect::Is(Ok(0)),
            );
        }
        if let Some(result) = RESULTS.get(index) {
            let mut words = [0_u64; WORDS];
            for (word, slot) in words.iter_mut().zip(result.iter()) {
                *word = slot.load(Ordering::Relaxed);
            }
            into.add(&Stats::from_words(&words));
        }
    }
    if SELF_TERMINATE_BUSY.swap(false, Ordering::AcqRel) {
        owner.known(
            KnownBug::SelfTerminateBusy,
            format_args!("terminate on a worker's own SCPU handle came back Busy"),
        );
    }
}

/// Starts the victim thread; returns its handle.
pub(crate) fn start_victim(owner: &mut Fuzzer<'_>) -> Option<u32> {
    let stack = VICTIM_STACK.take()?;
    start_thread(owner, victim, stack, 0, 1000)
}

/// Kills the victim thread (most likely in the middle of a read) and
/// closes the SIO it opened.
pub(crate) fn kill_victim(owner: &mut Fuzzer<'_>, handle: u32) {
    let cell = Cell::new(Call::Terminate, Some(Kind::Scpu), true);
    let _ = owner.sys(
        word(handle, Call::Terminate),
        &[0],
        [(0, 0); 2],
        cell,
        "kill victim SCPU",
        Expect::Is(Ok(0)),
    );
    let zero = VICTIM_HANDLE.swap(0, Ordering::SeqCst);
    if zero != 0 {
        let cell = Cell::new(Call::Terminate, Some(Kind::Sio), true);
        let _ = owner.sys(
            word(zero, Call::Terminate),
            &[0],
            [(0, 0); 2],
            cell,
            "close the victim's SIO",
            Expect::Is(Ok(0)),
        );
    }
    // Its thread is gone: a call on its handle names nothing.
    let cell = Cell::new(Call::Query, None, false);
    let mut out = [0_u8; 24];
    let ptr = out.as_mut_ptr() as u64;
    if owner.solo {
        let _ = owner.sys(
            word(handle, Call::Query),
            &[0, ptr, 24],
            [(ptr, ptr + 24), (0, 0)],
            cell,
            "query killed SCPU",
            Expect::Err(SysError::BadHandle),
        );
    }
}
