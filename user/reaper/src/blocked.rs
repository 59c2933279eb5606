//! Modes 7-11 and 16: threads blocked in the kernel (reading the console,
//! waiting for a child) that are killed, woken spuriously, or traced.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{dev_mem_byte, Call, Handle, SmachReconfigure, SysError};
use sk_user::{println, OpenFlags, Scpu, Sio, Smach};

use crate::support::{
    arm_trace, open, region, start_on, state_of, traced_syscall3, wait_blocked, wait_flag,
    wait_gone, word, COUNT, SETUP, SPIN_LIMIT,
};

/// Set by a thread after its blocking call returned.
static DONE: AtomicU64 = AtomicU64::new(0);
/// The blocking call's raw `rax`.
static RESULT: AtomicU64 = AtomicU64::new(0);
/// The handle the blocking call uses.
static TARGET: AtomicU32 = AtomicU32::new(0);
/// Its buffer.
static BUF: AtomicU64 = AtomicU64::new(0);
/// A thread could not arm the instruction counter.
static ARM_FAILED: AtomicU64 = AtomicU64::new(0);

// ---- mode 7: park on the console ----

/// Mode 7: blocks reading the console for good (no input comes under the
/// tests). A child to wait on, or the last state of a parked program.
pub(crate) fn park() -> ! {
    let mut buf = [0u8; 16];
    loop {
        let _ = Sio::console().read(&mut buf);
    }
}

fn spawn_parked_child() -> Result<Smach, i32> {
    Smach::spawn_with_arg("/bin/reaper", 7).map_err(|e| {
        println!("reaper: spawn of the parked child: {e:?}");
        SETUP
    })
}

// ---- mode 8: kill threads waiting for a child ----

