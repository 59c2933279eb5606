//! The generic scheduler's mechanism: the ready queue of `sk-sched`,
//! preemption on the APIC timer when a thread's quantum runs out, blocking
//! and waking, and the context switch.
//!
//! Owns the switch protocol: decide under the kernel lock (pick the next
//! thread, make its address space and kernel stack current), then release
//! the lock and switch contexts. The policy (round robin, quanta scaled by
//! priority and clamped so nobody starves) is `sk-sched`'s; a later step
//! replaces this queue with executable code (Executable Data Structures),
//! and this stays its generic path.

use crate::state::{self, Core, ThreadId};
use alloc::sync::Arc;
use sk_abi::ScpuState;
use sk_machine::context::{self, Context};
use sk_machine::traps::TrapFrame;

/// Hooks the timer interrupt.
pub(crate) fn install() {
    let mut hooks = sk_machine::traps::hooks();
    hooks.timer = on_timer;
    sk_machine::traps::set_hooks(hooks);
}

fn ticks_for(core: &Core, id: ThreadId) -> u64 {
    core.threads.get(&id).map_or(1, |t| {
        sk_sched::quantum_ticks(
            t.scpu.quantum_us(),
            t.scpu.priority(),
            sk_machine::apic::timer_hz(),
        )
    })
}

/// Puts `id` on the ready queue (unless it exited or is the idle thread).
pub(crate) fn make_ready(core: &mut Core, id: ThreadId) {
    if crate::ring::enabled(core) {
        if let Some(t) = core.threads.get_mut(&id) {
            if matches!(t.scpu.state(), ScpuState::Exited) {
                return;
            }
            if id != core.current {
                t.scpu.set_state(ScpuState::Ready);
            }
        }
        if id != core.idle {
            crate::ring::insert(core, id);
        }
        return;
    }
    let idle = core.idle;
    if let Some(t) = core.threads.get_mut(&id) {
        if matches!(t.scpu.state(), ScpuState::Exited) {
            return;
        }
        t.scpu.set_state(ScpuState::Ready);
        if id != idle && core.ready.push(id).is_err() {
            // The queue keeps room for every thread (reserved at thread
            // creation), so this cannot happen; say so if it does.
            log::error!("ready queue full: thread {id} not queued");
        }
    }
}

fn pick_next(core: &mut Core) -> ThreadId {
    while let Some(id) = core.ready.pick() {
        if core
            .threads
            .get(&id)
            .is_some_and(|t| t.scpu.state() == ScpuState::Ready)
        {
            return id;
        }
    }
    core.idle
}

/// Switches the generic scheduler made (test builds: the stress tests
/// count them, `testing::switches`).
#[cfg(feature = "ktest")]
pub(crate) static GENERIC_SWITCHES: core::sync::atomic::AtomicU64 =
    core::sync::atomic::AtomicU64::new(0);

/// Chooses the next thread and makes the CPU ready to run it; returns the
/// contexts to switch between (None if the current thread keeps running).
/// The current thread must already be re-queued, blocked or exited.
pub(crate) fn prepare_switch(core: &mut Core) -> Option<(Arc<Context>, Arc<Context>)> {
    let next = pick_next(core);
    let prev = core.current;
    if next == prev {
        if let Some(t) = core.threads.get_mut(&next) {
            t.scpu.set_state(ScpuState::Running);
        }
        return None;
    }
    let from = core
        .threads
        .get(&prev)
        .map(|t| t.context.clone())
        .or_else(|| core.dying.take())?;
    crate::trace::cancel(core);
    #[cfg(feature = "ktest")]
    GENERIC_SWITCHES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let ticks = ticks_for(core, next);
    let to_thread = core.threads.get_mut(&next)?;
    to_thread.scpu.set_state(ScpuState::Running);
    to_thread.ticks_left = ticks;
    let to = to_thread.context.clone();
    let smach = to_thread.scpu.smach();
    core.set_current(next);
    match smach
        .and_then(|s| core.smachs.get(&s))
        .and_then(|s| s.aspace.as_ref())
    {
        Some(aspace) => aspace.0.activate(),
        None => sk_machine::address_space::activate_kernel(),
    }
    // `context::switch` points the ring-3 entry stacks at `to`'s stack.
    crate::thread_entry::on_thread_switch(core, next);
    Some((from, to))
}

