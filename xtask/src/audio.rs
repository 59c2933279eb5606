//! The audio check: the kernel's AC'97 driver plays a tone pair, QEMU
//! writes what the device played to a WAV file, and the host listens.
//!
//! Owns [`audio_boot`] (a stage of `cargo xtask test`, `cargo xtask
//! audio` alone): boots the `tests::audio::` in-kernel tests with
//! `-device AC97` and a `wav` audiodev at the driver's rate, then checks
//! `target/audio/tones.wav` with [`check_tones`]: the sound starts, each
//! tone's strongest frequency (a DFT scan over the middle of its span) is
//! within 1% of the one played, and the length of the sound is the sum of
//! the tones' within 1% (the kernel test gives QEMU's backend 50 ms to
//! write the last frames out). Also owns the WAV reader [`Wav`].

use crate::accel::{self, Accel};
use crate::build;
use crate::qemu::Boot;
use std::path::Path;
use std::process::ExitCode;

use sk_ktest::audio::{RATE, TONES};

/// 16-bit PCM samples of a WAV file's first channel.
#[derive(Debug)]
pub struct Wav {
    /// Frames per second.
    pub rate: u32,
    /// The first channel.
    pub samples: Vec<i16>,
}

impl Wav {
    /// Reads a 16-bit PCM WAV. A data chunk whose size field is 0 or past
    /// the file (the writer did not close it) runs to the end.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err("not a RIFF WAVE file".into());
        }
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let (mut at, mut format) = (12, None);
        while at + 8 <= bytes.len() {
            let id = &bytes[at..at + 4];
            let size = u32_at(at + 4) as usize;
            let body = at + 8;
            if id == b"fmt " && body + 16 <= bytes.len() {
                format = Some((u16_at(body + 2), u32_at(body + 4), u16_at(body + 14)));
            } else if id == b"data" {
                let (channels, rate, bits) = format.ok_or("data before fmt")?;
                if bits != 16 || channels == 0 {
                    return Err(format!("{bits}-bit, {channels} channels: not 16-bit PCM"));
                }
                let end = if size == 0 || body + size > bytes.len() {
                    bytes.len()
                } else {
                    body + size
                };
                let frame = 2 * usize::from(channels);
                let samples = bytes[body..end]
                    .chunks_exact(frame)
                    .map(|f| i16::from_le_bytes([f[0], f[1]]))
                    .collect();
                return Ok(Self { rate, samples });
            }
            at = body + size + (size & 1);
        }
        Err("no data chunk".into())
    }
}

/// The DFT magnitude of `samples` at `hz` (Goertzel).
pub fn magnitude(samples: &[i16], rate: u32, hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
    let coefficient = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s0 = f64::from(x) + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coefficient * s1 * s2).max(0.0).sqrt()
}

/// The strongest frequency in 100..2000 Hz, to 0.5 Hz.
fn strongest(samples: &[i16], rate: u32) -> f64 {
    let mut best = (0.0, 0.0);
    let mut hz = 100.0;
    while hz < 2000.0 {
        let m = magnitude(samples, rate, hz);
        if m > best.1 {
            best = (hz, m);
        }
        hz += 0.5;
    }
    best.0
}

/// Checks a recording of [`TONES`]; returns a line per finding, or what
/// is wrong.
pub fn check_tones(wav: &Wav, tones: &[(u32, u32)]) -> Result<Vec<String>, String> {
    let loud = |s: &i16| s.unsigned_abs() > 300;
    let start = wav
        .samples
        .iter()
        .position(loud)
        .ok_or("silence: no sound at all")?;
    let end = wav.samples.iter().rposition(loud).map_or(start, |e| e + 1);
    let rate = wav.rate;
    let frames = |ms: u32| (u64::from(rate) * u64::from(ms) / 1000) as usize;
    let mut report = Vec::new();
    let mut at = start;
    for &(hz, ms) in tones {
        // The middle half of the tone's span.
        let span = frames(ms);
        let window = wav
            .samples
            .get(at + span / 4..at + span * 3 / 4)
            .ok_or(format!("the recording ends before the {hz} Hz tone"))?;
        let found = strongest(window, rate);
        let error = (found - f64::from(hz)).abs() / f64::from(hz);
        report.push(format!(
            "{hz} Hz tone: strongest {found:.1} Hz ({:.2}% off)",
            error * 100.0
        ));
        if error > 0.01 {
            return Err(format!("the {hz} Hz tone sounds at {found:.1} Hz"));
        }
        at += span;
    }
    let want: u32 = tones.iter().map(|&(_, ms)| ms).sum();
    let got_ms = (end - start) as f64 * 1000.0 / f64::from(rate);
    report.push(format!(
        "sound for {got_ms:.1} ms of {want} ms at {rate} Hz"
    ));
    if (got_ms - f64::from(want)).abs() > f64::from(want) * 0.01 {
        return Err(format!("sound for {got_ms:.1} ms, {want} ms played"));
    }
    Ok(report)
}

