//! Nested SMACHs' CPU: the kernel side of `sk_sched::ShareTree`
//! (docs/nesting.md).
//!
//! A SMACH that chose a sub-scheduling policy (`SmachSelector::SubPolicy`,
//! by itself or its parent; the highest such ancestor) and all its
//! descendants form a **group**; SMACHs in no group are scheduled as
//! before, each SCPU on its own. Either way the whole subtree gets the CPU
//! as one SCPU of the root's level would: never more than the root's
//! share ("child synthetic machines are scheduled as any other SCPU",
//! seed §3.1), and inside the group's turn the tree's policy decides, at
//! every timer tick, which SCPU runs.
//!
//! On the synthesized scheduler the group is a sub-ring of the executable
//! ready queue, performed by `nest_ring.rs`. On the generic scheduler
//! (this module) a group has exactly one SCPU in the run queue at a time,
//! its *admitted* SCPU; the group's other ready SCPUs are *parked* (state
//! Ready, in no queue). A different choice at a tick ([`on_tick`]) puts
//! the chosen SCPU at the front of the queue and switches at once. After
//! [`SLOT`] ticks the turn ends and the group goes to the tail of the
//! round with the SCPU the policy chooses next ([`before_switch`]). When
//! the admitted SCPU blocks, is suspended or exits, the next ready one is
//! admitted ([`refill`]). On both schedulers the CPU time of every SCPU in
//! a group is charged in TSC ticks at each tick and each switch the kernel
//! makes: the per-SCPU accounting the share test reads.
//!
//! Owns [`NestState`] (in `Core`) and the hooks the schedulers call:
//! [`hold_back`] from `make_ready`, [`after_unready`], [`before_switch`],
//! [`on_tick`], [`thread_started`], [`thread_gone`], [`smach_gone`].

use crate::state::{Core, SmachId, ThreadId};
use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicBool, Ordering};
use sk_abi::{ScpuState, SysError};
use sk_sched::ShareTree;

/// Ticks a group's turn lasts (a default quantum at 100 Hz: 50 ms).
pub(crate) const SLOT: u64 = 5;

/// The groups' scheduling state.
#[derive(Default)]
pub(crate) struct NestState {
    /// Nodes for the groups' SMACHs, leaves for their SCPUs.
    pub(crate) tree: ShareTree,
    /// Per group (by root): its admitted SCPU and the ticks of its turn so
    /// far.
    admitted: BTreeMap<SmachId, (ThreadId, u64)>,
    /// The synthesized scheduler's turn in progress (`nest_ring.rs`).
    pub(crate) turn: sk_sched::GroupTurn,
    /// Scratch buffers of `nest_ring` (kept, so a block or a wake in a
    /// group allocates only when the ring grew).
    pub(crate) scratch_tags: alloc::vec::Vec<(ThreadId, Option<SmachId>)>,
    pub(crate) scratch_segments: alloc::vec::Vec<(SmachId, ThreadId, ThreadId)>,
    pub(crate) scratch_closed: alloc::vec::Vec<(ThreadId, ThreadId)>,
    pub(crate) scratch_stale: alloc::vec::Vec<ThreadId>,
    /// What `nest_ring::reclose` cost so far (TSC ticks).
    pub(crate) reclose_cost: RecloseCost,
    /// The tick chose who runs next (`nest_ring::on_tick`): the switch
    /// it makes is not steered again (`nest_ring::steer`).
    pub(crate) chosen_at_tick: bool,
    /// The SCPU whose group's turn ended, until it has switched out: its
    /// group's sub-ring is closed without it (`nest_ring.rs`).
    pub(crate) leaving: Option<ThreadId>,
    /// TSC at the last charge.
    last_charge: u64,
    /// Fault injection: no group is held to one SCPU (every SCPU queues).
    pub(crate) no_grouping: bool,
    /// Fault injection: the synthesized scheduler never closes a group's
    /// sub-ring (`nest_ring::reclose`).
    pub(crate) open_sub_rings: bool,
    /// Fault injection: files made while set are paid by nobody
    /// (`nest_memory::pay_for_new_file`).
    pub(crate) unpaid_files: bool,
}

