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
//! [`tail_anchor`], so no segment is split), which members close into the
//! sub-ring while the group holds the CPU ([`segment`]), what a tick
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

/// Where a woken member of a group joins the ring: after the last member
/// of its group's segment (`order` is the ring's members in running
/// order, `in_group` says who belongs to the group; the woken SCPU is not
/// a member yet). None if no member of the group is in the ring: it joins
/// at the tail of the round, as any SCPU.
pub fn segment_end<T: Copy>(order: &[T], in_group: impl Fn(T) -> bool) -> Option<T> {
    let n = order.len();
    for (i, &t) in order.iter().enumerate() {
        let next = order.get(i.saturating_add(1).checked_rem(n).unwrap_or(0));
        if in_group(t) && !next.is_some_and(|&u| in_group(u)) {
            return Some(t);
        }
    }
    // Every member is in the group (or none is).
    order.last().copied().filter(|&t| in_group(t))
}

/// Where an SCPU that joins at the tail of the round goes without
/// splitting a group's segment: the member to insert it after. `order`
/// is the ring's members in running order (the running SCPU last when
/// `current_is_member`); the tail is just before the running SCPU (or,
/// when that one left the ring, before the member it jumps to), as
/// [`crate::Ring::insert`] puts it, moved back to the front of a segment
/// it would fall into. None for an empty order (the kernel then inserts
/// as usual).
pub fn tail_anchor<T: Copy>(
    order: &[T],
    current_is_member: bool,
    group_of: impl Fn(T) -> Option<u64>,
) -> Option<T> {
    let n = order.len();
    let last = n.checked_sub(1)?;
    let mut at = if current_is_member {
        last.checked_sub(1).unwrap_or(last)
    } else {
        last
    };
    for _ in 0..n {
        let anchor = *order.get(at)?;
        let succ = *order.get(at.saturating_add(1).checked_rem(n).unwrap_or(0))?;
        let group = group_of(anchor);
        if group.is_none() || group != group_of(succ) {
            return Some(anchor);
        }
        at = at.checked_sub(1).unwrap_or(last);
    }
    // One group fills the ring: anywhere keeps it in one piece.
    order.get(last).copied()
}

/// The group's segment as `(first, last)` in round order (`order` is the
/// ring's members in running order, `in_group` says who belongs to the
/// group): what the kernel closes into a sub-ring while the group holds
/// the CPU ([`crate::Ring::close`]). None if no member is in the group;
/// the whole round if every member is (closing it then only opens the
/// segments closed before).
pub fn segment<T: Copy>(order: &[T], in_group: impl Fn(T) -> bool) -> Option<(T, T)> {
    let n = order.len();
    let at = |i: usize| order.get(i.checked_rem(n).unwrap_or(0)).copied();
    if n > 0 && order.iter().all(|&t| in_group(t)) {
        return Some((at(0)?, at(n.saturating_sub(1))?));
    }
    let start = (0..n).find(|&i| {
        at(i).is_some_and(&in_group)
            && !at(i.saturating_add(n).saturating_sub(1)).is_some_and(&in_group)
    })?;
    let first = at(start)?;
    let mut last = first;
    for k in 1..n {
        match at(start.saturating_add(k)) {
            Some(t) if in_group(t) => last = t,
            _ => break,
        }
    }
    Some((first, last))
}

/// At the end of a turn: the group's members other than `current`, in
/// the order to take out and put back at the tail of the round (just
/// before `current`, which stays where it is). The segment then ends with
/// `current`, whose jump leads out of the group.
pub fn turn_end_moves<T: Copy + PartialEq>(
    order: &[T],
    current: T,
    in_group: impl Fn(T) -> bool,
) -> Vec<T> {
    order
        .iter()
        .copied()
        .filter(|&t| t != current && in_group(t))
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

    #[test]
    fn the_segment_end_is_found_across_the_rings_start() {
        let g = |t: u32| t >= 10;
        assert_eq!(segment_end(&[1, 10, 11, 2], g), Some(11));
        // The segment wraps: 12 ends it.
        assert_eq!(segment_end(&[12, 1, 2, 10, 11], g), Some(12));
        assert_eq!(segment_end(&[10, 11], g), Some(11));
        assert_eq!(segment_end(&[1, 2], g), None);
        assert_eq!(segment_end::<u32>(&[], g), None);
    }

    #[test]
    fn the_tail_moves_in_front_of_a_segment_it_would_split() {
        let g = |t: u32| (t >= 10).then_some(1);
        // The running SCPU (last) is the segment's second member.
        assert_eq!(tail_anchor(&[2, 3, 10, 11], true, g), Some(3));
        assert_eq!(tail_anchor(&[2, 3, 4, 11], true, g), Some(4));
        assert_eq!(tail_anchor(&[2, 10, 11], false, g), Some(11));
        // The segment wraps round the ring's start.
        assert_eq!(tail_anchor(&[10, 2, 11], false, g), Some(2));
        assert_eq!(tail_anchor(&[10, 11], true, g), Some(11));
        assert_eq!(tail_anchor::<u32>(&[], true, g), None);
    }

    #[test]
    fn the_segment_is_the_groups_run_wherever_it_starts() {
        let g = |t: u32| t >= 10;
        assert_eq!(segment(&[1, 10, 11, 2], g), Some((10, 11)));
        assert_eq!(segment(&[12, 1, 2, 10, 11], g), Some((10, 12)));
        assert_eq!(segment(&[1, 10], g), Some((10, 10)));
        assert_eq!(segment(&[10, 11], g), Some((10, 11)));
        assert_eq!(segment(&[1, 2], g), None);
    }

    #[test]
    fn the_turns_end_moves_every_other_member() {
        let g = |t: u32| t >= 10;
        assert_eq!(turn_end_moves(&[11, 1, 2, 10], 12, g), [11, 10]);
    }
}
