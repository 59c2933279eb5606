//! Counting one call's kernel instructions by single-stepping it.
//!
//! A program arms the counter (`reconfigure(self, TraceNextCall)`), sets
//! RFLAGS.TF and makes the call. While armed, `syscall` leaves TF set
//! (IA32_FMASK does not clear it), so the CPU raises `#DB` after every
//! kernel instruction; the handler counts each one taken in ring 0 and
//! keeps TF set, until the first `#DB` in ring 3 (the instruction after the
//! return): the count is then the number of kernel instructions from the
//! `syscall` to the return to user mode. It works without a PMU, under TCG
//! and KVM alike. The handler runs on its own IST stack and touches only
//! atomics (the synthesized entry runs with the user's GS).
//!
//! While a call is traced it runs with every instruction trapping and
//! interrupts masked, so tracing is a measurement tool, not a right: it is
//! refused unless the kernel was booted with `trace` (the benchmarks do),
//! and a count stops at [`MAX_STEPS`] (the trace is abandoned, `LastTrace`
//! reports 0, the call completes untraced). Without the cap a traced 4 MiB
//! `/dev/zero` read held the CPU for about 39 timer periods.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use sk_machine::traps::TrapFrame;

const TF: u64 = 1 << 8;

/// Most kernel instructions one traced call may be stepped through.
pub(crate) const MAX_STEPS: u64 = 100_000;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ARMED_FOR: AtomicU64 = AtomicU64::new(0);
/// A traced call was made: the program's next user-mode single step is
/// the end of the trace, not a trap of its own.
static AWAIT_USER_STEP: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicU64 = AtomicU64::new(0);
static LAST: AtomicU64 = AtomicU64::new(0);

/// Allows `TraceNextCall` (boot option `trace`).
pub(crate) fn enable(on: bool) {
    ENABLED.store(on, Ordering::SeqCst);
}

/// True if the kernel was booted with tracing allowed.
pub(crate) fn is_enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

pub(crate) fn install() {
    let mut hooks = sk_machine::traps::hooks();
    hooks.debug = on_debug;
    sk_machine::traps::set_hooks(hooks);
}

/// Arms the counter for the next call of thread `thread`.
pub(crate) fn arm(thread: u64) {
    COUNT.store(0, Ordering::SeqCst);
    ARMED_FOR.store(thread, Ordering::SeqCst);
    AWAIT_USER_STEP.store(true, Ordering::SeqCst);
    sk_machine::syscall::keep_trap_flag_on_entry(true);
}

/// Stops a count in progress: the traced call blocked and another thread
/// is about to run (its instructions must not be counted). Called at every
/// thread switch. The program's own first single-step trap after the call
/// is still expected (it set TF to be traced) and is consumed.
pub(crate) fn cancel() {
    if ARMED_FOR.swap(0, Ordering::SeqCst) != 0 {
        COUNT.store(0, Ordering::SeqCst);
        sk_machine::syscall::keep_trap_flag_on_entry(false);
    }
}

/// Kernel instructions of the last traced call.
pub(crate) fn last() -> u64 {
    LAST.load(Ordering::SeqCst)
}

/// Stops stepping the kernel: a cancelled or too long trace.
fn stop_stepping(frame: &mut TrapFrame) {
    ARMED_FOR.store(0, Ordering::SeqCst);
    COUNT.store(0, Ordering::SeqCst);
    sk_machine::syscall::keep_trap_flag_on_entry(false);
    frame.rflags &= !TF;
}

/// The `#DB` hook: true if the trap belonged to a trace (consumed); a user
/// `#DB` that did not is the program's own (the kernel kills it).
fn on_debug(frame: &mut TrapFrame) -> bool {
    if frame.vector != 1 {
        return false;
    }
    if frame.from_user() {
        // The first single step in user mode after a traced call ends it.
        if !AWAIT_USER_STEP.swap(false, Ordering::SeqCst) {
            return false;
        }
        if ARMED_FOR.load(Ordering::SeqCst) != 0 {
            LAST.store(COUNT.swap(0, Ordering::SeqCst), Ordering::SeqCst);
            ARMED_FOR.store(0, Ordering::SeqCst);
            sk_machine::syscall::keep_trap_flag_on_entry(false);
        }
        frame.rflags &= !TF;
        return true;
    }
    if ARMED_FOR.load(Ordering::SeqCst) == 0 {
        // A kernel single step nobody counts (a cancelled trace).
        frame.rflags &= !TF;
        return true;
    }
    if COUNT.fetch_add(1, Ordering::SeqCst) + 1 >= MAX_STEPS {
        // Too long to trace: give up; the call goes on untraced and
        // `LastTrace` says 0.
        LAST.store(0, Ordering::SeqCst);
        stop_stepping(frame);
        return true;
    }
    frame.rflags |= TF;
    true
}