/// The cost of keeping the groups' sub-rings closed (`nest_ring::reclose`),
/// in TSC ticks (guest instructions under TCG's `-icount`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecloseCost {
    /// Calls.
    pub calls: u64,
    /// Their ticks in all.
    pub ticks: u64,
    /// The most one call took.
    pub max: u64,
}

/// Some group exists (the ring's timer hook then takes the lock each
/// tick).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// True if some group exists.
pub(crate) fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

fn refresh_active(core: &Core) {
    ACTIVE.store(!core.nest.tree.is_empty(), Ordering::Relaxed);
}

/// The group (root) SCPU `tid` belongs to.
pub(crate) fn group_of(core: &Core, tid: ThreadId) -> Option<SmachId> {
    if core.nest.tree.is_empty() {
        return None;
    }
    let smach = core.nest.tree.smach_of(tid)?;
    core.nest.tree.root_of(smach)
}

fn state_of(core: &Core, tid: ThreadId) -> Option<ScpuState> {
    core.threads.get(&tid).map(|t| t.scpu.state())
}

/// True if `tid` may hold its group's turn (ready, or the one running).
fn runnable(core: &Core, tid: ThreadId) -> bool {
    match state_of(core, tid) {
        Some(ScpuState::Ready) => true,
        Some(ScpuState::Running) => tid == core.current,
        _ => false,
    }
}

/// The group's next SCPU by the policy; `including` may be chosen while it
/// runs.
pub(crate) fn choose(
    core: &mut Core,
    root: SmachId,
    including: Option<ThreadId>,
) -> Option<ThreadId> {
    let Core {
        nest,
        threads,
        current,
        ..
    } = core;
    let current = *current;
    nest.tree
        .choose(root, |t| match threads.get(&t).map(|t| t.scpu.state()) {
            Some(ScpuState::Ready) => true,
            Some(ScpuState::Running) => Some(t) == including && t == current,
            _ => false,
        })
}

/// Books the CPU time since the last charge to the running SCPU.
pub(crate) fn charge(core: &mut Core) {
    let now = sk_machine::cpu::rdtsc();
    let last = core.nest.last_charge;
    core.nest.last_charge = now;
    if last == 0 {
        // The first group just formed: nothing ran in one yet.
        return;
    }
    let used = now.saturating_sub(last);
    let current = core.current;
    core.nest.tree.charge(current, used);
}

/// Takes `tid` out of the run queue or ring (it stays Ready: parked).
fn unqueue(core: &mut Core, tid: ThreadId) {
    core.ready.remove(tid);
    crate::ring::remove(core, tid);
}

/// True if `id` is a parked SCPU whose group's admitted SCPU is queued or
/// running (the scheduler's self-check, `testing::sched_check`).
#[cfg(feature = "ktest")]
pub(crate) fn is_parked(core: &Core, id: ThreadId) -> bool {
    let Some(root) = group_of(core, id) else {
        return false;
    };
    let Some(&(admitted, _)) = core.nest.admitted.get(&root) else {
        return false;
    };
    let queued = match core.ring.as_ref() {
        Some(ring) => ring.policy.is_member(admitted),
        None => core.ready.contains(admitted),
    };
    admitted != id && runnable(core, admitted) && (queued || admitted == core.current)
}

/// From `make_ready`: true if `id` is parked (its group has another
/// admitted SCPU); else it becomes its group's admitted SCPU if it is in a
/// group, and the caller queues it.
pub(crate) fn hold_back(core: &mut Core, id: ThreadId) -> bool {
    // On the ring every ready SCPU of a group is queued (`nest_ring.rs`).
    if core.nest.no_grouping || crate::ring::enabled(core) {
        return false;
    }
    let Some(root) = group_of(core, id) else {
        return false;
    };
    if let Some(&(admitted, _)) = core.nest.admitted.get(&root) {
        if admitted == id {
            return false;
        }
        if runnable(core, admitted) {
            let ring = crate::ring::enabled(core);
            let current = core.current;
            if let Some(t) = core.threads.get_mut(&id) {
                if t.scpu.state() != ScpuState::Exited && !(ring && id == current) {
                    t.scpu.set_state(ScpuState::Ready);
                }
            }
            return true;
        }
    }
    core.nest.admitted.insert(root, (id, 0));
    false
}

