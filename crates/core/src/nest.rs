//! Nested SMACHs' CPU: the kernel side of `sk_sched::ShareTree`
//! (docs/nesting.md, "The synthesized sub-ring").
//!
//! A SMACH that chose a sub-scheduling policy (`SmachSelector::SubPolicy`,
//! by itself or its parent; the highest such ancestor) and all its
//! descendants form a **group**; SMACHs in no group are scheduled as
//! before, each SCPU on its own.
//!
//! A group's turn is one default quantum ([`SLOT`] ticks) per round of the
//! ring, planned ahead by `ShareTree::plan_round`: the plan's SCPUs (its
//! *segment*) are all members of the executable ring (or the generic
//! FIFO), contiguous and in plan order, and each one's switch-in bakes the
//! ticks the plan gave it (`switch_code::facts_for` asks [`planned_ticks`]).
//! So a yield moves to the next SCPU of the segment with no Rust code, the
//! last one's yield or quantum end leaves the group, and a round of the
//! ring gives the group at most its turn. The group's other ready SCPUs
//! (0 ticks this round) are *parked* (Ready, in no queue).
//!
//! The kernel re-plans ([`replan`]) when the ring made a full round of
//! switches since the last plan (checked at every tick and every switch
//! the kernel makes), when a parked SCPU wakes, when the segment has no
//! runnable SCPU left and when the group forms. CPU time is charged to the
//! running SCPU in TSC ticks at each tick and switch.
//!
//! Owns [`NestState`] (in `Core`) and the hooks the schedulers call:
//! [`hold_back`] and [`anchor_for`] from `make_ready`, [`after_unready`],
//! [`before_switch`], [`on_tick`], [`thread_started`], [`thread_gone`],
//! [`smach_gone`].

use crate::state::{Core, SmachId, ThreadId};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use sk_abi::{ScpuState, SysError};
use sk_sched::{RoundPlan, ShareTree};

/// Ticks a group's turn lasts (a default quantum at 100 Hz: 50 ms).
pub(crate) const SLOT: u64 = 5;

/// A group's current round.
struct Round {
    plan: RoundPlan,
    /// `scheduler::switches()` when it was planned.
    switches_at: u64,
}

