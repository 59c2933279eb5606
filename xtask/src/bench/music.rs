//! The music synthesizer's figures for `cargo xtask bench` (issue 14):
//! `/bin/music` plays `chords` unpaced (its frames to `/dev/null`, so the
//! time is the pipeline's own), once on the synthesized paths and once
//! with every call of the program generic; per stage the TSC ticks it
//! computes per frame and its calls per frame, and the whole pipeline's
//! ticks per frame: under TCG with `-icount shift=0` one tick is one
//! instruction and a 25 kHz frame lasts 40,000 of them, so that is the
//! pipeline's share of the CPU in real time.
//!
//! Owns [`run`]: boots the release kernel twice, writes `music.md` and
//! `music.json` beside `results.md`.

use crate::accel::Accel;
use crate::qemu::Boot;
use std::fmt::Write as _;
use std::path::Path;

/// Ticks a frame lasts at 25 kHz on a 1 GHz TSC.
const FRAME_TICKS: f64 = 40_000.0;
/// Frames of `chords` (4 s at 25 kHz).
const FRAMES: f64 = 100_000.0;

/// One stage's line: name, compute ticks per frame, calls.
struct Stage {
    name: String,
    compute_per_frame: f64,
    calls: u64,
}

/// One run: its stages and the pipeline's ticks per frame.
struct Run {
    stages: Vec<Stage>,
    pipeline_per_frame: f64,
}

fn parse(console: &str) -> Result<Run, String> {
    let mut stages = Vec::new();
    let mut pipeline = None;
    for line in console.lines() {
        if let Some(rest) = line.strip_prefix("music: stage ") {
            let (name, rest) = rest.split_once(": ").ok_or("a stage line without ':'")?;
            let compute = rest
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok())
                .ok_or("a stage line without ticks")?;
            let calls = rest
                .split(", ")
                .nth(1)
                .and_then(|c| c.split_whitespace().next()?.parse::<u64>().ok())
                .ok_or("a stage line without calls")?;
            stages.push(Stage {
                name: name.to_string(),
                compute_per_frame: compute,
                calls,
            });
        } else if let Some(rest) = line.strip_prefix("music: pipeline: ") {
            pipeline = rest
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok());
        }
    }
    if stages.len() != 6 {
        return Err(format!("{} stage lines, 6 expected", stages.len()));
    }
    Ok(Run {
        stages,
        pipeline_per_frame: pipeline.ok_or("no pipeline line")?,
    })
}

/// Boots `/bin/music chords unpaced` (and `generic`), writes the figures.
pub fn run(kernel: &Path, initrd: &Path, accel: Accel, out_dir: &Path) -> Result<(), String> {
    let mut runs = Vec::new();
    for (label, words) in [
        ("synthesized", "music chords unpaced"),
        ("generic", "music chords unpaced generic"),
    ] {
        println!("xtask: bench music ({label}): booting with {words:?}");
        let outcome = Boot::new(kernel, accel, &format!("log=warn {words}"))
            .initrd(initrd)
            .timeout_secs(600)
            .run()?;
        std::fs::write(out_dir.join(format!("music-{label}.log")), &outcome.output)
            .map_err(|e| format!("writing the music log: {e}"))?;
        runs.push((label, parse(&outcome.output)?));
    }
    let mut md = String::from(
        "| stage | synthesized: compute ticks per frame | calls per frame | generic: compute ticks per frame | calls per frame |\n|---|---:|---:|---:|---:|\n",
    );
    let (synth, generic) = (&runs[0].1, &runs[1].1);
    for (s, g) in synth.stages.iter().zip(&generic.stages) {
        let _ = writeln!(
            md,
            "| {} | {:.2} | {:.3} | {:.2} | {:.3} |",
            s.name,
            s.compute_per_frame,
            s.calls as f64 / FRAMES,
            g.compute_per_frame,
            g.calls as f64 / FRAMES
        );
    }
    let share = |r: &Run| r.pipeline_per_frame / FRAME_TICKS * 100.0;
    let _ = writeln!(
        md,
        "| **whole pipeline** (ticks per frame, start to end: compute, calls, switches) | **{:.0}** ({:.2}% of the CPU at 25 kHz) | | **{:.0}** ({:.2}% of the CPU) | |",
        synth.pipeline_per_frame,
        share(synth),
        generic.pipeline_per_frame,
        share(generic)
    );
    let json = serde_json::json!({
        "score": "chords",
        "frames": FRAMES,
        "runs": runs.iter().map(|(label, r)| serde_json::json!({
            "path": label,
            "pipeline_ticks_per_frame": r.pipeline_per_frame,
            "cpu_share_percent": share(r),
            "stages": r.stages.iter().map(|s| serde_json::json!({
                "stage": s.name,
                "compute_ticks_per_frame": s.compute_per_frame,
                "calls": s.calls,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(out_dir.join("music.md"), &md).map_err(|e| format!("music.md: {e}"))?;
    std::fs::write(
        out_dir.join("music.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| format!("music.json: {e}"))?;
    print!("{md}");
    Ok(())
}
