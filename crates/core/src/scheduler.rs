//! The generic scheduler: a round-robin ready queue, preemption on the
//! APIC timer when a thread's quantum (scaled by its priority) runs out,
//! blocking and waking.
//!
//! Owns the switch protocol: decide under the kernel lock (pick the next
//! thread, make its address space and kernel stack current), then release
//! the lock and switch contexts. A later step replaces the ready queue with
//! executable code (Executable Data Structures); this is its baseline.

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

/// Timer ticks a thread may run before it is preempted: its quantum,
/// scaled by its priority (3, the default, runs its quantum as set; 7 runs
/// twice as long; 0 a quarter). Every ready thread still gets its turn in
/// round-robin order, so a high priority cannot starve anyone.
fn ticks_for(quantum_us: u32, priority: u32) -> u64 {
    let hz = sk_machine::apic::timer_hz().max(1);
    let base = u64::from(quantum_us) * hz / 1_000_000;
    (base * (u64::from(priority.min(7)) + 1) / 4).max(1)
}

/// Puts `id` on the ready queue.
pub(crate) fn make_ready(core: &mut Core, id: ThreadId) {
    if let Some(t) = core.threads.get_mut(&id) {
        if matches!(t.state, ScpuState::Exited) {
            return;
        }
        t.state = ScpuState::Ready;
        if id != core.idle && !core.ready.contains(&id) {
            core.ready.push_back(id);
        }
    }
}

fn pick_next(core: &mut Core) -> ThreadId {
    while let Some(id) = core.ready.pop_front() {
        if core
            .threads
            .get(&id)
            .is_some_and(|t| t.state == ScpuState::Ready)
        {
            return id;
        }
    }
    core.idle
}

/// Chooses the next thread and makes the CPU ready to run it; returns the
/// contexts to switch between (None if the current thread keeps running).
/// The current thread must already be re-queued, blocked or exited.
pub(crate) fn prepare_switch(core: &mut Core) -> Option<(Arc<Context>, Arc<Context>)> {
    let next = pick_next(core);
    let prev = core.current;
    if next == prev {
        if let Some(t) = core.threads.get_mut(&next) {
            t.state = ScpuState::Running;
        }
        return None;
    }
    let from = core
        .threads
        .get(&prev)
        .map(|t| t.context.clone())
        .or_else(|| core.dying.take())?;
    crate::trace::cancel();
    let to_thread = core.threads.get_mut(&next)?;
    to_thread.state = ScpuState::Running;
    to_thread.ticks_left = ticks_for(to_thread.quantum_us, to_thread.priority);
    let to = to_thread.context.clone();
    let smach = to_thread.smach;
    core.current = next;
    match smach
        .and_then(|s| core.smachs.get(&s))
        .and_then(|s| s.aspace.as_ref())
    {
        Some(aspace) => aspace.activate(),
        None => sk_machine::address_space::activate_kernel(),
    }
    context::prepare_switch(to.stack_top());
    crate::synthesis::on_thread_switch(core, next);
    Some((from, to))
}

fn switch(pair: Option<(Arc<Context>, Arc<Context>)>) {
    if let Some((from, to)) = pair {
        sk_machine::cpu::without_interrupts(|| context::switch(from, to));
    }
}

/// Lets other ready threads run; the caller stays runnable.
pub fn yield_now() {
    let pair = state::with(|core| {
        let current = core.current;
        make_ready(core, current);
        prepare_switch(core)
    });
    switch(pair);
}

/// From the idle thread: yields if anything became ready.
pub(crate) fn yield_if_others_ready() {
    let pair = state::with(|core| {
        if core.ready.is_empty() {
            None
        } else {
            prepare_switch(core)
        }
    });
    switch(pair);
}

/// Blocks the current thread until [`wake`]; returns after it was woken
/// and rescheduled. The caller re-checks its condition in a loop.
pub(crate) fn block_current() {
    let pair = state::with(|core| {
        let current = core.current;
        if let Some(t) = core.threads.get_mut(&current) {
            t.state = ScpuState::Blocked;
        }
        prepare_switch(core)
    });
    switch(pair);
}

/// Makes a blocked thread ready.
pub(crate) fn wake(core: &mut Core, id: ThreadId) {
    if core
        .threads
        .get(&id)
        .is_some_and(|t| t.state == ScpuState::Blocked)
    {
        make_ready(core, id);
    }
}

/// Ends the current thread for good (it was already removed from the
/// thread table, its context parked in `core.dying`).
pub(crate) fn exit_current() -> ! {
    let pair = state::with(prepare_switch);
    switch(pair);
    unreachable!("an exited thread was resumed");
}

fn on_timer(frame: &mut TrapFrame) {
    crate::devices::poll_console_input();
    if frame.from_user() {
        // This CPU runs no synthesized code right now.
        sk_machine::code_arena::quiescent_point(0);
    }
    // Preempt only code that had interrupts on (user mode, or kernel
    // threads outside the kernel lock).
    if frame.rflags & (1 << 9) == 0 {
        return;
    }
    let pair = state::with(|core| {
        let current = core.current;
        if current == core.idle {
            return if core.ready.is_empty() {
                None
            } else {
                prepare_switch(core)
            };
        }
        let expired = match core.threads.get_mut(&current) {
            Some(t) => {
                t.ticks_left = t.ticks_left.saturating_sub(1);
                t.ticks_left == 0
            }
            None => false,
        };
        if expired && !core.ready.is_empty() {
            make_ready(core, current);
            prepare_switch(core)
        } else {
            if expired {
                if let Some(t) = core.threads.get_mut(&current) {
                    t.ticks_left = ticks_for(t.quantum_us, t.priority);
                }
            }
            None
        }
    });
    switch(pair);
}
