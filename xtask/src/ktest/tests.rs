//! Host tests of the in-kernel test driver: console transcripts replayed
//! through the ledger, and the shards' totals.

use super::*;

fn shard(passed: usize, failed: usize, total: Option<usize>) -> Summary {
    Summary {
        passed,
        failed,
        total,
        ..Summary::default()
    }
}

#[test]
fn shards_add_up_and_a_shard_without_a_plan_fails_the_run() {
    let run = merge(vec![shard(3, 0, Some(3)), shard(2, 0, Some(2))]);
    assert!(run.ok());
    assert_eq!((run.passed, run.total), (5, Some(5)));
    let failed = merge(vec![shard(3, 0, Some(3)), shard(1, 1, Some(2))]);
    assert!(!failed.ok());
    let silent = merge(vec![shard(3, 0, Some(3)), shard(0, 0, None)]);
    assert!(!silent.ok(), "a shard that never started must fail the run");
    assert_eq!(silent.problems.len(), 1);
    let short = merge(vec![shard(3, 0, Some(3)), shard(1, 0, Some(2))]);
    assert!(
        !short.ok(),
        "a shard that ran fewer tests than its plan must fail the run"
    );
}

#[test]
fn scan_reads_results_and_finds_the_unfinished_test() {
    let out = "ktest: plan 3 tests, start 0\ntest [0/3] a ... ok\ntest [1/3] b ... FAILED: x\ntest [2/3] c ... \nkernel panic: boom at k.rs:1\n";
    let r = scan(out);
    assert_eq!(r.plans, [(3, 0)]);
    assert_eq!(r.results.len(), 2);
    assert_eq!(r.results[1].failure.as_deref(), Some("x"));
    assert_eq!(r.unfinished, Some((2, "c".to_string())));
    assert_eq!(r.panic.as_deref(), Some("boom at k.rs:1"));
    assert_eq!(r.boot_end, None);
}

/// Feeds the ledger one transcript per boot, starting each where the
/// ledger asks, as `run_all` does with QEMU; stops when it is done or
/// the transcripts run out (QEMU gave nothing more).
fn replay(boots: &[(&str, Status)]) -> Summary {
    let mut ledger = Ledger::default();
    let mut start = 0;
    for (output, status) in boots {
        match ledger.record_boot(start, output, *status, &mut Vec::new()) {
            Next::Boot(next) => start = next,
            Next::Done => break,
        }
    }
    ledger.finish()
}

/// True if some problem of `s` contains `text`.
fn has_problem(s: &Summary, text: &str) -> bool {
    s.problems.iter().any(|p| p.contains(text))
}

#[test]
fn test_lines_restart_the_guard_and_other_output_does_not() {
    assert!(is_test_progress("ktest: plan 3 tests, start 0\n"));
    assert!(is_test_progress("test [1/3] b ... ok\n"));
    assert!(is_test_progress("test [1/3] b ... FAILED: x\n"));
    assert!(!is_test_progress("sysfuzz: 1000 calls\n"));
    assert!(!is_test_progress("worker 41: 309\n"));
}

#[test]
fn a_complete_run_passes() {
    let boot = "noise\nktest: plan 3 tests, start 0\ntest [0/3] a ... ok\ntest [1/3] b ... hello\ntest [1/3] b ... ok\ntest [2/3] c ... ok\nktest: boot-end passed=3 failed=0\n";
    let s = replay(&[(boot, Status::Success)]);
    assert_eq!((s.passed, s.failed), (3, 0));
    assert!(s.ok(), "{s:?}");
    assert!(s.problems.is_empty());
}

#[test]
fn a_complete_run_across_a_panic_counts_the_dead_test_once() {
    let first = "ktest: plan 3 tests, start 0\ntest [0/3] a ... ok\ntest [1/3] b ... \nkernel panic: boom at k.rs:1\n";
    let second =
        "ktest: plan 3 tests, start 2\ntest [2/3] c ... ok\nktest: boot-end passed=1 failed=0\n";
    let s = replay(&[(first, Status::Failure), (second, Status::Success)]);
    assert_eq!((s.passed, s.failed), (2, 1));
    assert_eq!(s.failures, [("b".into(), "panic: boom at k.rs:1".into())]);
    assert!(s.problems.is_empty(), "{s:?}");
    assert!(!s.ok());
}

/// Test 1 expects a double fault and ends the boot (status 37).
const DOUBLE_FAULT_BOOT: &str = "ktest: plan 4 tests, start 0\ntest [0/4] a ... ok\ntest [1/4] df ... ok\nktest: boot-end passed=2 failed=0\n";

#[test]
fn a_boot_that_stops_after_its_plan_fails_the_run() {
    // The second boot prints its plan and exits "successfully" without
    // running tests 2 and 3.
    let second = "ktest: plan 4 tests, start 2\n";
    let s = replay(&[
        (DOUBLE_FAULT_BOOT, Status::Continue),
        (second, Status::Success),
    ]);
    assert_eq!((s.passed, s.failed), (2, 0));
    assert!(!s.ok(), "2 of 4 tests ran: {s:?}");
    assert!(has_problem(
        &s,
        "2 results (passed + failed) for a plan of 4"
    ));
    assert!(has_problem(&s, "no result for tests 2..=3"), "{s:?}");
}