/// The group's admitted SCPU left the run queue (blocked, suspended,
/// exited): the next ready one of the group is admitted and queued.
fn refill(core: &mut Core, root: SmachId) {
    core.nest.admitted.remove(&root);
    if let Some(next) = choose(core, root, None) {
        crate::scheduler::make_ready(core, next);
    }
}

/// After `scheduler::unready(id)`.
pub(crate) fn after_unready(core: &mut Core, id: ThreadId) {
    if let Some(root) = group_of(core, id) {
        if core.nest.admitted.get(&root).map(|a| a.0) == Some(id) && !runnable(core, id) {
            refill(core, root);
        }
    }
}

/// Under the lock, before the running SCPU switches out (a yield, a
/// block, the end of its turn): charges it; if it holds its group's turn,
/// the group goes on with the SCPU the policy chooses next, at the tail
/// of the round (or the next ready one, if it no longer runs).
pub(crate) fn before_switch(core: &mut Core) {
    if core.nest.tree.is_empty() {
        return;
    }
    charge(core);
    if crate::ring::enabled(core) {
        return crate::nest_ring::steer(core);
    }
    if core.nest.no_grouping {
        return;
    }
    let prev = core.current;
    let Some(root) = group_of(core, prev) else {
        return;
    };
    if core.nest.admitted.get(&root).map(|a| a.0) != Some(prev) {
        return;
    }
    if !runnable(core, prev) {
        return refill(core, root);
    }
    let Some(next) = choose(core, root, Some(prev)) else {
        return;
    };
    core.nest.admitted.insert(root, (next, 0));
    if next != prev {
        unqueue(core, prev);
        crate::scheduler::make_ready(core, next);
    }
}

/// Every timer tick while a group exists, under the lock: charges the
/// running SCPU; inside its group's turn, passes the turn in place to the
/// SCPU the policy chooses (true: switch now). At the end of the turn,
/// true too: the switch-out ([`before_switch`]) sends the group to the
/// tail.
pub(crate) fn on_tick(core: &mut Core) -> bool {
    if core.nest.tree.is_empty() {
        return false;
    }
    charge(core);
    if core.nest.no_grouping {
        return false;
    }
    let current = core.current;
    let Some(root) = group_of(core, current) else {
        return false;
    };
    let Some((admitted, ticks)) = core.nest.admitted.get(&root).copied() else {
        return false;
    };
    if admitted != current {
        return false;
    }
    let ticks = ticks.saturating_add(1);
    core.nest.admitted.insert(root, (current, ticks));
    if ticks >= SLOT {
        return true;
    }
    let Some(next) = choose(core, root, Some(current)) else {
        return false;
    };
    if next == current {
        return false;
    }
    // The turn passes in place: `next` runs next, `current` is parked.
    if core.ready.push_front(next).is_err() {
        return false;
    }
    core.nest.admitted.insert(root, (next, ticks));
    true
}

/// The group SMACH `id` belongs to: its highest ancestor-or-self that
/// chose a sub-scheduling policy (`SmachSelector::SubPolicy`); None if
/// none did (its SCPUs are scheduled as a root's, as before nesting).
fn opted_root(core: &Core, id: SmachId) -> Option<SmachId> {
    let mut found = None;
    let mut at = Some(id);
    for _ in 0..=sk_smach::MAX_SMACHS {
        let Some(s) = at.and_then(|a| core.smachs.get(&a)) else {
            break;
        };
        if s.chose_sub_policy() {
            found = Some(s.id());
        }
        at = s.parent();
    }
    found
}

