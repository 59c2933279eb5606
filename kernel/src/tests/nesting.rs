//! Nested SMACHs (issue 15; docs/nesting.md): a chain of children to
//! depth 3 with budgets carved level by level, killed mid-work with every
//! frame, heap byte and code block back; a hostile child that tries to
//! reach its parent's and its sibling's objects and to pass its budget;
//! weighted sub-scheduling shares over a second of guest time (and an
//! injected scheduler that ignores weights, caught); a subtree held to
//! its root's share (and an injected one that is not, caught).
//!
//! Programs: `/bin/nest` (user/nest: its modes are in its docs).

use super::leaks::Baseline;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sk_abi::SmachTreeEntry;
use sk_core::nest_testing::{self, tree};
use sk_core::ProgramId;
use sk_ktest::{ensure, ensure_eq, ktest};

pub(super) const NEST: &str = "/bin/nest";
const CHAIN: u64 = 1;
const SHARES: u64 = 3;
const HOSTILE_PARENT: u64 = 4;
pub(super) const ONE_CHILD: u64 = 5;
pub(super) const MS: u64 = 1_000_000;

/// `nest`'s `chain_budget`: frames of a chain child with `levels` below.
const fn chain_budget(levels: u64) -> u64 {
    1024 * (levels + 1)
}

pub(super) fn spawn(mode: u64, param: u64) -> Result<ProgramId, String> {
    sk_core::spawn_program(NEST, mode << 32 | param).map_err(|e| format!("spawn nest {mode}: {e}"))
}

/// Polls (10 ms of guest time apart, at most `tries` times) until `ready`
/// holds for the program's tree; returns the tree.
fn wait_for_tree(
    id: ProgramId,
    tries: u32,
    ready: impl Fn(&[SmachTreeEntry]) -> bool,
) -> Result<Vec<SmachTreeEntry>, String> {
    for _ in 0..tries {
        let t = tree(id.0);
        if ready(&t) {
            return Ok(t);
        }
        nest_testing::sleep_ns(10 * MS).map_err(|e| format!("sleep: {e}"))?;
    }
    Err(format!("the tree never formed: {:?}", tree(id.0)))
}

/// Builds the depth-3 chain, checks its tree, kills its root mid-work.
fn chain_to_depth_3() -> Result<(), String> {
    let id = spawn(CHAIN, 3)?;
    let t = wait_for_tree(id, 300, |t| {
        t.len() == 4 && t[3].scpus == 1 && t[3].state == 0
    })
    .and_then(|_| {
        // Mid-work: every level has mapped its SMEM and spins.
        nest_testing::sleep_ns(30 * MS).map_err(|e| format!("sleep: {e}"))?;
        Ok(tree(id.0))
    });
    let t = match t {
        Ok(t) => t,
        Err(e) => {
            sk_core::release_program(id);
            return Err(e);
        }
    };
    let checked = (|| -> Result<(), String> {
        for (depth, e) in t.iter().enumerate() {
            ensure_eq!(e.depth as usize, depth);
            if depth > 0 {
                ensure_eq!(e.parent, t[depth - 1].id);
                ensure_eq!(e.budget_frames, chain_budget(3 - depth as u64));
                // Its own frames and its child's budget fit in its budget.
                ensure!(
                    e.mapped_frames + e.carved_frames <= e.budget_frames,
                    "{e:?}"
                );
            }
            if depth < 3 {
                // Its child's budget is carved from it.
                ensure_eq!(e.carved_frames, t[depth + 1].budget_frames);
            }
        }
        // The root started by the kernel has no budget.
        ensure_eq!(t[0].budget_frames, u64::MAX);
        Ok(())
    })();
    sk_core::release_program(id);
    ensure!(!nest_testing::groups_exist(), "a group outlived its root");
    checked
}

ktest!(
    fn nesting_to_depth_3_with_budgets_then_a_kill_mid_work_returns_everything() {
        chain_to_depth_3()?;
        let baseline = Baseline::take();
        chain_to_depth_3()?;
        baseline.check("a depth-3 nest killed mid-work")
    }
);

