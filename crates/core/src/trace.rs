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

use core::sync::atomic::{AtomicU64, Ordering};
use sk_machine::traps::TrapFrame;

const TF: u64 = 1 << 8;

static ARMED_FOR: AtomicU64 = AtomicU64::new(0);
static COUNT: AtomicU64 = AtomicU64::new(0);
static LAST: AtomicU64 = AtomicU64::new(0);

pub(crate) fn install() {
    let mut hooks = sk_machine::traps::hooks();
    hooks.debug = on_debug;
    sk_machine::traps::set_hooks(hooks);
}

/// Arms the counter for the next call of thread `thread`.
pub(crate) fn arm(thread: u64) {
    COUNT.store(0, Ordering::SeqCst);
    ARMED_FOR.store(thread, Ordering::SeqCst);
    sk_machine::syscall::keep_trap_flag_on_entry(true);
}

/// Stops a count in progress: the traced call blocked and another thread
/// is about to run (its instructions must not be counted). Called at every
/// thread switch; the next `#DB` then clears TF.
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

fn on_debug(frame: &mut TrapFrame) -> bool {
    if frame.vector != 1 {
        return false;
    }
    if ARMED_FOR.load(Ordering::SeqCst) == 0 {
        // Not counting (never armed, or cancelled by a thread switch): a
        // stray single-step, in user or kernel mode; stop stepping.
        frame.rflags &= !TF;
        return true;
    }
    if frame.from_user() {
        if COUNT.load(Ordering::SeqCst) > 0 {
            LAST.store(COUNT.swap(0, Ordering::SeqCst), Ordering::SeqCst);
            ARMED_FOR.store(0, Ordering::SeqCst);
            sk_machine::syscall::keep_trap_flag_on_entry(false);
        }
        frame.rflags &= !TF;
        return true;
    }
    COUNT.fetch_add(1, Ordering::SeqCst);
    frame.rflags |= TF;
    true
}
