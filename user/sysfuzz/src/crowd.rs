//! Worker SCPUs: more fuzzers in the same SMACH, sharing its handle table
//! and the published SIOs, running under preemption beside the first one;
//! and a victim SCPU the first fuzzer kills in the middle of a call.
//!
//! Owns the workers' stacks, their configuration and results (statics:
//! SCPUs of one SMACH share memory), [`start_workers`], [`workers_done`],
//! [`collect_workers`], and the victim thread. A worker maps its own zone,
//! fuzzes its budget, closes what it opened, publishes its counts, then
//! parks: it blocks in a call (waiting for an echo child it suspended).
//! Then its SMACH's first fuzzer (the owner) ends it, one of two ways:
//!
//! - an odd-indexed worker is killed by handle while blocked (a thread
//!   killed in the middle of a call);
//! - an even-indexed worker ends itself: the owner lets its child run, the
//!   worker's wait returns, and it calls `terminate` on its own SCPU
//!   handle, which ends the thread and frees the handle. The owner checks
//!   that the handle is gone and that the call never returned.
//!
//! A freed handle number goes to whoever creates next in the SMACH's
//! shared table, so the owner lets a worker end itself only once no other
//! SCPU of the SMACH creates anything any more (every other worker parked
//! or dead, its own fuzzing over), and it touches that handle only until
//! it answers `BadHandle`.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sk_abi::{Call, CallWord, Handle, Kind, SmachReconfigure, SysError};
use sk_user::{OpenFlags, Prot, Sio, Smach, Smem, Stack};
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

/// What each worker leaves: its counts, then the flag.
static RESULTS: [[AtomicU64; WORDS]; MAX_WORKERS] =
    [const { [const { AtomicU64::new(0) }; WORDS] }; MAX_WORKERS];
static DONE: [AtomicBool; MAX_WORKERS] = [const { AtomicBool::new(false) }; MAX_WORKERS];

/// Each worker's own SCPU handle (set by the first fuzzer once created).
static HANDLES: [AtomicU32; MAX_WORKERS] = [const { AtomicU32::new(0) }; MAX_WORKERS];

/// The suspended child each finished worker waits for (0: none yet).
static WAITED: [AtomicU32; MAX_WORKERS] = [const { AtomicU32::new(0) }; MAX_WORKERS];

/// Set by a finished worker just before it blocks (its child started, or
/// not: it makes no more `create`s).
static PARKED: [AtomicBool; MAX_WORKERS] = [const { AtomicBool::new(false) }; MAX_WORKERS];

/// Set by the owner: the (even-indexed) worker may end itself.
static GO: [AtomicBool; MAX_WORKERS] = [const { AtomicBool::new(false) }; MAX_WORKERS];

/// Set by a worker just before its `terminate` on its own handle.
static ENDING: [AtomicBool; MAX_WORKERS] = [const { AtomicBool::new(false) }; MAX_WORKERS];

/// What a worker's `terminate` on its own handle returned, should it
/// return at all: 0 = nothing (the thread ended), 1 = success, else the
/// error's code + 1.
static RETURNED: [AtomicU64; MAX_WORKERS] = [const { AtomicU64::new(0) }; MAX_WORKERS];

/// Null calls the owner spins before it calls a wait for a worker failed.
const SPIN_LIMIT: u64 = 50_000_000;

/// Null calls between two of the owner's queries of an ending worker.
const SPINS_PER_QUERY: u64 = 256;

/// Whether worker `index` ends itself (else it is killed while blocked).
const fn ends_itself(index: usize) -> bool {
    index.is_multiple_of(2)
}

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

