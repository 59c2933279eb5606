//! The "Synthesis, Linux ABI" part of `results.md`: the Linux build of the
//! bench program run unmodified on Synthesis (issue 12), next to the native
//! build on Synthesis and the same binary on Linux.
//!
//! Owns [`section`]: one row per metric (figures, or `n/a:` and the error
//! the program reported, usually a Linux call Synthesis does not have
//! yet), the ratios against Linux, and the target for the 1-byte
//! `/dev/zero` read (reported, not asserted).

use super::report::{format_ratio, format_ticks, Results};
use super::{Mode, METRICS};
use std::fmt::Write as _;

/// Issue 12's target: Linux's instructions over the Linux binary's on
/// Synthesis for a 1-byte `/dev/zero` read.
const ZERO_READ_GOAL: f64 = 15.0;

/// Appends the section to `s`.
pub fn section(results: &Results, s: &mut String) {
    let _ = writeln!(
        s,
        "Synthesis, Linux ABI: the Linux build of the program (the binary the Linux columns run \
         as `/init`) run unmodified on Synthesis through the Linux personality (docs/unix.md); \
         `read`/`write` through the per-fd dispatchers and the Linux-personality routines. \
         Kernel instructions: n/a (an unmodified Linux binary cannot arm the single-step \
         counter).\n"
    );
    let _ = writeln!(
        s,
        "| metric | Synthesis, Linux ABI | synthesized | linux | linux m=off | Linux ABI / synth. | linux / Linux ABI | linux m=off / Linux ABI |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for metric in METRICS {
        let ticks = |mode| results.ticks(metric.name, mode);
        let abi = ticks(Mode::SynthesisLinuxAbi);
        let cell = match (abi, results.row(metric.name, Mode::SynthesisLinuxAbi)) {
            (Some(t), _) => format_ticks(Some(t)),
            (None, Some(row)) => match row.error.as_deref() {
                Some(error) => format!("n/a: {}", error.replace('|', "/")),
                None => "n/a".into(),
            },
            (None, None) => "n/a".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {cell} | {} | {} | {} | {} | {} | {} |",
            metric.label,
            format_ticks(ticks(Mode::Synthesized)),
            format_ticks(ticks(Mode::Linux)),
            format_ticks(ticks(Mode::LinuxMitigationsOff)),
            format_ratio(abi, ticks(Mode::Synthesized)),
            format_ratio(ticks(Mode::Linux), abi),
            format_ratio(ticks(Mode::LinuxMitigationsOff), abi),
        );
    }
    s.push('\n');
    let abi = results.ticks("read_zero_1", Mode::SynthesisLinuxAbi);
    let linux = results.ticks("read_zero_1", Mode::LinuxMitigationsOff);
    let ratio = abi.zip(linux).filter(|(a, _)| *a > 0.0).map(|(a, l)| l / a);
    let verdict = match ratio {
        Some(r) if r >= ZERO_READ_GOAL => "met",
        Some(_) => "**missed**",
        None => "no data",
    };
    let _ = writeln!(
        s,
        "Target (issue 12, reported): 1-byte read of /dev/zero by the Linux binary, ≥ {ZERO_READ_GOAL}× \
         fewer instructions on Synthesis than on Linux (mitigations=off): {} against {}, {}: {verdict}.\n",
        format_ticks(abi),
        format_ticks(linux),
        ratio.map_or("–".into(), |r| format!("{r:.1}×")),
    );
}
