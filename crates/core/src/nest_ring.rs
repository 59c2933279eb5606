//! Nested groups on the synthesized scheduler: each group's sub-ring
//! inside its slot of the executable ring (docs/nesting.md). The
//! decisions are `sk_sched::group_ring`'s; this module performs them with
//! the ring's patches.
//!
//! Every ready SCPU of a group is a ring member, next to its siblings (the
//! group's *segment*). The group's slot is its turn
//! ([`sk_sched::GroupTurn`]): `nest::SLOT` ticks counted over the whole
//! group. The segment is **closed** (`Ring::close`: the last member's
//! jump leads back to the first): once the CPU enters it, every switch-out
//! in it, the synthesized yield's included, reaches only a sibling until
//! the kernel ends the turn. A sub-ring of synthesized code inside the
//! parent's slot, with no Rust code on a yield's path. At each tick inside the turn the
//! parent's choice (`ShareTree::choose`) picks who runs, which moves right
//! after the running SCPU; at the turn's end the segment opens, the
//! group's other members step back to the tail of the round and the
//! running one's jump leads out of the group. [`reclose`] keeps every
//! group's segment closed after every ring operation and tick.
//! The generic scheduler keeps one admitted SCPU per group instead
//! (`nest.rs`).

use crate::state::{Core, SmachId, ThreadId};
use alloc::vec::Vec;
use sk_sched::TickVerdict;

/// True if the group rules apply to the ring (some group exists and the
/// grouping is not switched off by fault injection).
fn grouping(core: &Core) -> bool {
    !core.nest.tree.is_empty() && !core.nest.no_grouping
}

/// The ring's members in running order (the running SCPU last when it is
/// one).
fn order(core: &Core) -> Vec<ThreadId> {
    core.ring
        .as_ref()
        .map(|r| r.policy.order().collect())
        .unwrap_or_default()
}

/// `make_ready` on the ring: `id` joins its group's segment if a sibling
/// is in the ring, else the tail of the round, in front of any segment
/// the tail would split.
pub(crate) fn insert(core: &mut Core, id: ThreadId) {
    let member = core.ring.as_ref().is_some_and(|r| r.policy.is_member(id));
    if !grouping(core) || member {
        return crate::ring::insert(core, id);
    }
    let order = order(core);
    let group = crate::nest::group_of(core, id);
    let anchor = group
        .and_then(|g| {
            sk_sched::segment_end(&order, |t| {
                t != id && crate::nest::group_of(core, t) == Some(g)
            })
        })
        .or_else(|| {
            let ring = core.ring.as_ref()?;
            if ring.policy.is_idle() {
                return None;
            }
            let current_is_member = ring.policy.is_member(ring.policy.current());
            sk_sched::tail_anchor(&order, current_is_member, |t| {
                crate::nest::group_of(core, t)
            })
        });
    match anchor {
        Some(a) if crate::ring::insert_after(core, a, id).is_ok() => {}
        _ => crate::ring::insert(core, id),
    }
}

/// A group just formed (or merged) on the ring: its ready SCPUs gather
/// behind the running one, or behind the first of them in the ring.
pub(crate) fn gather(core: &mut Core, threads: &[ThreadId]) {
    if !grouping(core) {
        return;
    }
    let order = order(core);
    let current = core.current;
    let mut anchor = if threads.contains(&current) && order.contains(&current) {
        current
    } else {
        let Some(&first) = order.iter().find(|t| threads.contains(t)) else {
            return;
        };
        first
    };
    for &t in &order {
        if t != anchor && threads.contains(&t) && crate::ring::insert_after(core, anchor, t).is_ok()
        {
            anchor = t;
        }
    }
}

/// The timer tick's part, under the lock: charges the running SCPU and
/// performs its group's turn. None: the ring's own quantum rules (not in
/// a group); Some(true): switch now (the turn passed, or ended);
/// Some(false): the running SCPU keeps the CPU (its own quantum does not
/// cut the group's turn).
pub(crate) fn on_tick(core: &mut Core) -> Option<bool> {
    if core.nest.tree.is_empty() {
        return None;
    }
    crate::nest::charge(core);
    if core.nest.no_grouping {
        return None;
    }
    let current = core.current;
    let member = core
        .ring
        .as_ref()
        .is_some_and(|r| r.policy.is_member(current));
    let group = crate::nest::group_of(core, current).filter(|_| member);
    let chosen = group.and_then(|g| crate::nest::choose(core, g, Some(current)));
    let verdict = core
        .nest
        .turn
        .tick(group, current, chosen, crate::nest::SLOT);
    match verdict {
        TickVerdict::Ungrouped => {
            reclose(core);
            None
        }
        TickVerdict::Keep => {
            reclose(core);
            Some(false)
        }
        // The move closes the segment again, with `next` after `current`.
        TickVerdict::Pass(next) => {
            core.nest.chosen_at_tick = true;
            Some(crate::ring::insert_after(core, current, next).is_ok())
        }
        TickVerdict::End => {
            core.nest.chosen_at_tick = true;
            end_turn(core, group, current);
            Some(true)
        }
    }
}

