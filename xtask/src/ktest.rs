//! The in-kernel test driver: boots the kernel's test mode as often as
//! needed to run every test once, even when tests panic, triple-fault or
//! hang, and prints the total as `ktest: N passed, N failed`.
//!
//! The accounting ([`Ledger`]) is pure, so host tests replay console
//! transcripts through it. A run passes only if every test of the plan
//! reported exactly once (`passed + failed` equals the plan's total), every
//! boot agreed on the plan, and nothing failed.

use crate::accel::Accel;
use crate::qemu::{Boot, Status};
use sk_ktest::protocol::{self, Line};
use std::collections::BTreeMap;
use std::path::Path;

/// Wall-clock guard per test: restarted at every test's start line, so a
/// boot of many tests is never cut short while each still makes progress.
const TEST_TIMEOUT_SECS: u64 = 600;

/// True for a console line that starts or ends a test.
fn is_test_progress(line: &str) -> bool {
    matches!(
        protocol::parse(line.trim_end()),
        Some(Line::Started { .. } | Line::Finished { .. } | Line::Plan { .. })
    )
}

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed (including panics, triple faults and hangs).
    pub failed: usize,
    /// `(name, reason)` of each failure.
    pub failures: Vec<(String, String)>,
    /// Tests in the plan (`None` if no boot printed one).
    pub total: Option<usize>,
    /// What makes the run's accounting wrong even if no test failed: a
    /// short run, a result reported twice, boots that disagree on the plan.
    pub problems: Vec<String>,
    /// Every boot's console output, in order.
    pub output: String,
}

impl Summary {
    /// True when the run passes: every planned test reported once, at
    /// least one ran, and nothing failed.
    pub fn ok(&self) -> bool {
        self.failed == 0
            && self.passed > 0
            && self.problems.is_empty()
            && self.total == Some(self.passed + self.failed)
    }
}

/// One `test [i/N] name ... ok|FAILED` line.
#[derive(Debug, PartialEq, Eq)]
struct TestResult {
    index: usize,
    name: String,
    /// `None` if it passed.
    failure: Option<String>,
}

/// What one boot's console said.
#[derive(Debug, Default)]
struct BootReport {
    /// `(total, start)` of each plan line (one in a sane boot).
    plans: Vec<(usize, usize)>,
    /// Results, in console order.
    results: Vec<TestResult>,
    /// Index and name of the test running when output stopped, if unfinished.
    unfinished: Option<(usize, String)>,
    /// `(passed, failed)` of the boot-end line.
    boot_end: Option<(usize, usize)>,
    panic: Option<String>,
}

