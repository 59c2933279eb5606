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

impl Summary {
    /// True when the run passes: something ran and nothing failed.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
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

/// The accounting of a run across boots: what each boot's console said,
/// and where the next boot must start. Pure: no I/O, so host tests can
/// feed it transcripts.
#[derive(Debug, Default)]
pub struct Ledger {
    summary: Summary,
    total: Option<usize>,
    boots: usize,
}

/// What the ledger wants after a boot.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Boot again from this test index.
    Boot(usize),
    /// Every test has been run.
    Done,
}

impl Ledger {
    /// Records the boot that started at test index `start`; `notes` gets
    /// lines worth printing (the failure of the test that died).
    pub fn record_boot(
        &mut self,
        start: usize,
        output: &str,
        status: Status,
        notes: &mut Vec<String>,
    ) -> Result<Next, String> {
        self.boots += 1;
        let boots = self.boots;
        let summary = &mut self.summary;
        let report = scan(output, summary);
        self.total = report.total.or(self.total);
        let Some(all) = self.total else {
            return Err(format!(
                "boot {boots} died before its test plan: {}",
                status.describe()
            ));
        };
        let next = match (&report.unfinished, status) {
            (Some((index, name)), status) => {
                let reason = match (&report.panic, status) {
                    (Some(p), _) => format!("panic: {p}"),
                    (None, s) => s.describe(),
                };
                notes.push(format!("FAILED: {reason}"));
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
            return Ok(Next::Done);
        }
        if next <= start && report.last_finished.is_none() && report.unfinished.is_none() {
            return Err(format!(
                "no progress at test index {start}: {}",
                status.describe()
            ));
        }
        Ok(Next::Boot(next))
    }

    /// Boots recorded so far.
    pub fn boots(&self) -> usize {
        self.boots
    }

    /// The totals of the run.
    pub fn finish(self) -> Summary {
        self.summary
    }
}

/// Runs every in-kernel test; prints one line per test and the totals.
pub fn run_all(
    kernel: &Path,
    initrd: &Path,
    accel: Accel,
    inject: bool,
    filter: Option<&str>,
) -> Result<Summary, String> {
    let mut ledger = Ledger::default();
    let mut start = 0usize;
    loop {
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
        let mut notes = Vec::new();
        let next = ledger.record_boot(start, &outcome.output, outcome.status, &mut notes);
        for note in notes {
            println!("{note}");
        }
        match next? {
            Next::Boot(next) => start = next,
            Next::Done => break,
        }
    }
    let boots = ledger.boots();
    let summary = ledger.finish();
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
