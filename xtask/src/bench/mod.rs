//! `cargo xtask bench [--smoke] [--accel kvm|tcg]`: the benchmark suite on
//! Synthesis and on Linux, under the same QEMU configuration.
//!
//! Owns the run: build the kernel (release) and the initrd (with
//! `/bin/bench`, `user/bench`'s native build), fetch Debian's Linux kernel
//! and pack the Linux build of the same program as `/init` ([`linux`]),
//! then boot five times with the same QEMU flags ([`crate::qemu::Boot`]):
//!
//! | mode | kernel | command line |
//! |---|---|---|
//! | `synthesized` | Synthesis | `bench` |
//! | `generic` | Synthesis | `bench synth=off` |
//! | `synthesis-linux-abi` | Synthesis | `bench bench.linux`: the Linux build (`/bin/bench-linux` in the initrd, the binary the Linux guest runs) as an unmodified Linux program |
//! | `linux` | Debian `linux-image-amd64` | `console=ttyS0 quiet panic=-1` |
//! | `linux-mitigations-off` | the same | `… mitigations=off` |
//!
//! Smoke mode adds `bench.smoke` to every command line. Each console line
//! `bench: <metric> ticks_per_op=…` is printed as a progress line as it
//! arrives; the outputs are parsed ([`parse`]) into
//! `target/bench/results.json`, `results.md` ([`report`]) and `chart.svg`
//! ([`chart`]); each boot's console goes to `target/bench/<mode>.log`.
//! Smoke runs write to `target/bench/smoke/` instead, so a test run never
//! overwrites real results.
//!
//! What the Synthesis kernel must do with `bench`: spawn `/bin/bench` from
//! the initrd with start argument 1 if `bench.smoke` is on the command line
//! (else 0), wait for it, and exit QEMU with success if it exited 0; with
//! `synth=off`, serve every call through the generic path; with
//! `bench.linux`, spawn `/bin/bench-linux` with the Linux personality
//! (argument `bench.smoke` in smoke mode). That column may lack metrics
//! whose Linux calls Synthesis does not have yet: the program reports each
//! as an error, the report says `n/a` and why.

mod break_even;
mod chart;
pub mod linux;
mod music;
mod parse;
mod report;
mod report_linux_abi;

use crate::accel::{self, Accel};
use crate::build;
use crate::qemu::{Boot, Status};
use parse::ModeOutput;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The five columns of the results, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Synthesis with code synthesis on.
    Synthesized,
    /// Synthesis with `synth=off`: every call on the generic path.
    Generic,
    /// Synthesis (synthesis on) running the Linux build of the program
    /// through the Linux personality.
    SynthesisLinuxAbi,
    /// Linux, default mitigations.
    Linux,
    /// Linux with `mitigations=off`.
    LinuxMitigationsOff,
}

impl Mode {
    /// All modes, in column order.
    pub const ALL: [Mode; 5] = [
        Mode::Synthesized,
        Mode::Generic,
        Mode::SynthesisLinuxAbi,
        Mode::Linux,
        Mode::LinuxMitigationsOff,
    ];

    /// The name in results.json.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Synthesized => "synthesized",
            Mode::Generic => "generic",
            Mode::SynthesisLinuxAbi => "synthesis-linux-abi",
            Mode::Linux => "linux",
            Mode::LinuxMitigationsOff => "linux-mitigations-off",
        }
    }

    /// Whether the mode boots Linux.
    pub fn is_linux(self) -> bool {
        matches!(self, Mode::Linux | Mode::LinuxMitigationsOff)
    }

    /// The kernel command line.
    fn cmdline(self, is_smoke: bool) -> String {
        let mut words = match self {
            Mode::Synthesized => vec!["bench"],
            Mode::Generic => vec!["bench", "synth=off"],
            Mode::SynthesisLinuxAbi => vec!["bench", "bench.linux"],
            Mode::Linux => vec!["console=ttyS0", "quiet", "panic=-1"],
            Mode::LinuxMitigationsOff => {
                vec!["console=ttyS0", "quiet", "panic=-1", "mitigations=off"]
            }
        };
        if is_smoke {
            words.push("bench.smoke");
        }
        words.join(" ")
    }
}

/// The suite's metrics: one catalogue, shared with the bench program.
pub use sk_user_bench::{Metric, METRICS};

/// Wall-clock guard per boot.
fn timeout_secs(is_smoke: bool) -> u64 {
    if is_smoke {
        600
    } else {
        3600
    }
}

/// One boot's result.
pub struct ModeRun {
    /// Which column.
    pub mode: Mode,
    /// What its console said.
    pub output: ModeOutput,
    /// How QEMU ended.
    pub status: Status,
}

impl ModeRun {
    /// The program finished with no failed metric, every metric that is
    /// not optional has figures, and the boot ended as it should
    /// (Synthesis: success status; Linux: power-off, QEMU status 0). The
    /// Linux-ABI column may lack metrics whose calls Synthesis's Linux
    /// personality does not have yet: it is complete when the program got
    /// to its end and every metric has figures or the error that stopped
    /// it (the report's `n/a: …`).
    pub fn is_complete(&self) -> bool {
        if self.mode == Mode::SynthesisLinuxAbi {
            return self.output.failures.is_some()
                && METRICS.iter().all(|m| {
                    self.output
                        .record(m.name)
                        .is_some_and(|r| r.figures.is_some() || r.error.is_some())
                        || m.is_optional
                });
        }
        let ended_well = if self.mode.is_linux() {
            matches!(self.status, Status::TripleFault | Status::Success)
        } else {
            self.status.is_success()
        };
        ended_well && self.output.failures == Some(0) && self.missing_metrics().is_empty()
    }