fn scan(output: &str) -> BootReport {
    let mut report = BootReport::default();
    for line in output.lines() {
        if let Some(p) = line.find("kernel panic: ") {
            report.panic = Some(line[p + "kernel panic: ".len()..].trim().to_string());
        }
        match protocol::parse(line) {
            Some(Line::Plan { total, start }) => report.plans.push((total, start)),
            Some(Line::Started { index, name }) => {
                report.unfinished = Some((index, name.to_string()))
            }
            Some(Line::Finished {
                index,
                name,
                failure,
            }) => {
                report.unfinished = None;
                report.results.push(TestResult {
                    index,
                    name: name.to_string(),
                    failure: failure.map(str::to_string),
                });
            }
            Some(Line::BootEnd { passed, failed }) => report.boot_end = Some((passed, failed)),
            None => {}
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
    /// Name of each test index that has a result.
    reported: BTreeMap<usize, String>,
    boots: usize,
}

/// What the ledger wants after a boot.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Boot again from this test index.
    Boot(usize),
    /// Nothing more to run (every test, or a problem stops the run).
    Done,
}

impl Ledger {
    /// Records the boot that was asked to start at test index `start`;
    /// `notes` gets lines worth printing now (the failure of the test that
    /// died, problems).
    pub fn record_boot(
        &mut self,
        start: usize,
        output: &str,
        status: Status,
        notes: &mut Vec<String>,
    ) -> Next {
        let problems_before = self.summary.problems.len();
        let next = self.account_boot(start, output, status, notes);
        for problem in &self.summary.problems[problems_before..] {
            notes.push(format!("ktest: error: {problem}"));
        }
        next
    }

    fn problem(&mut self, text: String) {
        self.summary.problems.push(text);
    }

    fn account_boot(
        &mut self,
        start: usize,
        output: &str,
        status: Status,
        notes: &mut Vec<String>,
    ) -> Next {
        self.boots += 1;
        let boot = self.boots;
        let report = scan(output);
        let Some(&(total, plan_start)) = report.plans.first() else {
            self.problem(format!(
                "boot {boot} (from test {start}) ended before its test plan: {}",
                status.describe()
            ));
            return Next::Done;
        };
        if report.plans.len() > 1 {
            self.problem(format!(
                "boot {boot} printed {} test plans (did the machine reset?)",
                report.plans.len()
            ));
        }
        match self.summary.total {
            None => self.summary.total = Some(total),
            Some(first) if first != total => {
                self.problem(format!(
                    "boot {boot}'s plan has {total} tests, the first boot's had {first}"
                ));
                return Next::Done;
            }
            Some(_) => {}
        }
        if plan_start != start {
            self.problem(format!(
                "boot {boot} was asked to start at test {start}, its plan says {plan_start}"
            ));
            return Next::Done;
        }
        let (mut passed, mut failed) = (0, 0);
        for result in &report.results {
            match &result.failure {
                None => passed += 1,
                Some(reason) => {
                    failed += 1;
                    self.summary
                        .failures
                        .push((result.name.clone(), reason.clone()));
                }
            }
            self.record_index(boot, start, total, result.index, &result.name);
        }
        self.summary.passed += passed;
        self.summary.failed += failed;
        if let Some(end) = report.boot_end {
            if end != (passed, failed) {
                self.problem(format!(
                    "boot {boot} ended with passed={} failed={}, its result lines say passed={passed} failed={failed}",
                    end.0, end.1
                ));
            }
        }
        let last = report.results.last().map(|r| r.index);
        let next = match (&report.unfinished, status) {
            (Some((index, name)), status) => {
                // The test that was running when the boot ended failed.
                let reason = match (&report.panic, status) {
                    (Some(p), _) => format!("panic: {p}"),
                    (None, s) => s.describe(),
                };
                notes.push(format!("FAILED: {reason}"));
                self.summary.failed += 1;
                self.summary.failures.push((name.clone(), reason));
                self.record_index(boot, start, total, *index, name);
                index + 1
            }
            // The runner reached the end of the plan.
            (None, Status::Success | Status::Failure) if report.boot_end.is_some() => {
                return Next::Done;
            }
            // A test ended the boot on purpose (an expected double fault).
            (None, Status::Continue) if last.is_some() => last.map_or(start, |i| i + 1),
            (None, status) => {
                let after = last.map_or_else(
                    || format!("before test {start}"),
                    |i| format!("after test {i}"),
                );
                self.problem(format!(
                    "boot {boot} ended between tests, {after}: {}",
                    status.describe()
                ));
                // Go on with the next test, if this boot ran any.
                last.map_or(start, |i| i + 1)
            }
        };
        if next >= total {
            return Next::Done;
        }
        if next <= start {
            self.problem(format!(
                "no progress at test {start} in boot {boot}: {}",
                status.describe()
            ));
            return Next::Done;
        }
        Next::Boot(next)
    }

    /// Notes that test `index` has a result; a second result, or one
    /// outside what this boot should run, is a problem.
    fn record_index(&mut self, boot: usize, start: usize, total: usize, index: usize, name: &str) {
        if index >= total {
            self.problem(format!(
                "boot {boot} reported test {index} ({name}), beyond the plan's {total}"
            ));
        } else if self.reported.contains_key(&index) {
            self.problem(format!(
                "test {index} ({name}) reported more than once (again in boot {boot})"
            ));
        } else if index < start {
            self.problem(format!(
                "boot {boot} reported test {index} ({name}), before its start {start}"
            ));
        }
        self.reported
            .entry(index)
            .or_insert_with(|| name.to_string());
    }

    /// Boots recorded so far.
    pub fn boots(&self) -> usize {
        self.boots
    }

    /// The totals of the run, with the completeness check: every test of
    /// the plan reported exactly once.
    pub fn finish(mut self) -> Summary {
        let Some(total) = self.summary.total else {
            self.problem("no boot printed a test plan".into());
            return self.summary;
        };
        let results = self.summary.passed + self.summary.failed;
        if results != total {
            self.problem(format!(
                "{results} results (passed + failed) for a plan of {total} tests"
            ));
        }
        let missing: Vec<usize> = (0..total)
            .filter(|i| !self.reported.contains_key(i))
            .collect();
        if !missing.is_empty() {
            self.problem(format!("no result for tests {}", ranges(&missing)));
        }
        self.summary
    }
}

/// `0..=2, 5` for `[0, 1, 2, 5]` (sorted input).
fn ranges(indices: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let first = indices[i];
        let mut last = first;
        while i + 1 < indices.len() && indices[i + 1] == last + 1 {
            i += 1;
            last = indices[i];
        }
        out.push(if first == last {
            first.to_string()
        } else {
            format!("{first}..={last}")
        });
        i += 1;
    }
    out.join(", ")
}

