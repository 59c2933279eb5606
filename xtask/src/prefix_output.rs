//! The prefix view output check: `viewtest` mode 5 puts its script on the
//! serial port between marker lines twice, through the synthesized
//! `tty_write_prefixed` (run A: straight to the UART, so the kernel's
//! console capture cannot see it) and forced generic (run B, which the
//! kernel test compares byte for byte with its capture). A's bytes must
//! be B's.
//!
//! Also [`REQUIRED_LINES`]: lines programs write through prefix views in
//! other tests (past the capture for the same reason), which the serial
//! port must have carried when their test ran ([`missing_lines`]).
//!
//! Owns [`check`] and its [`Report`], [`REQUIRED_LINES`] and
//! [`missing_lines`].

/// What begins a marker line (then `A` or `B`, then ` begin` or ` end`).
const MARKER: &str = "viewtest: prefix output ";

/// The in-kernel test whose output this checks.
pub const TEST_NAME: &str = "views_prefix_views_prefix_every_line_byte_for_byte";

/// The mux test (`kernel/src/tests/mux.rs`).
const MUX_TEST: &str = "mux_nests_four_levels_holds_weighted_shares_and_returns_everything";

/// `(test, line)`: when `test` ran, the serial port carried `line` (at a
/// line's start). The mux demo's worker three levels down writes with its
/// three prefixes; a worker with a root finds its room.
pub const REQUIRED_LINES: &[(&str, &str)] = &[
    (
        MUX_TEST,
        "\n[inner] [deep] [one] handle 3 (182 bytes), read-only",
    ),
    (MUX_TEST, "\n[viewer] its root is a room of its own"),
];

/// The [`REQUIRED_LINES`] of tests that ran (their `name ...` line is in
/// `log`) that `log` lacks, as messages.
pub fn missing_lines(log: &str) -> Vec<String> {
    REQUIRED_LINES
        .iter()
        .filter(|(test, line)| log.contains(&format!("{test} ...")) && !log.contains(line))
        .map(|(test, line)| {
            format!(
                "{test} ran but the serial port never carried {:?}",
                line.trim_start()
            )
        })
        .collect()
}

/// What a check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Runs found, by label, in log order.
    pub runs: Vec<char>,
    /// Bytes compared.
    pub bytes: usize,
    /// What did not match or could not be found.
    pub problems: Vec<String>,
}

impl Report {
    /// True if nothing went wrong and, when the test ran, both runs were
    /// found and compared.
    pub fn ok(&self, test_ran: bool) -> bool {
        self.problems.is_empty()
            && (!test_ran || (self.runs.contains(&'A') && self.runs.contains(&'B')))
    }
}

/// The bytes between `label`'s begin and end markers, the first pair in
/// `log`.
fn run(log: &str, label: char) -> Result<Option<&str>, String> {
    let begin = format!("{MARKER}{label} begin\r\n");
    let Some(at) = log.find(&begin) else {
        return Ok(None);
    };
    let start = at + begin.len();
    let end = format!("{MARKER}{label} end");
    let len = log[start..]
        .find(&end)
        .ok_or_else(|| format!("run {label}: no end marker"))?;
    Ok(Some(&log[start..start + len]))
}

/// Compares run A's bytes with run B's in `log`.
pub fn check(log: &str) -> Report {
    let mut report = Report::default();
    let mut runs = Vec::new();
    for label in ['A', 'B'] {
        match run(log, label) {
            Ok(Some(bytes)) => {
                report.runs.push(label);
                runs.push(bytes);
            }
            Ok(None) => {}
            Err(problem) => report.problems.push(problem),
        }
    }
    if let [a, b] = runs[..] {
        report.bytes = a.len();
        if a != b {
            report.problems.push(format!(
                "run A (tty_write_prefixed) put {a:?} on the serial port, run B (generic) {b:?}"
            ));
        } else if a.is_empty() {
            report.problems.push("both runs are empty".into());
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(a: &str, b: &str) -> String {
        format!(
            "test ... {MARKER}B begin\r\n{b}{MARKER}B end\r\nnoise\r\n{MARKER}A begin\r\n{a}{MARKER}A end\r\nok\r\n"
        )
    }

    #[test]
    fn equal_runs_pass_and_a_differing_byte_fails() {
        let line = "[a] hello\r\n[a] [x] deep\r\n";
        let report = check(&log(line, line));
        assert!(report.ok(true), "{report:?}");
        assert_eq!(report.runs, vec!['A', 'B']);
        assert_eq!(report.bytes, line.len());
        let report = check(&log("[a] hello\r\n[x] deep\r\n", line));
        assert!(!report.ok(true));
        assert!(!check(&log("", "")).ok(true));
    }

    #[test]
    fn a_required_line_missing_is_reported_only_when_its_test_ran() {
        let ran = format!("test [9/37] kernel::tests::mux::{MUX_TEST} ...\r\n");
        assert_eq!(missing_lines(&ran).len(), REQUIRED_LINES.len());
        let all: String = REQUIRED_LINES
            .iter()
            .map(|(_, l)| format!("{l}\r\n"))
            .collect();
        assert!(missing_lines(&format!("{ran}{all}")).is_empty());
        assert!(missing_lines(&all).is_empty());
        assert!(missing_lines("nothing ran").is_empty());
    }

    #[test]
    fn a_missing_run_fails_only_when_the_test_ran() {
        let only_b = format!("{MARKER}B begin\r\nx\r\n{MARKER}B end\r\n");
        assert!(!check(&only_b).ok(true));
        assert!(check("nothing here").ok(false));
        let unterminated = format!("{MARKER}A begin\r\nx\r\n");
        assert!(!check(&unterminated).ok(false));
    }
}
