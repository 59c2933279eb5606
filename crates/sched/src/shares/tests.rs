//! Host tests of the sub-scheduling policy: planned rounds' shares over
//! long simulated runs, the turn as a bound, idle members not saving up
//! CPU, the injected fault (weights ignored) caught by the same check,
//! and the CPU time charged up the tree.

use super::*;
use alloc::collections::BTreeMap;
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
fn round_robin_splits_evenly_between_children_and_own_scpus() {
    let shape = Shape {
        parents: vec![0, 0, 0],
        weights: vec![1, 5, 9],
        weighted: vec![false, false, false],
        scpus: vec![2, 1, 3],
    };
    let mut tree = build(&shape);
    let used = node_totals(&shape, &plan_rounds(&mut tree, 400, 5, |_| true));
    // Four members of the root: two own SCPUs, two children.
    assert!(off_shares(&shape, &used).is_empty(), "{used:?}");
    assert!(used[1].abs_diff(500) <= 1, "{used:?}");
}

#[test]
fn nothing_ready_plans_nothing_and_removal_forgets_a_subtree() {
    let mut tree = build(&weights_one_to_three());
    assert!(tree.plan_round(0, 5, |_| false).is_empty());
    tree.remove_smach(1);
    assert!(!tree.contains_smach(1));
    assert!(!tree.contains_scpu(scpu_id(1, 0)));
    let plan = tree.plan_round(0, 5, |_| true);
    assert_eq!(plan.segment(), &[(scpu_id(2, 0), 5)]);
    assert_eq!(tree.set_weight(2, 0), Err(ShareError::BadWeight));
    assert_eq!(
        tree.set_weight(2, MAX_WEIGHT + 1),
        Err(ShareError::BadWeight)
    );
    assert_eq!(tree.add_smach(2, Some(0)), Err(ShareError::Exists));
    assert_eq!(tree.add_smach(9, Some(42)), Err(ShareError::Unknown));
    assert_eq!(tree.add_scpu(9, 42), Err(ShareError::Unknown));
    assert_eq!(tree.root_of(2), Some(0));
    assert_eq!(tree.scpus_under(0), vec![scpu_id(2, 0)]);
}

