//! The runner's self-check: with a failing and a panicking test injected,
//! the in-kernel run must exit non-zero and report exactly those two
//! failures (and still run the other selected tests, across a reboot).

use std::process::Command;

#[test]
fn injected_failures_fail_the_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        // The protection tests include one that ends its boot on purpose
        // (double fault), so the run also crosses a reboot.
        .args([
            "ktest",
            "--inject",
            "--accel",
            "tcg",
            "--filter",
            "protection",
        ])
        .output()
        .expect("run xtask");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the run must fail:\n{stdout}");
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("ktest: ") && l.ends_with(" failed"))
        .expect("a summary line");
    assert!(summary.ends_with(" passed, 2 failed"), "summary: {summary}");
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("failed: "))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed[0].contains("selfcheck::injected_failure"),
        "{failed:?}"
    );
    assert!(
        failed[1].contains("selfcheck::injected_panic") && failed[1].contains("panic"),
        "{failed:?}"
    );
    let passed: usize = summary["ktest: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert!(passed >= 10, "the other tests ran too: {summary}");
}
