//! The reports of a bench run: `results.json` and `results.md`.
//!
//! Owns [`Machine`] (what the figures were measured on), [`Results`] (one
//! [`Row`] per metric and mode, in [`METRICS`] × [`Mode::ALL`] order),
//! their JSON form (keys sorted, numbers rounded to hundredths: two runs
//! with the same figures give the same bytes) and their Markdown form: the
//! table of figures with ratios, the kernel's single-step counts, and the
//! project's targets with met/missed.

use super::linux::LinuxKernel;
use super::parse::Figures;
use super::{Metric, Mode, ModeRun, METRICS};
use crate::accel::Accel;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::process::Command;

/// What the figures were measured on.
pub struct Machine {
    /// Host CPU (`model name` of /proc/cpuinfo).
    pub host_cpu: String,
    /// The guest CPU model QEMU was given (`-cpu`).
    pub guest_cpu: String,
    /// The accelerator.
    pub accel: Accel,
    /// The `-icount` setting, if any.
    pub icount: Option<String>,
    /// `qemu-system-x86_64 --version`, first line.
    pub qemu_version: String,
    /// The Linux guest's `uname -r -v`, as it printed it.
    pub linux_kernel: Option<String>,
    /// Where the Linux image came from (package and version).
    pub linux_source: String,
    /// `git rev-parse HEAD`.
    pub git_commit: String,
    /// Uncommitted changes to tracked files.
    pub git_dirty: Option<bool>,
    /// Smoke mode.
    pub is_smoke: bool,
    /// TSC ticks per millisecond, per mode.
    pub tsc_khz: Vec<(Mode, Option<f64>)>,
}

impl Machine {
    /// Collects the facts.
    pub fn gather(accel: Accel, linux: &LinuxKernel, runs: &[ModeRun], is_smoke: bool) -> Self {
        let args = accel.qemu_args();
        let after = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let linux_kernel = runs.iter().filter(|r| r.mode.is_linux()).find_map(|r| {
            r.output
                .system
                .as_deref()?
                .strip_prefix("linux ")
                .map(str::to_string)
        });
        Machine {
            host_cpu: host_cpu(),
            guest_cpu: after("-cpu").unwrap_or_default(),
            accel,
            icount: after("-icount"),
            qemu_version: command_line(crate::setup::QEMU, &["--version"]),
            linux_kernel,
            linux_source: linux.source.clone(),
            git_commit: command_line("git", &["rev-parse", "HEAD"]),
            git_dirty: git_dirty(),
            is_smoke,
            tsc_khz: runs.iter().map(|r| (r.mode, r.output.tsc_khz)).collect(),
        }
    }

    /// Whether ticks are guest instructions (TCG with icount).
    pub fn counts_instructions(&self) -> bool {
        self.accel == Accel::Tcg && self.icount.is_some()
    }
}

