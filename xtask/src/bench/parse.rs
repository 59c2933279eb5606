//! Reading the bench program's console lines (format: user/bench/src/main.rs).
//!
//! Owns [`parse`] (a whole console log into a [`ModeOutput`]) and
//! [`progress`] (one line into the xtask's progress line). Lines may carry
//! `\r` and kernel output around them; only the text from `bench: ` on
//! counts. The Synthesis kernel's boot line `tsc: <f> MHz` gives its TSC
//! rate; the Linux program prints `bench: tsc_khz=<n>` itself.

use super::Mode;

/// The timing figures of one metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Median TSC ticks per operation.
    pub median: f64,
    /// Fastest repetition.
    pub min: f64,
    /// Slowest repetition.
    pub max: f64,
    /// Operations per repetition.
    pub iterations: u64,
    /// Repetitions.
    pub reps: u64,
}

/// What one boot said about one metric.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Metric name.
    pub name: String,
    /// Its figures; `None` if the system printed `n/a`.
    pub figures: Option<Figures>,
    /// The kernel's single-step count of one call, if printed as a number.
    pub kernel_instructions: Option<u64>,
    /// The program printed `<name> n/a`.
    pub is_not_available: bool,
    /// The program printed `<name> error: …`.
    pub error: Option<String>,
}

/// Everything parsed from one boot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModeOutput {
    /// Per metric, in the order first seen.
    pub records: Vec<Record>,
    /// TSC ticks per millisecond, if the system said.
    pub tsc_khz: Option<f64>,
    /// `bench: system <text>`: the system and (Linux) its release.
    pub system: Option<String>,
    /// `bench: done failures=<n>`.
    pub failures: Option<u64>,
}

impl ModeOutput {
    /// The record of `name`.
    pub fn record(&self, name: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.name == name)
    }

    fn record_mut(&mut self, name: &str) -> &mut Record {
        let index = match self.records.iter().position(|r| r.name == name) {
            Some(index) => index,
            None => {
                self.records.push(Record {
                    name: name.to_string(),
                    ..Record::default()
                });
                self.records.len() - 1
            }
        };
        &mut self.records[index]
    }
}

/// The text after `bench: `, trimmed.
fn bench_text(line: &str) -> Option<&str> {
    let at = line.find("bench: ")?;
    Some(line[at + "bench: ".len()..].trim())
}

/// `key=value` pairs of `text`.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split_ascii_whitespace()
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
}

