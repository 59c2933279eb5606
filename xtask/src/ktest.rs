//! The in-kernel test driver: boots the kernel's test mode as often as
//! needed to run every test once, even when tests panic, triple-fault or
//! hang, and prints the total as `ktest: N passed, N failed`.

use crate::accel::Accel;
use crate::qemu::{Boot, Status};
use sk_ktest::protocol::{self, Line};
use std::path::Path;

/// Per-boot wall-clock guard.
const BOOT_TIMEOUT_SECS: u64 = 300;

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed (including panics, triple faults and hangs).
    pub failed: usize,
    /// `(name, reason)` of each failure.
    pub failures: Vec<(String, String)>,
}

/// What one boot's console said.
#[derive(Debug, Default)]
struct BootReport {
    total: Option<usize>,
    /// Index and name of the test running when output stopped, if unfinished.
    unfinished: Option<(usize, String)>,
    /// Highest finished index.
    last_finished: Option<usize>,
    panic: Option<String>,
}

fn scan(output: &str, summary: &mut Summary) -> BootReport {
    let mut report = BootReport::default();
    for line in output.lines() {
        if let Some(p) = line.find("kernel panic: ") {
            report.panic = Some(line[p + "kernel panic: ".len()..].trim().to_string());
        }
        match protocol::parse(line) {
            Some(Line::Plan { total, .. }) => report.total = Some(total),
            Some(Line::Started { index, name }) => {
                report.unfinished = Some((index, name.to_string()))
            }
            Some(Line::Finished {
                index,
                name,
                failure,
            }) => {
                report.unfinished = None;
                report.last_finished = Some(index);
                match failure {
                    None => summary.passed += 1,
                    Some(reason) => {
                        summary.failed += 1;
                        summary
                            .failures
                            .push((name.to_string(), reason.to_string()));
                    }
                }
            }
            Some(Line::BootEnd { .. }) | None => {}
        }
    }
    report
}

/// Runs every in-kernel test; prints one line per test and the totals.
pub fn run_all(
    kernel: &Path,
    initrd: &Path,
    accel: Accel,
    inject: bool,
    filter: Option<&str>,
) -> Result<Summary, String> {
    let mut summary = Summary::default();
    let mut start = 0usize;
    let mut total: Option<usize> = None;
    let mut boots = 0;
    loop {
        boots += 1;
        let mut cmdline = format!("ktest ktest.start={start} log=warn");
        if inject {
            cmdline.push_str(" ktest.inject");
        }
        if let Some(f) = filter {
            cmdline.push_str(&format!(" ktest.filter={f}"));
        }
        let outcome = Boot::new(kernel, accel, &cmdline)
            .initrd(initrd)
            .echo(true)
            .timeout_secs(BOOT_TIMEOUT_SECS)
            .run()?;
        let report = scan(&outcome.output, &mut summary);
        total = report.total.or(total);
        let Some(all) = total else {
            return Err(format!(
                "boot {boots} died before its test plan: {}",
                outcome.status.describe()
            ));
        };
        let next = match (&report.unfinished, outcome.status) {
            (Some((index, name)), status) => {
                let reason = match (&report.panic, status) {
                    (Some(p), _) => format!("panic: {p}"),
                    (None, s) => s.describe(),
                };
                println!("FAILED: {reason}");
                summary.failed += 1;
                summary.failures.push((name.clone(), reason));
                index + 1
            }
            (None, Status::Success | Status::Failure | Status::Continue) => {
                report.last_finished.map_or(all, |i| i + 1)
            }
            (None, status) => {
                // Died between tests: blame nothing, but say so and move on.
                let at = report.last_finished.map_or(start, |i| i + 1);
                summary.failed += 1;
                summary
                    .failures
                    .push((format!("<between tests at index {at}>"), status.describe()));
                at + 1
            }
        };
        if next >= all {
            break;
        }
        if next <= start && report.last_finished.is_none() && report.unfinished.is_none() {
            return Err(format!(
                "no progress at test index {start}: {}",
                outcome.status.describe()
            ));
        }
        start = next;
    }
    println!();
    for (name, reason) in &summary.failures {
        println!("failed: {name}: {reason}");
    }
    println!("ktest: {} boots", boots);
    println!(
        "ktest: {} passed, {} failed",
        summary.passed, summary.failed
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_counts_results_and_finds_the_unfinished_test() {
        let out = "ktest: plan 3 tests, start 0\ntest [0/3] a ... ok\ntest [1/3] b ... FAILED: x\ntest [2/3] c ... \nkernel panic: boom at k.rs:1\n";
        let mut s = Summary::default();
        let r = scan(out, &mut s);
        assert_eq!((s.passed, s.failed), (1, 1));
        assert_eq!(r.total, Some(3));
        assert_eq!(r.unfinished, Some((2, "c".to_string())));
        assert_eq!(r.panic.as_deref(), Some("boom at k.rs:1"));
    }
}
