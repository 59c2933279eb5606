//! Host tests of the sub-scheduling policy: shares over long simulated
//! runs, the root's share as a bound, idle members not saving up CPU, and
//! the injected fault (weights ignored) caught by the same check.

use super::*;
use alloc::vec;
use proptest::prelude::*;

/// A random tree: node `i > 0` hangs under `parents[i] % i` (so the
/// root is 0), with weight and policy; every node has `scpus` SCPUs
/// (ids 1000 + node * 10 + k).
#[derive(Clone, Debug)]
struct Shape {
    parents: Vec<usize>,
    weights: Vec<u32>,
    weighted: Vec<bool>,
    scpus: Vec<usize>,
}

fn build(shape: &Shape) -> ShareTree {
    let mut tree = ShareTree::new();
    for i in 0..shape.parents.len() {
        let parent = (i > 0).then(|| (shape.parents[i] % i) as u64);
        tree.add_smach(i as u64, parent).unwrap();
        tree.set_weight(i as u64, shape.weights[i]).unwrap();
        let policy = if shape.weighted[i] {
            SubPolicy::Weighted
        } else {
            SubPolicy::RoundRobin
        };
        tree.set_policy(i as u64, policy).unwrap();
        for k in 0..shape.scpus[i] {
            tree.add_scpu(scpu_id(i, k), i as u64).unwrap();
        }
    }
    tree
}

fn scpu_id(node: usize, k: usize) -> u64 {
    1000 + node as u64 * 10 + k as u64
}

/// The share of the root's CPU each node should get when every SCPU is
/// always ready (a subtree without SCPUs is never ready and gets none).
fn expected(shape: &Shape) -> Vec<f64> {
    let n = shape.parents.len();
    let parent = |i: usize| shape.parents[i] % i;
    // Subtrees with at least one SCPU.
    let mut live = vec![false; n];
    for i in (0..n).rev() {
        if shape.scpus[i] > 0 {
            live[i] = true;
        }
        if live[i] && i > 0 {
            live[parent(i)] = true;
        }
    }
    let mut share = vec![0.0; n];
    share[0] = 1.0;
    for i in 0..n {
        if !live[i] {
            continue;
        }
        let weight_of = |c: usize| {
            if shape.weighted[i] {
                f64::from(shape.weights[c])
            } else {
                1.0
            }
        };
        let children: Vec<usize> = (1..n).filter(|&c| parent(c) == i && live[c]).collect();
        let total: f64 =
            children.iter().map(|&c| weight_of(c)).sum::<f64>() + shape.scpus[i] as f64;
        for c in children {
            share[c] = share[i] * weight_of(c) / total;
        }
    }
    share
}

/// Runs `turns` quanta (each of a length from `lengths`, cycled) with every
/// SCPU ready; returns each node's used time.
fn run(tree: &mut ShareTree, n: usize, turns: usize, lengths: &[u64]) -> Vec<u64> {
    for i in 0..turns {
        let t = tree.choose(0, |_| true).unwrap();
        tree.charge(t, lengths[i % lengths.len()]);
    }
    (0..n)
        .map(|i| tree.smach_info(i as u64).unwrap().2)
        .collect()
}

/// The nodes whose share is off by more than 10% (of their expected
/// share), for expected shares of at least 2%.
fn off_shares(shape: &Shape, used: &[u64]) -> Vec<(usize, f64, f64)> {
    let total = used[0] as f64;
    expected(shape)
        .iter()
        .enumerate()
        .filter(|&(_, &e)| e >= 0.02)
        .map(|(i, &e)| (i, e, used[i] as f64 / total))
        .filter(|&(_, e, got)| (got - e).abs() > 0.1 * e)
        .collect()
}

fn weights_one_to_three() -> Shape {
    Shape {
        parents: vec![0, 0, 0],
        weights: vec![1, 1, 3],
        weighted: vec![true, false, false],
        scpus: vec![0, 1, 1],
    }
}

#[test]
fn weighted_children_get_their_weights() {
    let shape = weights_one_to_three();
    let mut tree = build(&shape);
    let used = run(&mut tree, 3, 4000, &[10_000_000]);
    assert!(off_shares(&shape, &used).is_empty(), "{used:?}");
    assert_eq!(used[1] * 3, used[2]);
}

