//! The music synthesizer on the host side: `cargo xtask run -- music
//! [SCORE]` and the `music check` stage of `cargo xtask test`.
//!
//! Owns [`Plan`] (which score, and the boot's devices: QEMU's AC'97 with
//! a `wav` backend at 25 kHz into `target/music/out.wav`) and [`listen`]
//! (the recording checked against the score by [`crate::music_check`],
//! the kernel's underrun count read off the console, and a spectrogram
//! drawn by `sox` beside the WAV). SCORE is a shipped tune's name
//! (`scale`, `chords`, `ode`) or a score file on the host, which goes
//! into the initrd as `/music/user.score`.

use crate::accel::{self, Accel};
use crate::audio::Wav;
use crate::build;
use crate::qemu::Boot;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The rate the kernel plays (`sk_abi::AUDIO_RATE_HZ`).
const RATE: u32 = 25_000;

/// What to play and where the sound goes.
pub struct Plan {
    /// The score's text.
    pub score: String,
    /// The words after `--` for the kernel (`music NAME`).
    pub init_args: String,
    /// Files the initrd needs for it.
    pub extra: Vec<(&'static str, Vec<u8>)>,
    /// The recording.
    pub wav: PathBuf,
    /// `unpaced`: the frames go to `/dev/null`, nothing is recorded.
    pub is_unpaced: bool,
}

impl Plan {
    /// The plan for `music [SCORE]` in `args`, if they ask for music.
    pub fn from_args(args: &[String]) -> Result<Option<Self>, String> {
        let Some(at) = args.iter().position(|a| a == "music") else {
            return Ok(None);
        };
        let name = args.get(at + 1).map_or("chords", String::as_str);
        // Mode words after the name (`generic`, `unpaced`) go along.
        let modes: String = args.iter().skip(at + 2).map(|w| format!(" {w}")).collect();
        let dir = build::root().join("target/music");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let wav = dir.join("out.wav");
        if let Some((_, tune)) = sk_music::tunes::ALL.iter().find(|(n, _)| *n == name) {
            return Ok(Some(Self {
                score: (*tune).to_string(),
                init_args: format!("music {name}{modes}"),
                extra: Vec::new(),
                wav,
                is_unpaced: modes.contains("unpaced"),
            }));
        }
        let text = std::fs::read_to_string(name).map_err(|e| {
            format!(
                "score {name}: not a shipped tune (scale, chords, ode) nor a readable file: {e}"
            )
        })?;
        sk_music::Score::parse(&text).map_err(|e| format!("score {name}: {e}"))?;
        Ok(Some(Self {
            init_args: format!("music /music/user.score{modes}"),
            extra: vec![("music/user.score", text.clone().into_bytes())],
            score: text,
            wav,
            is_unpaced: modes.contains("unpaced"),
        }))
    }

    /// QEMU's sound card and its recording.
    pub fn devices(&self) -> Vec<String> {
        vec![
            "-audiodev".to_string(),
            format!(
                "wav,id=snd0,path={},out.frequency={RATE}",
                self.wav.display()
            ),
            "-device".to_string(),
            "AC97,audiodev=snd0".to_string(),
        ]
    }
}

/// After the boot: the recording against the score, the underruns the
/// kernel counted (from its `console`), and the spectrogram.
pub fn listen(plan: &Plan, console: &str) -> Result<Vec<String>, String> {
    if plan.is_unpaced {
        return Ok(vec![
            "unpaced: the frames went to /dev/null, nothing to hear".into(),
        ]);
    }
    let bytes = std::fs::read(&plan.wav).map_err(|e| format!("{}: {e}", plan.wav.display()))?;
    let wav = Wav::parse(&bytes)?;
    let score = sk_music::Score::parse(&plan.score).map_err(|e| e.to_string())?;
    let mut report = crate::music_check::check(&wav, &score)?;
    let underruns = console
        .lines()
        .filter_map(|l| l.split("frames").nth(1))
        .filter_map(|rest| rest.split(", ").nth(1))
        .filter_map(|u| u.split_whitespace().next()?.parse::<u64>().ok())
        .next_back()
        .ok_or("the kernel never said the stream ended (audio: stream ended ...)")?;
    report.push(format!("{underruns} underruns"));
    if underruns != 0 {
        return Err(format!(
            "{underruns} underruns: the pipeline fell behind the DAC"
        ));
    }
    let seconds = score.frames(RATE) as f64 / f64::from(RATE) + 0.25;
    match spectrogram(&plan.wav, seconds) {
        Ok(png) => report.push(format!("spectrogram: {}", png.display())),
        Err(why) => report.push(format!("no spectrogram: {why}")),
    }
    Ok(report)
}

/// Draws the first `seconds` of `wav`'s spectrogram with sox into a PNG
/// beside it.
fn spectrogram(wav: &Path, seconds: f64) -> Result<PathBuf, String> {
    crate::setup::ensure_sox()?;
    let png = wav.with_extension("png");
    let status = Command::new("sox")
        .arg(wav)
        .args(["-n", "remix", "1", "trim", "0"])
        .arg(format!("{seconds:.2}"))
        .args(["rate", "8k", "spectrogram", "-x", "900", "-y", "300", "-t"])
        .arg("Synthesis: the music synthesizer")
        .arg("-o")
        .arg(&png)
        .status()
        .map_err(|e| format!("running sox: {e}"))?;
    if status.success() {
        Ok(png)
    } else {
        Err(format!("sox failed ({status})"))
    }
}

/// The `music check` stage: `chords` (four voices) played by the test
/// kernel with synthesis on, then with `synth=off`; each recording checked.
pub fn music_boot(requested: Option<Accel>) -> Result<ExitCode, String> {
    let kernel = build::kernel(build::Profile::Dev, build::TEST_FEATURES)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(requested, &kernel);
    let mut failed = false;
    for kernel_words in ["log=warn", "log=warn synth=off"] {
        let args = vec!["music".to_string(), "chords".to_string()];
        let plan = Plan::from_args(&args)?.ok_or("no plan")?;
        let _ = std::fs::remove_file(&plan.wav);
        let cmdline = format!("{kernel_words} -- {}", plan.init_args);
        println!("xtask: music: {cmdline}");
        let outcome = Boot::new(&kernel, accel, &cmdline)
            .initrd(&initrd)
            .devices(&plan.devices())
            .timeout_secs(300)
            .run()?;
        for line in outcome.output.lines().filter(|l| {
            l.starts_with("music:") || l.starts_with("audio:") || l.starts_with("demo: waited")
        }) {
            println!("{}", line.trim_end());
        }
        let played = outcome
            .output
            .contains("init: /bin/music exited with status 0");
        match listen(&plan, &outcome.output) {
            Ok(report) if played => {
                for line in report {
                    println!("xtask: music: {line}");
                }
            }
            Ok(_) => {
                println!(
                    "xtask: music: FAILED: /bin/music did not exit 0 ({})",
                    outcome.status.describe()
                );
                failed = true;
            }
            Err(problem) => {
                println!("xtask: music: FAILED ({kernel_words}): {problem}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
