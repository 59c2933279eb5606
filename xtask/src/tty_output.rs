//! The tty output check (issue 11): the bytes the serial port carried for
//! `synthtest`'s part 8, through the synthesized routines (A) and the
//! generic path (B), compared with each other and with what the line
//! discipline makes of the script.
//!
//! Owns [`check`] and its [`Report`], and [`EchoFilter`], which keeps the
//! runs' bytes (over a megabyte each) out of the echoed console while they
//! stay in the log. The script is regenerated here from the seed and op
//! count in the begin marker (`sk_user_synthtest::tty_script`, the very
//! code the program ran); its expected bytes come from
//! `sk_tty::LineDiscipline::output`, the rule both paths implement.

use sk_tty::{LineDiscipline, Mode};
use sk_user_synthtest::tty_script::{TtyOp, TtyScript};

/// What begins a run's marker line (then `A` or `B`).
const MARKER: &str = "synthtest: tty output ";

/// The in-kernel test whose output this checks.
pub const TEST_NAME: &str = "tty_output_matches_the_generic_path";

pub use sk_user_synthtest::tty_script::RUNS;

/// What a check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Runs compared, by label (`A`..`D`), in log order.
    pub runs: Vec<char>,
    /// Bytes of the last run compared.
    pub bytes: usize,
    /// What did not match or could not be found.
    pub problems: Vec<String>,
}

impl Report {
    /// True if nothing went wrong and, when the test ran, every run of
    /// [`RUNS`] was compared.
    pub fn ok(&self, test_ran: bool) -> bool {
        self.problems.is_empty()
            && (!test_ran || RUNS.iter().all(|(label, _)| self.runs.contains(label)))
    }
}

/// One run's marker and bytes.
struct Run<'a> {
    label: char,
    seed: u64,
    ops: u64,
    bytes: &'a [u8],
}

/// Finds the next run at or after `from`; returns it and where its end
/// marker ends.
fn find_run(log: &str, from: usize) -> Result<Option<(Run<'_>, usize)>, String> {
    let Some(at) = log.get(from..).and_then(|rest| rest.find(MARKER)) else {
        return Ok(None);
    };
    let label_at = from + at + MARKER.len();
    let rest = &log[label_at..];
    let mut chars = rest.chars();
    let label = chars.next().unwrap_or('?');
    let Some(header) = chars.as_str().strip_prefix(" begin seed=") else {
        return Err(format!(
            "unexpected marker {:?}",
            rest.lines().next().unwrap_or("")
        ));
    };
    let header_start = log.len() - header.len();
    let header_len = header
        .find('\n')
        .ok_or_else(|| format!("run {label}: begin marker without an end of line"))?;
    let header = header[..header_len].trim_end();
    let (seed, ops) = header
        .split_once(" ops=")
        .ok_or_else(|| format!("run {label}: unreadable begin marker {header:?}"))?;
    let seed = u64::from_str_radix(seed.trim_start_matches("0x"), 16)
        .map_err(|e| format!("run {label}: seed {seed:?}: {e}"))?;
    let ops = ops
        .parse()
        .map_err(|e| format!("run {label}: op count {ops:?}: {e}"))?;
    let start = header_start + header_len + 1;
    let end_marker = format!("\r\n{MARKER}{label} end");
    let len = log[start..]
        .find(&end_marker)
        .ok_or_else(|| format!("run {label}: no end marker"))?;
    let bytes = &log.as_bytes()[start..start + len];
    let run = Run {
        label,
        seed,
        ops,
        bytes,
    };
    Ok(Some((run, start + len + end_marker.len())))
}

/// What the serial port must carry for `ops` steps of `seed`'s script,
/// starting in cooked mode.
pub fn expected(seed: u64, ops: u64) -> Vec<u8> {
    let mut line = LineDiscipline::with_mode(Mode::Cooked, true);
    let mut script = TtyScript::new(seed);
    let mut out = Vec::new();
    for _ in 0..ops {
        let op = script.next_op();
        if let TtyOp::Mode { raw } = op {
            line.set_mode(if raw { Mode::Raw } else { Mode::Cooked });
        }
        op.sent(&mut |bytes| line.output(bytes, &mut |wire| out.extend_from_slice(wire)));
    }
    out
}

