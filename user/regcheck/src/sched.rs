//! The executable-scheduler work's calls and traps (the third review):
//! semaphore P and V (synthesized fast paths, the generic slow paths, a P
//! that blocks until another SCPU's V, buffers and lengths that must be
//! ignored, a closed semaphore), `yield` and `sleep` that really switch to
//! another SCPU, and their error paths; then two checks that are not
//! system calls: this program's first FP instruction (`#NM`, the lazy FP
//! trap: every general register kept, and the XMM registers in the
//! initial state although another SCPU just filled them) and a stretch
//! of user code across timer switches to a spinning SCPU (every general
//! register kept).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use sk_abi::{Call as Op, Handle, ScpuReconfigure, SysError, MAX_SLEEP_NS};
use sk_user::{println, routine_of, Scpu, Sio, Stack};

use crate::capture::{Regs, NAMES, RCX, RSP};
use crate::check::{mark, Call, Checker, Path, Want};
use crate::io::{word, KERNEL_ADDR, UNMAPPED};

/// Stacks of the helper SCPUs: a spinner, a V-giver, an FP filler, and
/// the SCPU that makes the captured yield and sleep calls (which need a
/// handle of one's own; the main thread has none).
static SPIN_STACK: Stack<4096> = Stack::new();
static GIVER_STACK: Stack<4096> = Stack::new();
static FILLER_STACK: Stack<4096> = Stack::new();
static CHECKER_STACK: Stack<65536> = Stack::new();

/// The semaphore the giver V's (its handle; 0: none yet).
static GIVE_TO: AtomicU32 = AtomicU32::new(0);
/// V's the giver still owes.
static GIVE: AtomicU64 = AtomicU64::new(0);
/// Handles published by the creator (0: not yet).
static GIVER: AtomicU32 = AtomicU32::new(0);
static SPINNER: AtomicU32 = AtomicU32::new(0);
static CHECKER: AtomicU32 = AtomicU32::new(0);
static FILLER: AtomicU32 = AtomicU32::new(0);
/// The filler loaded its pattern.
static FILLED: AtomicBool = AtomicBool::new(false);
/// Incremented by the spinner all the time it runs.
static SPINS: AtomicU64 = AtomicU64::new(0);
/// The checker SCPU's work: the main thread's checker, and the semaphore
/// the main thread waits on until the checker is done.
static RUN: AtomicPtr<Checker> = AtomicPtr::new(core::ptr::null_mut());
static DONE: AtomicU32 = AtomicU32::new(0);

/// The filler's pattern in every XMM register.
const PATTERN: u64 = 0x5a5a_1234_dead_beef;

fn published(cell: &AtomicU32) -> Handle {
    loop {
        let h = cell.load(Ordering::Acquire);
        if h != 0 {
            return Handle::new(h);
        }
        core::hint::spin_loop();
    }
}