/// Parses a whole console log.
pub fn parse(console: &str) -> ModeOutput {
    let mut out = ModeOutput::default();
    for line in console.lines() {
        if let Some(mhz) = line
            .trim()
            .strip_prefix("tsc: ")
            .and_then(|rest| rest.split_ascii_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
        {
            out.tsc_khz.get_or_insert(mhz * 1000.0);
        }
        let Some(text) = bench_text(line) else {
            continue;
        };
        let (head, rest) = text.split_once(' ').unwrap_or((text, ""));
        let rest = rest.trim();
        if let Some(khz) = head.strip_prefix("tsc_khz=") {
            out.tsc_khz = khz.parse().ok();
            continue;
        }
        match head {
            "start" => continue,
            "system" => {
                out.system = Some(rest.to_string());
                continue;
            }
            "done" => {
                out.failures = field(rest, "failures").and_then(|v| v.parse().ok());
                continue;
            }
            _ => {}
        }
        if head.is_empty() || !head.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        if let Some(error) = rest.strip_prefix("error:") {
            out.record_mut(head).error = Some(error.trim().to_string());
        } else if rest == "n/a" {
            out.record_mut(head).is_not_available = true;
        } else if let Some(value) = field(rest, "kernel_instructions") {
            out.record_mut(head).kernel_instructions = value.parse().ok();
        } else if let Some(figures) = figures(rest) {
            out.record_mut(head).figures = Some(figures);
        }
    }
    out
}

fn figures(rest: &str) -> Option<Figures> {
    let number = |key| field(rest, key).and_then(|v| v.parse::<f64>().ok());
    let integer = |key| field(rest, key).and_then(|v| v.parse::<u64>().ok());
    Some(Figures {
        median: number("ticks_per_op")?,
        min: number("min")?,
        max: number("max")?,
        iterations: integer("iterations")?,
        reps: integer("reps")?,
    })
}

/// The progress line for one console line: `bench: <metric> <mode> …` for
/// figures and counts, `None` for anything else.
pub fn progress(mode: Mode, line: &str) -> Option<String> {
    let text = bench_text(line)?;
    let (head, rest) = text.split_once(' ')?;
    if matches!(head, "start" | "system") {
        return None;
    }
    if let Some(f) = figures(rest) {
        return Some(format!(
            "bench: {head} {} {:.2} ticks/op (min {:.2}, max {:.2}; {} x {})",
            mode.name(),
            f.median,
            f.min,
            f.max,
            f.iterations,
            f.reps
        ));
    }
    if rest.starts_with("kernel_instructions=") || rest == "n/a" || rest.starts_with("error:") {
        return Some(format!("bench: {head} {} {rest}", mode.name()));
    }
    if head == "done" {
        return Some(format!("bench: {} done, {rest}", mode.name()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
tsc: 1000.000 MHz (source: PitCalibration)\r
bench: start system=synthesis smoke=1\r
bench: system synthesis\r
bench: null_call ticks_per_op=31.05 min=31.00 max=40.10 iterations=200 reps=3\r
bench: null_call kernel_instructions=17\r
bench: read_mem_1 ticks_per_op=45.00 min=45.00 max=45.00 iterations=200 reps=3\r
bench: read_mem_1 kernel_instructions=n/a\r
bench: open_synthesis_cost n/a\r
bench: write_null_1 error: open: bad handle\r
bench: compute_loop instructions_per_iteration=5\r
bench: done failures=1\r
";

    #[test]
    fn parses_figures_counts_and_markers() {
        let out = parse(SAMPLE);
        assert_eq!(out.tsc_khz, Some(1_000_000.0));
        assert_eq!(out.system.as_deref(), Some("synthesis"));
        assert_eq!(out.failures, Some(1));
        let null = out.record("null_call").expect("null_call");
        assert_eq!(
            null.figures,
            Some(Figures {
                median: 31.05,
                min: 31.0,
                max: 40.1,
                iterations: 200,
                reps: 3
            })
        );
        assert_eq!(null.kernel_instructions, Some(17));
        let mem = out.record("read_mem_1").expect("read_mem_1");
        assert_eq!(mem.kernel_instructions, None);
        assert!(
            out.record("open_synthesis_cost")
                .expect("cost")
                .is_not_available
        );
        assert_eq!(
            out.record("write_null_1").and_then(|r| r.error.as_deref()),
            Some("open: bad handle")
        );
        // Other `key=value` lines make no record.
        assert_eq!(out.record("compute_loop").and_then(|r| r.figures), None);
    }

    #[test]
    fn linux_tsc_line_wins_and_noise_is_ignored() {
        let out = parse("[ 1.0] bench: tsc_khz=2400000\nbench: oops!\nrandom text\n");
        assert_eq!(out.tsc_khz, Some(2_400_000.0));
        assert!(out.records.is_empty());
    }

    #[test]
    fn progress_lines_name_metric_and_mode() {
        let line =
            "bench: null_call ticks_per_op=31.05 min=31.00 max=40.10 iterations=200 reps=3\r\n";
        assert_eq!(
            progress(Mode::Generic, line).as_deref(),
            Some("bench: null_call generic 31.05 ticks/op (min 31.00, max 40.10; 200 x 3)")
        );
        assert_eq!(progress(Mode::Linux, "bench: system linux 6.1\n"), None);
        assert_eq!(progress(Mode::Linux, "hello\n"), None);
    }
}
