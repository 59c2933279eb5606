//! Host tests for the run queue: ordering, fairness, removal, priorities,
//! and a property test against a `Vec` model.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate std;

use super::*;
use proptest::prelude::*;
use std::vec::Vec;

fn p(level: u8) -> Priority {
    Priority::new(level).unwrap()
}

fn drain(queue: &mut RunQueue<u32>) -> Vec<u32> {
    core::iter::from_fn(|| queue.pick_next()).collect()
}

#[test]
fn empty_queue_picks_nothing() {
    let mut queue = RunQueue::<u32>::new();
    assert!(queue.is_empty());
    assert_eq!(queue.pick_next(), None);
    assert_eq!(queue.peek_next(), None);
    assert!(!queue.remove(1));
    assert_eq!(queue.set_priority(1, p(3)), Ok(false));
}

#[test]
fn fifo_within_a_priority() {
    let mut queue = RunQueue::new();
    for id in 1..=4 {
        queue.insert(id, p(3)).unwrap();
    }
    assert_eq!(queue.len(), 4);
    assert_eq!(drain(&mut queue), [1, 2, 3, 4]);
    assert!(queue.is_empty());
}

#[test]
fn round_robin_is_fair_within_a_priority() {
    // Three threads, each re-inserted after its pick (preempted at quantum
    // end): over 300 picks each runs exactly 100 times, in strict rotation.
    let mut queue = RunQueue::new();
    for id in 0..3 {
        queue.insert(id, p(5)).unwrap();
    }
    let mut runs = [0_u32; 3];
    for round in 0..300 {
        let id = queue.pick_next().unwrap();
        assert_eq!(id, round % 3);
        runs[id as usize] += 1;
        queue.insert(id, p(5)).unwrap();
    }
    assert_eq!(runs, [100, 100, 100]);
}

#[test]
fn higher_priority_runs_first() {
    let mut queue = RunQueue::new();
    queue.insert(10, p(0)).unwrap();
    queue.insert(20, p(7)).unwrap();
    queue.insert(30, p(3)).unwrap();
    queue.insert(40, p(7)).unwrap();
    assert_eq!(queue.peek_next(), Some(20));
    assert_eq!(drain(&mut queue), [20, 40, 30, 10]);
}

#[test]
fn strict_priority_starves_lower_levels() {
    // Documented behaviour, not a fairness claim: a runnable high-priority
    // thread that is always re-inserted keeps the low one from ever running.
    let mut queue = RunQueue::new();
    queue.insert(1, p(1)).unwrap();
    queue.insert(2, p(6)).unwrap();
    for _ in 0..1000 {
        let id = queue.pick_next().unwrap();
        assert_eq!(id, 2);
        queue.insert(id, p(6)).unwrap();
    }
    assert!(queue.contains(1));
}

#[test]
fn remove_from_the_middle_keeps_the_order() {
    let mut queue = RunQueue::new();
    for id in 1..=5 {
        queue.insert(id, p(2)).unwrap();
    }
    assert!(queue.remove(3));
    assert!(!queue.remove(3));
    assert!(!queue.contains(3));
    assert_eq!(queue.len(), 4);
    assert_eq!(drain(&mut queue), [1, 2, 4, 5]);
}

#[test]
fn removing_the_last_entry_of_a_level_falls_through_to_lower_levels() {
    let mut queue = RunQueue::new();
    queue.insert(1, p(7)).unwrap();
    queue.insert(2, p(4)).unwrap();
    assert!(queue.remove(1));
    assert_eq!(queue.len_at(p(7)), 0);
    assert_eq!(queue.pick_next(), Some(2));
    assert_eq!(queue.pick_next(), None);
}

#[test]
fn duplicate_insert_is_rejected_and_changes_nothing() {
    let mut queue = RunQueue::new();
    queue.insert(1, p(2)).unwrap();
    assert_eq!(queue.insert(1, p(2)), Err(SchedError::AlreadyQueued));
    assert_eq!(queue.insert(1, p(6)), Err(SchedError::AlreadyQueued));
    assert_eq!(queue.len(), 1);
    assert_eq!(queue.priority_of(1), Some(p(2)));
}

