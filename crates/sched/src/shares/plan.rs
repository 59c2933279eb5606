//! A group's round, planned ahead: the synthesized sub-ring's policy.
//!
//! Owns [`RoundPlan`] and [`ShareTree::plan_round`]. The kernel gives a
//! group one *turn* per round of its parent's ring (a default quantum,
//! in timer ticks) and lays the group's ready SCPUs out as a contiguous
//! *segment* of the executable ring, each switch-in baking its own
//! quantum. This module says which SCPUs are in the segment, in which
//! order, and how many ticks each may run this round:
//!
//! - Each ready SCPU's *fraction* of the turn is the product of its
//!   fractions along the path from the group's root: at every node the
//!   ready members (child subtrees with a ready SCPU, own ready SCPUs)
//!   share by weight (all 1 under [`SubPolicy::RoundRobin`]; the
//!   children's weights under [`SubPolicy::Weighted`], an own SCPU
//!   weighing 1). Fractions are fixed point ([`ONE_TICK`] = the whole
//!   turn) and add up to exactly the parent's (the last member takes the
//!   rounding dust).
//! - Ticks are whole: each SCPU is owed `carry + turn × fraction`, gets
//!   the whole ticks of it and carries the rest to the next round
//!   (deficit round robin). The round never gives more than `turn` in all:
//!   ticks left over by the rounding go to the largest carries, which then
//!   owe them (a carry stays within one tick either way).
//! - An SCPU with 0 ticks this round is not in the segment: a yield moves
//!   to the next SCPU of the segment, the last one's yield or quantum end
//!   leaves the group, so a round of the parent's ring never gives the
//!   group more than its turn, however its SCPUs yield.
//! - An SCPU that is not ready when the round is planned saves up nothing:
//!   a positive carry is dropped (a debt is kept).

use super::{Member, ShareTree, SubPolicy};
use alloc::vec::Vec;

/// A whole turn in the fixed-point fractions, and one tick in the carries.
pub const ONE_TICK: u64 = 1 << 32;

/// One round of a group: its segment in ring order, with each SCPU's
/// ticks (all at least 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundPlan {
    segment: Vec<(u64, u64)>,
}

impl RoundPlan {
    /// `(scpu, ticks)` in the order the SCPUs run.
    #[must_use]
    pub fn segment(&self) -> &[(u64, u64)] {
        &self.segment
    }

    /// Ticks `tid` runs this round, if it is in the segment.
    #[must_use]
    pub fn ticks_of(&self, tid: u64) -> Option<u64> {
        self.segment
            .iter()
            .find(|&&(t, _)| t == tid)
            .map(|&(_, ticks)| ticks)
    }

    /// The segment's last SCPU (a woken member joins after it).
    #[must_use]
    pub fn last(&self) -> Option<u64> {
        self.segment.last().map(|&(t, _)| t)
    }

    /// The round's ticks in all (at most the turn).
    #[must_use]
    pub fn total_ticks(&self) -> u64 {
        self.segment
            .iter()
            .fold(0_u64, |sum, &(_, t)| sum.saturating_add(t))
    }

    /// True if nobody runs this round.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.segment.is_empty()
    }
}

/// `whole × part / of`, in 128 bits (`of` > 0, `part` <= `of`).
fn scale(whole: u64, part: u64, of: u64) -> u64 {
    let product = u128::from(whole).saturating_mul(u128::from(part));
    u64::try_from(product.checked_div(u128::from(of)).unwrap_or(0)).unwrap_or(u64::MAX)
}

