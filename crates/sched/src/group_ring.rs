//! A nested group's place in the executable ring: its sub-ring (Synthesis
//! §3.1, "a ring inside the parent's slot"; docs/nesting.md).
//!
//! On the synthesized scheduler every ready SCPU of a group (a SMACH that
//! chose a sub-scheduling policy, with its descendants) is a member of the
//! ring, and the group's members sit **next to each other**: the group's
//! *segment*. A switch-out's jump then leads from one member of the group
//! to the next, so a yield (the synthesized one, with no Rust code on its
//! path) passes the CPU to a sibling inside the group's slot, not to the
//! rest of the machine. The slot itself is the group's **turn**: it lasts
//! `slot` timer ticks counted over all the group's SCPUs, as one SCPU's
//! quantum would, so the subtree never gets more than one SCPU's share at
//! its root's level; at each tick inside the turn the parent's choice
//! ([`crate::ShareTree::choose`]) picks the member that runs, which moves
//! right after the running one.
//!
//! Owns the decisions, which the kernel performs with [`crate::Ring`]'s
//! operations: where a woken member joins ([`segment_end`]; anyone else,
//! [`tail_anchor`], so no segment is split), which members close into
//! sub-rings ([`segments_into`], [`plan_closures`]), what a tick
//! does ([`GroupTurn::tick`]), which members step back at the end of a
//! turn ([`turn_end_moves`]).

use alloc::vec::Vec;

/// What a timer tick does to the running SCPU's group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickVerdict<T> {
    /// The running SCPU is in no group: the ring's own quantum rules.
    Ungrouped,
    /// The chosen member runs on (its own quantum does not end the turn).
    Keep,
    /// The turn passes, inside the slot, to this member: it moves right
    /// after the running one, which switches out now.
    Pass(T),
    /// The turn is over: the group's other members step back
    /// ([`turn_end_moves`]) and the running one switches out to whatever
    /// follows the group.
    End,
}

/// The turn in progress: which group holds the CPU and for how many
/// ticks so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupTurn {
    group: Option<u64>,
    ticks: u64,
}

impl GroupTurn {
    /// No turn in progress.
    pub const fn new() -> Self {
        Self {
            group: None,
            ticks: 0,
        }
    }

    /// The group whose turn runs, if any.
    pub fn group(&self) -> Option<u64> {
        self.group
    }

    /// A timer tick: `group` is the running SCPU's group (None: it is in
    /// none), `current` that SCPU, `chosen` the policy's choice among the
    /// group's runnable SCPUs (the running one included), `slot` the
    /// turn's length in ticks. A tick of another group (or of an SCPU in
    /// none) starts a new turn: a turn is one visit of the group's
    /// segment, and a group whose last member yields out of its segment
    /// gives the rest of its turn away, as a single SCPU's yield would.
    pub fn tick(
        &mut self,
        group: Option<u64>,
        current: u64,
        chosen: Option<u64>,
        slot: u64,
    ) -> TickVerdict<u64> {
        let Some(group) = group else {
            self.group = None;
            self.ticks = 0;
            return TickVerdict::Ungrouped;
        };
        if self.group != Some(group) {
            self.group = Some(group);
            self.ticks = 0;
        }
        self.ticks = self.ticks.saturating_add(1);
        if self.ticks >= slot.max(1) {
            self.group = None;
            self.ticks = 0;
            return TickVerdict::End;
        }
        match chosen {
            Some(c) if c != current => TickVerdict::Pass(c),
            _ => TickVerdict::Keep,
        }
    }

    /// Group `group` is gone: its turn, if it runs, ends.
    pub fn forget(&mut self, group: u64) {
        if self.group == Some(group) {
            *self = Self::new();
        }
    }
}

/// The ring's members in running order, each with its group (None: in
/// none): what the functions below read. The kernel builds it once per
/// decision (one group lookup per member).
pub type Tagged<T> = [(T, Option<u64>)];

/// Where a woken SCPU of `group` joins the ring: after the last member of
/// its group's segment, or, when that one is `leaving` (its group's turn
/// just ended and its jump leads out of the group), just before it: so
/// the newcomer waits for the group's next turn instead of running next.
/// None if no member of the group is in the ring: it joins at the tail
/// of the round, as any SCPU ([`tail_anchor`]).
pub fn segment_end<T: Copy + PartialEq>(
    tags: &Tagged<T>,
    group: u64,
    leaving: Option<T>,
) -> Option<T> {
    let n = tags.len();
    let at = |i: usize| tags.get(i.checked_rem(n).unwrap_or(0)).copied();
    let in_group = |i: usize| at(i).is_some_and(|(_, g)| g == Some(group));
    let end = (0..n)
        .find(|&i| in_group(i) && !in_group(i.saturating_add(1)))
        // Every member is in the group.
        .or_else(|| n.checked_sub(1).filter(|&i| in_group(i)))?;
    let (t, _) = at(end)?;
    if Some(t) == leaving {
        return at(end.saturating_add(n).saturating_sub(1)).map(|(p, _)| p);
    }
    Some(t)
}

