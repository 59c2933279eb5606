//! No SCPU can starve: a simulation of the generic scheduler (the kernel's
//! loop: pick, run for `quantum_ticks`, requeue) over random SCPUs whose
//! quanta and priorities include the hostile extremes, checking that every
//! ready SCPU runs within the bound the README states; and the same with
//! SCPUs that block, are woken (again and again), and are suspended and
//! resumed.

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

/// What happens at the end of one turn of the simulation.
#[derive(Debug, Clone)]
struct Turn {
    /// The SCPU that ran blocks instead of going back on the queue.
    blocks: bool,
    /// SCPUs woken (bit `i`: SCPU `i`), blocked or not: a wake-up of a
    /// queued SCPU must not cost it its place.
    wakes: u16,
    /// An SCPU suspended (taken off the queue), if any.
    suspends: Option<usize>,
    /// An SCPU resumed (put back on the queue), if any.
    resumes: Option<usize>,
}

fn turn() -> impl Strategy<Value = Turn> {
    (
        any::<bool>(),
        any::<u16>(),
        proptest::option::of(0usize..12),
        proptest::option::of(0usize..12),
    )
        .prop_map(|(blocks, wakes, suspends, resumes)| Turn {
            blocks,
            wakes,
            suspends,
            resumes,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// SCPUs come and go from the queue (block, wake, suspend, resume):
    /// from the moment an SCPU is made ready until it is picked, at most
    /// the `n - 1` others run one turn each, so it waits at most
    /// `(n - 1) × longest turn`.
    #[test]
    fn an_scpu_made_ready_runs_before_every_other_has_run_twice(
        scpus in proptest::collection::vec((prop_oneof![Just(u32::MAX), Just(0u32), 1u32..200_000], 0u32..12), 1..12),
        turns in proptest::collection::vec(turn(), 1..120),
    ) {
        let n = scpus.len();
        let mut queue = ReadyQueue::new();
        let mut ready_since: Vec<Option<u64>> = vec![Some(0); n];
        for id in 0..n {
            queue.push(id).unwrap();
        }
        let longest_turn = quantum_ticks(MAX_QUANTUM_US, 7, HZ);
        let bound = longest_turn * (n as u64 - 1);
        let mut now = 0u64;
        let make_ready = |queue: &mut ReadyQueue<usize>, since: &mut Vec<Option<u64>>, id: usize, now: u64| {
            if !queue.contains(id) {
                since[id] = Some(now);
            }
            queue.push(id).unwrap();
        };
        for turn in turns {
            match queue.pick() {
                Some(id) => {
                    let waited = now - ready_since[id].take().unwrap();
                    prop_assert!(waited <= bound, "SCPU {id} waited {waited} ticks, bound {bound}");
                    let (quantum, priority) = scpus[id];
                    now += quantum_ticks(quantum, priority, HZ);
                    if !turn.blocks {
                        make_ready(&mut queue, &mut ready_since, id, now);
                    }
                }
                None => now += 1, // idle: everyone is blocked or suspended
            }
            for id in (0..n).filter(|i| turn.wakes & (1 << i) != 0) {
                make_ready(&mut queue, &mut ready_since, id, now);
            }
            if let Some(id) = turn.suspends.filter(|&id| id < n) {
                queue.remove(id);
                ready_since[id] = None;
            }
            if let Some(id) = turn.resumes.filter(|&id| id < n) {
                make_ready(&mut queue, &mut ready_since, id, now);
            }
            prop_assert_eq!(queue.len(), ready_since.iter().filter(|s| s.is_some()).count());
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