/// `nest`'s `BUDGET_FILE`: the RAM file the hostile child grows.
const BUDGET_FILE: &str = "/tmp/nest-budget";
/// The hostile child's budget above its program (`nest`'s `hostile_parent`).
const HOSTILE_SPARE_FRAMES: u64 = 32;

/// Runs `nest hostile-parent`; returns its status and who pays for the
/// file its hostile child grew, and that file's frames (removed).
fn hostile_run() -> Result<(i32, (u64, u64)), String> {
    let id = spawn(HOSTILE_PARENT, 0)?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
    sk_core::release_program(id);
    let file = nest_testing::payer_and_frames_then_remove(BUDGET_FILE);
    Ok((status?, file?))
}

ktest!(
    fn a_hostile_child_cannot_reach_its_parent_or_sibling_nor_pass_its_budget() {
        let (status, (payer, frames)) = hostile_run()?;
        ensure_eq!(status, 0);
        // The file outlived its maker: its charge went up the tree and,
        // past the kernel's program (a root), to nobody.
        ensure_eq!(payer, sk_fs::NO_PAYER);
        ensure!(
            (1..HOSTILE_SPARE_FRAMES).contains(&frames),
            "the file holds {frames} frames, the budget had {HOSTILE_SPARE_FRAMES} spare"
        );
        Ok(())
    }
);

ktest!(
    fn nesting_self_check_an_unpaid_file_passes_the_budget_and_is_caught() {
        nest_testing::inject_unpaid_files(true);
        let run = hostile_run();
        nest_testing::inject_unpaid_files(false);
        let (status, (_, frames)) = run?;
        // Attempt 10 fails: the file grew past what the budget had left.
        ensure_eq!(status, 10);
        ensure!(
            frames > HOSTILE_SPARE_FRAMES,
            "the unpaid file holds only {frames} frames"
        );
        Ok(())
    }
);

/// CPU (ns) of each SMACH in the program's tree.
pub(super) fn cpu(id: ProgramId) -> Vec<(u64, u64)> {
    tree(id.0).iter().map(|e| (e.id, e.cpu_ns)).collect()
}

pub(super) fn cpu_of(snapshot: &[(u64, u64)], smach: u64) -> u64 {
    snapshot
        .iter()
        .find(|(id, _)| *id == smach)
        .map_or(0, |(_, ns)| *ns)
}

/// A's share of A + B over `ms` of guest time.
fn share_over(id: ProgramId, a: u64, b: u64, ms: u64) -> Result<f64, String> {
    let before = cpu(id);
    nest_testing::sleep_ns(ms * MS).map_err(|e| format!("sleep: {e}"))?;
    let after = cpu(id);
    let used = |s| cpu_of(&after, s) - cpu_of(&before, s);
    let (ua, ub) = (used(a), used(b));
    sk_machine::println!(
        "  over {ms} ms: {a} ran {} ms, {b} ran {} ms",
        ua / MS,
        ub / MS
    );
    ensure!(
        ua + ub > ms * MS / 2,
        "the children ran {} ms of {ms}",
        (ua + ub) / MS
    );
    Ok(ua as f64 / (ua + ub) as f64)
}