/// Where an SCPU that joins at the tail of the round goes without
/// splitting a group's segment: the member to insert it after. The
/// running SCPU is last in `tags` when `current_is_member`; the tail is
/// just before it (or, when it left the ring, before the member it jumps
/// to), as [`crate::Ring::insert`] puts it, moved back to the front of a
/// segment it would fall into. None for an empty ring (the kernel then
/// inserts as usual).
pub fn tail_anchor<T: Copy>(tags: &Tagged<T>, current_is_member: bool) -> Option<T> {
    let n = tags.len();
    let last = n.checked_sub(1)?;
    let mut at = if current_is_member {
        last.checked_sub(1).unwrap_or(last)
    } else {
        last
    };
    for _ in 0..n {
        let (anchor, group) = *tags.get(at)?;
        let (_, succ_group) = *tags.get(at.saturating_add(1).checked_rem(n).unwrap_or(0))?;
        if group.is_none() || group != succ_group {
            return Some(anchor);
        }
        at = at.checked_sub(1).unwrap_or(last);
    }
    // One group fills the ring: anywhere keeps it in one piece.
    tags.get(last).map(|&(t, _)| t)
}

/// Every group's segment, in one pass over the ring: `(group, first,
/// last)` for each maximal run of members of one group, in round order (a
/// group that fills the ring is one run from the first member to the
/// last). What the kernel keeps closed into sub-rings
/// ([`crate::Ring::close`]); a group split into several runs (never, if
/// every insertion follows [`segment_end`] and [`tail_anchor`]) gets one
/// entry per run.
pub fn segments_into<T: Copy>(tags: &Tagged<T>, out: &mut Vec<(u64, T, T)>) {
    out.clear();
    let n = tags.len();
    let group = |i: usize| {
        tags.get(i.checked_rem(n).unwrap_or(0))
            .and_then(|&(_, g)| g)
    };
    let id = |i: usize| tags.get(i.checked_rem(n).unwrap_or(0)).map(|&(t, _)| t);
    let (Some(first), Some(last)) = (tags.first(), tags.last()) else {
        return;
    };
    if let Some(g) = first.1 {
        if tags.iter().all(|&(_, h)| h == Some(g)) {
            out.push((g, first.0, last.0));
            return;
        }
    }
    // Start where a run starts, so no run wraps past the walk's end.
    let Some(start) = (0..n).find(|&i| group(i) != group(i.saturating_add(n).saturating_sub(1)))
    else {
        return;
    };
    let mut k = 0;
    while k < n {
        let i = start.saturating_add(k);
        let g = group(i);
        let mut len = 1;
        while len < n.saturating_sub(k) && group(i.saturating_add(len)) == g {
            len = len.saturating_add(1);
        }
        if let (Some(g), Some(f), Some(l)) = (g, id(i), id(i.saturating_add(len).saturating_sub(1)))
        {
            out.push((g, f, l));
        }
        k = k.saturating_add(len);
    }
}

/// What keeps every group's segment closed (the kernel's `reclose`):
/// `wanted` gets every group's segment ([`segments_into`]), `stale` the
/// first member of every closed segment (`closed`, as `(first, last)`)
/// that is not exactly one of them: a group that grew, shrank, merged
/// into another or dissolved. The kernel opens the stale ones first, then
/// closes each wanted segment not closed yet, so no closing ever overlaps
/// an old segment. O((n + g) log g) for n members and g segments.
pub fn plan_closures<T: Copy + Ord>(
    tags: &Tagged<T>,
    closed: &[(T, T)],
    wanted: &mut Vec<(u64, T, T)>,
    stale: &mut Vec<T>,
) {
    segments_into(tags, wanted);
    wanted.sort_unstable_by_key(|&(_, first, last)| (first, last));
    stale.clear();
    for &(first, last) in closed {
        let kept = wanted
            .binary_search_by_key(&(first, last), |&(_, f, l)| (f, l))
            .is_ok();
        if !kept {
            stale.push(first);
        }
    }
}

