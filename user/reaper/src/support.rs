//! What every mode uses: reusable thread stacks, thread-state waits
//! bounded by iteration counts (never by time), regions, files, raw and
//! traced calls.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

use sk_user::abi::{Call, CallWord, Handle, ScpuState, SmachReconfigure, SysError};
use sk_user::{println, OpenFlags, Prot, Scpu, ScpuEntry, Sio, Smach, Smem};

/// Exit status: setup failed (the test proves nothing).
pub(crate) const SETUP: i32 = 1;
/// Exit status: the race was not hit (the call ended before the racer ran).
pub(crate) const MISSED: i32 = 3;

/// Spins of a wait loop before it gives up (an iteration count, not a
/// time: a thread that never changes state fails the mode, it does not
/// hang the test). A wait of a whole 10 ms quantum is well under a million.
pub(crate) const SPIN_LIMIT: u64 = 400_000_000;

/// Bytes of each thread stack.
const STACK_BYTES: usize = 16384;

/// A thread stack that may be lent again once its last thread is gone
/// (`sk_user::Stack` is handed out once; modes here start hundreds of
/// threads, one after the other).
pub(crate) struct ThreadStack {
    bytes: UnsafeCell<[u8; STACK_BYTES]>,
}

// SAFETY: the bytes are reached only through `lend`, whose caller promises
// that no earlier borrower still runs.
unsafe impl Sync for ThreadStack {}

impl ThreadStack {
    const fn new() -> Self {
        Self {
            bytes: UnsafeCell::new([0; STACK_BYTES]),
        }
    }
}

/// Stacks for up to eight threads at a time.
pub(crate) static STACKS: [ThreadStack; 8] = [const { ThreadStack::new() }; 8];

/// Counts spins of the main SCPU (the caller threads start their call when
/// it moved: a fresh quantum lies ahead of them).
pub(crate) static COUNT: AtomicU64 = AtomicU64::new(0);

/// Starts `entry(arg)` on stack `slot` at `priority` (0, the lowest, ... 7).
///
/// # Safety
/// No thread started earlier on `slot` may still run: it ended (its
/// handle answers `BadHandle`) or was never started.
pub(crate) unsafe fn start_on(
    slot: usize,
    entry: ScpuEntry,
    arg: u64,
    priority: u32,
) -> Result<Scpu, i32> {
    let stack = STACKS.get(slot).ok_or(SETUP)?;
    // SAFETY: the caller guarantees no earlier thread of this slot runs:
    // this is the only live use of the bytes from now on.
    let bytes: &'static mut [u8] = unsafe { &mut *stack.bytes.get() };
    Scpu::create_with(entry, bytes, arg, priority, 0).map_err(|e| {
        println!("reaper: SCPU create: {e:?}");
        SETUP
    })
}

/// The state of the SCPU at `handle`.
pub(crate) fn state_of(handle: Handle) -> Result<ScpuState, SysError> {
    Scpu::from_handle(handle).query().and_then(|i| i.state())
}