#[test]
fn charged_time_adds_up_the_tree() {
    let shape = weights_one_to_three();
    let mut tree = build(&shape);
    tree.charge(scpu_id(1, 0), 7);
    tree.charge(scpu_id(2, 0), 5);
    tree.charge(12345, 99);
    assert_eq!(tree.scpu_used(scpu_id(1, 0)), Some(7));
    assert_eq!(tree.smach_info(1).map(|i| i.2), Some(7));
    assert_eq!(tree.smach_info(2).map(|i| i.2), Some(5));
    assert_eq!(tree.smach_info(0).map(|i| i.2), Some(12));
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

// The planned rounds of the synthesized sub-ring (shares/plan.rs).

/// Plans `rounds` rounds of `turn` ticks with `ready`; checks each round
/// gives at most `turn`; returns each SCPU's ticks in all.
fn plan_rounds(
    tree: &mut ShareTree,
    rounds: usize,
    turn: u64,
    ready: impl Fn(u64) -> bool,
) -> BTreeMap<u64, u64> {
    let mut got = BTreeMap::new();
    for _ in 0..rounds {
        let plan = tree.plan_round(0, turn, &ready);
        assert!(plan.total_ticks() <= turn, "{plan:?}");
        for &(t, ticks) in plan.segment() {
            assert!(ticks > 0 && ready(t), "{plan:?}");
            *got.entry(t).or_insert(0) += ticks;
        }
    }
    got
}

/// Each node's subtree's ticks, from the SCPUs' (indexed like `shape`).
fn node_totals(shape: &Shape, got: &BTreeMap<u64, u64>) -> Vec<u64> {
    let n = shape.parents.len();
    let mut used = vec![0; n];
    for i in (0..n).rev() {
        used[i] += (0..shape.scpus[i])
            .map(|k| got.get(&scpu_id(i, k)).copied().unwrap_or(0))
            .sum::<u64>();
        if i > 0 {
            used[shape.parents[i] % i] += used[i];
        }
    }
    used
}

#[test]
fn planned_rounds_split_the_turn_by_weight() {
    let shape = weights_one_to_three();
    let mut tree = build(&shape);
    let got = plan_rounds(&mut tree, 400, 5, |_| true);
    let used = node_totals(&shape, &got);
    // Every round gives the whole turn, shared 1:3 within a tick.
    assert_eq!(used[0], 2000);
    assert!(used[1].abs_diff(500) <= 1, "{used:?}");
    assert!(off_shares(&shape, &used).is_empty(), "{used:?}");
    // The order is the tree's: child 1's SCPU before child 2's.
    let plan = tree.plan_round(0, 5, |_| true);
    let order: Vec<u64> = plan.segment().iter().map(|&(t, _)| t).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{plan:?}");
    assert_eq!(plan.last(), order.last().copied());
}

#[test]
fn planned_rounds_ignoring_weights_are_caught_by_the_share_check() {
    let shape = weights_one_to_three();
    let mut tree = build(&shape);
    tree.inject_ignore_weights(true);
    let used = node_totals(&shape, &plan_rounds(&mut tree, 400, 5, |_| true));
    assert!(!off_shares(&shape, &used).is_empty(), "{used:?}");
}

#[test]
fn members_with_under_a_tick_take_turns_across_rounds() {
    // Ten SCPUs, a turn of 5: each runs one tick every other round.
    let mut tree = ShareTree::new();
    tree.add_smach(0, None).unwrap();
    for k in 0..10 {
        tree.add_scpu(1000 + k, 0).unwrap();
    }
    let mut last_seen = BTreeMap::new();
    for round in 0..40_u64 {
        let plan = tree.plan_round(0, 5, |_| true);
        assert_eq!(plan.total_ticks(), 5, "{plan:?}");
        for &(t, ticks) in plan.segment() {
            assert_eq!(ticks, 1);
            if let Some(prev) = last_seen.insert(t, round) {
                assert!(round - prev <= 2, "{t} waited {} rounds", round - prev);
            }
        }
    }
    assert_eq!(last_seen.len(), 10);
}

#[test]
fn an_idle_member_saves_up_nothing_in_planned_rounds() {
    let shape = weights_one_to_three();
    let mut tree = build(&shape);
    let b = scpu_id(2, 0);
    let alone = plan_rounds(&mut tree, 1000, 5, |t| t != b);
    assert_eq!(alone.get(&scpu_id(1, 0)), Some(&5000));
    // Back: B gets its three quarters from now on, not more.
    let got = plan_rounds(&mut tree, 100, 5, |_| true);
    assert!(got[&b].abs_diff(375) <= 1, "{got:?}");
    assert_eq!(tree.plan_round(0, 5, |_| false), RoundPlan::default());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Random trees, weights and turns, with SCPUs ready at random: every
    /// round gives at most the turn to ready SCPUs only; with all ready,
    /// over many rounds every node with at least 2% of the group gets its
    /// share within 10%, and the rounds give the whole turn but for under
    /// a tick per SCPU.
    #[test]
    fn planned_shares_hold_within_ten_percent(
        shape in shape_strategy(),
        turn in 1_u64..12,
        idle_mask in any::<u64>(),
        idle_rounds in 0_usize..50,
    ) {
        let mut tree = build(&shape);
        if tree.fractions(0, |_| true).is_empty() {
            return Ok(());
        }
        let some_idle = |t: u64| idle_mask >> (t % 64) & 1 == 0;
        plan_rounds(&mut tree, idle_rounds, turn, some_idle);
        let rounds = 3000;
        let got = plan_rounds(&mut tree, rounds, turn, |_| true);
        let used = node_totals(&shape, &got);
        prop_assert!(off_shares(&shape, &used).is_empty(), "{:?} {:?}", used, off_shares(&shape, &used));
        let scpus: u64 = shape.scpus.iter().sum::<usize>() as u64;
        prop_assert!(used[0] <= rounds as u64 * turn);
        prop_assert!(used[0] + scpus >= rounds as u64 * turn, "{} of {}", used[0], rounds as u64 * turn);
    }
}