impl ShareTree {
    /// The ready SCPUs of `root`'s subtree with their fractions of the
    /// turn (in [`ONE_TICK`] units, adding up to exactly `ONE_TICK` when
    /// any is ready), in segment order: depth first, at each node the
    /// child SMACHs in id order, then its own SCPUs in id order.
    #[must_use]
    pub fn fractions(&self, root: u64, ready: impl Fn(u64) -> bool) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if self.nodes.contains_key(&root) && self.has_ready(root, &ready, 0) {
            self.divide(root, ONE_TICK, &ready, 0, &mut out);
        }
        out
    }

    /// Divides `fraction` among `at`'s ready members (see
    /// [`ShareTree::fractions`]).
    fn divide(
        &self,
        at: u64,
        fraction: u64,
        ready: &impl Fn(u64) -> bool,
        depth: usize,
        out: &mut Vec<(u64, u64)>,
    ) {
        if depth > self.nodes.len() {
            return;
        }
        let weighted = self
            .nodes
            .get(&at)
            .is_some_and(|n| n.policy == SubPolicy::Weighted);
        let mut members: Vec<(Member, u64)> = Vec::new();
        for (&c, _) in self.nodes.iter().filter(|(_, n)| n.parent == Some(at)) {
            if self.has_ready(c, ready, 0) {
                let weight = if weighted {
                    self.effective_weight(c)
                } else {
                    1
                };
                members.push((Member::Smach(c), weight));
            }
        }
        for (&t, _) in self.leaves.iter().filter(|(_, l)| l.smach == at) {
            if ready(t) {
                members.push((Member::Scpu(t), 1));
            }
        }
        let total = members
            .iter()
            .fold(0_u64, |sum, &(_, w)| sum.saturating_add(w));
        let mut left = fraction;
        let count = members.len();
        for (i, &(member, weight)) in members.iter().enumerate() {
            // The last member takes the rounding dust: the fractions add
            // up to exactly the parent's.
            let share = if i.saturating_add(1) == count {
                left
            } else {
                scale(fraction, weight, total).min(left)
            };
            left = left.saturating_sub(share);
            match member {
                Member::Scpu(t) => out.push((t, share)),
                Member::Smach(c) => self.divide(c, share, ready, depth.saturating_add(1), out),
            }
        }
    }

    /// Plans `root`'s group's next round: `turn` ticks divided among the
    /// SCPUs for which `ready` holds (see the module docs). Updates the
    /// carries; an SCPU of the group that is not ready loses a positive
    /// carry.
    pub fn plan_round(&mut self, root: u64, turn: u64, ready: impl Fn(u64) -> bool) -> RoundPlan {
        let fractions = self.fractions(root, &ready);
        // Idle members save up nothing.
        for t in self.scpus_under(root) {
            if !ready(t) {
                if let Some(l) = self.leaves.get_mut(&t) {
                    l.carry = l.carry.min(0);
                }
            }
        }
        // Owed, in ONE_TICK units: the carry plus this round's share.
        let mut owed: Vec<(u64, i128)> = fractions
            .iter()
            .map(|&(t, f)| {
                let carry = self.leaves.get(&t).map_or(0, |l| i128::from(l.carry));
                let share = u128::from(turn).saturating_mul(u128::from(f));
                (
                    t,
                    i128::try_from(share)
                        .unwrap_or(i128::MAX)
                        .saturating_add(carry),
                )
            })
            .collect();
        let one = i128::from(ONE_TICK);
        let sum: i128 = owed.iter().fold(0, |s, &(_, o)| s.saturating_add(o));
        let budget = sum
            .max(0)
            .checked_div(one)
            .unwrap_or(0)
            .min(i128::from(turn));
        // Whole ticks first, then the rest of the budget to the largest
        // remainders.
        let mut ticks: Vec<i128> = owed
            .iter()
            .map(|&(_, o)| o.max(0).checked_div(one).unwrap_or(0))
            .collect();
        let mut given: i128 = ticks.iter().sum();
        // More whole ticks than the budget (debts elsewhere, or the turn
        // reached): take them back from the largest, one at a time (at
        // most the number of SCPUs: each is owed under a tick more than
        // its share).
        while given > budget {
            let Some(largest) = ticks.iter_mut().max() else {
                break;
            };
            *largest = largest.saturating_sub(1);
            given = given.saturating_sub(1);
        }
        let mut order: Vec<usize> = (0..owed.len()).collect();
        order.sort_by_key(|&i| {
            let (tid, o) = owed.get(i).copied().unwrap_or((0, 0));
            let t = ticks.get(i).copied().unwrap_or(0);
            (
                core::cmp::Reverse(o.saturating_sub(t.saturating_mul(one))),
                tid,
            )
        });
        for &i in &order {
            if given >= budget {
                break;
            }
            if let Some(t) = ticks.get_mut(i) {
                *t = t.saturating_add(1);
                given = given.saturating_add(1);
            }
        }
        let mut segment = Vec::new();
        for ((tid, o), t) in owed.iter_mut().zip(ticks) {
            let bound = one.saturating_sub(1);
            let carry = o
                .saturating_sub(t.saturating_mul(one))
                .clamp(bound.saturating_neg(), bound);
            if let Some(l) = self.leaves.get_mut(tid) {
                l.carry = i64::try_from(carry).unwrap_or(0);
            }
            if t > 0 {
                segment.push((*tid, u64::try_from(t).unwrap_or(0)));
            }
        }
        RoundPlan { segment }
    }
}