    /// Metrics that must have figures but have none.
    pub fn missing_metrics(&self) -> Vec<&'static str> {
        METRICS
            .iter()
            .filter(|m| !m.is_optional)
            .filter(|m| self.output.record(m.name).and_then(|r| r.figures).is_none())
            .map(|m| m.name)
            .collect()
    }
}

/// Runs the whole suite; see the module docs.
pub fn run(requested: Option<Accel>, is_smoke: bool) -> Result<ExitCode, String> {
    crate::setup::ensure_all()?;
    let out_dir = if is_smoke {
        build::root().join("target/bench/smoke")
    } else {
        build::root().join("target/bench")
    };
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("creating {}: {e}", out_dir.display()))?;

    println!("xtask: building the kernel (release) and the initrd");
    let kernel = build::kernel(build::Profile::Release, &[])?;
    let linux_program = linux::program()?;
    let initrd = build::initrd_with(&[("bin/bench-linux", linux_program.clone())])?;
    println!("xtask: preparing the Linux guest");
    let linux_kernel = linux::kernel()?;
    let linux_initramfs = linux::initramfs(&out_dir, &linux_program)?;
    let accel = accel::choose(requested, &kernel);

    let mut runs = Vec::new();
    for mode in Mode::ALL {
        let (image, initrd) = if mode.is_linux() {
            (linux_kernel.image.as_path(), linux_initramfs.as_path())
        } else {
            (kernel.as_path(), initrd.as_path())
        };
        runs.push(boot(mode, image, initrd, accel, is_smoke, &out_dir)?);
    }

    let machine = report::Machine::gather(accel, &linux_kernel, &runs, is_smoke);
    let results = report::Results::new(machine, &runs);
    let json = out_dir.join("results.json");
    let md = out_dir.join("results.md");
    let svg = out_dir.join("chart.svg");
    // Lazy synthesis's break-even table, from the synthesized boot's log.
    let lazy_log =
        std::fs::read_to_string(log_path(&out_dir, Mode::Synthesized)).unwrap_or_default();
    let lazy_rows = break_even::parse(&lazy_log);
    let mut json_text = results.to_json();
    if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&json_text) {
        value["break_even"] = break_even::json(&lazy_rows);
        json_text = serde_json::to_string_pretty(&value).unwrap_or(json_text);
    }
    write(&json, &json_text)?;
    write(
        &md,
        &(results.to_markdown() + &break_even::markdown(&lazy_rows)),
    )?;
    chart::write_svg(&svg, &results)?;
    println!(
        "xtask: wrote {}, {} and {}",
        json.display(),
        md.display(),
        svg.display()
    );

    if !is_smoke {
        music::run(&kernel, &initrd, accel, &out_dir)?;
    }

    let incomplete: Vec<&ModeRun> = runs.iter().filter(|r| !r.is_complete()).collect();
    for run in &incomplete {
        let missing = run.missing_metrics();
        println!(
            "xtask: bench {} incomplete: {}; {}; {} (console in {}.log)",
            run.mode.name(),
            describe(run.mode, run.status),
            match run.output.failures {
                Some(0) => "the program reported no failure".to_string(),
                Some(n) => format!("{n} metrics failed"),
                None => "no `bench: done` line".to_string(),
            },
            if missing.is_empty() {
                "every metric measured".to_string()
            } else {
                format!("missing: {}", missing.join(", "))
            },
            run.mode.name()
        );
    }
    Ok(if incomplete.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Boots one mode, printing a progress line per metric as it arrives.
fn boot(
    mode: Mode,
    image: &Path,
    initrd: &Path,
    accel: Accel,
    is_smoke: bool,
    out_dir: &Path,
) -> Result<ModeRun, String> {
    let cmdline = mode.cmdline(is_smoke);
    println!("xtask: bench {}: booting with {cmdline:?}", mode.name());
    let outcome = Boot::new(image, accel, &cmdline)
        .initrd(initrd)
        .timeout_secs(timeout_secs(is_smoke))
        .run_streaming(|line| {
            if let Some(progress) = parse::progress(mode, line) {
                println!("{progress}");
            }
        })?;
    let log = log_path(out_dir, mode);
    write(&log, &outcome.output)?;
    let output = parse::parse(&outcome.output);
    println!(
        "xtask: bench {}: {} ({} metrics)",
        mode.name(),
        describe(mode, outcome.status),
        output.records.len()
    );
    Ok(ModeRun {
        mode,
        output,
        status: outcome.status,
    })
}

/// How a boot ended, in words that fit the system: Linux's `/init`
/// powers off, which QEMU reports as status 0.
fn describe(mode: Mode, status: Status) -> String {
    if mode.is_linux() && status == Status::TripleFault {
        "Linux powered off (QEMU status 0)".into()
    } else {
        status.describe()
    }
}

fn log_path(out_dir: &Path, mode: Mode) -> PathBuf {
    out_dir.join(format!("{}.log", mode.name()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}
