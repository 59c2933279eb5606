//! A nested group's sub-ring against a model: random wakes, blocks,
//! switches (timer or yield) and timer ticks, each performed with the
//! ring's operations as the kernel performs them (`nest_ring.rs`). After
//! every step each group's SCPUs sit next to each other in the ring (one
//! segment), closed into a sub-ring, so a yield passes only between
//! siblings; a passed turn runs the chosen SCPU next; a turn's end leads
//! out of the group when anything else is runnable. And in a stable ring a group of any size gets one slot per
//! round, as one SCPU does, however its SCPUs yield.

use proptest::prelude::*;
use sk_sched::{
    plan_closures, segment_end, tail_anchor, turn_end_moves, GroupTurn, Ring, TickVerdict,
};
use std::collections::BTreeMap;

const IDLE: u32 = 0;
const BOOT: u32 = 1;
const SLOT: u64 = 3;

std::thread_local! {
    /// Group 200 merged into group 100 (this test thread's model).
    static MERGED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Threads 1-4 are in no group; 5-8 in group 100, 9-12 in group 200
/// (in 100 once merged).
fn group_of(t: u32) -> Option<u64> {
    match t {
        5..=8 => Some(100),
        9..=12 if MERGED.get() => Some(100),
        9..=12 => Some(200),
        _ => None,
    }
}

#[derive(Clone, Debug)]
enum Op {
    Wake(u32),
    Block(u32),
    Switch,
    /// A timer tick; the policy chooses the group's n-th runnable SCPU.
    Tick(usize),
    /// Group 200 merges into group 100 (its parent chose a policy).
    Merge,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u32..13).prop_map(Op::Wake),
        2 => (1u32..13).prop_map(Op::Block),
        2 => Just(Op::Switch),
        4 => (0usize..4).prop_map(Op::Tick),
        1 => Just(Op::Merge),
    ]
}

struct Model {
    ring: Ring<u32>,
    turn: GroupTurn,
    /// The SCPU whose group's turn ended, until it switched out: it stays
    /// out of its group's closed segment.
    leaving: Option<u32>,
}

impl Model {
    fn new() -> Self {
        MERGED.set(false);
        let mut ring = Ring::new(IDLE, BOOT);
        ring.insert(BOOT).unwrap();
        Self {
            ring,
            turn: GroupTurn::new(),
            leaving: None,
        }
    }

    fn order(&self) -> Vec<u32> {
        self.ring.order().collect()
    }

    /// The ring's members with their groups, as the kernel tags them
    /// (for closing: the SCPU leaving at the end of its group's turn in
    /// none).
    fn tags(&self, for_closing: bool) -> Vec<(u32, Option<u64>)> {
        self.order()
            .into_iter()
            .map(|t| {
                let leaving = for_closing && self.leaving == Some(t);
                (t, group_of(t).filter(|_| !leaving))
            })
            .collect()
    }

    /// The kernel's `make_ready` on the ring.
    fn wake(&mut self, id: u32) {
        if self.ring.is_member(id) {
            return;
        }
        let anchor = group_of(id).and_then(|g| segment_end(&self.tags(false), g, self.leaving));
        let anchor = anchor.or_else(|| {
            if self.ring.is_idle() {
                return None;
            }
            let current = self.ring.current();
            tail_anchor(&self.tags(false), self.ring.is_member(current))
        });
        match anchor {
            Some(a) => {
                self.ring.insert_after(a, id).unwrap();
            }
            None => {
                self.ring.insert(id).unwrap();
            }
        }
        self.reclose();
    }

    /// The kernel's `nest_ring::reclose`: every group's segment is
    /// closed (without an SCPU leaving at the end of its group's turn).
    fn reclose(&mut self) {
        let current = self.ring.current();
        if self.leaving != Some(current) {
            self.leaving = None;
        }
        let closed: Vec<(u32, u32)> = self.ring.closures().collect();
        let (mut wanted, mut stale) = (Vec::new(), Vec::new());
        plan_closures(&self.tags(true), &closed, &mut wanted, &mut stale);
        for first in stale {
            self.ring.open(first);
        }
        for (g, first, last) in wanted {
            if !self.ring.is_closed(first, last) {
                let adopt = group_of(current) == Some(g) && self.leaving != Some(current);
                self.ring.close(first, last, adopt).unwrap();
            }
        }
    }

    /// The kernel's `nest_ring::gather`: a group just formed (merged)
    /// gathers its members behind the running one, or the first of them.
    fn gather(&mut self, group: u64) {
        let order = self.order();
        let current = self.ring.current();
        let Some(mut anchor) = order
            .iter()
            .copied()
            .find(|&t| t == current && group_of(t) == Some(group))
            .or_else(|| order.iter().copied().find(|&t| group_of(t) == Some(group)))
        else {
            return;
        };
        for t in order {
            if t != anchor && group_of(t) == Some(group) {
                self.ring.insert_after(anchor, t).unwrap();
                anchor = t;
            }
        }
        self.reclose();
    }

    fn switch(&mut self) {
        let next = self.ring.next_to_run();
        self.ring.switched_to(next).unwrap();
    }