/// From `scpu_calls::start`, before the new SCPU is made ready: an SCPU
/// of a group's SMACH joins the tree (its SMACH and the SMACHs up to the
/// group's root first).
///
/// # Errors
/// [`SysError::NoMemory`] (never in practice: the tree's maps allocate
/// from the kernel heap's reserve).
pub(crate) fn thread_started(
    core: &mut Core,
    smach: SmachId,
    tid: ThreadId,
) -> Result<(), SysError> {
    let Some(root) = opted_root(core, smach) else {
        return Ok(());
    };
    ensure_chain(core, smach, root, 0)?;
    core.nest
        .tree
        .add_scpu(tid, smach)
        .map_err(|_| SysError::NoMemory)?;
    refresh_active(core);
    Ok(())
}

/// Puts SMACH `id` of the group `root` in the tree, with its SCPUs, its
/// ancestors up to `root` first.
fn ensure_chain(core: &mut Core, id: SmachId, root: SmachId, depth: usize) -> Result<(), SysError> {
    if core.nest.tree.contains_smach(id) {
        return Ok(());
    }
    let smach = core.smachs.get(&id).ok_or(SysError::BadHandle)?;
    let (weight, policy, threads) = (smach.weight(), smach.sub_policy(), smach.threads.clone());
    let parent = if id == root { None } else { smach.parent() };
    if let Some(p) = parent {
        if depth >= sk_smach::MAX_SMACHS {
            return Err(SysError::NoMemory);
        }
        ensure_chain(core, p, root, depth.saturating_add(1))?;
    }
    let tree = &mut core.nest.tree;
    tree.add_smach(id, parent).map_err(|_| SysError::NoMemory)?;
    // Weight and policy were checked when set.
    let _ = tree.set_weight(id, weight);
    let _ = tree.set_policy(id, policy);
    for &t in &threads {
        let _ = tree.add_scpu(t, id);
    }
    Ok(())
}

/// SMACH `id` and its descendants (live or not), `id` first.
fn subtree(core: &Core, id: SmachId) -> alloc::vec::Vec<SmachId> {
    let mut out = alloc::vec![id];
    let mut i = 0;
    while let Some(&at) = out.get(i) {
        for s in core.smachs.values() {
            if s.parent() == Some(at) && !out.contains(&s.id()) {
                out.push(s.id());
            }
        }
        i = i.saturating_add(1);
    }
    out
}

/// SMACH `id` chose a sub-scheduling policy: if it was in no group, it
/// becomes a group's root with its whole subtree (groups formed below it
/// merge into it); else its node takes the policy.
pub(crate) fn chose_policy(core: &mut Core, id: SmachId) -> Result<(), SysError> {
    let Some(root) = opted_root(core, id) else {
        return Ok(());
    };
    if core.nest.tree.root_of(id) == Some(root) {
        let policy = core.smachs.get(&id).map(|s| s.sub_policy());
        return set_share(core, id, None, policy);
    }
    let members = subtree(core, root);
    // Groups below dissolve (their parked SCPUs are queued again by the
    // regrouping below, one per new group).
    for &m in &members {
        if core.nest.tree.contains_smach(m) && core.nest.tree.root_of(m) == Some(m) {
            core.nest.tree.remove_smach(m);
            core.nest.admitted.remove(&m);
        }
    }
    let mut threads = alloc::vec::Vec::new();
    for &m in &members {
        ensure_chain(core, m, root, 0)?;
        if let Some(s) = core.smachs.get(&m) {
            threads.extend_from_slice(&s.threads);
        }
    }
    regroup(core, root, &threads);
    refresh_active(core);
    Ok(())
}

/// A group just formed (or merged): keeps one of its SCPUs queued (the
/// running one if it runs), parks the other ready ones.
fn regroup(core: &mut Core, root: SmachId, threads: &[ThreadId]) {
    if crate::ring::enabled(core) {
        return crate::nest_ring::gather(core, threads);
    }
    if core.nest.no_grouping {
        return;
    }
    let current = core.current;
    let keep = threads
        .iter()
        .copied()
        .find(|&t| t == current && runnable(core, t))
        .or_else(|| threads.iter().copied().find(|&t| runnable(core, t)));
    let Some(keep) = keep else {
        return;
    };
    core.nest.admitted.insert(root, (keep, 0));
    for &t in threads {
        if t != keep && state_of(core, t) == Some(ScpuState::Ready) {
            unqueue(core, t);
        }
    }
    if keep != current {
        crate::scheduler::make_ready(core, keep);
    }
}