/// Describes the first difference between `got` and `want`.
fn difference(got: &[u8], want: &[u8]) -> Option<String> {
    if got == want {
        return None;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    let show = |bytes: &[u8]| {
        let from = at.saturating_sub(8);
        let to = (at + 8).min(bytes.len());
        format!(
            "{:?}",
            String::from_utf8_lossy(bytes.get(from..to).unwrap_or_default())
        )
    };
    Some(format!(
        "first difference at byte {at} of {} (expected {}): got {} where {} was due",
        got.len(),
        want.len(),
        show(got),
        show(want)
    ))
}

/// Checks every run in `log` against the line discipline's output of its
/// script (so the runs also match each other).
pub fn check(log: &str) -> Report {
    let mut report = Report::default();
    let mut from = 0;
    let mut last: Option<(u64, u64, Vec<u8>)> = None;
    loop {
        let (run, after) = match find_run(log, from) {
            Ok(Some(found)) => found,
            Ok(None) => break,
            Err(problem) => {
                report.problems.push(problem);
                break;
            }
        };
        from = after;
        let name = RUNS
            .iter()
            .find(|(label, _)| *label == run.label)
            .map_or("an unknown run", |(_, name)| name);
        let want = match last.take() {
            Some((seed, ops, want)) if (seed, ops) == (run.seed, run.ops) => want,
            _ => expected(run.seed, run.ops),
        };
        if let Some(problem) = difference(run.bytes, &want) {
            report
                .problems
                .push(format!("run {} ({name}): {problem}", run.label));
        }
        report.runs.push(run.label);
        report.bytes = want.len();
        last = Some((run.seed, run.ops, want));
    }
    report
}

/// Keeps the runs' bytes out of the echoed console: prints the begin and
/// end markers, hides what lies between.
#[derive(Debug, Default)]
pub struct EchoFilter {
    hiding: bool,
}

impl EchoFilter {
    /// The part of `line` to echo.
    pub fn filter<'a>(&mut self, line: &'a str) -> Option<&'a str> {
        if self.hiding {
            let at = line
                .find(MARKER)
                .filter(|&at| line[at..].contains(" end"))?;
            self.hiding = false;
            return Some(&line[at..]);
        }
        if line.contains(MARKER) && line.contains(" begin seed=") {
            self.hiding = true;
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A console log of one test run whose paths wrote `a` and `b`.
    fn log_of(seed: u64, ops: u64, a: &[u8], b: &[u8]) -> String {
        let mut log =
            String::from("test [3/9] tests::programs::tty_output_matches_the_generic_path ... ");
        for (label, bytes) in [('A', a), ('B', b), ('C', a), ('D', b)] {
            log.push_str(&format!(
                "{MARKER}{label} begin seed={seed:#x} ops={ops}\r\n"
            ));
            log.push_str(std::str::from_utf8(bytes).unwrap());
            log.push_str(&format!("\r\n{MARKER}{label} end\r\n"));
        }
        log + "synthtest: 1 passed, 0 failed\r\nok\n"
    }

    #[test]
    fn matching_runs_pass_and_the_script_makes_output() {
        let want = expected(0x5717e5, 2000);
        assert!(want.len() > 2000, "the script writes: {} bytes", want.len());
        assert!(want.windows(2).any(|w| w == b"\r\n"), "cooked newlines");
        let report = check(&log_of(0x5717e5, 2000, &want, &want));
        assert_eq!(report.problems, Vec::<String>::new());
        assert_eq!(report.runs, vec!['A', 'B', 'C', 'D']);
        assert!(report.ok(true));
    }

    #[test]
    fn one_changed_dropped_or_extra_byte_fails() {
        let want = expected(7, 500);
        let mut changed = want.clone();
        changed[want.len() / 2] ^= 1;
        let mut dropped = want.clone();
        dropped.remove(10);
        let mut extra = want.clone();
        extra.push(b'x');
        for bad in [changed, dropped, extra] {
            let report = check(&log_of(7, 500, &bad, &want));
            assert!(!report.ok(true));
            assert!(
                report.problems[0].starts_with("run A"),
                "{:?}",
                report.problems
            );
            // Wrong on B only: caught too.
            let report = check(&log_of(7, 500, &want, &bad));
            assert!(
                report.problems[0].starts_with("run B"),
                "{:?}",
                report.problems
            );
        }
    }

    #[test]
    fn both_paths_wrong_alike_still_fails() {
        // Raw-mode output everywhere (no "\r" before "\n"): A and B agree
        // with each other but not with the line discipline.
        let want = expected(11, 300);
        let raw: Vec<u8> = want.iter().copied().filter(|&b| b != b'\r').collect();
        assert!(!check(&log_of(11, 300, &raw, &raw)).ok(true));
    }

    #[test]
    fn missing_runs_fail_only_when_the_test_ran() {
        let want = expected(3, 100);
        let full = log_of(3, 100, &want, &want);
        let without_d = &full[..full.find(&format!("{MARKER}D begin")).unwrap()];
        assert!(!check(without_d).ok(true), "a run missing");
        let without_end = full.replacen(&format!("{MARKER}A end"), "gone", 1);
        assert!(!check(&without_end).ok(true));
        let nothing = check("boot noise\n");
        assert!(!nothing.ok(true), "the test ran but printed no runs");
        assert!(nothing.ok(false), "the test did not run");
    }

    #[test]
    fn the_echo_hides_only_what_lies_between_markers() {
        let want = expected(5, 200);
        let log = log_of(5, 200, &want, &want);
        let mut filter = EchoFilter::default();
        let mut shown = String::new();
        let mut line = Vec::new();
        for byte in log.bytes() {
            line.push(byte);
            if byte == b'\n' {
                let text = String::from_utf8(std::mem::take(&mut line)).unwrap();
                shown.push_str(filter.filter(&text).unwrap_or(""));
            }
        }
        assert!(shown.contains("A begin") && shown.contains("A end"));
        assert!(shown.contains("B begin") && shown.contains("B end"));
        assert!(shown.contains("synthtest: 1 passed"));
        assert!(shown.len() < 600, "{} bytes shown: {shown:?}", shown.len());
    }
}
