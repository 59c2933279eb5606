//! Nested groups on the synthesized scheduler: each group's sub-ring
//! inside its slot of the executable ring (docs/nesting.md). The
//! decisions are `sk_sched::group_ring`'s; this module performs them with
//! the ring's patches.
//!
//! Every ready SCPU of a group is a ring member, next to its siblings (the
//! group's *segment*). The segment is **closed** (`Ring::close`: the last
//! member's jump leads back to the first): once the CPU enters it, every
//! switch-out in it, the synthesized yield's included, reaches only a
//! sibling until the kernel ends the group's turn. A sub-ring of
//! synthesized code inside the parent's slot, with no Rust code on a
//! yield's path. The slot is the group's turn ([`sk_sched::GroupTurn`]):
//! `nest::SLOT` ticks counted over the whole group. At each tick inside it
//! ([`on_tick`]) and at each switch the kernel makes for one of its SCPUs
//! ([`steer`]: a block, a kernel yield) the parent's choice
//! (`ShareTree::choose`) picks who runs next, which moves right after the
//! running SCPU. At the turn's end the segment opens, the group's other
//! members step back to the tail of the round and the running one's jump
//! leads out of the group. [`reclose`] keeps every group's segment closed:
//! after every change of a group's place in the ring, at every tick and
//! once the SCPU that left its group has switched out (the ring's own
//! operations keep a closed segment closed when a member leaves it). The generic scheduler keeps one
//! admitted SCPU per group instead (`nest.rs`).

use crate::state::{Core, SmachId, ThreadId};
use alloc::vec::Vec;
use sk_sched::TickVerdict;

/// True if the group rules apply to the ring (some group exists and the
/// grouping is not switched off by fault injection).
fn grouping(core: &Core) -> bool {
    !core.nest.tree.is_empty() && !core.nest.no_grouping
}

/// The ring's members in running order (the running SCPU last when it is
/// one), each with its group (`for_closing`: the SCPU leaving at the end
/// of its group's turn in none), in the scratch buffer kept in
/// `NestState` (taken out; [`put_back`] returns it): one group lookup per
/// member, no allocation once the buffer has room for every member.
fn tags(core: &mut Core, for_closing: bool) -> Vec<(ThreadId, Option<SmachId>)> {
    let mut tags = core::mem::take(&mut core.nest.scratch_tags);
    tags.clear();
    let leaving = core.nest.leaving.filter(|_| for_closing);
    if let Some(ring) = core.ring.as_ref() {
        for t in ring.policy.order() {
            let group = crate::nest::group_of(core, t).filter(|_| Some(t) != leaving);
            tags.push((t, group));
        }
    }
    tags
}

fn put_back(core: &mut Core, tags: Vec<(ThreadId, Option<SmachId>)>) {
    core.nest.scratch_tags = tags;
}

/// `make_ready` on the ring: `id` joins its group's segment if a sibling
/// is in the ring, else the tail of the round, in front of any segment
/// the tail would split.
pub(crate) fn insert(core: &mut Core, id: ThreadId) {
    if !grouping(core) || core.ring.as_ref().is_some_and(|r| r.policy.is_member(id)) {
        return crate::ring::insert(core, id);
    }
    let tags = tags(core, false);
    let leaving = core.nest.leaving;
    let anchor = crate::nest::group_of(core, id)
        .and_then(|g| sk_sched::segment_end(&tags, g, leaving))
        .or_else(|| {
            let ring = core.ring.as_ref()?;
            if ring.policy.is_idle() {
                return None;
            }
            sk_sched::tail_anchor(&tags, ring.policy.is_member(ring.policy.current()))
        });
    put_back(core, tags);
    match anchor {
        Some(a) if crate::ring::insert_after(core, a, id).is_ok() => {}
        _ => crate::ring::insert(core, id),
    }
    // A group's SCPU joined its segment (or made one): close it. Anyone
    // else joined outside every segment, which stay closed.
    if crate::nest::group_of(core, id).is_some() {
        reclose(core);
    }
}

/// A group just formed (or merged) on the ring: its ready SCPUs gather
/// behind the running one, or behind the first of them in the ring.
pub(crate) fn gather(core: &mut Core, threads: &[ThreadId]) {
    if !grouping(core) {
        return;
    }
    let order: Vec<ThreadId> = core
        .ring
        .as_ref()
        .map(|r| r.policy.order().collect())
        .unwrap_or_default();
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
    reclose(core);
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
        // The segment closes again with `next` after `current`.
        TickVerdict::Pass(next) => {
            let passed = crate::ring::insert_after(core, current, next).is_ok();
            core.nest.chosen_at_tick = passed;
            reclose(core);
            Some(passed)
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
/// switched out: the stale segments (a group that grew, shrank, merged or
/// dissolved) open first, then every group's segment not closed yet
/// closes (`sk_sched::plan_closures`). One pass over the ring, no
/// allocation once the scratch buffers have room.
pub(crate) fn reclose(core: &mut Core) {
    let start = sk_machine::cpu::rdtsc();
    reclose_now(core);
    let spent = sk_machine::cpu::rdtsc().saturating_sub(start);
    let stats = &mut core.nest.reclose_cost;
    stats.calls = stats.calls.saturating_add(1);
    stats.ticks = stats.ticks.saturating_add(spent);
    stats.max = stats.max.max(spent);
}

fn reclose_now(core: &mut Core) {
    let Some(ring) = core.ring.as_ref() else {
        return;
    };
    let mut closed = core::mem::take(&mut core.nest.scratch_closed);
    closed.clear();
    closed.extend(ring.policy.closures());
    if core.nest.tree.is_empty() || core.nest.no_grouping || core.nest.open_sub_rings {
        for &(first, _) in &closed {
            crate::ring::open(core, first);
        }
        core.nest.scratch_closed = closed;
        return;
    }
    let current = core.current;
    if core.nest.leaving != Some(current) {
        core.nest.leaving = None;
    }
    let current_group =
        crate::nest::group_of(core, current).filter(|_| core.nest.leaving != Some(current));
    let tags = tags(core, true);
    let mut wanted = core::mem::take(&mut core.nest.scratch_segments);
    let mut stale = core::mem::take(&mut core.nest.scratch_stale);
    sk_sched::plan_closures(&tags, &closed, &mut wanted, &mut stale);
    put_back(core, tags);
    for &first in &stale {
        crate::ring::open(core, first);
    }
    for &(group, first, last) in &wanted {
        let done = core
            .ring
            .as_ref()
            .is_some_and(|r| r.policy.is_closed(first, last));
        if !done {
            crate::ring::close(core, first, last, current_group == Some(group));
        }
    }
    core.nest.scratch_closed = closed;
    core.nest.scratch_segments = wanted;
    core.nest.scratch_stale = stale;
}

/// The group's turn is over: its sub-ring opens, its other members step
/// back to the tail of the round and the running SCPU's jump leads out
/// of the group; the segment closes again without it (and with it once
/// it has switched out).
fn end_turn(core: &mut Core, group: Option<SmachId>, current: ThreadId) {
    core.nest.leaving = Some(current);
    crate::ring::open(core, current);
    let tags = tags(core, false);
    let moves = group.map_or_else(Vec::new, |g| sk_sched::turn_end_moves(&tags, current, g));
    put_back(core, tags);
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
                reclose(core);
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
        reclose(core);
    } else {
        crate::ring::aim(core, next);
    }
}