/// A finished worker parks, then ends itself (even index, once the owner
/// says so) or waits to be killed (odd index).
fn end_worker(index: usize) -> ! {
    let child = park(index);
    if !ends_itself(index) {
        loop {
            match &child {
                Some(child) => {
                    let _ = child.wait();
                }
                None => {
                    let _ = sk_user::null_call();
                }
            }
        }
    }
    let go = || GO.get(index).is_some_and(|go| go.load(Ordering::Acquire));
    while !go() {
        // Blocks until the owner lets the child run (returns at once if
        // the child ran and exited before it was suspended).
        if let Some(child) = &child {
            let _ = child.wait();
        }
        if !go() {
            let _ = sk_user::null_call();
        }
    }
    if let Some(child) = child {
        let _ = child.terminate();
    }
    let slot = HANDLES.get(index);
    let own = loop {
        let handle = slot.map_or(0, |h| h.load(Ordering::Acquire));
        if handle != 0 {
            break handle;
        }
        let _ = sk_user::null_call();
    };
    if let Some(ending) = ENDING.get(index) {
        ending.store(true, Ordering::Release);
    }
    let word = CallWord::new(Handle::new(own), Call::Terminate).get();
    // SAFETY: terminating the caller's own SCPU ends this thread (which
    // holds nothing: its counts are published, its zone unmapped) or
    // fails; it touches no memory.
    let rax = unsafe { sk_user::raw::syscall1(word, 0) };
    // Only reached if the kernel let this thread live: say what it said,
    // and wait to be killed.
    let code = match SysError::decode_return(rax) {
        Ok(_) => 1,
        Err(error) => u64::from(error.code()) + 1,
    };
    if let Some(returned) = RETURNED.get(index) {
        returned.store(code, Ordering::Release);
    }
    loop {
        let _ = sk_user::null_call();
    }
}

