//! No SCPU can starve: a simulation of the generic scheduler (the kernel's
//! loop: pick, run for `quantum_ticks`, requeue) over random SCPUs whose
//! quanta and priorities include the hostile extremes, checking that every
//! ready SCPU runs within the bound the README states.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_sched::{quantum_ticks, ReadyQueue, MAX_QUANTUM_US};

const HZ: u64 = 100;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn every_ready_scpu_runs_within_one_round(
        scpus in proptest::collection::vec((prop_oneof![Just(u32::MAX), Just(0u32), 1u32..200_000], 0u32..12), 1..12),
    ) {
        let mut queue = ReadyQueue::new();
        for id in 0..scpus.len() {
            queue.push(id).unwrap();
        }
        let longest_turn = quantum_ticks(MAX_QUANTUM_US, 7, HZ);
        let bound = longest_turn * scpus.len() as u64;
        let mut now = 0u64;
        let mut last_ran = vec![0u64; scpus.len()];
        for _ in 0..(scpus.len() * 5) {
            let id = queue.pick().unwrap();
            prop_assert!(now - last_ran[id] <= bound, "SCPU {id} waited {} ticks, bound {bound}", now - last_ran[id]);
            let (quantum, priority) = scpus[id];
            let ticks = quantum_ticks(quantum, priority, HZ);
            prop_assert!(ticks <= longest_turn);
            now += ticks;
            last_ran[id] = now;
            queue.push(id).unwrap();
        }
    }
}

#[test]
fn the_queue_is_fifo_and_ids_are_distinct() {
    let mut q = ReadyQueue::new();
    q.push(1).unwrap();
    q.push(2).unwrap();
    q.push(1).unwrap();
    assert_eq!(q.len(), 2);
    q.remove(1);
    q.push(3).unwrap();
    q.push(1).unwrap();
    assert_eq!(q.iter().copied().collect::<Vec<_>>(), [2, 3, 1]);
    assert_eq!(q.pick(), Some(2));
}