fn host_cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                Some(
                    l.strip_prefix("model name")?
                        .split_once(':')?
                        .1
                        .trim()
                        .to_string(),
                )
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The first line of a command's output, or "unknown".
fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .current_dir(crate::build::root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Read-only: `--no-optional-locks` keeps `git status` from refreshing the
/// index.
fn git_dirty() -> Option<bool> {
    let out = Command::new("git")
        .args([
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .current_dir(crate::build::root())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(!out.stdout.is_empty())
}

/// One metric on one mode.
pub struct Row {
    /// The metric.
    pub metric: &'static Metric,
    /// The column.
    pub mode: Mode,
    /// Its figures, if measured.
    pub figures: Option<Figures>,
    /// Single-step count of one call (Synthesis only).
    pub kernel_instructions: Option<u64>,
    /// TSC ticks per millisecond of that boot.
    pub tsc_khz: Option<f64>,
    /// Why it was not measured, as the program said (`<name> error: …`).
    pub error: Option<String>,
}

/// Everything a run measured.
pub struct Results {
    /// The machine.
    pub machine: Machine,
    /// Metrics × modes, in order.
    pub rows: Vec<Row>,
}

/// Rounds to hundredths (the program's own precision).
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

impl Results {
    /// Collects the rows from the four boots.
    pub fn new(machine: Machine, runs: &[ModeRun]) -> Self {
        let mut rows = Vec::new();
        for metric in METRICS {
            for mode in Mode::ALL {
                let run = runs.iter().find(|r| r.mode == mode);
                let record = run.and_then(|r| r.output.record(metric.name));
                rows.push(Row {
                    metric,
                    mode,
                    figures: record.and_then(|r| r.figures),
                    kernel_instructions: record.and_then(|r| r.kernel_instructions),
                    tsc_khz: run.and_then(|r| r.output.tsc_khz),
                    error: record.and_then(|r| r.error.clone()),
                });
            }
        }
        Results { machine, rows }
    }

    /// The row of `metric` on `mode`.
    pub fn row(&self, metric: &str, mode: Mode) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.metric.name == metric && r.mode == mode)
    }

    /// Median ticks per operation of `metric` on `mode`.
    pub fn ticks(&self, metric: &str, mode: Mode) -> Option<f64> {
        self.row(metric, mode)?.figures.map(|f| f.median)
    }

    /// results.json.
    pub fn to_json(&self) -> String {
        let m = &self.machine;
        let is_emulated = m.accel == Accel::Tcg;
        let tsc: serde_json::Map<String, Value> = m
            .tsc_khz
            .iter()
            .map(|(mode, khz)| (mode.name().to_string(), json!(khz.map(round2))))
            .collect();
        let machine = json!({
            "host_cpu_model": m.host_cpu,
            "guest_cpu_model": m.guest_cpu,
            "accel": m.accel.name(),
            "icount": m.icount,
            "qemu_version": m.qemu_version,
            "linux_kernel": m.linux_kernel,
            "linux_image": m.linux_source,
            "git_commit": m.git_commit,
            "git_dirty": m.git_dirty,
            "smoke": m.is_smoke,
            "tsc_khz": tsc,
            "ns_per_op_is_emulated": is_emulated,
            "units": "cycles_per_op, min and max are TSC ticks per operation; \
                      under TCG with -icount shift=0 a tick is one guest instruction \
                      and ns are emulated time",
        });
        let results: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let f = row.figures;
                let ticks = f.map(|f| round2(f.median));
                let ns = f
                    .zip(row.tsc_khz)
                    .filter(|(_, khz)| *khz > 0.0)
                    .map(|(f, khz)| round2(f.median * 1e6 / khz));
                json!({
                    "name": row.metric.name,
                    "mode": row.mode.name(),
                    "cycles_per_op": ticks,
                    "ns_per_op": ns,
                    "instructions_per_op": if m.counts_instructions() { ticks } else { None },
                    "kernel_instructions": row.kernel_instructions,
                    "iterations": f.map(|f| f.iterations),
                    "reps": f.map(|f| f.reps),
                    "min": f.map(|f| round2(f.min)),
                    "max": f.map(|f| round2(f.max)),
                    "error": row.error,
                })
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&json!({
            "machine": machine,
            "results": results,
        }))
        .unwrap_or_default();
        text.push('\n');
        text
    }

    /// results.md.
    pub fn to_markdown(&self) -> String {
        let m = &self.machine;
        let mut s = String::new();
        let unit = if m.counts_instructions() {
            "TSC ticks per operation = guest instructions per operation (TCG, `-icount shift=0,sleep=off`)"
        } else {
            "TSC ticks (cycles) per operation"
        };
        let _ = writeln!(
            s,
            "# Benchmark results{}\n",
            if m.is_smoke {
                " (smoke run: few iterations, not for comparison)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "Machine: host CPU {}; {}; accelerator `{}`, `-cpu {}`{}, 1 vCPU, {} RAM; Linux {} ({}); commit `{}`{}.\n",
            m.host_cpu,
            m.qemu_version,
            m.accel.name(),
            m.guest_cpu,
            m.icount.as_deref().map(|i| format!(", `-icount {i}`")).unwrap_or_default(),
            crate::qemu::MEMORY,
            m.linux_kernel.as_deref().unwrap_or("?"),
            m.linux_source,
            m.git_commit,
            if m.git_dirty == Some(true) { " (with uncommitted changes)" } else { "" },
        );
        let _ = writeln!(s, "Figures: {unit}; median of the repetitions (min and max in results.json). Ratios: how many times the synthesized figure the other is.\n");
        self.figures_table(&mut s);
        self.kernel_table(&mut s);
        self.targets_table(&mut s);
        super::report_linux_abi::section(self, &mut s);
        s
    }

    fn figures_table(&self, s: &mut String) {
        let _ = writeln!(s, "| metric | synthesized | generic | Synthesis, Linux ABI | linux | linux mitigations=off | generic / synth. | linux / synth. | linux m=off / synth. |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for metric in METRICS {
            let synth = self.ticks(metric.name, Mode::Synthesized);
            let cells: Vec<String> = Mode::ALL
                .iter()
                .map(|&mode| format_ticks(self.ticks(metric.name, mode)))
                .collect();
            let ratio = |mode| format_ratio(self.ticks(metric.name, mode), synth);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                metric.label,
                cells.join(" | "),
                ratio(Mode::Generic),
                ratio(Mode::Linux),
                ratio(Mode::LinuxMitigationsOff)
            );
        }
        s.push('\n');
    }

    fn kernel_table(&self, s: &mut String) {
        let _ = writeln!(s, "Kernel instructions of one call (Synthesis's single-step counter, from `syscall` to the return to user mode; open + close: the sum of the two calls):\n");
        let _ = writeln!(s, "| metric | synthesized | generic |");
        let _ = writeln!(s, "|---|---:|---:|");
        for metric in METRICS {
            let count = |mode| {
                self.row(metric.name, mode)
                    .and_then(|r| r.kernel_instructions)
                    .map_or("n/a".to_string(), |n| n.to_string())
            };
            let (synth, generic) = (count(Mode::Synthesized), count(Mode::Generic));
            let is_counted = [Mode::Synthesized, Mode::Generic].into_iter().any(|mode| {
                self.row(metric.name, mode)
                    .is_some_and(|r| r.kernel_instructions.is_some())
            });
            if is_call_metric(metric.name) || is_counted {
                let _ = writeln!(s, "| {} | {synth} | {generic} |", metric.label);
            }
        }
        s.push('\n');
    }

    fn targets_table(&self, s: &mut String) {
        let what = if self.machine.counts_instructions() {
            "instructions"
        } else {
            "cycles (instruction counts need TCG)"
        };
        let _ = writeln!(
            s,
            "Targets (against Linux with `mitigations=off`, its fastest configuration; {what}):\n"
        );
        let _ = writeln!(
            s,
            "| target | synthesized | linux m=off | linux / synth. | goal | result |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
        for target in TARGETS {
            let synth = match target.goal {
                // Kernel instructions of one call, from the single-step counter.
                Goal::KernelAtMost(_) => self
                    .row(target.metric, Mode::Synthesized)
                    .and_then(|r| r.kernel_instructions)
                    .map(|n| n as f64),
                _ => self
                    .ticks(target.metric, Mode::Synthesized)
                    .map(|t| t * target.ops),
            };
            let linux = self
                .ticks(target.metric, Mode::LinuxMitigationsOff)
                .map(|t| t * target.ops);
            let ratio = synth
                .zip(linux)
                .filter(|(a, _)| *a > 0.0)
                .map(|(a, b)| b / a);
            let is_met = match target.goal {
                Goal::Ratio(min) => ratio.map(|r| r >= min),
                Goal::AtMost(max) | Goal::KernelAtMost(max) => synth.map(|t| t <= max),
            };
            let verdict = match is_met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "no data",
            };
            let goal = match target.goal {
                Goal::Ratio(min) => format!("≥ {min}×"),
                Goal::AtMost(max) => format!("≤ {max}"),
                Goal::KernelAtMost(max) => format!("≤ {max} in the kernel"),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {goal} | {verdict} |",
                target.label,
                format_ticks(synth),
                format_ticks(linux),
                ratio.map_or("–".into(), |r| format!("{r:.1}×")),
            );
        }
        s.push('\n');
    }
}

