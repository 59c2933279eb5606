//! The generic scheduler's mechanism: the ready queue of `sk-sched`,
//! preemption on the APIC timer when a thread's quantum runs out, blocking
//! and waking, and the context switch.
//!
//! Sleeping, reading the console with no input, waiting for a SMACH's
//! exit and blocking on a semaphore leave the ready queue (the thread is
//! `Blocked`; [`block_current_unless`], the only way to block, decides,
//! registers and blocks in one critical section, so no wake-up can fall
//! between). Timed wake-ups come
//! from `core.sleepers` (`sk_sched::SleepQueue`, TSC deadlines), checked on
//! every timer tick. **Idle** is explicit: when nothing is ready,
//! `pick_next` returns the idle thread, which halts until an interrupt and
//! yields as soon as anything is ready (`thread::idle_loop`); a sleeper's
//! deadline is noticed on the next tick, so a sleep ends within one tick
//! period after its deadline.
//!
//! Owns the switch protocol: decide under the kernel lock (pick the next
//! thread, make its address space and kernel stack current), then release
//! the lock and switch contexts. The policy (round robin, quanta scaled by
//! priority and clamped so nobody starves) is `sk-sched`'s; a later step
//! replaces this queue with executable code (Executable Data Structures),
//! and this stays its generic path.

use crate::state::{self, Core, ThreadId};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
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
    // A nested group queues one SCPU at a time (`nest.rs`).
    if crate::nest::hold_back(core, id) {
        return;
    }
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
            crate::nest_ring::insert(core, id);
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
    crate::nest::before_switch(core);
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
    // FP state: save `prev`'s if it uses FP, restore `next`'s or set
    // CR0.TS. Nothing between here and the context switch touches the FP
    // registers (the kernel is soft-float).
    crate::fp::on_switch(core, prev, next);
    SWITCHES.fetch_add(1, Ordering::Relaxed);
    Some((from, to))
}

static SWITCHES: AtomicU64 = AtomicU64::new(0);

/// Context switches between two threads since boot (either scheduler).
pub fn switches() -> u64 {
    SWITCHES.load(Ordering::Relaxed) + crate::ring::switches()
}

/// Decides under the kernel lock (`decide`, usually ending in
/// [`prepare_switch`]) and switches, with interrupts masked from the
/// decision to the switch: a timer tick in between would find `current`
/// already naming the next thread while the CPU still runs the previous
/// one, preempt "it" and switch away from a context that is not running
/// (and the FP registers already hold the next thread's state).
fn switch_with(decide: impl FnOnce(&mut Core) -> Option<(Arc<Context>, Arc<Context>)>) {
    sk_machine::cpu::without_interrupts(|| {
        if let Some((from, to)) = state::with(decide) {
            context::switch(from, to);
        }
    });
}

/// Takes `id` off the ready queue (suspended, or gone).
pub(crate) fn unready(core: &mut Core, id: ThreadId) {
    core.ready.remove(id);
    crate::ring::remove(core, id);
    crate::nest::after_unready(core, id);
}

fn ring_on() -> bool {
    crate::ring::is_on()
}

