//! The synthesized scheduler's mechanism: the executable ready queue
//! (Synthesis §2.3; docs/executable-scheduler.md).
//!
//! Owns [`RingState`]: each thread's synthesized switch-out and switch-in
//! (built by `switch_code.rs`), the shared yield, and the portable policy
//! `sk_sched::Ring`, whose patches this module applies with
//! `code_arena::patch_rel32`. A switch is entering the running
//! thread's switch-out, whose last instruction jumps to the next thread's
//! switch-in: no Rust code picks the next thread. The Rust side learns who
//! runs from the per-CPU current slot the switch-in writes ([`sync`], at
//! every entry under the kernel lock).
//!
//! Active with the boot option `sched=ring`; the generic scheduler
//! (scheduler.rs) is the other path, and the one every function here
//! defers to when the ring is off.

use crate::code_memory::install_holes;
use crate::state::{self, Core, ThreadId};
use crate::switch_code::{build, facts_for, imm, installed, SharedCode, SwitchCode};
use sk_abi::{ScpuState, SysError};
use sk_sched::{Patches, Ring, VecMap};
use sk_synth::templates::{SwitchUnlinkedHoles, YieldCallerHoles};

// The templates and the machine agree on the per-CPU block.
const _: () = {
    use sk_machine::percpu as p;
    use sk_synth::templates as t;
    assert!(t::PERCPU_SYSCALL_STACK_TOP == p::SYSCALL_STACK_TOP_OFFSET);
    assert!(t::PERCPU_USER_RSP == p::USER_RSP_OFFSET);
    assert!(t::PERCPU_ENTRY_STUB == p::ENTRY_STUB_OFFSET);
    assert!(t::PERCPU_CURRENT_THREAD == p::CURRENT_THREAD_OFFSET);
    assert!(t::PERCPU_TICKS_LEFT == p::TICKS_LEFT_OFFSET);
    assert!(t::PERCPU_LSTAR == p::LSTAR_OFFSET);
    assert!(t::PERCPU_SWITCH_OUT == p::SWITCH_OUT_OFFSET);
    assert!(t::PERCPU_SWITCH_COUNT == p::SWITCH_COUNT_OFFSET);
    assert!(t::PERCPU_TSS_RSP0_FIELD == p::TSS_RSP0_FIELD_OFFSET);
    assert!(t::PERCPU_FP_SAVES == p::FP_SAVES_OFFSET);
    assert!(t::PERCPU_FP_RESTORES == p::FP_RESTORES_OFFSET);
};