/// Metrics measured one call at a time (they get a single-step count).
pub fn is_call_metric(name: &str) -> bool {
    name == "null_call" || name.starts_with("read_") || name.starts_with("write_")
}

/// What a target asks of the synthesized figure.
#[derive(Clone, Copy)]
enum Goal {
    /// Linux (mitigations off) over synthesized at least this.
    Ratio(f64),
    /// Synthesized at most this many ticks (instructions under TCG).
    AtMost(f64),
    /// Synthesized at most this many kernel instructions for one call (the
    /// single-step counter; the Linux column is then the whole operation).
    KernelAtMost(f64),
}

/// A goal for `ops` operations of `metric` (a round trip is two one-way
/// switches).
struct Target {
    label: &'static str,
    metric: &'static str,
    ops: f64,
    goal: Goal,
}

const TARGETS: &[Target] = &[
    Target {
        label: "1-byte read of /dev/mem: ≥ 20× fewer instructions",
        metric: "read_mem_1",
        ops: 1.0,
        goal: Goal::Ratio(20.0),
    },
    Target {
        label: "1-byte read of /dev/zero: ≥ 20× fewer instructions",
        metric: "read_zero_1",
        ops: 1.0,
        goal: Goal::Ratio(20.0),
    },
    Target {
        label: "1-byte read of a RAM file: ≥ 20× fewer instructions",
        metric: "read_file_1",
        ops: 1.0,
        goal: Goal::Ratio(20.0),
    },
    Target {
        label: "Program 1: ≥ 10× fewer in total",
        metric: "program1",
        ops: 1.0,
        goal: Goal::Ratio(10.0),
    },
    Target {
        label: "open + close /dev/null incl. synthesis: ≤ 0.5× Linux's",
        metric: "open_close_null",
        ops: 1.0,
        goal: Goal::Ratio(2.0),
    },
    Target {
        label: "open + close /dev/null incl. synthesis: ≤ 2,000 kernel instructions",
        metric: "open_close_null",
        ops: 1.0,
        goal: Goal::KernelAtMost(2000.0),
    },
    Target {
        label: "instantiate + install of one routine: ≤ 200 kernel instructions",
        metric: "open_synthesis_cost",
        ops: 1.0,
        goal: Goal::AtMost(200.0),
    },
    Target {
        label: "yield round trip, 2 SCPUs of 1 SMACH (2 one-way switches): ≤ 200",
        metric: "yield_thread",
        ops: 2.0,
        goal: Goal::AtMost(200.0),
    },
    Target {
        label: "yield round trip, 2 SCPUs of 1 SMACH: ≥ 20× fewer than Linux's threads",
        metric: "yield_thread",
        ops: 2.0,
        goal: Goal::Ratio(20.0),
    },
    Target {
        label: "uncontended P + V: ≤ 40",
        metric: "semaphore_pv",
        ops: 1.0,
        goal: Goal::AtMost(40.0),
    },
    Target {
        label: "1-byte pipe write + read pair, 1 SCPU: ≤ 120",
        metric: "pipe_write_read_1",
        ops: 1.0,
        goal: Goal::AtMost(120.0),
    },
    Target {
        label: "1-byte pipe write: ≤ 60 kernel instructions",
        metric: "pipe_write_read_1",
        ops: 1.0,
        goal: Goal::KernelAtMost(60.0),
    },
    Target {
        label: "pipe ping-pong round trip between 2 SMACHs: ≤ 600",
        metric: "pipe_pingpong",
        ops: 1.0,
        goal: Goal::AtMost(600.0),
    },
];