ktest!(
    fn weighted_sub_scheduling_holds_shares_within_10_percent_and_catches_ignored_weights() {
        // A parent dividing its share by weight between children of
        // weights 1 and 3: the first must get 25% (within 10% of that)
        // over a second of guest time, by the kernel's own accounting.
        let id = spawn(SHARES, 1)?;
        let result = (|| -> Result<(), String> {
            let t = wait_for_tree(id, 300, |t| {
                t.len() == 3 && t[2].weight == 3 && t[2].state == 0
            })?;
            let (a, b) = (t[1].id, t[2].id);
            nest_testing::sleep_ns(50 * MS).map_err(|e| format!("sleep: {e}"))?;
            let share = share_over(id, a, b, 1000)?;
            sk_machine::println!("  weight 1 of 1 + 3: {:.1}% (expected 25%)", share * 100.0);
            ensure!(
                (share - 0.25).abs() <= 0.025,
                "weight 1 of 1 + 3 got {:.1}%",
                share * 100.0
            );
            // A sub-scheduler that ignores weights must fail the check.
            nest_testing::inject_ignore_weights(true);
            let faulty = share_over(id, a, b, 300);
            nest_testing::inject_ignore_weights(false);
            let faulty = faulty?;
            sk_machine::println!("  with weights ignored: {:.1}%", faulty * 100.0);
            ensure!(
                (faulty - 0.25).abs() > 0.025,
                "the injected fault was not caught: {:.1}%",
                faulty * 100.0
            );
            Ok(())
        })();
        sk_core::release_program(id);
        result
    }
);

/// The share of P's subtree in P + Q over `ms`, P being `nest p_mode`
/// (measured once `p_ready` holds for its tree, `p_label` in the line
/// printed) and Q a `one-child` group: each subtree runs as one SCPU of
/// the root level, so 50% is owed.
pub(super) fn share_against_one_child(
    p_mode: u64,
    p_ready: impl Fn(&[SmachTreeEntry]) -> bool,
    p_label: &str,
    ms: u64,
) -> Result<f64, String> {
    let p = spawn(p_mode, 0)?;
    let q = match spawn(ONE_CHILD, 0) {
        Ok(q) => q,
        Err(e) => {
            sk_core::release_program(p);
            return Err(e);
        }
    };
    let result = (|| -> Result<f64, String> {
        wait_for_tree(p, 300, p_ready)?;
        wait_for_tree(q, 300, |t| t.len() == 2)?;
        nest_testing::sleep_ns(50 * MS).map_err(|e| format!("sleep: {e}"))?;
        let before = (cpu_of(&cpu(p), p.0), cpu_of(&cpu(q), q.0));
        nest_testing::sleep_ns(ms * MS).map_err(|e| format!("sleep: {e}"))?;
        let after = (cpu_of(&cpu(p), p.0), cpu_of(&cpu(q), q.0));
        let (up, uq) = (after.0 - before.0, after.1 - before.1);
        sk_machine::println!(
            "  over {ms} ms: {p_label} {} ms, Q's (1 spinning child) {} ms",
            up / MS,
            uq / MS
        );
        ensure!(
            up + uq > ms * MS / 2,
            "they ran {} ms of {ms}",
            (up + uq) / MS
        );
        Ok(up as f64 / (up + uq) as f64)
    })();
    sk_core::release_program(p);
    sk_core::release_program(q);
    result
}

/// P's subtree's share of P + Q over `ms`: P has two spinning children
/// (round robin), Q one.
fn subtree_share(ms: u64) -> Result<f64, String> {
    share_against_one_child(
        SHARES,
        |t| t.len() == 3 && t[2].state == 0 && t[2].weight == 3,
        "P's subtree (2 spinning children)",
        ms,
    )
}

ktest!(
    fn a_subtree_gets_no_more_than_its_roots_share_and_an_ungrouped_one_is_caught() {
        // Two roots, one with two spinning children, one with one: each
        // subtree runs as one SCPU of the root level, so 50% each.
        let share = subtree_share(500)?;
        ensure!(
            (share - 0.5).abs() <= 0.05,
            "P's subtree got {:.1}%",
            share * 100.0
        );
        // Without the grouping, P's two children take two thirds.
        nest_testing::inject_no_grouping(true);
        let faulty = subtree_share(300);
        nest_testing::inject_no_grouping(false);
        let faulty = faulty?;
        sk_machine::println!("  ungrouped: P's subtree {:.1}%", faulty * 100.0);
        ensure!(
            (faulty - 0.5).abs() > 0.05,
            "the injected fault was not caught: {:.1}%",
            faulty * 100.0
        );
        Ok(())
    }
);
