//! `cargo xtask profile`: where each traced benchmark call spends its
//! kernel instructions, function by function, synthesized and generic.
//!
//! Owns [`run`]: boots the release kernel's bench (smoke sizes) twice, with
//! synthesis on and with `synth=off`, both with `trace.rips`, so every
//! single-stepped call also prints the address of each kernel instruction
//! it ran (`trace-rips <count> <hex>,...`, just before the bench's
//! `bench: <metric> kernel_instructions=<count>` line); names each address
//! with the kernel's symbols (`nm -n`; an address outside the kernel image
//! is generated code); and writes `target/bench/profile.md`: per metric,
//! the instructions per function on both paths. Also owns the pure parts,
//! [`Symbols`] and [`traces`], tested here.

use crate::accel::{self, Accel};
use crate::build;
use crate::qemu::Boot;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode};

/// Where the kernel image is linked: addresses below are generated code.
const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// Label of instructions outside the kernel image.
const GENERATED: &str = "[synthesized code: stub, routine, trampoline]";

/// Functions shown per metric; the rest are summed as "other".
const SHOWN: usize = 25;

/// The kernel's function symbols, sorted by address.
pub struct Symbols {
    starts: Vec<(u64, String)>,
}

impl Symbols {
    /// Parses `nm -n -C` output (text symbols only).
    pub fn from_nm(text: &str) -> Self {
        let mut starts: Vec<(u64, String)> = text
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ' ');
                let address = u64::from_str_radix(parts.next()?, 16).ok()?;
                let kind = parts.next()?;
                let name = parts.next()?;
                matches!(kind, "t" | "T" | "W" | "w").then(|| (address, short_name(name)))
            })
            .collect();
        starts.sort_by_key(|(address, _)| *address);
        Self { starts }
    }

    /// The function containing `rip`.
    pub fn name(&self, rip: u64) -> &str {
        if rip < KERNEL_BASE {
            return GENERATED;
        }
        match self.starts.partition_point(|(start, _)| *start <= rip) {
            0 => "[unknown]",
            at => &self.starts[at - 1].1,
        }
    }
}

/// A demangled name without its hash suffix (`::h0123456789abcdef`).
fn short_name(name: &str) -> String {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            head.to_string()
        }
        _ => name.to_string(),
    }
}

/// One traced call: its metric, its count and its instruction addresses.
#[derive(Debug, PartialEq, Eq)]
pub struct Trace {
    /// The bench metric it measured.
    pub metric: String,
    /// Kernel instructions counted.
    pub count: u64,
    /// Their addresses (the first 8,192 of a longer call).
    pub rips: Vec<u64>,
}