/// The synthesized yield's address once the ring runs (0 before): what
/// `synthesis::env` gives the policy for new threads' tables.
static YIELD_ROUTINE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The shared synthesized yield, when the ring runs (`initial_slot` puts
/// it in the slot of `reconfigure` on the SMACH's own handle).
pub(crate) fn yield_routine() -> Option<u64> {
    let address = YIELD_ROUTINE.load(core::sync::atomic::Ordering::Acquire);
    (address != 0).then_some(address)
}

/// The synthesized scheduler's state (in `Core` when `sched=ring`).
pub(crate) struct RingState {
    pub(crate) policy: Ring<ThreadId>,
    pub(crate) code: VecMap<ThreadId, SwitchCode>,
    pub(crate) shared: SharedCode,
    /// Switches observed (the per-CPU switch count moved at a sync).
    pub(crate) switches: u64,
    /// The per-CPU switch count at the last sync.
    pub(crate) seen_switch_count: u64,
}

/// Applies the policy's patches, in order. A patch of a thread without
/// code is skipped: only the exiting thread, whose switch-out never runs
/// again, can be one.
fn apply(ring: &RingState, patches: Patches<ThreadId>) {
    for p in patches.iter() {
        let (Some(from), Some(to)) = (ring.code.get(&p.from), ring.code.get(&p.to)) else {
            let exiting = p.from == ring.policy.current() && !ring.code.contains_key(&p.from);
            if !exiting || !ring.code.contains_key(&p.to) {
                log::error!("ring: no code for patch {} -> {}", p.from, p.to);
            }
            continue;
        };
        // SAFETY: `from.jump` is the switch-out's `next` hole (build.rs
        // checks it is the last instruction's rel32), found in `from.out`,
        // which is installed while `from` is in the code map; `to.inn` is
        // an installed switch-in, entered only from switch-outs and
        // `leave_to`, with interrupts off (the kernel lock masks them and
        // switches happen before it is released).
        #[allow(unsafe_code)]
        let patched = unsafe { from.jump.retarget(to.inn.block.address()) };
        if let Err(e) = patched {
            panic!("ring: patch {} -> {} failed: {e:?}", p.from, p.to);
        }
    }
}

/// True if the synthesized scheduler runs.
pub(crate) fn enabled(core: &Core) -> bool {
    core.ring.is_some()
}

/// Set once at boot when `sched=ring` started the ring.
static ON: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// True if the synthesized scheduler runs (without the lock).
pub(crate) fn is_on() -> bool {
    ON.load(core::sync::atomic::Ordering::Acquire)
}

/// Starts the synthesized scheduler: code for the boot (running) and idle
/// threads, the ring with the boot thread in it.
pub(crate) fn init(core: &mut Core) {
    let (boot, idle) = (core.current, core.idle);
    let (yield_routine, yield_values) = installed(&YieldCallerHoles {
        slow_path: imm(sk_machine::synth_entry::slow_path_address()),
        trace_armed: imm(crate::trace::armed_word_address()),
    })
    .expect("the synthesized yield");
    let shared = SharedCode {
        yield_routine,
        yield_values,
        unlinked: install_holes(&SwitchUnlinkedHoles {}).expect("the unlinked-jump trap"),
    };
    let unlinked = shared.unlinked.block.address();
    let boot_code = build(core, boot, unlinked).expect("switch code for the boot thread");
    let idle_code = build(core, idle, unlinked).expect("switch code for the idle thread");
    let quantum = boot_code.facts.quantum_ticks;
    // The boot thread runs without having been switched in: point the
    // per-CPU slot at its switch-out as its switch-in would.
    sk_machine::percpu::set_switch_out(boot_code.out.block.address());
    let mut code = VecMap::new();
    code.insert(boot, boot_code);
    code.insert(idle, idle_code);
    let policy = Ring::new(idle, boot);
    let mut ring = RingState {
        policy,
        code,
        shared,
        switches: 0,
        seen_switch_count: sk_machine::percpu::switch_count(),
    };
    apply(&ring, ring.policy.initial_patches());
    match ring.policy.insert(boot) {
        Ok(p) => apply(&ring, p),
        Err(e) => panic!("ring: {e:?}"),
    }
    sk_machine::percpu::sync_lstar_copy();
    sk_machine::percpu::set_ticks_left(quantum);
    core.ring = Some(ring);
    if let Some(ring) = core.ring.as_ref() {
        YIELD_ROUTINE.store(
            ring.shared.yield_routine.block.address(),
            core::sync::atomic::Ordering::Release,
        );
    }
    ON.store(true, core::sync::atomic::Ordering::Release);
}

/// Gives a new thread its switch code (before it is made ready).
pub(crate) fn add(core: &mut Core, id: ThreadId) -> Result<(), SysError> {
    if !enabled(core) {
        return Ok(());
    }
    let unlinked = core
        .ring
        .as_ref()
        .map_or(0, |r| r.shared.unlinked.block.address());
    // Room first, for the code and in the ring: a block or a wake of this
    // thread then allocates nothing.
    if let Some(ring) = core.ring.as_mut() {
        let threads = ring.code.len().saturating_add(1);
        ring.code.try_reserve(1).map_err(|_| SysError::NoMemory)?;
        ring.policy
            .reserve_members(threads)
            .map_err(|_| SysError::NoMemory)?;
    }
    let code = build(core, id, unlinked)?;
    if let Some(ring) = core.ring.as_mut() {
        ring.code.insert(id, code);
    }
    Ok(())
}

/// Makes `id` runnable: it joins the ring's tail.
pub(crate) fn insert(core: &mut Core, id: ThreadId) {
    if let Some(ring) = core.ring.as_mut() {
        if !ring.code.contains_key(&id) {
            log::error!("ring: thread {id} has no switch code");
            return;
        }
        if let Ok(p) = ring.policy.insert(id) {
            apply(ring, p);
        }
    }
}

/// Puts `id` right after the member `anchor` (or moves it there): a
/// nested group's SCPUs stay next to each other (`nest_ring.rs`).
///
/// # Errors
/// [`SysError::NotPermitted`] if the policy refuses (`anchor` not a
/// member, or `id` itself) or `id` has no switch code: nothing changed.
pub(crate) fn insert_after(
    core: &mut Core,
    anchor: ThreadId,
    id: ThreadId,
) -> Result<(), SysError> {
    let ring = core.ring.as_mut().ok_or(SysError::NotPermitted)?;
    if !ring.code.contains_key(&id) {
        return Err(SysError::NotPermitted);
    }
    let [removal, insertion] = ring
        .policy
        .insert_after(anchor, id)
        .map_err(|_| SysError::NotPermitted)?;
    apply(ring, removal);
    apply(ring, insertion);
    Ok(())
}

/// Closes the members from `first` to `last` into a sub-ring (a nested
/// group's segment, `nest_ring.rs`); with `adopt_current`, a detached
/// running thread's jump enters it. A refused close changes nothing.
pub(crate) fn close(core: &mut Core, first: ThreadId, last: ThreadId, adopt_current: bool) {
    if let Some(ring) = core.ring.as_mut() {
        match ring.policy.close(first, last, adopt_current) {
            Ok(p) => apply(ring, p),
            Err(e) => {
                CLOSE_ERRORS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                log::error!("ring: closing {first}..{last}: {e:?}");
            }
        }
    }
}

/// Closings of a sub-ring the policy refused (a kernel bug; the tests
/// require none).
static CLOSE_ERRORS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Closings of a sub-ring refused so far.
#[cfg(feature = "ktest")]
pub(crate) fn close_errors() -> u64 {
    CLOSE_ERRORS.load(core::sync::atomic::Ordering::Relaxed)
}

/// Aims the detached running thread's jump at the member `id` (a nested
/// group's SCPU that blocked hands the CPU to its policy's choice).
pub(crate) fn aim(core: &mut Core, id: ThreadId) {
    if let Some(ring) = core.ring.as_mut() {
        if let Ok(p) = ring.policy.aim(id) {
            apply(ring, p);
        }
    }
}

/// Opens the closed sub-ring that holds `member`, if any (its group's
/// turn ended).
pub(crate) fn open(core: &mut Core, member: ThreadId) {
    if let Some(ring) = core.ring.as_mut() {
        let p = ring.policy.open(member);
        apply(ring, p);
    }
}

/// Takes `id` out of the ring (it may be the running thread: it then runs
/// on until it switches out).
pub(crate) fn remove(core: &mut Core, id: ThreadId) {
    if let Some(ring) = core.ring.as_mut() {
        if let Ok(p) = ring.policy.remove(id) {
            apply(ring, p);
        }
    }
}

/// `id` is gone: out of the ring, its code retired (reused after a
/// quiescent point; the exiting thread's own switch-out never runs again).
pub(crate) fn forget(core: &mut Core, id: ThreadId) {
    remove(core, id);
    if let Some(ring) = core.ring.as_mut() {
        ring.code.remove(&id);
    }
}

/// Rebuilds `id`'s switch code if a fact it bakes in changed (quantum,
/// priority, address space), and re-links it.
pub(crate) fn refresh(core: &mut Core, id: ThreadId) {
    let Some(ring) = core.ring.as_ref() else {
        return;
    };
    let Some(old) = ring.code.get(&id) else {
        return;
    };
    let facts = facts_for(core, id);
    if facts == Some(old.facts) {
        return;
    }
    let gains_fp = old.facts.fp_area.is_none() && facts.is_some_and(|f| f.fp_area.is_some());
    let unlinked = ring.shared.unlinked.block.address();
    let Ok(new) = build(core, id, unlinked) else {
        log::error!("ring: no memory to rebuild thread {id}'s switch code; it keeps the old");
        return;
    };
    let Some(ring) = core.ring.as_mut() else {
        return;
    };
    let new_out = new.out.block.address();
    let old = ring.code.insert(id, new);
    if gains_fp {
        crate::fp::count_resynthesis();
    }
    if let Some(next) = ring.policy.jump_of(id) {
        apply(ring, Patches::one(id, next));
    }
    apply(ring, ring.policy.jumps_into(id));
    // The running thread's switch-out is reached through the per-CPU slot
    // (the synthesized yield): point it at the new code before the old is
    // retired.
    if id == core.current {
        sk_machine::percpu::set_switch_out(new_out);
    }
    // Retired: reused after a quiescent point.
    drop(old);
}

/// Rebuilds the switch code of every thread whose code loads `root` (an
/// address space about to be destroyed: kernel threads attached to it).
pub(crate) fn on_aspace_gone(core: &mut Core, root: u64) {
    let Some(ring) = core.ring.as_ref() else {
        return;
    };
    let stale: alloc::vec::Vec<ThreadId> = ring
        .code
        .iter()
        .filter(|(_, c)| c.facts.cr3 == root)
        .map(|(&id, _)| id)
        .collect();
    for id in stale {
        refresh(core, id);
    }
}

/// Switches the ring's syncs observed since boot (`scheduler::switches`).
static SWITCHES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Switches between two threads the ring made since boot.
pub(crate) fn switches() -> u64 {
    SWITCHES.load(core::sync::atomic::Ordering::Relaxed)
}

/// Switches that ran a thread the policy did not have next (a removed,
/// blocked or unknown one): the self-check fails on any.
static SYNC_ERRORS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Switches so far that ran a thread the policy did not have next.
#[cfg(feature = "ktest")]
pub(crate) fn sync_errors() -> u64 {
    SYNC_ERRORS.load(core::sync::atomic::Ordering::Relaxed)
}

/// Brings the Rust side up to date with the code: if a switch-in made
/// another thread current since the last look, records it (policy, thread
/// states, `Core::current`) and drops a dead thread's context (its stack
/// is no longer in use).
///
/// Called at every kernel entry: the tests that usually find nothing to do
/// stay here, in line, and the rest is out of line, so the common entry
/// pays a few compares, not the big body's prologue (whether LLVM
/// shrink-wrapped that prologue depended on what got inlined into it: a
/// change elsewhere once cost every generic call 15 instructions).
#[inline]
pub(crate) fn sync(core: &mut Core) {
    let Some(ring) = core.ring.as_mut() else {
        return;
    };
    let now = sk_machine::percpu::current_thread();
    let before = core.current;
    // Every switch-in counts itself: the synthesized yield moves along
    // the ring with no Rust code, so several switches may lie between two
    // looks (a whole round even, back to the same thread).
    let count = sk_machine::percpu::switch_count();
    let steps = count.wrapping_sub(ring.seen_switch_count);
    ring.seen_switch_count = count;
    if steps == 0 && now == before {
        return;
    }
    record_switches(core, steps, now, before);
}

/// [`sync`]'s work when switches happened since the last look.
#[inline(never)]
fn record_switches(core: &mut Core, steps: u64, now: ThreadId, before: ThreadId) {
    let Some(ring) = core.ring.as_mut() else {
        return;
    };
    let expected = ring.policy.next_to_run();
    if let Err(e) = ring.policy.advanced(steps, now) {
        SYNC_ERRORS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        log::error!(
            "ring: {steps} switches from {before} led to {now}, policy expected {expected} first: {e:?}"
        );
    }
    ring.switches += steps;
    SWITCHES.fetch_add(steps, core::sync::atomic::Ordering::Relaxed);
    if now == before {
        return;
    }
    if let Some(t) = core.threads.get_mut(&before) {
        if t.scpu.state() == ScpuState::Running {
            t.scpu.set_state(ScpuState::Ready);
        }
    }
    if let Some(t) = core.threads.get_mut(&now) {
        t.scpu.set_state(ScpuState::Running);
    }
    core.set_current(now);
    // The exited thread's stack is not in use any more.
    core.dying = None;
    // The SCPU that left its group at the end of the group's turn has
    // switched out: its group's sub-ring takes it back.
    if core.nest.leaving.is_some_and(|l| l != now) {
        crate::nest_ring::reclose(core);
    }
}

/// The running thread's switch-out, if switching would run another thread
/// (then a count in progress is stopped: the next thread's instructions
/// must not be counted, [`crate::trace::cancel`]).
fn switch_out_if_others(core: &mut Core) -> Option<u64> {
    // A nested group's turn goes on with another of its SCPUs (`nest.rs`).
    crate::nest::before_switch(core);
    let ring = core.ring.as_ref()?;
    if ring.policy.next_to_run() == core.current {
        return None;
    }
    let out = ring.code.get(&core.current).map(|c| c.out.block.address());
    if out.is_some() {
        crate::trace::cancel(core);
    }
    out
}

/// Enters the running thread's switch-out (interrupts off, lock released).
fn switch_out(address: Option<u64>) {
    if let Some(address) = address {
        // SAFETY: `address` is the running thread's installed switch-out
        // (read from the code map under the lock, for `core.current`,
        // which the per-CPU slot confirms at every sync); its jump was
        // set by the policy to a member's installed switch-in, which is
        // not running (one CPU) and whose saved RSP holds its frame.
        // Interrupts are off from the decision to here.
        #[allow(unsafe_code)]
        unsafe {
            sk_machine::switch_code::enter_switch_out(address)
        };
    }
}

/// Lets other runnable threads run; the caller stays runnable.
pub(crate) fn yield_now() {
    sk_machine::cpu::without_interrupts(|| {
        let out = state::with(switch_out_if_others);
        switch_out(out);
    });
}

/// A preemption point: switches if the quantum ran out and others wait.
pub(crate) fn preemption_point() {
    sk_machine::cpu::enable_interrupts();
    sk_machine::cpu::disable_interrupts();
    if sk_machine::percpu::ticks_left() == 0 {
        let out = state::with(switch_out_if_others);
        switch_out(out);
    }
}

/// `scheduler::block_current_unless` on the ring: runs `decide` under the
/// kernel lock; on `Ok(false)` blocks the running thread (out of the
/// ring) in the same critical section, so no wake can fall between, and
/// enters its switch-out; returns once it was woken and its turn came.
pub(crate) fn block_current_unless(
    decide: impl FnOnce(&mut Core) -> Result<bool, SysError>,
) -> Result<bool, SysError> {
    let mut result = Ok(true);
    sk_machine::cpu::without_interrupts(|| {
        let out = state::with(|core| {
            result = decide(core);
            if result != Ok(false) {
                return None;
            }
            let current = core.current;
            if let Some(t) = core.threads.get_mut(&current) {
                t.scpu.set_state(ScpuState::Blocked);
            }
            remove(core, current);
            switch_out_if_others(core)
        });
        switch_out(out);
    });
    result
}

/// Leaves the exiting thread for good: jumps to the next switch-in.
pub(crate) fn exit_current() -> ! {
    sk_machine::cpu::disable_interrupts();
    let next = state::with(|core| {
        let current = core.current;
        forget(core, current);
        crate::trace::cancel(core);
        let ring = core.ring.as_ref()?;
        let next = ring.policy.next_to_run();
        ring.code.get(&next).map(|c| c.inn.block.address())
    });
    match next {
        // SAFETY: `to` is the installed switch-in of a ring member other
        // than this thread (which left the ring above), not running;
        // interrupts are off; this stack stays alive in `core.dying`
        // until the next sync runs on another stack.
        #[allow(unsafe_code)]
        Some(to) => unsafe { sk_machine::switch_code::leave_to(to) },
        None => panic!("ring: nowhere to go from an exiting thread"),
    }
}

/// The timer tick's part: counts the quantum down and, when it ran out in
/// code that had interrupts on, enters the running thread's switch-out.
pub(crate) fn on_timer(interrupts_were_on: bool) {
    let mut left = sk_machine::percpu::ticks_left().saturating_sub(1);
    // A nested group's turn may pass to another of its SCPUs, or end:
    // switch now; inside the turn its SCPUs' own quanta do not cut it.
    if crate::nest::is_active() {
        match state::with(crate::nest_ring::on_tick) {
            Some(true) => left = 0,
            Some(false) => left = left.max(1),
            None => {}
        }
    }
    sk_machine::percpu::set_ticks_left(left);
    if left > 0 || !interrupts_were_on {
        return;
    }
    let out = state::with(|core| {
        let out = switch_out_if_others(core);
        if out.is_none() {
            // Alone in the ring: a new quantum.
            let q = core
                .ring
                .as_ref()
                .and_then(|r| r.code.get(&core.current))
                .map_or(1, |c| c.facts.quantum_ticks);
            sk_machine::percpu::set_ticks_left(q);
        }
        out
    });
    switch_out(out);
}

/// Test builds: walks the jumps *in the code* from the running thread and
/// checks they form one cycle through exactly the policy's members, in its
/// order, and that every thread in it is a live thread (or idle). Returns
/// (members, switches observed), or None when the ring is off.
#[cfg(feature = "ktest")]
pub(crate) fn check_code(core: &Core) -> Option<Result<(usize, u64), alloc::string::String>> {
    use alloc::format;
    use alloc::vec::Vec;
    let ring = core.ring.as_ref()?;
    let by_address: alloc::collections::BTreeMap<u64, ThreadId> = ring
        .code
        .iter()
        .map(|(&id, c)| (c.inn.block.address(), id))
        .collect();
    let target_of = |id: ThreadId| -> Result<ThreadId, alloc::string::String> {
        let code = ring
            .code
            .get(&id)
            .ok_or(format!("thread {id} has no code"))?;
        let to = code
            .jump_target()
            .ok_or(format!("cannot read {id}'s jump"))?;
        by_address
            .get(&to)
            .copied()
            .ok_or(format!("{id} jumps to {to:#x}, no thread's switch-in"))
    };
    let check = || -> Result<(usize, u64), alloc::string::String> {
        // The members the code runs through from the running thread, each
        // once: every member, or the way into a nested group's closed
        // sub-ring and round it.
        let expected: Vec<ThreadId> = ring.policy.cycle();
        let first = target_of(core.current)?;
        let mut walked = Vec::new();
        let mut at = first;
        while !walked.contains(&at) && walked.len() <= expected.len() {
            walked.push(at);
            at = target_of(at)?;
        }
        if walked != expected {
            return Err(format!(
                "code walks {walked:?} (then {at}), policy {expected:?}"
            ));
        }
        // Every member's jump is where the policy has it (outside a closed
        // sub-ring too: those run again when it opens).
        for id in ring.policy.order() {
            let to = target_of(id)?;
            if ring.policy.jump_of(id) != Some(to) {
                return Err(format!(
                    "{id} jumps to {to}, policy says {:?}",
                    ring.policy.jump_of(id)
                ));
            }
        }
        // Every member (reached now or once a sub-ring opens) is a live,
        // runnable thread.
        let members: Vec<ThreadId> = ring.policy.order().collect();
        for id in &members {
            if *id != core.idle && !core.threads.contains_key(id) {
                return Err(format!("removed thread {id} is in the cycle"));
            }
            if *id != core.idle
                && core.threads.get(id).is_some_and(|t| {
                    matches!(
                        t.scpu.state(),
                        ScpuState::Blocked | ScpuState::Suspended | ScpuState::Exited
                    )
                })
            {
                return Err(format!("blocked or suspended thread {id} is in the cycle"));
            }
        }
        Ok((walked.len(), ring.switches))
    };
    Some(check())
}
