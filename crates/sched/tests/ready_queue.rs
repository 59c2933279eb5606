//! The ready queue: a FIFO of distinct ids. Unit cases for each operation
//! and a property test of random pushes, picks and removes against a
//! `VecDeque` model.

use proptest::prelude::*;
use sk_sched::{QueueFull, ReadyQueue};
use std::collections::VecDeque;

fn contents(q: &ReadyQueue<u64>) -> Vec<u64> {
    q.iter().copied().collect()
}

#[test]
fn a_new_queue_is_empty() {
    let mut q = ReadyQueue::<u64>::new();
    assert!(q.is_empty());
    assert_eq!(q.len(), 0);
    assert_eq!(q.pick(), None);
    assert!(!q.contains(0));
    let d = ReadyQueue::<u64>::default();
    assert!(d.is_empty());
}

#[test]
fn pick_takes_ids_in_push_order() {
    let mut q = ReadyQueue::new();
    for id in [5u64, 1, 9, 3] {
        q.push(id).unwrap();
    }
    assert_eq!(q.len(), 4);
    assert_eq!(contents(&q), [5, 1, 9, 3]);
    assert_eq!(q.pick(), Some(5));
    assert_eq!(q.pick(), Some(1));
    q.push(5).unwrap();
    assert_eq!(q.pick(), Some(9));
    assert_eq!(q.pick(), Some(3));
    assert_eq!(q.pick(), Some(5));
    assert_eq!(q.pick(), None);
    assert!(q.is_empty());
}

#[test]
fn pushing_a_queued_id_keeps_its_place() {
    let mut q = ReadyQueue::new();
    q.push(1u64).unwrap();
    q.push(2).unwrap();
    q.push(3).unwrap();
    // A second wake-up of 1 must not move it behind 3 (nor queue it twice).
    q.push(1).unwrap();
    q.push(2).unwrap();
    assert_eq!(contents(&q), [1, 2, 3]);
    assert_eq!(q.len(), 3);
    assert_eq!(q.pick(), Some(1));
    assert!(!q.contains(1), "picked ids are not queued");
    q.push(1).unwrap();
    assert_eq!(
        contents(&q),
        [2, 3, 1],
        "re-pushed after a pick: at the back"
    );
}

#[test]
fn remove_takes_an_id_out_wherever_it_is() {
    let mut q = ReadyQueue::new();
    for id in 0u64..5 {
        q.push(id).unwrap();
    }
    q.remove(2); // middle
    assert_eq!(contents(&q), [0, 1, 3, 4]);
    q.remove(0); // front
    assert_eq!(contents(&q), [1, 3, 4]);
    q.remove(4); // back
    assert_eq!(contents(&q), [1, 3]);
    q.remove(42); // not queued: nothing happens
    q.remove(2); // removed already
    assert_eq!(contents(&q), [1, 3]);
    assert!(!q.contains(2) && q.contains(1) && q.contains(3));
    q.remove(1);
    q.remove(3);
    assert!(q.is_empty());
    assert_eq!(q.pick(), None);
}

#[test]
fn reserve_makes_room_or_says_the_queue_is_full() {
    let mut q = ReadyQueue::new();
    q.push(7u64).unwrap();
    assert_eq!(q.reserve(0), Ok(()));
    assert_eq!(q.reserve(100), Ok(()));
    for id in 0u64..100 {
        q.push(id + 100).unwrap();
    }
    assert_eq!(q.len(), 101);
    // Room for usize::MAX more ids cannot exist: refused, queue intact.
    assert_eq!(q.reserve(usize::MAX), Err(QueueFull));
    assert_eq!(q.reserve(usize::MAX / 2), Err(QueueFull));
    assert_eq!(q.len(), 101);
    assert_eq!(q.pick(), Some(7));
    assert_eq!(q.iter().next(), Some(&100));
}

#[test]
fn a_clone_is_independent() {
    let mut a = ReadyQueue::new();
    a.push(1u64).unwrap();
    a.push(2).unwrap();
    let mut b = a.clone();
    assert_eq!(b.pick(), Some(1));
    assert_eq!(contents(&a), [1, 2]);
    assert_eq!(contents(&b), [2]);
}

#[derive(Debug, Clone)]
enum Op {
    Push(u64),
    Pick,
    Remove(u64),
}

fn op() -> impl Strategy<Value = Op> {
    // Few ids, so duplicates and removals of queued ids are common.
    prop_oneof![
        3 => (0u64..8).prop_map(Op::Push),
        2 => Just(Op::Pick),
        1 => (0u64..8).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random pushes (many of ids already queued), picks and removes:
    /// the queue's order, length, membership and every pick agree with a
    /// `VecDeque` in which a push of a present id does nothing; no id is
    /// ever queued twice.
    #[test]
    fn random_operations_match_a_fifo_of_distinct_ids(ops in proptest::collection::vec(op(), 1..80)) {
        let mut q = ReadyQueue::new();
        let mut model: VecDeque<u64> = VecDeque::new();
        for op in ops {
            match op {
                Op::Push(id) => {
                    prop_assert_eq!(q.push(id), Ok(()));
                    if !model.contains(&id) {
                        model.push_back(id);
                    }
                }
                Op::Pick => prop_assert_eq!(q.pick(), model.pop_front()),
                Op::Remove(id) => {
                    q.remove(id);
                    model.retain(|&x| x != id);
                }
            }
            prop_assert_eq!(contents(&q), model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(q.len(), model.len());
            prop_assert_eq!(q.is_empty(), model.is_empty());
            for id in 0u64..8 {
                prop_assert_eq!(q.contains(id), model.contains(&id));
            }
        }
    }
}