/// At the end of `group`'s turn: its members other than `current`, in
/// the order to take out and put back at the tail of the round (just
/// before `current`, which stays where it is). The segment then ends with
/// `current`, whose jump leads out of the group.
pub fn turn_end_moves<T: Copy + PartialEq>(tags: &Tagged<T>, current: T, group: u64) -> Vec<T> {
    tags.iter()
        .filter(|&&(t, g)| t != current && g == Some(group))
        .map(|&(t, _)| t)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_lasts_its_slot_over_all_its_members() {
        let mut turn = GroupTurn::new();
        assert_eq!(turn.tick(Some(7), 1, Some(2), 3), TickVerdict::Pass(2));
        assert_eq!(turn.tick(Some(7), 2, Some(2), 3), TickVerdict::Keep);
        assert_eq!(turn.tick(Some(7), 2, Some(1), 3), TickVerdict::End);
        // The next visit is a new turn.
        assert_eq!(turn.tick(Some(7), 1, Some(1), 3), TickVerdict::Keep);
        assert_eq!(turn.group(), Some(7));
    }

    #[test]
    fn another_groups_tick_starts_a_new_turn() {
        let mut turn = GroupTurn::new();
        turn.tick(Some(7), 1, None, 3);
        turn.tick(Some(7), 1, None, 3);
        assert_eq!(turn.tick(Some(8), 5, None, 3), TickVerdict::Keep);
        assert_eq!(turn.tick(None, 9, None, 3), TickVerdict::Ungrouped);
        assert_eq!(turn.tick(Some(7), 1, None, 3), TickVerdict::Keep);
        assert_eq!(turn.tick(Some(7), 1, None, 3), TickVerdict::Keep);
        assert_eq!(turn.tick(Some(7), 1, None, 3), TickVerdict::End);
    }

    /// Threads 10 and up are in group 1, the rest in none.
    fn tags(ids: &[u32]) -> Vec<(u32, Option<u64>)> {
        ids.iter().map(|&t| (t, (t >= 10).then_some(1))).collect()
    }

    #[test]
    fn the_segment_end_is_found_across_the_rings_start() {
        assert_eq!(segment_end(&tags(&[1, 10, 11, 2]), 1, None), Some(11));
        // The segment wraps: 12 ends it.
        assert_eq!(segment_end(&tags(&[12, 1, 2, 10, 11]), 1, None), Some(12));
        assert_eq!(segment_end(&tags(&[10, 11]), 1, None), Some(11));
        assert_eq!(segment_end(&tags(&[1, 2]), 1, None), None);
        assert_eq!(segment_end(&tags(&[]), 1, None), None);
        // The last member is leaving: the newcomer goes before it.
        assert_eq!(segment_end(&tags(&[1, 10, 11]), 1, Some(11)), Some(10));
        assert_eq!(segment_end(&tags(&[1, 11]), 1, Some(11)), Some(1));
    }

    #[test]
    fn the_tail_moves_in_front_of_a_segment_it_would_split() {
        // The running SCPU (last) is the segment's second member.
        assert_eq!(tail_anchor(&tags(&[2, 3, 10, 11]), true), Some(3));
        assert_eq!(tail_anchor(&tags(&[2, 3, 4, 11]), true), Some(4));
        assert_eq!(tail_anchor(&tags(&[2, 10, 11]), false), Some(11));
        // The segment wraps round the ring's start.
        assert_eq!(tail_anchor(&tags(&[10, 2, 11]), false), Some(2));
        assert_eq!(tail_anchor(&tags(&[10, 11]), true), Some(11));
        assert_eq!(tail_anchor(&tags(&[]), true), None);
    }

    #[test]
    fn the_segments_are_the_groups_runs_wherever_they_start() {
        let mut out = Vec::new();
        segments_into(&tags(&[1, 10, 11, 2]), &mut out);
        assert_eq!(out, [(1, 10, 11)]);
        segments_into(&tags(&[12, 1, 2, 10, 11]), &mut out);
        assert_eq!(out, [(1, 10, 12)]);
        segments_into(&tags(&[1, 10]), &mut out);
        assert_eq!(out, [(1, 10, 10)]);
        segments_into(&tags(&[10, 11]), &mut out);
        assert_eq!(out, [(1, 10, 11)]);
        segments_into(&tags(&[1, 2]), &mut out);
        assert!(out.is_empty());
        // Two groups, one wrapping.
        let two = [
            (5, Some(2)),
            (1, None),
            (6, Some(1)),
            (7, Some(1)),
            (8, Some(2)),
        ];
        segments_into(&two, &mut out);
        assert_eq!(out, [(1, 6, 7), (2, 8, 5)]);
    }

    #[test]
    fn merged_groups_open_their_old_segments_first() {
        // Six one-SCPU groups (10..=15, closed on themselves) merge into
        // group 1: every old segment is stale, the merged one wanted.
        let merged = tags(&[1, 10, 11, 12, 13, 14, 15]);
        let closed: Vec<(u32, u32)> = (10..=15).map(|t| (t, t)).collect();
        let (mut wanted, mut stale) = (Vec::new(), Vec::new());
        plan_closures(&merged, &closed, &mut wanted, &mut stale);
        assert_eq!(wanted, [(1, 10, 15)]);
        assert_eq!(stale, [10, 11, 12, 13, 14, 15]);
        // Already closed as wanted: nothing stale.
        plan_closures(&merged, &[(10, 15)], &mut wanted, &mut stale);
        assert!(stale.is_empty());
    }

    #[test]
    fn the_turns_end_moves_every_other_member() {
        assert_eq!(turn_end_moves(&tags(&[11, 1, 2, 10]), 12, 1), [11, 10]);
    }
}