/// Ticks for a table: hundredths below 100,000, whole numbers with
/// thousands separators from there on.
pub(super) fn format_ticks(ticks: Option<f64>) -> String {
    match ticks {
        None => "n/a".into(),
        Some(t) if t < 100_000.0 => format!("{t:.2}"),
        Some(t) => {
            let digits = format!("{t:.0}");
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            out
        }
    }
}

pub(super) fn format_ratio(value: Option<f64>, base: Option<f64>) -> String {
    match value.zip(base) {
        Some((v, b)) if b > 0.0 => format!("{:.1}×", v / b),
        _ => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_formatted_for_reading() {
        assert_eq!(format_ticks(None), "n/a");
        assert_eq!(format_ticks(Some(5.0)), "5.00");
        assert_eq!(format_ticks(Some(99_999.5)), "99999.50");
        assert_eq!(format_ticks(Some(138_522_761.0)), "138,522,761");
        assert_eq!(format_ticks(Some(100_000.0)), "100,000");
        assert_eq!(format_ratio(Some(300.0), Some(30.0)), "10.0×");
        assert_eq!(format_ratio(Some(300.0), None), "–");
    }

    #[test]
    fn call_metrics_are_the_single_calls() {
        let calls: Vec<&str> = METRICS
            .iter()
            .map(|m| m.name)
            .filter(|n| is_call_metric(n))
            .collect();
        assert_eq!(
            calls,
            [
                "null_call",
                "read_zero_1",
                "read_mem_1",
                "read_file_1",
                "read_file_1000",
                "write_null_1",
                "write_file_1024"
            ]
        );
    }
}