/// Waits for the child at [`TARGET`]; records a return.
extern "C" fn waits_for_child(_arg: u64) -> ! {
    let child = Smach::from_handle(Handle::new(TARGET.load(Ordering::SeqCst)));
    let r = child.wait();
    RESULT.store(r.map_or(u64::MAX, |s| s as u64), Ordering::SeqCst);
    DONE.store(1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// Mode 8 (`param` = n): spawns a child parked on the console, then n
/// times: starts a thread that waits for the child, waits until it is
/// blocked, and terminates it. Then creates `/tmp/rp.parked` and parks
/// itself (the kernel test measures the kernel heap at that point, with
/// n small and n large, then kills the program).
pub(crate) fn waiter_leak(n: u64) -> Result<(), i32> {
    let child = spawn_parked_child()?;
    TARGET.store(child.handle().index(), Ordering::SeqCst);
    for _ in 0..n {
        // SAFETY: the previous waiter is gone (wait_gone below).
        let scpu = unsafe { start_on(0, waits_for_child, 0, 4) }?;
        let handle = scpu.handle();
        wait_blocked(handle, &DONE)?;
        scpu.terminate(0).map_err(|e| {
            println!("reaper: FINDING: terminating a thread waiting for a child: {e:?}");
            12
        })?;
        wait_gone(handle, 11)?;
    }
    println!("reaper: waiter-leak: {n} threads killed while waiting for a child; parking");
    let _ = open("/tmp/rp.parked", OpenFlags::WRITE | OpenFlags::CREATE)?;
    park()
}

// ---- mode 9: a blocked console read woken after its handle was reused ----

/// Bytes the console read asks for.
const READ_LEN: u64 = 64;

/// Reads [`READ_LEN`] bytes from the SIO at [`TARGET`] into [`BUF`].
extern "C" fn blocked_reader(_arg: u64) -> ! {
    let handle = Handle::new(TARGET.load(Ordering::SeqCst));
    // SAFETY: BUF is a read-write region of at least READ_LEN bytes that
    // stays mapped while this thread lives; no Rust reference to it lives.
    let got = unsafe {
        sk_user::raw::syscall2(
            word(handle, Call::Read),
            BUF.load(Ordering::SeqCst),
            READ_LEN,
        )
    };
    RESULT.store(got as u64, Ordering::SeqCst);
    DONE.store(1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// Mode 9: thread R blocks reading a `/dev/tty` SIO at handle h. `main`
/// closes h, opens `/dev/mem` (it gets h again), then suspends and resumes
/// R (a wake without input, as any spurious wake). R's read began on the
/// console: it must go on waiting for the console, or end (`BadHandle`,
/// as a long transfer ends when its handle is closed and reused between
/// pieces, racer modes 1 and 2); it must not read `/dev/mem`.
pub(crate) fn blocked_read_reused_handle() -> Result<(), i32> {
    let mut dst = region(4096, 0xa5)?;
    BUF.store(dst.addr(), Ordering::SeqCst);
    let tty = open("/dev/tty", OpenFlags::READ)?;
    let h = tty.handle();
    TARGET.store(h.index(), Ordering::SeqCst);
    // SAFETY: slot 0 was never used in this program.
    let reader = unsafe { start_on(0, blocked_reader, 0, 4) }?;
    wait_blocked(reader.handle(), &DONE)?;
    tty.close().map_err(|_| SETUP)?;
    let mem = open("/dev/mem", OpenFlags::READ)?;
    if mem.handle() != h {
        println!(
            "reaper: /dev/mem got handle {} not {}",
            mem.handle().index(),
            h.index()
        );
        return Err(SETUP);
    }
    reader.suspend().map_err(|e| {
        println!("reaper: suspend of the blocked reader: {e:?}");
        SETUP
    })?;
    reader.resume().map_err(|e| {
        println!("reaper: resume of the blocked reader: {e:?}");
        SETUP
    })?;
    // Resumed, it is ready: it runs, then either blocks again (still on
    // the console) or returns.
    let mut outcome = None;
    for _ in 0..SPIN_LIMIT {
        if DONE.load(Ordering::SeqCst) != 0 {
            outcome = Some(false);
            break;
        }
        if state_of(reader.handle()) == Ok(sk_user::abi::ScpuState::Blocked) {
            outcome = Some(true);
            break;
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    let Some(blocked_again) = outcome else {
        println!("reaper: the resumed reader neither returned nor blocked");
        return Err(SETUP);
    };
    // SAFETY: mapped read-write; the reader is blocked or done.
    let bytes = unsafe { dst.as_mut_slice() };
    let head = bytes.get(..64).unwrap_or(&[]);
    let changed = head.iter().filter(|&&b| b != 0xa5).count();
    let from_mem = head
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == dev_mem_byte(i as u64))
        .count();
    let got = RESULT.load(Ordering::SeqCst) as i64;
    if blocked_again {
        println!(
            "reaper: blocked-read-reused-handle: the resumed console read blocked again ({changed} buffer bytes changed)"
        );
    } else {
        println!(
            "reaper: blocked-read-reused-handle: the console read, resumed after its handle was closed and reopened as /dev/mem, returned {got} ({:?}); {changed} buffer bytes changed, {from_mem} of them /dev/mem's",
            SysError::decode_return(got)
        );
    }
    if changed != 0 && from_mem != 0 {
        println!(
            "reaper: FINDING: a console read blocked before its handle was closed and reused went on reading /dev/mem ({from_mem} bytes of it in the buffer)"
        );
        return Err(10);
    }
    if !blocked_again && SysError::decode_return(got).is_ok_and(|n| n > 0) {
        println!("reaper: FINDING: the console read returned {got} bytes with no console input");
        return Err(11);
    }
    let _ = reader.terminate(0);
    let _ = mem.close();
    let _ = dst.free();
    Ok(())
}

// ---- modes 10 and 11: a count cancelled by a switch, and a traced self-end ----

/// Arms the counter, then waits for the child at [`TARGET`] with TF set
/// (the count is cancelled when it blocks: the kernel then owes it one
/// expected `#DB` when it returns to user mode).
extern "C" fn traced_waiter(_arg: u64) -> ! {
    if arm_trace().is_err() {
        ARM_FAILED.store(1, Ordering::SeqCst);
        loop {
            core::hint::spin_loop();
        }
    }
    let regs = SmachReconfigure::Wait.to_registers();
    let handle = Handle::new(TARGET.load(Ordering::SeqCst));
    // SAFETY: `reconfigure(child, Wait)` touches no user memory.
    let got =
        unsafe { traced_syscall3(word(handle, Call::Reconfigure), regs[0], regs[1], regs[2]) };
    RESULT.store(got as u64, Ordering::SeqCst);
    DONE.store(1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// True once `path` exists.
fn exists(path: &str) -> bool {
    match Sio::open(path, OpenFlags::READ) {
        Ok(f) => {
            let _ = f.close();
            true
        }
        Err(_) => false,
    }
}

/// Mode 10: thread B makes a traced wait for a parked child and blocks
/// (its count is cancelled). `main` creates `/tmp/rp.blocked`, waits for
/// `/tmp/rp.go` (the kernel test runs another program meanwhile, or not),
/// then kills the child: B's wait returns (`BadHandle`) with TF set, and
/// the kernel must claim that one `#DB`. If it does not, the program is
/// killed for a `#DB` (status 137).
pub(crate) fn traced_waiter_mode() -> Result<(), i32> {
    let child = spawn_parked_child()?;
    TARGET.store(child.handle().index(), Ordering::SeqCst);
    // SAFETY: slot 0 was never used in this program.
    let b = unsafe { start_on(0, traced_waiter, 0, 4) }?;
    for _ in 0..SPIN_LIMIT {
        if ARM_FAILED.load(Ordering::SeqCst) != 0 {
            println!("reaper: TraceNextCall refused (boot without `trace`?)");
            return Err(SETUP);
        }
        if state_of(b.handle()) == Ok(sk_user::abi::ScpuState::Blocked) {
            break;
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    wait_blocked(b.handle(), &DONE)?;
    let _ = open("/tmp/rp.blocked", OpenFlags::WRITE | OpenFlags::CREATE)?;
    let mut polls = 0u64;
    while !exists("/tmp/rp.go") {
        polls += 1;
        if polls > 50_000_000 {
            println!("reaper: /tmp/rp.go never came");
            return Err(SETUP);
        }
    }
    child.terminate().map_err(|_| SETUP)?;
    wait_flag(&DONE, 21, "the traced wait's return")?;
    let got = RESULT.load(Ordering::SeqCst) as i64;
    println!(
        "reaper: traced-waiter: the traced wait returned {:?} and the thread went on in user mode",
        SysError::decode_return(got)
    );
    let _ = b.terminate(0);
    Ok(())
}

/// The handle of the thread that ends itself traced (0: not told yet).
static SELF_HANDLE: AtomicU32 = AtomicU32::new(0);
/// Raw `rax` + 1 if its traced terminate returned (0: it did not).
static SELF_RETURNED: AtomicU64 = AtomicU64::new(0);

extern "C" fn traced_self_end(_arg: u64) -> ! {
    let handle = loop {
        match SELF_HANDLE.load(Ordering::SeqCst) {
            0 => core::hint::spin_loop(),
            h => break Handle::new(h),
        }
    };
    if arm_trace().is_err() {
        ARM_FAILED.store(1, Ordering::SeqCst);
        loop {
            core::hint::spin_loop();
        }
    }
    let status = sk_user::abi::ExitStatus::new(5).to_register();
    // SAFETY: `terminate` on its own SCPU handle touches no user memory.
    let got = unsafe { traced_syscall3(word(handle, Call::Terminate), status, 0, 0) };
    SELF_RETURNED.store(got as u64 + 1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// Mode 11: a thread arms the counter and ends itself with a traced
/// `terminate` on its own handle. It must end, never return, and the
/// program exit 0.
pub(crate) fn traced_self_end_mode() -> Result<(), i32> {
    // SAFETY: slot 0 was never used in this program.
    let c = unsafe { start_on(0, traced_self_end, 0, 4) }?;
    SELF_HANDLE.store(c.handle().index(), Ordering::SeqCst);
    for _ in 0..SPIN_LIMIT {
        if ARM_FAILED.load(Ordering::SeqCst) != 0 {
            println!("reaper: TraceNextCall refused (boot without `trace`?)");
            return Err(SETUP);
        }
        if state_of(c.handle()) == Err(SysError::BadHandle) {
            break;
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    wait_gone(c.handle(), 11)?;
    if SELF_RETURNED.load(Ordering::SeqCst) != 0 {
        println!("reaper: FINDING: a traced terminate on its own handle returned to the thread");
        return Err(12);
    }
    match Scpu::from_handle(c.handle()).terminate(0) {
        Err(SysError::BadHandle) => {}
        other => {
            println!("reaper: FINDING: the handle of the self-ended thread answers {other:?}");
            return Err(13);
        }
    }
    println!("reaper: traced-self-end: the thread ended itself under a traced call");
    Ok(())
}

// ---- mode 16: console readers woken and killed ----

/// Raised if a console read of a mode-16 reader returned (no input comes
/// under the tests: it must stay blocked until killed).
static READ_RETURNED: AtomicU64 = AtomicU64::new(0);

extern "C" fn console_reader(_arg: u64) -> ! {
    let mut buf = [0u8; 16];
    loop {
        let _ = Sio::console().read(&mut buf);
        READ_RETURNED.store(1, Ordering::SeqCst);
    }
}

/// Spins until the SCPU at `handle` is blocked again.
fn wait_reblocked(handle: Handle) -> Result<(), i32> {
    for _ in 0..SPIN_LIMIT {
        if state_of(handle) == Ok(sk_user::abi::ScpuState::Blocked) {
            return Ok(());
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    println!("reaper: the woken reader never blocked again");
    Err(SETUP)
}

/// Mode 16 (`param` = n): n times, a thread blocks reading the console,
/// then `main` (by round, of four): kills it while blocked; suspends,
/// resumes (a wake: it is made ready) and kills it before it ran; wakes
/// it twice (resume twice), lets it block again and kills it; suspends it
/// and kills it while suspended. Each must be gone and no read may
/// return; then `main` creates `/tmp/rp.parked` and parks (the kernel
/// test checks that only `main` is a console reader, and that the heap
/// does not grow with n).
pub(crate) fn woken_reader_killed(n: u64) -> Result<(), i32> {
    let never = AtomicU64::new(0);
    for k in 0..n {
        // SAFETY: the previous reader is gone (wait_gone below).
        let r = unsafe { start_on(0, console_reader, 0, 4) }?;
        let h = r.handle();
        wait_blocked(h, &never)?;
        let step = |what: &str, res: Result<(), SysError>| {
            res.map_err(|e| {
                println!("reaper: {what} of a blocked console reader: {e:?}");
                SETUP
            })
        };
        match k % 4 {
            0 => {}
            1 => {
                step("suspend", r.suspend())?;
                step("resume", r.resume())?;
            }
            2 => {
                step("suspend", r.suspend())?;
                step("resume", r.resume())?;
                step("second resume", r.resume())?;
                wait_reblocked(h)?;
            }
            _ => step("suspend", r.suspend())?,
        }
        r.terminate(0).map_err(|e| {
            println!("reaper: FINDING: terminating a woken console reader: {e:?}");
            12
        })?;
        wait_gone(h, 11)?;
        if READ_RETURNED.load(Ordering::SeqCst) != 0 {
            println!("reaper: FINDING: a console read returned with no input (round {k})");
            return Err(13);
        }
    }
    println!("reaper: woken-reader: {n} console readers woken and killed; parking");
    let _ = open("/tmp/rp.parked", OpenFlags::WRITE | OpenFlags::CREATE)?;
    park()
}