#[test]
fn ignoring_weights_is_caught_by_the_share_check() {
    let shape = weights_one_to_three();
    let mut tree = build(&shape);
    tree.inject_ignore_weights(true);
    let used = run(&mut tree, 3, 4000, &[10_000_000]);
    assert!(!off_shares(&shape, &used).is_empty(), "{used:?}");
}

#[test]
fn round_robin_splits_evenly_between_children_and_own_scpus() {
    let shape = Shape {
        parents: vec![0, 0, 0],
        weights: vec![1, 5, 9],
        weighted: vec![false, false, false],
        scpus: vec![2, 1, 3],
    };
    let mut tree = build(&shape);
    let used = run(&mut tree, 3, 4000, &[7, 13, 10]);
    // Four members of the root: two own SCPUs, two children.
    assert!(off_shares(&shape, &used).is_empty(), "{used:?}");
    let quarter = used[0] / 4;
    assert!(used[1].abs_diff(quarter) * 20 < quarter);
}

#[test]
fn an_idle_member_does_not_save_up_cpu() {
    let shape = weights_one_to_three();
    let mut tree = build(&shape);
    let b = scpu_id(2, 0);
    // Only A runs for a long time (B not ready) ...
    for _ in 0..10_000 {
        let t = tree.choose(0, |t| t != b).unwrap();
        tree.charge(t, 10_000_000);
    }
    // ... then B comes back: within LAG, not thousands of turns behind.
    let mut b_turns = 0;
    for _ in 0..200 {
        let t = tree.choose(0, |_| true).unwrap();
        if t == b {
            b_turns += 1;
        }
        tree.charge(t, 10_000_000);
    }
    assert!((140..=160).contains(&b_turns), "{b_turns}");
}

#[test]
fn nothing_ready_chooses_nothing_and_removal_forgets_a_subtree() {
    let mut tree = build(&weights_one_to_three());
    assert_eq!(tree.choose(0, |_| false), None);
    tree.remove_smach(1);
    assert!(!tree.contains_smach(1));
    assert!(!tree.contains_scpu(scpu_id(1, 0)));
    assert_eq!(tree.choose(0, |_| true), Some(scpu_id(2, 0)));
    assert_eq!(tree.set_weight(2, 0), Err(ShareError::BadWeight));
    assert_eq!(
        tree.set_weight(2, MAX_WEIGHT + 1),
        Err(ShareError::BadWeight)
    );
    assert_eq!(tree.add_smach(2, Some(0)), Err(ShareError::Exists));
    assert_eq!(tree.add_smach(9, Some(42)), Err(ShareError::Unknown));
    assert_eq!(tree.root_of(2), Some(0));
}

fn shape_strategy() -> impl Strategy<Value = Shape> {
    (2_usize..8).prop_flat_map(|n| {
        (
            proptest::collection::vec(0_usize..8, n),
            proptest::collection::vec(1_u32..10, n),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(0_usize..3, n),
        )
            .prop_map(|(parents, weights, weighted, scpus)| Shape {
                parents,
                weights,
                weighted,
                scpus,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Over a long run of quanta of random lengths (up to 3:1 apart),
    /// every node with at least 2% of the root's CPU gets its share within
    /// 10%, and the subtree as a whole never more than the root got.
    #[test]
    fn shares_hold_within_ten_percent(
        shape in shape_strategy(),
        lengths in proptest::collection::vec(1_000_u64..3_000, 1..5),
    ) {
        let n = shape.parents.len();
        let mut tree = build(&shape);
        if tree.choose(0, |_| true).is_none() {
            return Ok(());
        }
        let used = run(&mut tree, n, 6000, &lengths);
        prop_assert!(off_shares(&shape, &used).is_empty(), "{:?} {:?}", used, off_shares(&shape, &used));
        // The children's subtrees and the own SCPUs add up to the root's.
        let leaves: u64 = (0..n)
            .flat_map(|i| (0..shape.scpus[i]).map(move |k| (i, k)))
            .map(|(i, k)| tree.scpu_used(scpu_id(i, k)).unwrap())
            .sum();
        prop_assert_eq!(leaves, used[0]);
    }
}