/// Spins until the SCPU at `handle` is blocked in the kernel. `Err(MISSED)`
/// if `done` is raised first (its call returned instead of blocking).
pub(crate) fn wait_blocked(handle: Handle, done: &AtomicU64) -> Result<(), i32> {
    for _ in 0..SPIN_LIMIT {
        match state_of(handle) {
            Ok(ScpuState::Blocked) => return Ok(()),
            Ok(_) => {}
            Err(e) => {
                println!("reaper: query of a thread waiting to block: {e:?}");
                return Err(SETUP);
            }
        }
        if done.load(Ordering::SeqCst) != 0 {
            println!("reaper: the call returned instead of blocking");
            return Err(MISSED);
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    println!("reaper: the thread never blocked");
    Err(SETUP)
}

/// Spins until the SCPU handle `handle` answers `BadHandle` (the thread is
/// gone). `Err(code)` if it does not within [`SPIN_LIMIT`] spins.
pub(crate) fn wait_gone(handle: Handle, code: i32) -> Result<(), i32> {
    for _ in 0..SPIN_LIMIT {
        match state_of(handle) {
            Err(SysError::BadHandle) => return Ok(()),
            Err(e) => {
                println!("reaper: query of an ending thread: {e:?}");
                return Err(code);
            }
            Ok(_) => {}
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    println!("reaper: FINDING: the thread never ended");
    Err(code)
}

/// Spins until `flag` is raised; `Err(code)` after [`SPIN_LIMIT`] spins.
pub(crate) fn wait_flag(flag: &AtomicU64, code: i32, what: &str) -> Result<(), i32> {
    for _ in 0..SPIN_LIMIT {
        if flag.load(Ordering::SeqCst) != 0 {
            return Ok(());
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    println!("reaper: {what} never happened");
    Err(code)
}

/// A fresh read-write region of `len` bytes filled with `fill`.
pub(crate) fn region(len: u64, fill: u8) -> Result<Smem, i32> {
    let mut r = Smem::create(len, Prot::READ | Prot::WRITE).map_err(|e| {
        println!("reaper: SMEM create of {len} bytes: {e:?}");
        SETUP
    })?;
    // SAFETY: mapped read-write; only this SCPU uses it now.
    unsafe { r.as_mut_slice() }.fill(fill);
    Ok(r)
}

/// Opens `path`, `SETUP` on failure.
pub(crate) fn open(path: &str, flags: OpenFlags) -> Result<Sio, i32> {
    Sio::open(path, flags).map_err(|e| {
        println!("reaper: open {path}: {e:?}");
        SETUP
    })
}

/// The call word of `call` on `handle` (table route).
pub(crate) fn word(handle: Handle, call: Call) -> u64 {
    CallWord::new(handle, call).get()
}

/// A file at `path` holding `bytes`.
pub(crate) fn small_file(path: &str, bytes: &[u8]) -> Result<(), i32> {
    let f = open(
        path,
        OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )?;
    let wrote = f.write(bytes);
    let _ = f.close();
    if wrote != Ok(bytes.len()) {
        println!("reaper: writing {path}: {wrote:?}");
        return Err(SETUP);
    }
    Ok(())
}

/// A file at `path` of `len` bytes of `fill` (one long generic write).
pub(crate) fn big_file(path: &str, len: u64, fill: u8) -> Result<(), i32> {
    let src = region(len, fill)?;
    let f = open(
        path,
        OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )?;
    // SAFETY: the region is mapped and no reference to it lives.
    let got = unsafe { sk_user::raw::syscall2(word(f.handle(), Call::Write), src.addr(), len) };
    let _ = f.close();
    let _ = src.free();
    if u64::try_from(got).ok() != Some(len) {
        println!("reaper: writing {path}: {got}");
        return Err(SETUP);
    }
    Ok(())
}

/// Arms the kernel's instruction counter for the calling thread's next call.
pub(crate) fn arm_trace() -> Result<(), SysError> {
    Smach::this()
        .reconfigure(SmachReconfigure::TraceNextCall)
        .map(drop)
}

/// RFLAGS.TF.
const TF: u64 = 1 << 8;

/// Makes the call `word` (`rdi`, `rsi`, `rdx` = `a0`, `a1`, `a2`) with
/// RFLAGS.TF set, as the benchmarks' traced calls do; returns `rax`.
///
/// # Safety
/// As [`sk_user::raw::syscall3`] for the call `word` names: whatever user
/// memory the arguments point at is valid for it.
pub(crate) unsafe fn traced_syscall3(word: u64, a0: u64, a1: u64, a2: u64) -> i64 {
    let rax: i64;
    // SAFETY: TF is set only for the `syscall` (the kernel counts the
    // call; the `#DB` after it, in user mode, is the kernel's to claim).
    // The register convention of `sk_user::raw`: call word in rax,
    // arguments in rdi, rsi, rdx; every argument register, rcx and r11
    // are clobbered. The memory the call touches is the caller's duty.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {tf}",
            "popfq",
            "syscall",
            tf = const TF,
            inlateout("rax") word => rax,
            inlateout("rdi") a0 => _, inlateout("rsi") a1 => _,
            inlateout("rdx") a2 => _,
            lateout("r10") _, lateout("r8") _, lateout("r9") _,
            lateout("rcx") _, lateout("r11") _,
        );
    }
    rax
}

/// Spins for `n` iterations (counted in [`COUNT`]).
pub(crate) fn spin(n: u64) {
    for _ in 0..n {
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
}

/// "ok" or "error" for a raw `rax`.
pub(crate) fn show(rax: i64) -> &'static str {
    match SysError::decode_return(rax) {
        Ok(_) => "ok",
        Err(_) => "error",
    }
}