#[test]
fn a_boot_that_stops_between_tests_fails_the_run() {
    // Output stops after test 0 with no unfinished test, and QEMU has
    // nothing more to say.
    let boot = "ktest: plan 3 tests, start 0\ntest [0/3] a ... ok\n";
    let s = replay(&[(boot, Status::Success)]);
    assert!(!s.ok(), "1 of 3 tests ran: {s:?}");
    assert!(
        has_problem(&s, "ended between tests, after test 0"),
        "{s:?}"
    );
    assert!(has_problem(&s, "no result for tests 1..=2"), "{s:?}");
}

#[test]
fn a_result_reported_twice_fails_the_run() {
    // The sum matches the plan, but test 1 never reported and test 0 twice.
    let boot = "ktest: plan 3 tests, start 0\ntest [0/3] a ... ok\ntest [0/3] a ... ok\ntest [2/3] c ... ok\nktest: boot-end passed=3 failed=0\n";
    let s = replay(&[(boot, Status::Success)]);
    assert_eq!(s.passed, 3);
    assert!(!s.ok(), "{s:?}");
    assert!(
        has_problem(&s, "test 0 (a) reported more than once"),
        "{s:?}"
    );
    assert!(has_problem(&s, "no result for tests 1"), "{s:?}");
    // A later boot reports an earlier boot's test again.
    let second = "ktest: plan 4 tests, start 2\ntest [1/4] df ... ok\ntest [2/4] c ... ok\ntest [3/4] d ... ok\nktest: boot-end passed=3 failed=0\n";
    let s = replay(&[
        (DOUBLE_FAULT_BOOT, Status::Continue),
        (second, Status::Success),
    ]);
    assert!(!s.ok(), "{s:?}");
    assert!(
        has_problem(&s, "test 1 (df) reported more than once"),
        "{s:?}"
    );
    assert!(has_problem(
        &s,
        "5 results (passed + failed) for a plan of 4"
    ));
}

#[test]
fn a_boot_whose_plan_disagrees_with_the_first_fails_the_run() {
    let second = "ktest: plan 5 tests, start 2\ntest [2/5] c ... ok\ntest [3/5] d ... ok\ntest [4/5] e ... ok\nktest: boot-end passed=3 failed=0\n";
    let s = replay(&[
        (DOUBLE_FAULT_BOOT, Status::Continue),
        (second, Status::Success),
    ]);
    assert!(!s.ok(), "{s:?}");
    assert!(has_problem(
        &s,
        "boot 2's plan has 5 tests, the first boot's had 4"
    ));
    // A boot that starts elsewhere than asked.
    let second = "ktest: plan 4 tests, start 0\ntest [0/4] a ... ok\ntest [1/4] df ... ok\nktest: boot-end passed=2 failed=0\n";
    let s = replay(&[
        (DOUBLE_FAULT_BOOT, Status::Continue),
        (second, Status::Continue),
    ]);
    assert!(!s.ok(), "{s:?}");
    assert!(has_problem(&s, "asked to start at test 2, its plan says 0"));
}

#[test]
fn an_expected_double_fault_continues_with_the_next_test() {
    let second = "ktest: plan 4 tests, start 2\ntest [2/4] c ... ok\ntest [3/4] d ... FAILED: no\nktest: boot-end passed=1 failed=1\n";
    let s = replay(&[
        (DOUBLE_FAULT_BOOT, Status::Continue),
        (second, Status::Failure),
    ]);
    assert_eq!((s.passed, s.failed), (3, 1));
    assert!(s.problems.is_empty(), "{s:?}");
}

#[test]
fn a_hang_between_tests_is_a_problem_and_skips_no_test() {
    let first = "ktest: plan 3 tests, start 0\ntest [0/3] a ... ok\n";
    let second = "ktest: plan 3 tests, start 1\ntest [1/3] b ... ok\ntest [2/3] c ... ok\nktest: boot-end passed=2 failed=0\n";
    let s = replay(&[(first, Status::TimedOut), (second, Status::Success)]);
    assert_eq!((s.passed, s.failed), (3, 0));
    assert!(has_problem(
        &s,
        "boot 1 ended between tests, after test 0: hang"
    ));
    assert_eq!(s.problems.len(), 1, "{s:?}");
    assert!(!s.ok());
}

#[test]
fn a_boot_end_line_that_disagrees_with_the_results_is_a_problem() {
    let boot = "ktest: plan 2 tests, start 0\ntest [0/2] a ... ok\ntest [1/2] b ... ok\nktest: boot-end passed=1 failed=1\n";
    let s = replay(&[(boot, Status::Failure)]);
    assert!(has_problem(
        &s,
        "boot 1 ended with passed=1 failed=1, its result lines say passed=2 failed=0"
    ));
    assert!(!s.ok());
}

#[test]
fn index_ranges_are_compressed() {
    assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0..=2, 5, 7..=8");
    assert_eq!(ranges(&[]), "");
}