#[test]
fn set_priority_moves_to_the_back_of_the_new_level() {
    let mut queue = RunQueue::new();
    queue.insert(1, p(2)).unwrap();
    queue.insert(2, p(5)).unwrap();
    queue.insert(3, p(5)).unwrap();
    assert_eq!(queue.set_priority(1, p(5)), Ok(true));
    assert_eq!(queue.priority_of(1), Some(p(5)));
    assert_eq!(queue.len_at(p(2)), 0);
    assert_eq!(queue.len(), 3);
    assert_eq!(drain(&mut queue), [2, 3, 1]);
}

#[test]
fn set_priority_to_the_same_level_keeps_the_place() {
    let mut queue = RunQueue::new();
    queue.insert(1, p(4)).unwrap();
    queue.insert(2, p(4)).unwrap();
    assert_eq!(queue.set_priority(1, p(4)), Ok(true));
    assert_eq!(drain(&mut queue), [1, 2]);
}

#[test]
fn picked_ids_are_no_longer_queued() {
    let mut queue = RunQueue::new();
    queue.insert(9, p(0)).unwrap();
    assert_eq!(queue.pick_next(), Some(9));
    assert!(!queue.contains(9));
    assert_eq!(queue.priority_of(9), None);
    queue.insert(9, p(0)).unwrap();
    assert!(queue.contains(9));
}

#[test]
fn with_capacity_starts_empty() {
    let mut queue = RunQueue::<u64>::with_capacity(16).unwrap();
    assert!(queue.is_empty());
    queue.insert(1, Priority::MAX).unwrap();
    assert_eq!(queue.pick_next(), Some(1));
}

/// One operation on the queue, with small ids so operations collide.
#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u8),
    Remove(u8),
    Pick,
    SetPriority(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..12_u8, 0..8_u8).prop_map(|(id, level)| Op::Insert(id, level)),
        1 => (0..12_u8).prop_map(Op::Remove),
        3 => Just(Op::Pick),
        1 => (0..12_u8, 0..8_u8).prop_map(|(id, level)| Op::SetPriority(id, level)),
    ]
}

/// The obvious model: a list of (id, level, arrival stamp); the next pick is
/// the highest level, earliest stamp.
#[derive(Default)]
struct Model {
    entries: Vec<(u8, u8, u64)>,
    clock: u64,
}

impl Model {
    fn stamp(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn position(&self, id: u8) -> Option<usize> {
        self.entries.iter().position(|e| e.0 == id)
    }

    fn insert(&mut self, id: u8, level: u8) -> Result<(), SchedError> {
        if self.position(id).is_some() {
            return Err(SchedError::AlreadyQueued);
        }
        let stamp = self.stamp();
        self.entries.push((id, level, stamp));
        Ok(())
    }

    fn remove(&mut self, id: u8) -> bool {
        self.position(id).map(|i| self.entries.remove(i)).is_some()
    }

    fn pick(&mut self) -> Option<u8> {
        let best = (0..self.entries.len())
            .max_by_key(|&i| (self.entries[i].1, core::cmp::Reverse(self.entries[i].2)))?;
        Some(self.entries.remove(best).0)
    }

    fn set_priority(&mut self, id: u8, level: u8) -> bool {
        let Some(i) = self.position(id) else {
            return false;
        };
        if self.entries[i].1 != level {
            let stamp = self.stamp();
            self.entries[i].1 = level;
            self.entries[i].2 = stamp;
        }
        true
    }
}

proptest! {
    #[test]
    fn run_queue_matches_the_model(ops in proptest::collection::vec(op(), 0..300)) {
        let mut queue = RunQueue::<u8>::new();
        let mut model = Model::default();
        for op in &ops {
            match *op {
                Op::Insert(id, level) => {
                    prop_assert_eq!(queue.insert(id, p(level)), model.insert(id, level));
                }
                Op::Remove(id) => prop_assert_eq!(queue.remove(id), model.remove(id)),
                Op::Pick => prop_assert_eq!(queue.pick_next(), model.pick()),
                Op::SetPriority(id, level) => {
                    prop_assert_eq!(queue.set_priority(id, p(level)), Ok(model.set_priority(id, level)));
                }
            }
            prop_assert_eq!(queue.len(), model.entries.len());
            for id in 0..12 {
                let expected = model.position(id).map(|i| p(model.entries[i].1));
                prop_assert_eq!(queue.priority_of(id), expected);
            }
        }
    }
}