/// Keeps every group's segment closed into a sub-ring (`Ring::close`),
/// but the SCPU leaving at the end of its group's turn, until it has
/// switched out; a detached running SCPU of a group (it blocked or
/// exited) is aimed at its siblings. After every ring operation
/// (`ring.rs`) and at every tick while groups exist.
pub(crate) fn reclose(core: &mut Core) {
    let Some(ring) = core.ring.as_ref() else {
        return;
    };
    let closed = ring.policy.closures().next().is_some();
    if core.nest.tree.is_empty() || core.nest.no_grouping || core.nest.open_sub_rings {
        if closed {
            open_all_but(core, &[]);
        }
        return;
    }
    let current = core.current;
    if core.nest.leaving != Some(current) {
        core.nest.leaving = None;
    }
    let leaving = core.nest.leaving;
    let order = order(core);
    let mut groups: Vec<SmachId> = Vec::new();
    for &t in &order {
        if let Some(g) = crate::nest::group_of(core, t) {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    let current_group = crate::nest::group_of(core, current).filter(|_| leaving != Some(current));
    let mut wanted: Vec<(ThreadId, ThreadId)> = Vec::new();
    for g in groups {
        let in_group =
            |t: ThreadId| crate::nest::group_of(core, t) == Some(g) && Some(t) != leaving;
        if let Some((first, last)) = sk_sched::segment(&order, in_group) {
            crate::ring::close(core, first, last, current_group == Some(g));
            wanted.push((first, last));
        }
    }
    if closed || !wanted.is_empty() {
        open_all_but(core, &wanted);
    }
}

/// Opens every closed segment but `keep` (a group that dissolved, or
/// shrank to nothing in the ring, leaves no sub-ring behind).
fn open_all_but(core: &mut Core, keep: &[(ThreadId, ThreadId)]) {
    let stale: Vec<ThreadId> = core
        .ring
        .as_ref()
        .map(|r| {
            r.policy
                .closures()
                .filter(|c| !keep.contains(c))
                .map(|(first, _)| first)
                .collect()
        })
        .unwrap_or_default();
    for first in stale {
        crate::ring::open(core, first);
    }
}

/// The group's turn is over: its sub-ring opens, its other members step
/// back to the tail of the round and the running SCPU's jump leads out
/// of the group; the segment closes again without it (and with it once
/// it has switched out).
fn end_turn(core: &mut Core, group: Option<SmachId>, current: ThreadId) {
    core.nest.leaving = Some(current);
    crate::ring::open(core, current);
    let order = order(core);
    let moves =
        sk_sched::turn_end_moves(&order, current, |t| crate::nest::group_of(core, t) == group);
    for t in moves {
        crate::ring::remove(core, t);
        crate::ring::insert(core, t);
    }
    reclose(core);
    // Alone in the ring, the group goes on at once: with its parent's
    // choice.
    let next = core.ring.as_ref().map(|r| r.policy.next_to_run());
    if let (Some(g), Some(next)) = (group, next) {
        if crate::nest::group_of(core, next) == Some(g) {
            if let Some(chosen) = crate::nest::choose(core, g, None) {
                let _ = crate::ring::insert_after(core, current, chosen);
            }
        }
    }
}

/// Before the kernel switches a group's SCPU out (a block, an exit, a
/// yield through the kernel; not a tick's decision, which chose already):
/// the SCPU that runs next is the one its parent's policy chooses, so the
/// rest of the tick is not handed to whoever follows in the ring.
pub(crate) fn steer(core: &mut Core) {
    if core.nest.chosen_at_tick {
        core.nest.chosen_at_tick = false;
        return;
    }
    if core.nest.tree.is_empty() || core.nest.no_grouping {
        return;
    }
    let current = core.current;
    if core.nest.leaving == Some(current) {
        return;
    }
    let Some(group) = crate::nest::group_of(core, current) else {
        return;
    };
    let member = core
        .ring
        .as_ref()
        .is_some_and(|r| r.policy.is_member(current));
    let Some(next) = crate::nest::choose(core, group, member.then_some(current)) else {
        return;
    };
    if next == current {
        return;
    }
    if member {
        let _ = crate::ring::insert_after(core, current, next);
    } else {
        crate::ring::aim(core, next);
    }
}