/// Spins, counting (a runnable SCPU for `yield` and the timer).
extern "C" fn spin(_arg: u64) -> ! {
    loop {
        SPINS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Gives the V's it owes, sleeping between (so the main thread is blocked
/// in P by the time one comes).
extern "C" fn giver(_arg: u64) -> ! {
    let me = Scpu::from_handle(published(&GIVER));
    loop {
        let _ = me.sleep_ns(50_000);
        if GIVE.load(Ordering::Acquire) > 0 {
            let sem = Sio::from_handle(Handle::new(GIVE_TO.load(Ordering::Acquire)));
            if sem.v().is_ok() {
                GIVE.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// Loads `PATTERN` into xmm0-15 (its first FP use: its own `#NM`), then
/// spins, so the registers hold it when the main thread runs next.
extern "C" fn filler(_arg: u64) -> ! {
    let v: [u64; 2] = [PATTERN, PATTERN];
    // SAFETY: loads xmm registers from a local; this SCPU's FP state is
    // its own (the kernel saves it at every switch once it used FP).
    unsafe {
        core::arch::asm!(
            "movdqu xmm0, [{v}]", "movdqu xmm1, [{v}]", "movdqu xmm2, [{v}]",
            "movdqu xmm3, [{v}]", "movdqu xmm4, [{v}]", "movdqu xmm5, [{v}]",
            "movdqu xmm6, [{v}]", "movdqu xmm7, [{v}]", "movdqu xmm8, [{v}]",
            "movdqu xmm9, [{v}]", "movdqu xmm10, [{v}]", "movdqu xmm11, [{v}]",
            "movdqu xmm12, [{v}]", "movdqu xmm13, [{v}]", "movdqu xmm14, [{v}]",
            "movdqu xmm15, [{v}]",
            v = in(reg) v.as_ptr(),
            options(nostack, readonly),
        );
    }
    FILLED.store(true, Ordering::Release);
    loop {
        core::hint::spin_loop();
    }
}

/// Runs the yield and sleep cases with the main thread's checker while
/// the main thread waits in P (so the capture state has one user).
extern "C" fn checker(_arg: u64) -> ! {
    let me = published(&CHECKER);
    let run = RUN.load(Ordering::Acquire);
    // SAFETY: the main thread stored its `&mut Checker` and blocks in P
    // until we V below: nobody else uses it meanwhile.
    if let Some(run) = unsafe { run.as_mut() } {
        for path in Path::BOTH {
            yield_and_sleep(run, path, me);
        }
    }
    let _ = Sio::from_handle(Handle::new(DONE.load(Ordering::Acquire))).v();
    let _ = Scpu::from_handle(me).terminate(0);
    sk_user::exit(1)
}

fn start(
    run: &mut Checker,
    stack: &'static Stack<4096>,
    entry: extern "C" fn(u64) -> !,
    published: &AtomicU32,
) -> bool {
    let Some(stack) = stack.take() else {
        run.fail("sched helper", format_args!("stack taken"));
        return false;
    };
    // Priority 0, the shortest quantum: the timer switches often.
    match Scpu::create_with(entry, stack, 0, 0, 100) {
        Ok(s) => {
            published.store(s.handle().index(), Ordering::Release);
            true
        }
        Err(e) => {
            run.fail("sched helper", format_args!("create: {e:?}"));
            false
        }
    }
}

/// `call` on `path` wanting `want`.
fn check(run: &mut Checker, name: &str, path: Path, call: &Call, want: Want) -> u64 {
    // SAFETY: every call here is a P, V, yield or sleep: their buffers
    // are ignored (kernel, unmapped and mark addresses where no Rust
    // object lies), nothing is mapped, unmapped or started.
    unsafe { run.check(name, path, call, want) }
}

/// Everything, in this order: the first FP instruction comes before any
/// other FP use of this thread (the program is soft-float).
pub(crate) fn all(run: &mut Checker) {
    if !start(run, &FILLER_STACK, filler, &FILLER) {
        return;
    }
    first_fp_use(run);
    let _ = Scpu::from_handle(published(&FILLER)).terminate(0);
    if !start(run, &SPIN_STACK, spin, &SPINNER) || !start(run, &GIVER_STACK, giver, &GIVER) {
        return;
    }
    timer_switches(run);
    for path in Path::BOTH {
        semaphores(run, path);
    }
    let done = match Sio::semaphore() {
        Ok(s) => s,
        Err(e) => return run.fail("semaphore open", format_args!("{e:?}")),
    };
    DONE.store(done.handle().index(), Ordering::Release);
    RUN.store(core::ptr::from_mut(run), Ordering::Release);
    let Some(stack) = CHECKER_STACK.take() else {
        return run.fail("sched checker", format_args!("stack taken"));
    };
    match Scpu::create_with(checker, stack, 0, 0, 100) {
        Ok(s) => CHECKER.store(s.handle().index(), Ordering::Release),
        Err(e) => return run.fail("sched checker", format_args!("create: {e:?}")),
    }
    // Blocks until the checker is done with `run`.
    if let Err(e) = done.p() {
        println!("regcheck: FAIL sched checker: P(done) {e:?}");
    }
    let _ = done.close();
    for cell in [&SPINNER, &GIVER] {
        let _ = Scpu::from_handle(Handle::new(cell.load(Ordering::Acquire))).terminate(0);
    }
}

fn semaphores(run: &mut Checker, path: Path) {
    let sem = match Sio::semaphore() {
        Ok(s) => s,
        Err(e) => return run.fail("semaphore open", format_args!("{e:?}")),
    };
    let h = sem.handle();
    if path == Path::Table {
        let mut text = [0_u8; 512];
        let len = sem.routines(&mut text).unwrap_or(0).min(text.len());
        let t = text.get(..len).unwrap_or_default();
        for op in ["read", "write"] {
            if !routine_of(t, op).is_some_and(|r| r.is_synthesized()) {
                run.fail(
                    "semaphore routines",
                    format_args!("{op} is not synthesized: the table cases miss the template"),
                );
            }
        }
    }
    // The buffer and length are ignored: none, a kernel one, an unmapped
    // one, a mark, with any length.
    let buffers = [
        (0, 0),
        (KERNEL_ADDR, u64::MAX),
        (UNMAPPED, 4096),
        (mark(3), 1),
    ];
    for (buf, len) in buffers {
        let v = Call::new(word(h, Op::Write), path).args(&[buf, len]);
        check(run, "semaphore V", path, &v, Want::Value(0));
    }
    for (buf, len) in buffers {
        let p = Call::new(word(h, Op::Read), path).args(&[buf, len]);
        check(run, "semaphore P (a unit there)", path, &p, Want::Value(0));
    }
    // A P that blocks (the count is 0): the giver's V wakes it.
    GIVE_TO.store(h.index(), Ordering::Release);
    GIVE.store(1, Ordering::Release);
    let p = Call::new(word(h, Op::Read), path).args(&[KERNEL_ADDR, 8]);
    check(
        run,
        "semaphore P (blocks until V)",
        path,
        &p,
        Want::Value(0),
    );
    if GIVE.load(Ordering::Acquire) != 0 {
        run.fail(
            "semaphore P (blocks until V)",
            format_args!("returned before the V"),
        );
    }
    let _ = sem.close();
    let p = Call::new(word(h, Op::Read), path).args(&[0, 0]);
    check(
        run,
        "semaphore P (closed)",
        path,
        &p,
        Want::Error(SysError::BadHandle),
    );
    let v = Call::new(word(h, Op::Write), path).args(&[0, 0]);
    check(
        run,
        "semaphore V (closed)",
        path,
        &v,
        Want::Error(SysError::BadHandle),
    );
}

fn yield_and_sleep(run: &mut Checker, path: Path, own: Handle) {
    let on = |handle: Handle, r: ScpuReconfigure| {
        Call::new(word(handle, Op::Reconfigure), path).args(&r.to_registers())
    };
    let before = SPINS.load(Ordering::Relaxed);
    check(
        run,
        "SCPU yield (others ready)",
        path,
        &on(own, ScpuReconfigure::Yield),
        Want::Value(0),
    );
    if SPINS.load(Ordering::Relaxed) == before {
        run.fail("SCPU yield", format_args!("the spinner did not run"));
    }
    for ns in [1, 1_000, 200_000] {
        let sleep = on(own, ScpuReconfigure::Sleep { ns });
        check(run, "SCPU sleep", path, &sleep, Want::Value(0));
    }
    let too_long = Call::new(word(own, Op::Reconfigure), path).args(&[5, MAX_SLEEP_NS + 1, 0]);
    check(
        run,
        "SCPU sleep (too long)",
        path,
        &too_long,
        Want::Error(SysError::BadValue),
    );
    let theirs = on(published(&SPINNER), ScpuReconfigure::Yield);
    check(
        run,
        "SCPU yield (another's)",
        path,
        &theirs,
        Want::Error(SysError::NotPermitted),
    );
    let theirs = on(published(&SPINNER), ScpuReconfigure::Sleep { ns: 1000 });
    check(
        run,
        "SCPU sleep (another's)",
        path,
        &theirs,
        Want::Error(SysError::NotPermitted),
    );
}

/// Registers before and after one of the naked sequences below, and the
/// XMM registers the `#NM` one stores.
#[repr(C)]
struct Trap {
    /// Offset 0: loaded before (`rsp` ignored).
    before: Regs,
    /// Offset 128: stored after.
    after: Regs,
    /// Offset 256: xmm0-15 after.
    xmm: [u64; 32],
    /// Offset 512: our `rsp`.
    rsp: u64,
}

struct Shared(UnsafeCell<Trap>);

// SAFETY: only the main thread runs the naked sequences (one at a time).
unsafe impl Sync for Shared {}

static TRAP: Shared = Shared(UnsafeCell::new(Trap {
    before: [0; 16],
    after: [0; 16],
    xmm: [0; 32],
    rsp: 0,
}));

/// Loads every register but `rsp` from `before` (the `$body` may use
/// `rcx` as its counter), runs `$body`, stores every register.
macro_rules! around {
    ([$($body:literal),*] $($extra:tt)*) => {
        core::arch::naked_asm!(
            "push rbx", "push rbp", "push r12", "push r13", "push r14", "push r15",
            "mov qword ptr [rip + {t} + 512], rsp",
            "mov rax, qword ptr [rip + {t} + 0]",
            "mov rbx, qword ptr [rip + {t} + 8]",
            "mov rcx, qword ptr [rip + {t} + 16]",
            "mov rdx, qword ptr [rip + {t} + 24]",
            "mov rsi, qword ptr [rip + {t} + 32]",
            "mov rdi, qword ptr [rip + {t} + 40]",
            "mov rbp, qword ptr [rip + {t} + 48]",
            "mov r8, qword ptr [rip + {t} + 64]",
            "mov r9, qword ptr [rip + {t} + 72]",
            "mov r10, qword ptr [rip + {t} + 80]",
            "mov r11, qword ptr [rip + {t} + 88]",
            "mov r12, qword ptr [rip + {t} + 96]",
            "mov r13, qword ptr [rip + {t} + 104]",
            "mov r14, qword ptr [rip + {t} + 112]",
            "mov r15, qword ptr [rip + {t} + 120]",
            $($body,)*
            "mov qword ptr [rip + {t} + 128], rax",
            "mov qword ptr [rip + {t} + 136], rbx",
            "mov qword ptr [rip + {t} + 144], rcx",
            "mov qword ptr [rip + {t} + 152], rdx",
            "mov qword ptr [rip + {t} + 160], rsi",
            "mov qword ptr [rip + {t} + 168], rdi",
            "mov qword ptr [rip + {t} + 176], rbp",
            "mov qword ptr [rip + {t} + 184], rsp",
            "mov qword ptr [rip + {t} + 192], r8",
            "mov qword ptr [rip + {t} + 200], r9",
            "mov qword ptr [rip + {t} + 208], r10",
            "mov qword ptr [rip + {t} + 216], r11",
            "mov qword ptr [rip + {t} + 224], r12",
            "mov qword ptr [rip + {t} + 232], r13",
            "mov qword ptr [rip + {t} + 240], r14",
            "mov qword ptr [rip + {t} + 248], r15",
            "mov rsp, qword ptr [rip + {t} + 512]",
            "pop r15", "pop r14", "pop r13", "pop r12", "pop rbp", "pop rbx",
            "ret",
            t = sym TRAP,
            $($extra)*
        )
    };
}

/// The first FP instruction (`movdqu` of xmm0 to memory: `#NM`, then it
/// stores), then the other fifteen XMM registers, between the loads and
/// stores of every general register.
///
/// # Safety
/// Only through [`run_trap`].
#[unsafe(naked)]
unsafe extern "C" fn first_fp() {
    around!([
        "movdqu xmmword ptr [rip + {t} + 256], xmm0",
        "movdqu xmmword ptr [rip + {t} + 272], xmm1",
        "movdqu xmmword ptr [rip + {t} + 288], xmm2",
        "movdqu xmmword ptr [rip + {t} + 304], xmm3",
        "movdqu xmmword ptr [rip + {t} + 320], xmm4",
        "movdqu xmmword ptr [rip + {t} + 336], xmm5",
        "movdqu xmmword ptr [rip + {t} + 352], xmm6",
        "movdqu xmmword ptr [rip + {t} + 368], xmm7",
        "movdqu xmmword ptr [rip + {t} + 384], xmm8",
        "movdqu xmmword ptr [rip + {t} + 400], xmm9",
        "movdqu xmmword ptr [rip + {t} + 416], xmm10",
        "movdqu xmmword ptr [rip + {t} + 432], xmm11",
        "movdqu xmmword ptr [rip + {t} + 448], xmm12",
        "movdqu xmmword ptr [rip + {t} + 464], xmm13",
        "movdqu xmmword ptr [rip + {t} + 480], xmm14",
        "movdqu xmmword ptr [rip + {t} + 496], xmm15"
    ])
}

/// Spins with `rcx` counting down until the spinner has run (its count
/// changed: a timer switch away and back) or `rcx` reaches 0; every
/// other register holds its mark throughout.
///
/// # Safety
/// Only through [`run_trap`].
#[unsafe(naked)]
unsafe extern "C" fn across_switches() {
    around!([
        "mov rcx, qword ptr [rip + {spins}]",
        "mov qword ptr [rip + {t} + 256], rcx",
        "mov rcx, 0x10000000",
        "2:",
        "dec rcx",
        "jz 3f",
        // Loop while the spinner's count equals the value noted above
        // (no free register: `rcx` is saved around the load).
        "push rcx",
        "mov rcx, qword ptr [rip + {spins}]",
        "cmp rcx, qword ptr [rip + {t} + 256]",
        "pop rcx",
        "je 2b",
        "3:"
    ] spins = sym SPINS)
}

/// Runs `f` with every register set to its mark; returns the registers
/// after, the XMM words and our `rsp`.
fn run_trap(f: unsafe extern "C" fn()) -> (Regs, [u64; 32], u64) {
    let t = TRAP.0.get();
    let before: Regs = core::array::from_fn(mark);
    // SAFETY: single-threaded use (the main thread); volatile so the store
    // is not moved past the call.
    unsafe { core::ptr::addr_of_mut!((*t).before).write_volatile(before) };
    // SAFETY: the naked sequences restore our callee-saved registers and
    // `rsp` from their own saves and write only `TRAP`.
    unsafe { f() };
    // SAFETY: the sequence returned; nothing writes the state now.
    unsafe {
        (
            core::ptr::addr_of!((*t).after).read_volatile(),
            core::ptr::addr_of!((*t).xmm).read_volatile(),
            core::ptr::addr_of!((*t).rsp).read_volatile(),
        )
    }
}

/// Every general register but `rsp` (and `skip`) kept its mark.
fn kept(run: &mut Checker, name: &str, after: &Regs, rsp: u64, skip: Option<usize>) {
    let mut ok = true;
    for (i, &value) in after.iter().enumerate() {
        let want = if i == RSP { rsp } else { mark(i) };
        if Some(i) != skip && value != want {
            ok = false;
            println!(
                "regcheck: FAIL {name}: {} {value:#x}, want {want:#x}",
                NAMES[i]
            );
        }
    }
    if ok {
        run.passed += 1;
    } else {
        run.failed += 1;
    }
}

fn first_fp_use(run: &mut Checker) {
    // The filler's pattern must be in the registers when we trap.
    while !FILLED.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let (after, xmm, rsp) = run_trap(first_fp);
    kept(run, "first FP instruction (#NM)", &after, rsp, None);
    if xmm.iter().any(|&w| w != 0) {
        run.fail(
            "first FP instruction (#NM)",
            format_args!("XMM registers not in the initial state: {xmm:x?} (another SCPU's?)"),
        );
    } else {
        run.passed += 1;
    }
    let mut mxcsr: u32 = 0;
    // SAFETY: stores MXCSR into a local; FP is ours since the trap.
    unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &raw mut mxcsr, options(nostack)) };
    if mxcsr != 0x1f80 {
        run.fail(
            "first FP instruction (#NM)",
            format_args!("MXCSR {mxcsr:#x}, want 0x1f80"),
        );
    }
}

fn timer_switches(run: &mut Checker) {
    let (after, xmm, rsp) = run_trap(across_switches);
    if after[RCX] == 0 {
        run.fail(
            "user code across timer switches",
            format_args!("the spinner never ran ({:#x} spins)", xmm[0]),
        );
    }
    kept(
        run,
        "user code across timer switches",
        &after,
        rsp,
        Some(RCX),
    );
}