/// Lets other ready threads run; the caller stays runnable. Under the
/// ring: enters the running thread's switch-out.
pub fn yield_now() {
    if ring_on() {
        return crate::ring::yield_now();
    }
    switch_with(|core| {
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
    switch_with(|core| {
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
    switch_with(|core| {
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
}

/// Runs `decide` under the kernel lock: `Ok(true)` means the caller's
/// condition holds and it goes on; `Ok(false)` means it must wait, and it
/// is blocked in the same critical section (a wake-up cannot fall between
/// the decision and the block) and switched away from; this returns once
/// it was woken and rescheduled, and the caller decides again (in a loop).
/// Errors from `decide` come back without blocking.
///
/// **The only way to block.** Every wait registers the thread on its wait
/// list (console readers, a SMACH's waiters, the sleep queue, a
/// semaphore's FIFO) inside `decide`, after looking at its condition
/// there: a waker takes the thread off the list and wakes it under the
/// same lock, so it either runs before the look (which then sees the
/// condition hold) or finds the thread Blocked ([`wake`] wakes only
/// Blocked threads: a registration in one critical section and a block in
/// a later one lost a wake that came between them).
///
/// The semaphore's P, `sleep`, the console read and the SMACH wait use it.
/// Under the ring the block is
/// `ring::block_current_unless`: the thread leaves the ring (its switch
/// code unlinked) in the same critical section and enters its switch-out.
pub(crate) fn block_current_unless(
    decide: impl FnOnce(&mut Core) -> Result<bool, sk_abi::SysError>,
) -> Result<bool, sk_abi::SysError> {
    if ring_on() {
        return crate::ring::block_current_unless(decide);
    }
    let mut result = Ok(true);
    switch_with(|core| {
        result = decide(core);
        if result != Ok(false) {
            return None;
        }
        let current = core.current;
        if let Some(t) = core.threads.get_mut(&current) {
            t.scpu.set_state(ScpuState::Blocked);
        }
        prepare_switch(core)
    });
    result
}

/// Blocks the current thread for at least `ns` nanoseconds of guest time
/// (TSC): it sleeps until the first timer tick at or after its deadline.
/// A resume after a suspend, or any other early wake, sleeps again.
///
/// # Errors
/// [`sk_abi::SysError::NoMemory`] if the sleep queue cannot grow.
pub(crate) fn sleep_current(ns: u64) -> Result<(), sk_abi::SysError> {
    let start = sk_machine::cpu::rdtsc();
    let deadline = sk_sched::deadline_after(start, ns, sk_machine::tsc::frequency_hz());
    loop {
        let done = block_current_unless(|core| {
            if sk_machine::cpu::rdtsc() >= deadline {
                return Ok(true);
            }
            let current = core.current;
            register_sleeper(core, current, deadline)?;
            Ok(false)
        })?;
        if done {
            return Ok(());
        }
    }
}

/// Puts thread `id` on the sleep queue until TSC `deadline` (under the
/// lock, inside a `block_current_unless` decision).
///
/// # Errors
/// [`sk_abi::SysError::NoMemory`] if the sleep queue cannot grow.
pub(crate) fn register_sleeper(
    core: &mut Core,
    id: ThreadId,
    deadline: u64,
) -> Result<(), sk_abi::SysError> {
    core.sleepers
        .push(id, deadline)
        .map_err(|_| sk_abi::SysError::NoMemory)?;
    EARLIEST_DEADLINE.fetch_min(deadline, Ordering::Relaxed);
    Ok(())
}

/// Inside a [`block_current_unless`] decision: wakes the current thread at
/// the first timer tick at or after TSC `deadline` too (a wait on several
/// things with a time limit: `poll`). The waker need not be this one; the
/// caller removes the entry after it wakes (`core.sleepers.remove`).
///
/// # Errors
/// [`sk_abi::SysError::NoMemory`] if the sleep queue cannot grow.
pub(crate) fn wake_current_at(core: &mut Core, deadline: u64) -> Result<(), sk_abi::SysError> {
    let current = core.current;
    register_sleeper(core, current, deadline)
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
    switch_with(prepare_switch);
    unreachable!("an exited thread was resumed");
}

/// The earliest deadline in `core.sleepers`, or later (`u64::MAX`: none):
/// lets the ring's timer hook skip the kernel lock on ticks with no
/// sleeper due. Lowered under the lock when a thread goes to sleep, set
/// from the queue when due sleepers are woken; a sleeper forgotten early
/// only costs one locked tick.
static EARLIEST_DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);

/// Timed wake-ups: wakes every sleeper whose deadline has passed.
fn wake_due_sleepers(core: &mut Core) {
    let now = sk_machine::cpu::rdtsc();
    while let Some(id) = core.sleepers.pop_due(now) {
        wake(core, id);
    }
    let next = core.sleepers.next_deadline().unwrap_or(u64::MAX);
    EARLIEST_DEADLINE.store(next, Ordering::Relaxed);
}

fn on_timer(frame: &mut TrapFrame) {
    crate::devices::poll_console_input();
    crate::audio_out::on_tick();
    if ring_on() {
        // Timed wake-ups first: a sleeper due now may take the CPU below.
        if sk_machine::cpu::rdtsc() >= EARLIEST_DEADLINE.load(Ordering::Relaxed) {
            state::with(wake_due_sleepers);
        }
        return crate::ring::on_timer(frame.rflags & (1 << 9) != 0);
    }
    // Count the tick against the running thread whatever it was doing.
    let expired = state::with(|core| {
        // Timed wake-ups first: a sleeper due now may take the CPU below.
        if core.sleepers.next_deadline().is_some() {
            wake_due_sleepers(core);
        }
        let current = core.current;
        // A nested group's turn may pass to another of its SCPUs.
        let pass = crate::nest::is_active() && crate::nest::on_tick(core);
        match core.threads.get_mut(&current) {
            Some(t) if current != core.idle => {
                t.ticks_left = t.ticks_left.saturating_sub(1);
                t.ticks_left == 0 || pass
            }
            _ => current == core.idle,
        }
    });
    // Preempt only code that had interrupts on (user mode, or kernel
    // threads outside the kernel lock).
    if frame.rflags & (1 << 9) == 0 || !expired {
        return;
    }
    switch_with(|core| {
        let current = core.current;
        // A group alone still passes its turn between its SCPUs.
        crate::nest::before_switch(core);
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
}
