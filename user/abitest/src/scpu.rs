//! SCPU cases: a thread that runs, is queried, suspended, resumed,
//! re-prioritized and terminated through its handle.
//!
//! The thread stores its argument in [`SHARED`] and then spins. The cases
//! run in order and share its handle through [`THREAD`]; the creator
//! terminates it in the last one. A second thread is told its own handle
//! and ends itself with it.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use sk_abi::{Call, Kind, ScpuCreateArgs, ScpuState, SysError};
use sk_user::{rdtsc, Handle, Scpu, Stack};

use crate::support::{
    addr_of, ensure, expect_eq, expect_err, fail, must, sys, word, Msg, Outcome, KERNEL_TEXT,
};

/// What the thread is given, and stores.
const MAGIC: u64 = 0x5ca1_ab1e;

/// How long to wait for the thread to run, in TSC ticks (seconds at
/// GHz rates; generous for emulation).
const WAIT_TICKS: u64 = 20_000_000_000;

/// Written by the thread.
static SHARED: AtomicU64 = AtomicU64::new(0);

/// The thread's handle once created (0: none).
static THREAD: AtomicU32 = AtomicU32::new(0);

/// The thread's stack.
static STACK: Stack<16384> = Stack::new();

extern "C" fn thread_main(arg: u64) -> ! {
    SHARED.store(arg, Ordering::Release);
    loop {
        core::hint::spin_loop();
    }
}

/// The thread, if `creates_and_runs` made it.
fn thread() -> Result<Scpu, Msg> {
    match THREAD.load(Ordering::Relaxed) {
        0 => fail!("no thread (create failed)"),
        handle => Ok(Scpu::from_handle(Handle::new(handle))),
    }
}

fn state(scpu: &Scpu) -> Result<ScpuState, Msg> {
    must("state", must("query", scpu.query())?.state())
}

pub(crate) fn creates_and_runs() -> Outcome {
    let Some(stack) = STACK.take() else {
        fail!("stack already taken");
    };
    let scpu = must("create", Scpu::create(thread_main, stack, MAGIC))?;
    THREAD.store(scpu.handle().index(), Ordering::Relaxed);
    let start = rdtsc();
    while SHARED.load(Ordering::Acquire) != MAGIC {
        ensure!(
            rdtsc().wrapping_sub(start) < WAIT_TICKS,
            "thread did not run"
        );
        core::hint::spin_loop();
    }
    Ok(())
}

pub(crate) fn query_running() -> Outcome {
    let state = state(&thread()?)?;
    ensure!(
        matches!(state, ScpuState::Ready | ScpuState::Running),
        "state {state:?}, want Ready or Running"
    );
    Ok(())
}

pub(crate) fn suspend_and_resume() -> Outcome {
    let scpu = thread()?;
    must("suspend", scpu.suspend())?;
    expect_eq("state after suspend", state(&scpu)?, ScpuState::Suspended)?;
    must("resume", scpu.resume())?;
    let state = state(&scpu)?;
    ensure!(
        state != ScpuState::Suspended,
        "still suspended after resume"
    );
    // Leave it suspended: the next cases change its priority, and a
    // spinning thread of high priority could starve this one.
    must("suspend again", scpu.suspend())
}

pub(crate) fn set_priority() -> Outcome {
    let scpu = thread()?;
    must("priority 3", scpu.set_priority(3))?;
    expect_eq("priority", must("query", scpu.query())?.priority, 3)
}

pub(crate) fn set_quantum() -> Outcome {
    let scpu = thread()?;
    expect_err("quantum 0", scpu.set_quantum(0), SysError::BadValue)?;
    must("quantum 2000 us", scpu.set_quantum(2000))?;
    let quantum = must("query", scpu.query())?.quantum_us;
    ensure!(quantum != 0, "quantum 0 in force");
    Ok(())
}

pub(crate) fn terminate_by_handle() -> Outcome {
    let scpu = thread()?;
    let handle = scpu.handle();
    THREAD.store(0, Ordering::Relaxed);
    must("terminate", scpu.terminate(0))?;
    expect_err(
        "query after terminate",
        Scpu::from_handle(handle).query(),
        SysError::BadHandle,
    )
}

/// The self-ending thread's handle, published by its creator (0: not yet).
static SELF_HANDLE: AtomicU32 = AtomicU32::new(0);
/// What `terminate` on its own handle returned to the self-ending thread
/// (0: it did not return, as it must not; else the error code + 1).
static SELF_RETURNED: AtomicU64 = AtomicU64::new(0);
/// The self-ending thread's stack.
static SELF_STACK: Stack<16384> = Stack::new();

extern "C" fn ends_itself(_arg: u64) -> ! {
    let handle = loop {
        match SELF_HANDLE.load(Ordering::Acquire) {
            0 => core::hint::spin_loop(),
            h => break Handle::new(h),
        }
    };
    let result = Scpu::from_handle(handle).terminate(7);
    let code = result.err().map_or(u64::MAX, |e| e as u64 + 1);
    SELF_RETURNED.store(code, Ordering::Release);
    loop {
        core::hint::spin_loop();
    }
}

pub(crate) fn terminate_self() -> Outcome {
    let Some(stack) = SELF_STACK.take() else {
        fail!("stack already taken");
    };
    let scpu = must("create", Scpu::create(ends_itself, stack, 0))?;
    let handle = scpu.handle();
    SELF_HANDLE.store(handle.index(), Ordering::Release);
    let start = rdtsc();
    loop {
        let returned = SELF_RETURNED.load(Ordering::Acquire);
        ensure!(
            returned == 0,
            "terminate on its own handle returned to the thread (code {returned})"
        );
        match Scpu::from_handle(handle).query() {
            Err(SysError::BadHandle) => break,
            Err(e) => fail!("query while it ends: {e:?}"),
            Ok(_) => {}
        }
        ensure!(
            rdtsc().wrapping_sub(start) < WAIT_TICKS,
            "the thread did not end"
        );
        core::hint::spin_loop();
    }
    expect_eq(
        "it never came back",
        SELF_RETURNED.load(Ordering::Acquire),
        0,
    )
}

/// `create(Scpu)` with `entry` and a valid stack top; the kernel must
/// refuse it.
fn create_refused(entry: u64) -> Result<u64, SysError> {
    let stack = [0_u8; 64];
    let stack_top = (addr_of(&stack) + 64) & !15;
    let args = ScpuCreateArgs {
        entry,
        stack_top,
        arg: 0,
        priority: 0,
        quantum_us: 0,
    }
    .to_bytes();
    // SAFETY: `entry` is null or a kernel address, which the kernel must
    // refuse; were a thread started there, its first fetch would fault
    // (killing this program, which the result then shows) before it could
    // touch any memory.
    unsafe {
        sys(
            word(0, Call::Create),
            [u64::from(Kind::Scpu), addr_of(&args), 32],
        )
    }
}

pub(crate) fn bad_entry_is_bad_address() -> Outcome {
    expect_err("entry 0", create_refused(0), SysError::BadAddress)?;
    expect_err(
        "entry in kernel",
        create_refused(KERNEL_TEXT),
        SysError::BadAddress,
    )
}