    fn tick(&mut self, pick: usize) -> Result<(), String> {
        let current = self.ring.current();
        let group = group_of(current).filter(|_| self.ring.is_member(current));
        let runnable: Vec<u32> = self
            .order()
            .into_iter()
            .filter(|&t| group.is_some() && group_of(t) == group)
            .collect();
        let chosen = runnable.get(pick % runnable.len().max(1)).copied();
        match self
            .turn
            .tick(group, u64::from(current), chosen.map(u64::from), SLOT)
        {
            TickVerdict::Ungrouped => {}
            TickVerdict::Keep => self.reclose(),
            TickVerdict::Pass(c) => {
                let c = u32::try_from(c).unwrap();
                self.ring.insert_after(current, c).unwrap();
                self.reclose();
                if self.ring.next_to_run() != c {
                    return Err(format!(
                        "passed to {c}, {} runs next",
                        self.ring.next_to_run()
                    ));
                }
                self.switch();
            }
            TickVerdict::End => {
                self.ring.open(current);
                let moves = turn_end_moves(&self.tags(false), current, group.unwrap());
                for m in moves {
                    self.ring.remove(m).unwrap();
                    self.ring.insert(m).unwrap();
                }
                self.leaving = Some(current);
                self.reclose();
                let next = self.ring.next_to_run();
                let others = self.order().iter().any(|&t| group_of(t) != group);
                if others && group_of(next) == group {
                    return Err(format!(
                        "turn of {group:?} ended, {next} of it runs next: {:?}",
                        self.order()
                    ));
                }
                self.switch();
            }
        }
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Wake(id) => self.wake(id),
            Op::Block(id) => {
                self.ring.remove(id).unwrap();
                if id == self.ring.current() {
                    self.switch();
                }
            }
            Op::Switch => self.switch(),
            Op::Tick(pick) => self.tick(pick)?,
            Op::Merge => {
                MERGED.set(true);
                self.gather(100);
            }
        }
        self.reclose();
        self.check()
    }

    /// Each group's members form one run of the cycle.
    fn check(&self) -> Result<(), String> {
        let order = self.order();
        let n = order.len();
        for g in [100, 200] {
            let runs = (0..n)
                .filter(|&i| {
                    group_of(order[i]) == Some(g) && group_of(order[(i + 1) % n]) != Some(g)
                })
                .count();
            if runs > 1 {
                return Err(format!("group {g} is split: {order:?}"));
            }
        }
        // Every group's sub-ring is closed: a member's jump stays in its
        // group (but the one leaving at the end of its group's turn).
        for &m in &order {
            let Some(g) = group_of(m) else { continue };
            let next = self.ring.jump_of(m).unwrap();
            if self.leaving != Some(m) && group_of(next) != Some(g) {
                return Err(format!("{m} of group {g} jumps out to {next}: {order:?}"));
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_groups_members_stay_together(ops in proptest::collection::vec(op(), 1..300)) {
        let mut m = Model::new();
        for (i, op) in ops.iter().enumerate() {
            if let Err(e) = m.step(op) {
                prop_assert!(false, "step {i} ({op:?}): {e}");
            }
        }
    }
}

/// Two SCPUs of a group hand the CPU to each other by yielding, next to
/// an SCPU on its own: inside the group's turn every yield reaches the
/// sibling; only the turn's end lets the other run.
#[test]
fn yields_inside_a_turn_stay_in_the_group() {
    let mut m = Model::new();
    m.ring.remove(BOOT).unwrap();
    m.switch();
    for t in [5, 2, 6] {
        m.wake(t);
    }
    while group_of(m.ring.current()).is_none() {
        m.switch();
    }
    // The group's segment is closed from its first switch-in on.
    m.reclose();
    let mut ran = Vec::new();
    for _ in 0..6 {
        m.switch();
        ran.push(m.ring.current());
    }
    assert!(ran.iter().all(|&t| group_of(t) == Some(100)), "{ran:?}");
    // The turn ends (SLOT ticks): the lone SCPU runs.
    m.tick(0).unwrap();
    m.tick(0).unwrap();
    m.tick(0).unwrap();
    assert_eq!(m.ring.current(), 2, "{:?}", m.order());
}

/// A stable ring: two SCPUs on their own with a quantum of one slot, and
/// a group of three. Per round the group gets one slot, like each of them.
#[test]
fn a_group_gets_one_slot_per_round_whatever_its_size() {
    let mut m = Model::new();
    m.ring.remove(BOOT).unwrap();
    m.switch();
    for t in [2, 3, 5, 6, 7] {
        m.wake(t);
    }
    m.switch();
    let mut ticks: BTreeMap<Option<u64>, u64> = BTreeMap::new();
    let mut solo: BTreeMap<u32, u64> = BTreeMap::new();
    let mut left = SLOT;
    for i in 0..900 {
        let current = m.ring.current();
        *ticks.entry(group_of(current)).or_default() += 1;
        if group_of(current).is_some() {
            m.tick(i).unwrap();
            left = SLOT;
        } else {
            *solo.entry(current).or_default() += 1;
            m.tick(i).unwrap();
            left -= 1;
            if left == 0 {
                m.switch();
                left = SLOT;
            }
        }
        m.check().unwrap();
    }
    assert_eq!(ticks[&Some(100)], 300, "{ticks:?}");
    assert_eq!(solo[&2], 300, "{solo:?}");
    assert_eq!(solo[&3], 300, "{solo:?}");
}
