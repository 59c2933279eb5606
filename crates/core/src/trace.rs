//! Counting one call's kernel instructions by single-stepping it.
//!
//! A program arms the counter (`reconfigure(self, TraceNextCall)`), sets
//! RFLAGS.TF and makes the call. While armed, `syscall` leaves TF set
//! (IA32_FMASK does not clear it), so the CPU raises `#DB` after every
//! kernel instruction; the handler counts each one taken in ring 0 and
//! keeps TF set, until the first `#DB` in ring 3 (the instruction after the
//! return): the count is then the number of kernel instructions from the
//! `syscall` to the return to user mode. It works without a PMU, under TCG
//! and KVM alike. The handler runs on its own IST stack, always with the
//! kernel's GS (the trap entry takes it), and in ring 0 touches only
//! atomics (it may interrupt any kernel code, a holder of the state lock
//! included).
//!
//! A `#DB` from user mode is claimed only as the end of the caller's own
//! count (or the end of a count cancelled by a thread switch, see
//! [`cancel`]); any other one (`int1`/icebp, a program single-stepping
//! itself with TF) is left to the fault path, which kills the program.
//!
//! While a call is traced it runs with every instruction trapping and
//! interrupts masked, so tracing is a measurement tool, not a right: it is
//! refused unless the kernel was booted with `trace` (the benchmarks do),
//! and a count stops at [`MAX_STEPS`] (the trace is abandoned, `LastTrace`
//! reports 0, the call completes untraced). Without the cap a traced 4 MiB
//! `/dev/zero` read held the CPU for about 39 timer periods.

use crate::state::{Core, ThreadId};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use sk_machine::traps::TrapFrame;

const TF: u64 = 1 << 8;

/// Most kernel instructions one traced call may be stepped through.
pub(crate) const MAX_STEPS: u64 = 100_000;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ARMED_FOR: AtomicU64 = AtomicU64::new(0);
/// The running thread whose count was abandoned ([`MAX_STEPS`]) while its
/// call was in the kernel: it returns to user mode with TF set, and that
/// one `#DB` is expected. Ring 0 cannot take the state lock, so the
/// abandoning step leaves it here; the next switch away from the thread
/// ([`cancel`]) moves it into the thread's own `trace_trap_owed`, so every
/// thread keeps its own owed trap however many are blocked at once.
static ORPHANED: AtomicU64 = AtomicU64::new(0);
static COUNT: AtomicU64 = AtomicU64::new(0);
static LAST: AtomicU64 = AtomicU64::new(0);
/// The thread whose traced call `LAST` counts.
static LAST_FOR: AtomicU64 = AtomicU64::new(0);

/// Address of the armed-thread word: the synthesized yield reads it and
/// leaves an armed count to the generic path (which cancels it at the
/// switch).
pub(crate) fn armed_word_address() -> u64 {
    ARMED_FOR.as_ptr() as u64
}

/// Records where the counted instructions were (`trace.rips`, see
/// [`crate::trace_rips`]).
pub(crate) fn record_rips(on: bool) {
    crate::trace_rips::enable(on);
}

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
    sk_machine::syscall::keep_trap_flag_on_entry(true);
}

/// Stops a count in progress: the traced call blocked and another thread
/// is about to run (its instructions must not be counted). Called at every
/// thread switch, under the state lock; the next `#DB` then clears TF.
/// The thread that was counted, and one whose count was abandoned, owe a
/// `#DB` when their calls return: recorded on the thread.
pub(crate) fn cancel(core: &mut Core) {
    let armed = ARMED_FOR.swap(0, Ordering::SeqCst);
    if armed != 0 {
        owe_trap(core, armed);
        COUNT.store(0, Ordering::SeqCst);
        // No count for this call: `LastTrace` must not show an older one.
        LAST.store(0, Ordering::SeqCst);
        sk_machine::syscall::keep_trap_flag_on_entry(false);
    }
    let orphaned = ORPHANED.swap(0, Ordering::SeqCst);
    if orphaned != 0 {
        owe_trap(core, orphaned);
    }
}

fn owe_trap(core: &mut Core, thread: ThreadId) {
    if let Some(t) = core.threads.get_mut(&thread) {
        t.trace_trap_owed = true;
    }
}

/// Thread `thread` is gone: nothing is counted for it and no trap is owed
/// to it (its own flag went with it).
pub(crate) fn forget_thread(thread: ThreadId) {
    if ARMED_FOR
        .compare_exchange(thread, 0, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        COUNT.store(0, Ordering::SeqCst);
        sk_machine::syscall::keep_trap_flag_on_entry(false);
    }
    let _ = ORPHANED.compare_exchange(thread, 0, Ordering::SeqCst, Ordering::SeqCst);
}

/// Kernel instructions of the last traced call.
pub(crate) fn last() -> u64 {
    // Each thread sees only the count of its own traced call.
    if LAST_FOR.load(Ordering::SeqCst) == crate::state::current_thread() {
        let count = LAST.load(Ordering::SeqCst);
        crate::trace_rips::print(count);
        count
    } else {
        0
    }
}

fn on_debug(frame: &mut TrapFrame) -> bool {
    if frame.vector != 1 {
        return false;
    }
    if frame.from_user() {
        return on_user_debug(frame);
    }
    let armed = ARMED_FOR.load(Ordering::SeqCst);
    if armed == 0 || armed != crate::state::current_thread() {
        // Not counting (never armed, cancelled by a thread switch, or armed
        // by another thread than the one stepping): a stray single-step in
        // the kernel, e.g. the `#DB` a `mov ss` held back across `syscall`,
        // or the rest of a cancelled count; stop stepping. The program gets
        // its own `#DB` back in user mode.
        frame.rflags &= !TF;
        return true;
    }
    let index = COUNT.fetch_add(1, Ordering::SeqCst);
    crate::trace_rips::record(index, frame.rip);
    if index + 1 >= MAX_STEPS {
        // Too long to trace: give up; the call goes on untraced, `LastTrace`
        // says 0, and the program's own `#DB` after the call is expected.
        let armed = ARMED_FOR.swap(0, Ordering::SeqCst);
        ORPHANED.store(armed, Ordering::SeqCst);
        COUNT.store(0, Ordering::SeqCst);
        LAST.store(0, Ordering::SeqCst);
        sk_machine::syscall::keep_trap_flag_on_entry(false);
        frame.rflags &= !TF;
        return true;
    }
    frame.rflags |= TF;
    true
}

/// A `#DB` from user mode: claimed (TF cleared) only if it ends the
/// current thread's count, or the count a thread switch cancelled for it.
/// From user mode no kernel lock is held on this CPU, so the state may be
/// consulted.
fn on_user_debug(frame: &mut TrapFrame) -> bool {
    let current = crate::state::current_thread();
    if ARMED_FOR.load(Ordering::SeqCst) == current && COUNT.load(Ordering::SeqCst) > 0 {
        LAST.store(COUNT.swap(0, Ordering::SeqCst), Ordering::SeqCst);
        LAST_FOR.store(current, Ordering::SeqCst);
        crate::trace_rips::finished();
        ARMED_FOR.store(0, Ordering::SeqCst);
        sk_machine::syscall::keep_trap_flag_on_entry(false);
        frame.rflags &= !TF;
        return true;
    }
    if current == 0 {
        return false;
    }
    let orphaned = ORPHANED
        .compare_exchange(current, 0, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    let owed = orphaned
        || crate::state::with(|core| {
            core.threads
                .get_mut(&current)
                .is_some_and(|t| core::mem::take(&mut t.trace_trap_owed))
        });
    if owed {
        frame.rflags &= !TF;
    }
    owed
}