/// From `scpu_calls::forget`: SCPU `tid` is gone.
pub(crate) fn thread_gone(core: &mut Core, tid: ThreadId) {
    let root = group_of(core, tid);
    core.nest.tree.remove_scpu(tid);
    if let Some(root) = root {
        if core.nest.admitted.get(&root).map(|a| a.0) == Some(tid) {
            refill(core, root);
        }
    }
}

/// SMACH `id` (a fork) has a new parent: its node and its subtree's
/// leave the tree and join again under the new parent's group, if any.
/// Their ready SCPUs were queued or parked by the group they left: each
/// is queued again by the rule of where it is now (admitted or parked in
/// its new group, or on its own), and a group whose turn one of them held
/// goes on with one of its own (once, a fork parked in its exiting root's
/// group stayed Ready in no queue: lost).
pub(crate) fn readopted(core: &mut Core, id: SmachId) {
    let members = subtree(core, id);
    if core.nest.tree.contains_smach(id) {
        core.nest.tree.remove_smach(id);
    }
    let mut moved = alloc::vec::Vec::new();
    for m in members {
        let threads = core
            .smachs
            .get(&m)
            .filter(|s| s.state() != sk_abi::SmachState::Exited)
            .map(|s| s.threads.clone())
            .unwrap_or_default();
        for t in threads {
            // Out of tree memory: the SCPU is scheduled on its own.
            let _ = thread_started(core, m, t);
            moved.push(t);
        }
    }
    let current = core.current;
    let ready: alloc::vec::Vec<ThreadId> = moved
        .iter()
        .copied()
        .filter(|&t| t != current && state_of(core, t) == Some(ScpuState::Ready))
        .collect();
    for &t in &ready {
        unqueue(core, t);
    }
    let left: alloc::vec::Vec<SmachId> = core
        .nest
        .admitted
        .iter()
        .filter(|&(&root, &(t, _))| moved.contains(&t) && group_of(core, t) != Some(root))
        .map(|(&root, _)| root)
        .collect();
    for root in left {
        refill(core, root);
    }
    for t in ready {
        crate::scheduler::make_ready(core, t);
    }
    refresh_active(core);
}

/// From the SMACH teardown (its SCPUs are gone): it leaves the tree.
pub(crate) fn smach_gone(core: &mut Core, id: SmachId) {
    if !core.nest.tree.contains_smach(id) {
        return;
    }
    core.nest.tree.remove_smach(id);
    core.nest.admitted.remove(&id);
    core.nest.turn.forget(id);
    if core.nest.tree.is_empty() {
        core.nest.last_charge = 0;
        // No group left: `nest_ring`'s scratch buffers go (the leak
        // baseline finds the heap as it was before the first group).
        core.nest.scratch_tags = alloc::vec::Vec::new();
        core.nest.scratch_segments = alloc::vec::Vec::new();
        core.nest.scratch_closed = alloc::vec::Vec::new();
        core.nest.scratch_stale = alloc::vec::Vec::new();
    }
    refresh_active(core);
}

/// Applies a parent's weight or policy change to the tree.
pub(crate) fn set_share(
    core: &mut Core,
    id: SmachId,
    weight: Option<u32>,
    policy: Option<sk_abi::SubPolicy>,
) -> Result<(), SysError> {
    if !core.nest.tree.contains_smach(id) {
        // Not nested yet: the record keeps it until the node is made.
        return Ok(());
    }
    if let Some(w) = weight {
        core.nest
            .tree
            .set_weight(id, w)
            .map_err(|_| SysError::BadValue)?;
    }
    if let Some(p) = policy {
        core.nest
            .tree
            .set_policy(id, p)
            .map_err(|_| SysError::BadValue)?;
    }
    Ok(())
}