/// The groups' scheduling state.
#[derive(Default)]
pub(crate) struct NestState {
    /// Nodes for the groups' SMACHs, leaves for their SCPUs.
    pub(crate) tree: ShareTree,
    /// Per group (by root): its current round.
    rounds: BTreeMap<SmachId, Round>,
    /// TSC at the last charge.
    last_charge: u64,
    /// Fault injection: no group is formed (every SCPU queues with its
    /// own quantum).
    pub(crate) no_grouping: bool,
    /// Fault injection: the plan's quanta are not applied (the segment's
    /// SCPUs keep their own quanta).
    pub(crate) ignore_plan: bool,
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
fn group_of(core: &Core, tid: ThreadId) -> Option<SmachId> {
    if core.nest.tree.is_empty() {
        return None;
    }
    let smach = core.nest.tree.smach_of(tid)?;
    core.nest.tree.root_of(smach)
}

fn state_of(core: &Core, tid: ThreadId) -> Option<ScpuState> {
    core.threads.get(&tid).map(|t| t.scpu.state())
}

/// True if `tid` may run (ready, or the one running).
fn runnable(core: &Core, tid: ThreadId) -> bool {
    match state_of(core, tid) {
        Some(ScpuState::Ready) => true,
        Some(ScpuState::Running) => tid == core.current,
        _ => false,
    }
}

/// True if `tid` is queued: a member of the ring or the generic FIFO.
fn queued(core: &Core, tid: ThreadId) -> bool {
    match core.ring.as_ref() {
        Some(ring) => ring.policy.is_member(tid),
        None => core.ready.contains(tid),
    }
}

/// The ticks the plan gives `id` this round, if it is in a group's
/// segment (its switch-in bakes them; the generic scheduler sets them).
pub(crate) fn planned_ticks(core: &Core, id: ThreadId) -> Option<u64> {
    if core.nest.no_grouping || core.nest.ignore_plan {
        return None;
    }
    let root = group_of(core, id)?;
    core.nest.rounds.get(&root)?.plan.ticks_of(id)
}

/// Books the CPU time since the last charge to the running SCPU.
fn charge(core: &mut Core) {
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

/// True if `id` is a parked SCPU: ready, in a group, not in its plan's
/// segment, while the group has a segment SCPU queued or running (the
/// scheduler's self-check, `testing::sched_check`).
#[cfg(feature = "ktest")]
pub(crate) fn is_parked(core: &Core, id: ThreadId) -> bool {
    let Some(root) = group_of(core, id) else {
        return false;
    };
    let Some(round) = core.nest.rounds.get(&root) else {
        return false;
    };
    round.plan.ticks_of(id).is_none()
        && round
            .plan
            .segment()
            .iter()
            .any(|&(t, _)| runnable(core, t) && (queued(core, t) || t == core.current))
}

/// Plans `root`'s next round and lays its segment out: the group's SCPUs
/// leave the queue, their switch-ins are rebuilt where the plan changed
/// their ticks, and the plan's SCPUs are queued again in plan order, the
/// first where the group's first queued SCPU was (after the SCPU before
/// it), or at the tail.
fn replan(core: &mut Core, root: SmachId) {
    if core.nest.no_grouping {
        return;
    }
    let scpus = core.nest.tree.scpus_under(root);
    let plan = {
        let Core {
            nest,
            threads,
            current,
            ..
        } = &mut *core;
        let current = *current;
        nest.tree.plan_round(root, SLOT, |t| {
            match threads.get(&t).map(|t| t.scpu.state()) {
                Some(ScpuState::Ready) => true,
                Some(ScpuState::Running) => t == current,
                _ => false,
            }
        })
    };
    let segment: Vec<ThreadId> = plan.segment().iter().map(|&(t, _)| t).collect();
    core.nest.rounds.insert(
        root,
        Round {
            plan,
            switches_at: crate::scheduler::switches(),
        },
    );
    if crate::ring::enabled(core) {
        // The SCPU just before the group's part of the ring.
        let order = crate::ring::order(core);
        let len = order.len();
        let anchor = (0..len).find_map(|i| {
            let here = *order.get(i)?;
            let next = *order.get(i.saturating_add(1).checked_rem(len)?)?;
            (!scpus.contains(&here) && scpus.contains(&next)).then_some(here)
        });
        for &t in &scpus {
            crate::ring::remove(core, t);
        }
        for &t in &segment {
            crate::ring::refresh(core, t);
        }
        let mut previous = anchor;
        for &t in &segment {
            match previous {
                Some(a) => crate::ring::insert_after(core, a, t),
                None => crate::ring::insert(core, t),
            }
            previous = Some(t);
        }
    } else {
        for &t in &scpus {
            core.ready.remove(t);
        }
        for &t in &segment {
            if t != core.current && core.ready.push(t).is_err() {
                log::error!("ready queue full: thread {t} not queued");
            }
        }
    }
}

/// From `make_ready`: true if the group took care of `id` (it was parked:
/// the group re-planned with it); false if the caller queues it.
pub(crate) fn hold_back(core: &mut Core, id: ThreadId) -> bool {
    if core.nest.no_grouping {
        return false;
    }
    let Some(root) = group_of(core, id) else {
        return false;
    };
    let in_plan = core
        .nest
        .rounds
        .get(&root)
        .is_some_and(|r| r.plan.ticks_of(id).is_some());
    if in_plan {
        return false;
    }
    let ring = crate::ring::enabled(core);
    let current = core.current;
    if let Some(t) = core.threads.get_mut(&id) {
        if t.scpu.state() == ScpuState::Exited {
            return true;
        }
        if !(ring && id == current) {
            t.scpu.set_state(ScpuState::Ready);
        }
    }
    replan(core, root);
    true
}

/// From `make_ready` (ring): the member a group's woken SCPU joins after,
/// the last queued SCPU of its segment, so the segment stays contiguous.
pub(crate) fn anchor_for(core: &Core, id: ThreadId) -> Option<ThreadId> {
    let root = group_of(core, id)?;
    let round = core.nest.rounds.get(&root)?;
    round
        .plan
        .segment()
        .iter()
        .rev()
        .map(|&(t, _)| t)
        .find(|&t| t != id && queued(core, t))
}

/// The group's segment has no runnable SCPU left but the group has a
/// ready one: re-plan.
fn refill_if_dry(core: &mut Core, root: SmachId) {
    let dry = core
        .nest
        .rounds
        .get(&root)
        .is_none_or(|r| !r.plan.segment().iter().any(|&(t, _)| runnable(core, t)));
    if dry
        && core
            .nest
            .tree
            .scpus_under(root)
            .iter()
            .any(|&t| runnable(core, t))
    {
        replan(core, root);
    }
}

/// After `scheduler::unready(id)`.
pub(crate) fn after_unready(core: &mut Core, id: ThreadId) {
    if core.nest.no_grouping {
        return;
    }
    if let Some(root) = group_of(core, id) {
        refill_if_dry(core, root);
    }
}

/// Re-plans every group whose round is over: the ring made at least as
/// many switches as it has members since the plan (every member was
/// entered once), or its segment ran dry.
fn replan_due(core: &mut Core) {
    if core.nest.no_grouping {
        return;
    }
    let switches = crate::scheduler::switches();
    let members = match core.ring.as_ref() {
        Some(ring) => ring.policy.len(),
        None => core.ready.len().saturating_add(1),
    } as u64;
    let due: Vec<SmachId> = core
        .nest
        .rounds
        .iter()
        .filter(|(_, r)| switches.saturating_sub(r.switches_at) >= members.max(1))
        .map(|(&root, _)| root)
        .collect();
    for root in due {
        replan(core, root);
    }
    let roots: Vec<SmachId> = core.nest.rounds.keys().copied().collect();
    for root in roots {
        refill_if_dry(core, root);
    }
}

/// Under the lock, before the kernel switches the running SCPU out (a
/// block, the end of its quantum, a yield through Rust): charges it and
/// re-plans the groups whose round is over.
pub(crate) fn before_switch(core: &mut Core) {
    if core.nest.tree.is_empty() {
        return;
    }
    charge(core);
    replan_due(core);
}

/// Every timer tick while a group exists, under the lock: charges the
/// running SCPU and re-plans the groups whose round is over. Never asks
/// for a switch: the segment's baked quanta end the turns.
pub(crate) fn on_tick(core: &mut Core) -> bool {
    if core.nest.tree.is_empty() {
        return false;
    }
    charge(core);
    replan_due(core);
    false
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
    // Groups below dissolve (the new group's first plan takes in their
    // SCPUs, parked or queued).
    for &m in &members {
        if core.nest.tree.contains_smach(m) && core.nest.tree.root_of(m) == Some(m) {
            core.nest.tree.remove_smach(m);
            core.nest.rounds.remove(&m);
        }
    }
    for &m in &members {
        ensure_chain(core, m, root, 0)?;
    }
    // The group's first round: its segment queued, its other ready SCPUs
    // parked.
    replan(core, root);
    refresh_active(core);
    Ok(())
}

/// From `scpu_calls::forget`: SCPU `tid` is gone.
pub(crate) fn thread_gone(core: &mut Core, tid: ThreadId) {
    let root = group_of(core, tid);
    core.nest.tree.remove_scpu(tid);
    if let Some(root) = root {
        if !core.nest.no_grouping {
            refill_if_dry(core, root);
        }
    }
}

/// SMACH `id` (a fork) has a new parent: its node and its subtree's
/// leave the tree and join again under the new parent's group, if any.
pub(crate) fn readopted(core: &mut Core, id: SmachId) {
    let members = subtree(core, id);
    if core.nest.tree.contains_smach(id) {
        core.nest.tree.remove_smach(id);
    }
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
        }
    }
    refresh_active(core);
}

/// From the SMACH teardown (its SCPUs are gone): it leaves the tree.
pub(crate) fn smach_gone(core: &mut Core, id: SmachId) {
    if !core.nest.tree.contains_smach(id) {
        return;
    }
    core.nest.tree.remove_smach(id);
    core.nest.rounds.remove(&id);
    if core.nest.tree.is_empty() {
        core.nest.last_charge = 0;
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
