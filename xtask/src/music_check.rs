//! The music check (issue 14, acceptance check 1): what the music
//! synthesizer played, as QEMU's `wav` backend recorded it, against its
//! score.
//!
//! Owns [`check`]: the sound's length matches the score's within 1%;
//! every note's fundamental (the strongest frequency within 5% of its
//! pitch, a DFT scan in 0.1% steps over the middle of the note's span) is
//! within 1% of the score's pitch, for every voice of a chord; no gap (a
//! run of more than [`GAP_FRAMES`] zero samples) and no discontinuity (a
//! step of more than [`JUMP`] between neighbours) while the score has a
//! note sounding.

use crate::audio::{magnitude, Wav};
use sk_music::{frequency_millihertz, NoteEvent, Score};

/// Zero samples in a row that make a gap while a note sounds (2 ms).
pub const GAP_FRAMES: usize = 50;
/// A step between neighbouring samples no note of the synthesizer makes
/// (its loudest chord's steepest slope is well under half of this).
pub const JUMP: i32 = 12_000;

/// The strongest frequency within 5% of `hz` in `samples`, in 0.1% steps.
fn strongest_near(samples: &[i16], rate: u32, hz: f64) -> f64 {
    let mut best = (hz, 0.0);
    let mut step = -50;
    while step <= 50 {
        let f = hz * (1.0 + f64::from(step) / 1000.0);
        let m = magnitude(samples, rate, f);
        if m > best.1 {
            best = (f, m);
        }
        step += 1;
    }
    best.0
}

/// Checks `wav` against `score`; a line per finding, or the first fault.
pub fn check(wav: &Wav, score: &Score) -> Result<Vec<String>, String> {
    let rate = wav.rate;
    let events: Vec<NoteEvent> = score.events(rate);
    let frames = usize::try_from(score.frames(rate)).map_err(|e| e.to_string())?;
    // Silence (exact zeros) until the device plays the first frame; the
    // score's first note starts the sound.
    let first = events
        .iter()
        .map(|e| e.start)
        .min()
        .ok_or("the score has no note")?;
    let start = wav
        .samples
        .iter()
        .position(|&s| s != 0)
        .ok_or("silence: no sound at all")?
        .saturating_sub(usize::try_from(first).unwrap_or(0));
    let end = wav
        .samples
        .iter()
        .rposition(|&s| s != 0)
        .map_or(start, |e| e + 1);
    let mut report = Vec::new();
    let got = end - start;
    let ms = |f: usize| f as f64 * 1000.0 / f64::from(rate);
    report.push(format!(
        "sound for {:.1} ms, the score {:.1} ms ({:+.2}%)",
        ms(got),
        ms(frames),
        (got as f64 - frames as f64) * 100.0 / frames as f64
    ));
    if (got as f64 - frames as f64).abs() > frames as f64 * 0.01 {
        return Err(format!(
            "sound for {:.1} ms, the score lasts {:.1} ms",
            ms(got),
            ms(frames)
        ));
    }
    let mut worst = 0.0f64;
    for e in &events {
        let (s, n) = (
            usize::try_from(e.start).unwrap_or(0),
            usize::try_from(e.frames).unwrap_or(0),
        );
        let window = wav
            .samples
            .get(start + s + n / 4..start + s + n * 3 / 4)
            .ok_or(format!(
                "the recording ends before the note at frame {}",
                e.start
            ))?;
        let hz = frequency_millihertz(e.note) as f64 / 1000.0;
        let found = strongest_near(window, rate, hz);
        let error = (found - hz).abs() / hz;
        worst = worst.max(error);
        if error > 0.01 {
            return Err(format!(
                "voice {} at frame {}: note {} ({hz:.2} Hz) sounds at {found:.2} Hz",
                e.voice + 1,
                e.start,
                e.note.0
            ));
        }
    }
    report.push(format!(
        "{} notes, each voice of each chord within {:.3}% of its pitch",
        events.len(),
        worst * 100.0
    ));
    // Gaps and jumps while some note sounds.
    let sounding = |f: usize| {
        events.iter().any(|e| {
            let (s, n) = (
                usize::try_from(e.start).unwrap_or(0),
                usize::try_from(e.frames).unwrap_or(0),
            );
            // Past the attack's first millisecond and before the end.
            f >= s + 25 && f < s + n
        })
    };
    let mut zeros = 0usize;
    // The length was checked above; the last frames may be cut short.
    for f in 1..frames.min(wav.samples.len() - start) {
        let (Some(&a), Some(&b)) = (wav.samples.get(start + f - 1), wav.samples.get(start + f))
        else {
            break;
        };
        if !sounding(f) {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        if zeros > GAP_FRAMES {
            return Err(format!("a gap of silence at frame {f} ({:.1} ms)", ms(f)));
        }
        if (i32::from(b) - i32::from(a)).abs() > JUMP {
            return Err(format!("a discontinuity at frame {f} ({a} -> {b})"));
        }
    }
    report.push("no gap and no discontinuity while notes sound".into());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sk_music::{mix, Voice, VOICES};

    /// The score rendered on the host as the synthesizer renders it, after
    /// `lead` frames of silence.
    fn render(score: &Score, rate: u32, lead: usize) -> Vec<i16> {
        let events = score.events(rate);
        #[allow(clippy::cast_possible_truncation)]
        let frames = score.frames(rate) as usize;
        let mut voices: Vec<Voice> = (0..VOICES).map(|_| Voice::new(rate)).collect();
        let mut out = vec![0i16; lead];
        for f in 0..frames as u64 {
            for e in &events {
                if e.start == f {
                    voices[e.voice].note_on(e.note);
                }
                if e.start + e.frames == f {
                    voices[e.voice].note_off();
                }
            }
            let samples: Vec<i32> = voices.iter_mut().map(Voice::next_sample).collect();
            out.push(mix(&samples));
        }
        out
    }

    fn chords() -> Score {
        Score::parse(sk_music::tunes::CHORDS).unwrap()
    }

    #[test]
    fn the_score_as_rendered_passes() {
        let wav = Wav {
            rate: 25_000,
            samples: render(&chords(), 25_000, 3000),
        };
        let report = check(&wav, &chords()).unwrap();
        assert!(report.iter().any(|l| l.contains("16 notes")), "{report:?}");
    }

    #[test]
    fn a_gap_a_click_a_wrong_pitch_or_a_short_sound_fails() {
        let good = render(&chords(), 25_000, 3000);
        let mut gap = good.clone();
        gap[3000 + 30_000..3000 + 30_100].fill(0);
        let mut click = good.clone();
        click[3000 + 40_000] = i16::MAX;
        click[3000 + 40_001] = i16::MIN;
        let short = good[..good.len() - 3000].to_vec();
        for (what, samples) in [("gap", gap), ("click", click), ("short", short)] {
            let wav = Wav {
                rate: 25_000,
                samples,
            };
            assert!(check(&wav, &chords()).is_err(), "{what} passed");
        }
        // The same sound played 2% fast is off pitch.
        let wav = Wav {
            rate: 25_500,
            samples: good,
        };
        assert!(check(&wav, &chords()).is_err(), "2% sharp passed");
    }
}