/// The traces in a bench log: the `trace-rips` lines since the previous
/// `bench:` line with the metric of the `kernel_instructions` line after
/// them (several when the metric sums traced calls: open + close).
pub fn traces(log: &str) -> Vec<Trace> {
    let mut out = Vec::new();
    let mut pending: Option<(u64, Vec<u64>)> = None;
    for line in log.lines() {
        let line = line.trim_end();
        if let Some(at) = line.find("trace-rips ") {
            let rest = &line[at + "trace-rips ".len()..];
            let (count, list) = rest.split_once(' ').unwrap_or((rest, ""));
            let rips = list
                .split(',')
                .filter_map(|hex| u64::from_str_radix(hex, 16).ok());
            if let Ok(count) = count.parse::<u64>() {
                let (total, all) = pending.get_or_insert_with(|| (0, Vec::new()));
                *total += count;
                all.extend(rips);
            }
        } else if let Some(rest) = line.strip_prefix("bench: ") {
            let pending = pending.take();
            if let Some((metric, value)) = rest.split_once(" kernel_instructions=") {
                if let Some((count, rips)) = pending {
                    if value.parse() == Ok(count) {
                        out.push(Trace {
                            metric: metric.to_string(),
                            count,
                            rips,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Instructions per function of one trace.
fn by_function<'a>(trace: &Trace, symbols: &'a Symbols) -> BTreeMap<&'a str, u64> {
    let mut counts = BTreeMap::new();
    for &rip in &trace.rips {
        *counts.entry(symbols.name(rip)).or_insert(0) += 1;
    }
    counts
}

/// The report: per metric, functions by instructions on both paths.
pub fn report(synthesized: &[Trace], generic: &[Trace], symbols: &Symbols) -> String {
    let mut md = String::from(
        "# Kernel instructions per function, per traced call\n\n\
         From `cargo xtask profile`: the bench's traced calls (smoke sizes) on the release \
         kernel, synthesized and with `synth=off`, each single-stepped with `trace.rips`. \
         Instructions outside the kernel image are generated code (entry stub, routines, \
         trampolines). Functions Rust inlined count under their caller.\n",
    );
    let mut metrics: Vec<&str> = synthesized.iter().map(|t| t.metric.as_str()).collect();
    for trace in generic {
        if !metrics.contains(&trace.metric.as_str()) {
            metrics.push(&trace.metric);
        }
    }
    for metric in metrics {
        let find = |traces: &[Trace]| {
            traces
                .iter()
                .find(|t| t.metric == metric)
                .map(|t| (t.count, by_function(t, symbols)))
        };
        let synth = find(synthesized);
        let gen = find(generic);
        let total = |side: &Option<(u64, BTreeMap<&str, u64>)>| {
            side.as_ref()
                .map_or("–".to_string(), |(count, _)| count.to_string())
        };
        let _ = write!(
            md,
            "\n## {metric}: {} synthesized, {} generic\n\n| function | synthesized | generic |\n|---|---:|---:|\n",
            total(&synth),
            total(&gen)
        );
        let mut rows: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (side, counts) in [(0, &synth), (1, &gen)] {
            for (name, n) in counts.iter().flat_map(|(_, c)| c.iter()) {
                let row = rows.entry(name).or_default();
                if side == 0 {
                    row.0 += n;
                } else {
                    row.1 += n;
                }
            }
        }
        let mut rows: Vec<(&str, (u64, u64))> = rows.into_iter().collect();
        rows.sort_by_key(|(name, (s, g))| (std::cmp::Reverse(g.max(s).to_owned()), *name));
        let (shown, rest) = rows.split_at(rows.len().min(SHOWN));
        for (name, (s, g)) in shown {
            let _ = writeln!(md, "| `{name}` | {s} | {g} |");
        }
        if !rest.is_empty() {
            let (s, g) = rest
                .iter()
                .fold((0, 0), |(a, b), (_, (s, g))| (a + s, b + g));
            let _ = writeln!(md, "| {} other functions | {s} | {g} |", rest.len());
        }
    }
    md
}

/// Boots one mode of the bench with `trace.rips`; returns its console.
fn boot(kernel: &Path, initrd: &Path, accel: Accel, extra: &str) -> Result<String, String> {
    let cmdline = format!("bench bench.smoke trace.rips {extra}");
    println!("xtask: profile: booting with {:?}", cmdline.trim());
    let outcome = Boot::new(kernel, accel, cmdline.trim())
        .initrd(initrd)
        .timeout_secs(1200)
        .run()?;
    if !outcome.status.is_success() {
        // Its console is kept for a look at what went wrong. A failed
        // bench metric does not spoil the others' traces: they are still
        // reported, with a warning.
        let path = build::root().join("target/bench/profile-failed.log");
        let _ = std::fs::write(&path, &outcome.output);
        let what = format!(
            "the bench boot ended badly: {} (console in {})",
            outcome.status.describe(),
            path.display()
        );
        if traces(&outcome.output).is_empty() {
            return Err(what);
        }
        println!("xtask: profile: warning: {what}; reporting the traces it printed");
    }
    Ok(outcome.output)
}

/// `cargo xtask profile`.
pub fn run(requested: Option<Accel>) -> Result<ExitCode, String> {
    crate::setup::ensure_all()?;
    let kernel = build::kernel(build::Profile::Release, &[])?;
    let initrd = build::initrd()?;
    let accel = accel::choose(requested, &kernel);
    let nm = Command::new("nm")
        .args(["-n", "-C"])
        .arg(&kernel)
        .output()
        .map_err(|e| format!("running nm (binutils): {e}"))?;
    let symbols = Symbols::from_nm(&String::from_utf8_lossy(&nm.stdout));
    let out_dir = build::root().join("target/bench");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    // The boots' consoles are kept beside the report (every address of
    // every traced call, for a closer look than the report's top rows).
    let mut logs = Vec::new();
    for (mode, extra) in [("synthesized", ""), ("generic", "synth=off")] {
        let log = boot(&kernel, &initrd, accel, extra)?;
        let path = out_dir.join(format!("profile-{mode}.log"));
        std::fs::write(&path, &log).map_err(|e| format!("writing {}: {e}", path.display()))?;
        logs.push(traces(&log));
    }
    let generic = logs.pop().unwrap_or_default();
    let synthesized = logs.pop().unwrap_or_default();
    if synthesized.is_empty() || generic.is_empty() {
        return Err("no traced call printed its instructions (trace-rips lines)".into());
    }
    let path = out_dir.join("profile.md");
    std::fs::write(&path, report(&synthesized, &generic, &symbols))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!(
        "xtask: profile: {} synthesized and {} generic traced calls, per function in {}",
        synthesized.len(),
        generic.len(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NM: &str = "ffffffff80200000 T _start\n\
                      ffffffff80200100 t sk_core::sio_calls::read::h0123456789abcdef\n\
                      ffffffff80200200 T sk_core::dispatch::call::hfedcba9876543210\n\
                      ffffffff80300000 r some_data\n";

    #[test]
    fn addresses_name_their_function_or_generated_code() {
        let symbols = Symbols::from_nm(NM);
        assert_eq!(
            symbols.name(0xffff_ffff_8020_0104),
            "sk_core::sio_calls::read"
        );
        assert_eq!(
            symbols.name(0xffff_ffff_8020_0200),
            "sk_core::dispatch::call"
        );
        assert_eq!(symbols.name(0xffff_ffff_8020_0000), "_start");
        assert_eq!(symbols.name(0xffff_9000_0000_1000), GENERATED);
        assert_eq!(symbols.name(0xffff_ffff_8000_0000), "[unknown]");
    }

    #[test]
    fn traces_pair_with_their_metric_and_a_mismatch_is_dropped() {
        let log = "bench: null_call 16.00\n\
                   trace-rips 3 ffffffff80200100,ffffffff80200104,ffff900000001000\n\
                   bench: read_zero_1 kernel_instructions=3\r\n\
                   trace-rips 2 ffffffff80200100,ffffffff80200104\n\
                   bench: write_null_1 kernel_instructions=5\n";
        let found = traces(log);
        assert_eq!(
            found,
            vec![Trace {
                metric: "read_zero_1".into(),
                count: 3,
                rips: vec![
                    0xffff_ffff_8020_0100,
                    0xffff_ffff_8020_0104,
                    0xffff_9000_0000_1000
                ],
            }]
        );
        let md = report(&found, &found, &Symbols::from_nm(NM));
        assert!(
            md.contains("## read_zero_1: 3 synthesized, 3 generic"),
            "{md}"
        );
        assert!(
            md.contains("| `sk_core::sio_calls::read` | 2 | 2 |"),
            "{md}"
        );
        assert!(md.contains(&format!("| `{GENERATED}` | 1 | 1 |")), "{md}");
    }

    #[test]
    fn the_traces_of_a_summed_metric_add_up() {
        let log = "trace-rips 2 ffffffff80200100,ffffffff80200104\n\
                   trace-rips 1 ffffffff80200200\n\
                   bench: open_close_null kernel_instructions=3\n";
        let found = traces(log);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].count, 3);
        assert_eq!(found[0].rips.len(), 3);
    }
}