/// Boots the audio tests with an AC'97 and a WAV backend, then listens.
pub fn audio_boot(requested: Option<Accel>) -> Result<ExitCode, String> {
    let kernel = build::kernel(build::Profile::Dev, build::TEST_FEATURES)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(requested, &kernel);
    let dir = build::root().join("target/audio");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let wav_path = dir.join("tones.wav");
    let _ = std::fs::remove_file(&wav_path);
    let devices = vec![
        "-audiodev".to_string(),
        format!(
            "wav,id=snd0,path={},out.frequency={RATE}",
            wav_path.display()
        ),
        "-device".to_string(),
        "AC97,audiodev=snd0".to_string(),
    ];
    println!(
        "xtask: audio: the AC'97 tests, QEMU's wav backend into {}",
        wav_path.display()
    );
    let outcome = Boot::new(&kernel, accel, "ktest ktest.filter=tests::audio:: log=warn")
        .initrd(&initrd)
        .devices(&devices)
        .timeout_secs(300)
        .run()?;
    for line in outcome
        .output
        .lines()
        .filter(|l| l.contains("audio:") && !l.contains("Failed to create voice"))
    {
        println!("{}", line.trim_end());
    }
    let passed = outcome.output.contains("ktest: boot-end passed=2 failed=0");
    if !passed {
        println!(
            "xtask: audio: FAILED: the in-kernel audio test did not pass ({})",
            outcome.status.describe()
        );
        return Ok(ExitCode::FAILURE);
    }
    let verdict = read_and_check(&wav_path);
    match verdict {
        Ok(report) => {
            for line in report {
                println!("xtask: audio: {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            println!("xtask: audio: FAILED: {problem}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn read_and_check(path: &Path) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let wav = Wav::parse(&bytes)?;
    if wav.rate != RATE {
        return Err(format!("the WAV is at {} Hz, not {RATE}", wav.rate));
    }
    check_tones(&wav, &TONES)
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    reason = "test signals: samples of amplitude 8,000 and a few seconds of data"
)]
mod tests {
    use super::*;

    /// A WAV of `tones` (stereo, 16-bit) after `lead` silent frames.
    fn synth_wav(tones: &[(f64, u32)], lead: usize, data_size_field: Option<u32>) -> Vec<u8> {
        let mut frames = vec![0i16; lead];
        for &(hz, ms) in tones {
            let n = (RATE as u64 * u64::from(ms) / 1000) as usize;
            let base = frames.len();
            for i in 0..n {
                let t = (base + i) as f64 / f64::from(RATE);
                frames.push((8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16);
            }
        }
        let data: Vec<u8> = frames
            .iter()
            .flat_map(|s| [s.to_le_bytes(), s.to_le_bytes()].concat())
            .collect();
        let mut out = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&RATE.to_le_bytes());
        out.extend_from_slice(&(RATE * 4).to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_size_field.unwrap_or(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn the_right_tones_pass_even_after_silence_and_unclosed() {
        let bytes = synth_wav(&[(440.0, 600), (660.0, 600)], 5000, Some(0));
        let wav = Wav::parse(&bytes).unwrap();
        assert_eq!(wav.rate, RATE);
        let report = check_tones(&wav, &TONES).unwrap();
        assert_eq!(report.len(), 3, "{report:?}");
    }

    #[test]
    fn a_wrong_pitch_a_short_sound_or_silence_fails() {
        let flat = Wav::parse(&synth_wav(&[(440.0, 600), (640.0, 600)], 0, None)).unwrap();
        assert!(check_tones(&flat, &TONES).unwrap_err().contains("660 Hz"));
        let short = Wav::parse(&synth_wav(&[(440.0, 600), (660.0, 400)], 0, None)).unwrap();
        assert!(check_tones(&short, &TONES).is_err());
        let silent = Wav::parse(&synth_wav(&[], 25_000, None)).unwrap();
        assert!(check_tones(&silent, &TONES)
            .unwrap_err()
            .contains("silence"));
        assert!(Wav::parse(b"RIFF").is_err());
    }
}