/// How many boots run a test selection at once: one per core (at most 4:
/// each QEMU runs one TCG vCPU) for a whole run, one for a `--filter`
/// (usually a few tests, often run beside other work).
pub fn shards_for(filter: Option<&str>) -> usize {
    if filter.is_some() {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Runs every in-kernel test in `shards` boots at once (each runs every
/// `shards`-th test of the plan, so the shards share the machine's cores);
/// prints one line per test and the totals.
pub fn run_all(
    kernel: &Path,
    initrd: &Path,
    accel: Accel,
    inject: bool,
    filter: Option<&str>,
    extra: &str,
    shards: usize,
) -> Result<Summary, String> {
    let shards = shards.max(1);
    if shards == 1 {
        return run_shard(kernel, initrd, accel, inject, filter, extra, (0, 1));
    }
    let results: Vec<Result<Summary, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..shards)
            .map(|i| {
                scope.spawn(move || {
                    run_shard(kernel, initrd, accel, inject, filter, extra, (i, shards))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a shard's driver panicked".into()))
            })
            .collect()
    });
    let total = merge(results.into_iter().collect::<Result<Vec<_>, _>>()?);
    for problem in &total.problems {
        println!("ktest: error: {problem}");
    }
    println!("ktest: {shards} shards run at once, their totals:");
    println!("ktest: {} passed, {} failed", total.passed, total.failed);
    Ok(total)
}

/// The totals of a run made of shards: every shard must have printed its
/// plan, and the plans add up to the run's.
fn merge(shards: Vec<Summary>) -> Summary {
    let count = shards.len();
    let mut total = Summary {
        total: Some(0),
        ..Summary::default()
    };
    for (i, shard) in shards.into_iter().enumerate() {
        total.passed += shard.passed;
        total.failed += shard.failed;
        total.failures.extend(shard.failures);
        total.problems.extend(
            shard
                .problems
                .into_iter()
                .map(|p| format!("shard {i}/{count}: {p}")),
        );
        if shard.total.is_none() {
            total
                .problems
                .push(format!("shard {i}/{count} printed no test plan"));
        }
        total.total = total.total.zip(shard.total).map(|(a, b)| a + b);
        total.output.push_str(&shard.output);
    }
    total
}

/// Runs shard `(index, count)` of the in-kernel tests, booting as often as
/// needed; prints one line per test (labelled when there are shards) and
/// the shard's totals.
fn run_shard(
    kernel: &Path,
    initrd: &Path,
    accel: Accel,
    inject: bool,
    filter: Option<&str>,
    extra: &str,
    (index, count): (usize, usize),
) -> Result<Summary, String> {
    let label = if count > 1 {
        format!("[shard {index}/{count}] ")
    } else {
        String::new()
    };
    let mut ledger = Ledger::default();
    let mut start = 0usize;
    let mut output = String::new();
    loop {
        let mut cmdline = format!("ktest ktest.start={start} log=warn");
        if count > 1 {
            cmdline.push_str(&format!(" ktest.shard={index}/{count}"));
        }
        if inject {
            cmdline.push_str(" ktest.inject");
        }
        if let Some(f) = filter {
            cmdline.push_str(&format!(" ktest.filter={f}"));
        }
        if !extra.is_empty() {
            cmdline.push(' ');
            cmdline.push_str(extra);
        }
        let outcome = Boot::new(kernel, accel, &cmdline)
            .initrd(initrd)
            .echo(true)
            .label(&label)
            .timeout_secs(TEST_TIMEOUT_SECS)
            .progress(is_test_progress)
            .run()?;
        let mut notes = Vec::new();
        let next = ledger.record_boot(start, &outcome.output, outcome.status, &mut notes);
        output.push_str(&outcome.output);
        for note in notes {
            println!("{label}{note}");
        }
        match next {
            Next::Boot(next) => start = next,
            Next::Done => break,
        }
    }
    let boots = ledger.boots();
    let mut summary = ledger.finish();
    summary.output = output;
    println!();
    for (name, reason) in &summary.failures {
        println!("{label}failed: {name}: {reason}");
    }
    for problem in &summary.problems {
        println!("{label}ktest: error: {problem}");
    }
    let results = summary.passed + summary.failed;
    match summary.total {
        Some(total) => {
            println!("{label}ktest: {boots} boots, {results} results for {total} planned tests")
        }
        None => println!("{label}ktest: {boots} boots, no test plan"),
    }
    println!(
        "{label}ktest: {} passed, {} failed",
        summary.passed, summary.failed
    );
    Ok(summary)
}

#[cfg(test)]
mod tests;