fn switch(pair: Option<(Arc<Context>, Arc<Context>)>) {
    if let Some((from, to)) = pair {
        sk_machine::cpu::without_interrupts(|| context::switch(from, to));
    }
}

/// Decides on a switch under the lock and makes it, with interrupts off
/// from the decision to the switch: `prepare_switch` already made the next
/// thread current, and a timer tick in between would preempt the thread
/// that is still running as if it were the next one (seen under the
/// stress test with one-tick quanta: "switch from a context that is not
/// running").
fn decide_and_switch(decide: impl FnOnce(&mut Core) -> Option<(Arc<Context>, Arc<Context>)>) {
    sk_machine::cpu::without_interrupts(|| switch(state::with(decide)));
}

/// Takes `id` off the ready queue (suspended, or gone).
pub(crate) fn unready(core: &mut Core, id: ThreadId) {
    core.ready.remove(id);
    crate::ring::remove(core, id);
}

fn ring_on() -> bool {
    crate::ring::is_on()
}

/// Lets other ready threads run; the caller stays runnable.
pub fn yield_now() {
    if ring_on() {
        return crate::ring::yield_now();
    }
    decide_and_switch(|core| {
        let current = core.current;
        make_ready(core, current);
        prepare_switch(core)
    });
}

/// From the idle thread: yields if anything became ready.
pub(crate) fn yield_if_others_ready() {
    if ring_on() {
        return crate::ring::yield_now();
    }
    decide_and_switch(|core| {
        if core.ready.is_empty() {
            None
        } else {
            prepare_switch(core)
        }
    });
}

/// A preemption point between the pieces of a long call: lets the timer
/// in (interrupts were masked under the lock) and yields if the thread's
/// quantum ran out meanwhile.
pub(crate) fn preemption_point() {
    if ring_on() {
        return crate::ring::preemption_point();
    }
    sk_machine::cpu::enable_interrupts();
    sk_machine::cpu::disable_interrupts();
    let pair = state::with(|core| {
        let current = core.current;
        let expired = core
            .threads
            .get(&current)
            .is_some_and(|t| t.ticks_left == 0);
        if expired && !core.ready.is_empty() {
            make_ready(core, current);
            prepare_switch(core)
        } else {
            None
        }
    });
    switch(pair);
}

/// Blocks the current thread until [`wake`]; returns after it was woken
/// and rescheduled. The caller re-checks its condition in a loop.
pub(crate) fn block_current() {
    if ring_on() {
        return crate::ring::block_current();
    }
    decide_and_switch(|core| {
        let current = core.current;
        if let Some(t) = core.threads.get_mut(&current) {
            t.scpu.set_state(ScpuState::Blocked);
        }
        prepare_switch(core)
    });
}

/// Makes a blocked thread ready.
pub(crate) fn wake(core: &mut Core, id: ThreadId) {
    if core
        .threads
        .get(&id)
        .is_some_and(|t| t.scpu.state() == ScpuState::Blocked)
    {
        make_ready(core, id);
    }
}

/// Ends the current thread for good (it was already removed from the
/// thread table, its context parked in `core.dying`).
pub(crate) fn exit_current() -> ! {
    if ring_on() {
        crate::ring::exit_current();
    }
    decide_and_switch(prepare_switch);
    unreachable!("an exited thread was resumed");
}

fn on_timer(frame: &mut TrapFrame) {
    crate::devices::poll_console_input();
    if ring_on() {
        return crate::ring::on_timer(frame.rflags & (1 << 9) != 0);
    }
    // Count the tick against the running thread whatever it was doing.
    let expired = state::with(|core| {
        let current = core.current;
        match core.threads.get_mut(&current) {
            Some(t) if current != core.idle => {
                t.ticks_left = t.ticks_left.saturating_sub(1);
                t.ticks_left == 0
            }
            _ => current == core.idle,
        }
    });
    // Preempt only code that had interrupts on (user mode, or kernel
    // threads outside the kernel lock).
    if frame.rflags & (1 << 9) == 0 || !expired {
        return;
    }
    let pair = state::with(|core| {
        let current = core.current;
        if core.ready.is_empty() {
            let ticks = ticks_for(core, current);
            if let Some(t) = core.threads.get_mut(&current) {
                t.ticks_left = ticks;
            }
            return None;
        }
        make_ready(core, current);
        prepare_switch(core)
    });
    switch(pair);
}