/// Gets worker `index` ready to block: starts an echo child and suspends
/// it (the child the worker then waits for), publishes its handle, and
/// says ([`PARKED`]) the worker makes no more `create`s. Returns the child
/// (`None`: it did not start).
fn park(index: usize) -> Option<Smach> {
    let echo = Plan {
        mode: Mode::Echo,
        seed: 0,
        calls: 1,
    };
    let child = Smach::spawn_with_arg(crate::objects::SYSFUZZ, echo.to_arg()).ok();
    if let Some(child) = &child {
        let _ = child.suspend();
        if let Some(waited) = WAITED.get(index) {
            waited.store(child.handle().index(), Ordering::Release);
        }
    }
    if let Some(parked) = PARKED.get(index) {
        parked.store(true, Ordering::Release);
    }
    child
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
        // The lowest priority (0..=7; `sk_abi::DEFAULT_PRIORITY` is 3):
        // the shortest turns, as these threads always ran.
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

/// Ends the workers (see the module docs) and adds their counts to
/// `into`. Called once the owner's fuzzing and every worker's are over:
/// the workers' `park` is the only `create` left in the SMACH.
pub(crate) fn collect_workers(owner: &mut Fuzzer<'_>, handles: &[u32], into: &mut Stats) {
    // The killed ones first, then wait until every other one is parked: from
    // then on no SCPU of the SMACH creates anything, and a handle a worker
    // frees by ending itself stays free.
    for (index, &handle) in handles.iter().enumerate() {
        if !ends_itself(index) {
            await_flag(owner, &PARKED, index, "park");
            kill_worker(owner, index, handle);
        }
    }
    for index in (0..handles.len()).filter(|&i| ends_itself(i)) {
        await_flag(owner, &PARKED, index, "park");
    }
    for (index, &handle) in handles.iter().enumerate() {
        if ends_itself(index) {
            let ended = let_end_itself(owner, index, handle);
            if !ended {
                kill_worker(owner, index, handle);
            }
        }
    }
    for (index, result) in RESULTS.iter().enumerate().take(handles.len()) {
        let mut words = [0_u64; WORDS];
        for (word, slot) in words.iter_mut().zip(result.iter()) {
            *word = slot.load(Ordering::Relaxed);
        }
        into.add(&Stats::from_words(&words));
        // A thread that ended itself never comes back from the call.
        let returned = RETURNED.get(index).map_or(0, |r| r.load(Ordering::Acquire));
        if ends_itself(index) && returned != 0 {
            owner.fail(
                "worker self-terminate",
                format_args!(
                    "worker {index}: terminate on its own SCPU handle returned {:?}",
                    decode_returned(returned)
                ),
            );
        }
    }
}

/// What [`RETURNED`] holds, decoded.
fn decode_returned(value: u64) -> Result<u64, SysError> {
    match value {
        1 => Ok(0),
        code => Err(
            SysError::from_code(u32::try_from(code - 1).unwrap_or(u32::MAX))
                .unwrap_or(SysError::Unknown),
        ),
    }
}

/// Spins (null calls, not counted) until worker `index`'s `flag` is set;
/// a failed check if it never is.
fn await_flag(owner: &mut Fuzzer<'_>, flags: &[AtomicBool], index: usize, what: &str) {
    let is_set = || flags.get(index).is_some_and(|f| f.load(Ordering::Acquire));
    let mut spins = 0_u64;
    while !is_set() {
        if spins >= SPIN_LIMIT {
            owner.fail(
                "workers",
                format_args!("worker {index} did not {what} in {SPIN_LIMIT} spins"),
            );
            return;
        }
        spins += 1;
        let _ = sk_user::null_call();
    }
}

/// Lets even-indexed worker `index` (parked, at `handle`) end itself and
/// checks it did: the call does not return, and the handle is closed
/// (`BadHandle`). Returns false if it is still there (a failed check: the
/// caller kills it).
fn let_end_itself(owner: &mut Fuzzer<'_>, index: usize, handle: u32) -> bool {
    if let Some(go) = GO.get(index) {
        go.store(true, Ordering::Release);
    }
    let waited = WAITED.get(index).map_or(0, |w| w.swap(0, Ordering::AcqRel));
    if waited != 0 {
        // Its child runs and exits: the worker's wait returns. (The
        // worker may have closed the child already, if the child ran
        // before it was suspended.)
        let cell = Cell::new(Call::Reconfigure, Some(Kind::Smach), true);
        let _ = owner.sys(
            word(waited, Call::Reconfigure),
            &SmachReconfigure::Resume.to_registers(),
            [(0, 0); 2],
            cell,
            "wake a parked worker",
            Expect::OkOr(SysError::BadHandle),
        );
    }
    let returned = || RETURNED.get(index).map_or(0, |r| r.load(Ordering::Acquire));
    let is_ending = || ENDING.get(index).is_some_and(|e| e.load(Ordering::Acquire));
    let mut spins = 0_u64;
    while !is_ending() && returned() == 0 && spins < SPIN_LIMIT {
        spins += 1;
        let _ = sk_user::null_call();
    }
    let mut out = [0_u8; 24];
    let ptr = out.as_mut_ptr() as u64;
    let mut queries = 0_u64;
    loop {
        let value = returned();
        if value != 0 {
            owner.fail(
                "worker self-terminate",
                format_args!(
                    "worker {index}: terminate on its own SCPU handle returned {:?}",
                    decode_returned(value)
                ),
            );
            // Counted once: the final check in `collect_workers` skips it.
            if let Some(r) = RETURNED.get(index) {
                r.store(0, Ordering::Release);
            }
            return false;
        }
        // The handle names the worker until it ends (no one creates).
        let cell = Cell::new(Call::Query, None, false);
        let got = owner.sys(
            word(handle, Call::Query),
            &[0, ptr, 24],
            [(ptr, ptr + 24), (0, 0)],
            cell,
            "query an ending worker",
            Expect::Any,
        );
        match got {
            Err(SysError::BadHandle) => return true,
            Ok(24) => {}
            other => {
                owner.fail(
                    "worker self-terminate",
                    format_args!("worker {index}: query of its handle {handle}: {other:?}"),
                );
                return false;
            }
        }
        queries += 1;
        if queries * SPINS_PER_QUERY >= SPIN_LIMIT {
            owner.fail(
                "worker self-terminate",
                format_args!(
                    "worker {index}: handle {handle} still answers after {queries} queries"
                ),
            );
            return false;
        }
        for _ in 0..SPINS_PER_QUERY {
            let _ = sk_user::null_call();
        }
    }
}

/// Terminates worker `index` at `handle` (parked, or spinning after a
/// failed self-terminate) and the child it waited for.
fn kill_worker(owner: &mut Fuzzer<'_>, index: usize, handle: u32) {
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
