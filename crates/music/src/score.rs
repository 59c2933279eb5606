//! The score format, and its notes as events on a frame clock.
//!
//! Owns [`Score`] ([`Score::parse`], [`Score::events`]), [`NoteEvent`]
//! and [`ScoreError`] (with the line and column of what is wrong). A score
//! is text, one statement per line, `#` to the end of a line a comment:
//!
//! ```text
//! title Four chords
//! tempo 60            # beats per minute, 20..=600
//! v1 C5:1 F5:1 G5:1 C5:1
//! v2 G4:1 C5:1 D5:1 G4:1
//! v3 E4:1 A4:1 B4:1 E4:1
//! v4 C3:1 F3:1 G3:1 C3:2
//! ```
//!
//! `v1` to `v4` name the voices; each line appends its notes to that
//! voice. A note is `PITCH:BEATS`: a pitch is a letter `A`–`G`, an
//! optional `#` or `b`, an octave `0`–`8` (`C4` is middle C), or `r` for a
//! rest; beats are a whole number or a fraction `n/d` (`1/2`, `3/4`,
//! `1/3`), kept exact in 1/48ths of a beat.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::pitch::Note;

/// Voices a score may use.
pub const VOICES: usize = 4;

/// Ticks per beat: durations are kept exact in 1/48ths of a beat.
pub const TICKS_PER_BEAT: u64 = 48;

/// A note of one voice on the frame clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoteEvent {
    /// Voice index, 0..[`VOICES`].
    pub voice: usize,
    /// First frame.
    pub start: u64,
    /// Frames it lasts.
    pub frames: u64,
    /// Its pitch.
    pub note: Note,
}

/// What is wrong with a score, and where (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreError {
    /// Line.
    pub line: usize,
    /// Column of the offending word.
    pub column: usize,
    /// What.
    pub message: String,
}

impl fmt::Display for ScoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// One note of a voice, in ticks; `None` pitch is a rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Written {
    pitch: Option<Note>,
    ticks: u64,
}

/// A parsed score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Score {
    /// Its title (empty if none).
    pub title: String,
    /// Beats per minute.
    pub tempo: u32,
    voices: [Vec<Written>; VOICES],
}

impl Score {
    /// Parses `text`.
    ///
    /// # Errors
    /// The first problem, with its line and column.
    pub fn parse(text: &str) -> Result<Self, ScoreError> {
        let mut score = Score {
            title: String::new(),
            tempo: 120,
            voices: Default::default(),
        };
        for (index, raw) in text.lines().enumerate() {
            let line = index.saturating_add(1);
            let content = raw.split('#').next().unwrap_or("");
            let mut words = words_with_columns(content);
            let Some((column, keyword)) = words.next() else {
                continue;
            };
            let error = |column: usize, message: String| ScoreError {
                line,
                column,
                message,
            };
            match keyword {
                "title" => {
                    let at = column.saturating_add(keyword.len());
                    score.title = String::from(content.get(at..).unwrap_or("").trim());
                }
                "tempo" => {
                    let (column, word) = words
                        .next()
                        .ok_or_else(|| error(column, "tempo needs beats per minute".into()))?;
                    score.tempo = word
                        .parse()
                        .ok()
                        .filter(|t| (20..=600).contains(t))
                        .ok_or_else(|| {
                            error(
                                column,
                                alloc::format!("tempo {word:?}: 20 to 600 beats per minute"),
                            )
                        })?;
                }
                voice if voice.starts_with('v') => {
                    let number: usize = voice
                        .get(1..)
                        .and_then(|n| n.parse().ok())
                        .filter(|n| (1..=VOICES).contains(n))
                        .ok_or_else(|| {
                            error(
                                column,
                                alloc::format!("{voice:?}: voices are v1 to v{VOICES}"),
                            )
                        })?;
                    for (column, word) in words {
                        let written = parse_note(word).map_err(|m| error(column, m))?;
                        if let Some(notes) = score.voices.get_mut(number.saturating_sub(1)) {
                            notes.push(written);
                        }
                    }
                }
                other => {
                    return Err(error(
                        column,
                        alloc::format!("unknown statement {other:?} (title, tempo, v1..v4)"),
                    ));
                }
            }
        }
        if score.voices.iter().all(Vec::is_empty) {
            return Err(ScoreError {
                line: text.lines().count().max(1),
                column: 1,
                message: "no notes".into(),
            });
        }
        Ok(score)
    }

    /// The notes of every voice at `rate` frames per second, in order of
    /// start (then voice); rests leave gaps.
    pub fn events(&self, rate: u32) -> Vec<NoteEvent> {
        let mut events = Vec::new();
        for (voice, notes) in self.voices.iter().enumerate() {
            let mut ticks = 0_u64;
            for written in notes {
                let start = self.frames_at(ticks, rate);
                ticks = ticks.saturating_add(written.ticks);
                let end = self.frames_at(ticks, rate);
                if let Some(note) = written.pitch {
                    events.push(NoteEvent {
                        voice,
                        start,
                        frames: end.saturating_sub(start),
                        note,
                    });
                }
            }
        }
        events.sort_by_key(|e| (e.start, e.voice));
        events
    }

    /// The score's length in frames at `rate` (its longest voice).
    pub fn frames(&self, rate: u32) -> u64 {
        let ticks = self
            .voices
            .iter()
            .map(|v| v.iter().map(|w| w.ticks).sum::<u64>())
            .max()
            .unwrap_or(0);
        self.frames_at(ticks, rate)
    }

    /// Voices with at least one note.
    pub fn voices_used(&self) -> usize {
        self.voices.iter().filter(|v| !v.is_empty()).count()
    }

    fn frames_at(&self, ticks: u64, rate: u32) -> u64 {
        // ticks / 48 beats * 60 / tempo s * rate frames/s.
        let numerator = u128::from(ticks)
            .saturating_mul(60)
            .saturating_mul(u128::from(rate));
        let denominator = u128::from(TICKS_PER_BEAT).saturating_mul(u128::from(self.tempo.max(1)));
        u64::try_from(numerator.checked_div(denominator).unwrap_or(0)).unwrap_or(u64::MAX)
    }
}

/// The words of `text` with their 1-based columns.
fn words_with_columns(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_ascii_whitespace().map(move |word| {
        let offset = (word.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        (offset.saturating_add(1), word)
    })
}

/// `PITCH:BEATS`.
fn parse_note(word: &str) -> Result<Written, String> {
    let (pitch, beats) = word
        .split_once(':')
        .ok_or_else(|| alloc::format!("{word:?}: a note is PITCH:BEATS, e.g. C4:1 or r:1/2"))?;
    let ticks = parse_beats(beats).ok_or_else(|| {
        alloc::format!("{word:?}: beats are a whole number or n/d, at least 1/48 and at most 64")
    })?;
    let pitch = if pitch == "r" {
        None
    } else {
        Some(parse_pitch(pitch).ok_or_else(|| {
            alloc::format!("{word:?}: a pitch is A to G, then # or b, then an octave 0 to 8, or r")
        })?)
    };
    Ok(Written { pitch, ticks })
}

/// Beats as ticks (exact multiples of 1/48), 1 tick ..= 64 beats.
fn parse_beats(text: &str) -> Option<u64> {
    let (numerator, denominator) = match text.split_once('/') {
        Some((n, d)) => (n.parse::<u64>().ok()?, d.parse::<u64>().ok()?),
        None => (text.parse::<u64>().ok()?, 1),
    };
    let scaled = numerator.checked_mul(TICKS_PER_BEAT)?;
    if scaled.checked_rem(denominator)? != 0 {
        return None;
    }
    let ticks = scaled.checked_div(denominator)?;
    (1..=64_u64.saturating_mul(TICKS_PER_BEAT))
        .contains(&ticks)
        .then_some(ticks)
}

/// `C4`, `F#3`, `Bb5` as a MIDI note (C4 = 60).
fn parse_pitch(text: &str) -> Option<Note> {
    let mut chars = text.chars();
    let semitone: i32 = match chars.next()? {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let rest = chars.as_str();
    let (alter, octave) = if let Some(o) = rest.strip_prefix('#') {
        (1, o)
    } else if let Some(o) = rest.strip_prefix('b') {
        (-1, o)
    } else {
        (0, rest)
    };
    let octave: i32 = octave.parse().ok().filter(|o| (0..=8).contains(o))?;
    let midi = octave
        .checked_add(1)?
        .checked_mul(12)?
        .checked_add(semitone)?
        .checked_add(alter)?;
    u8::try_from(midi).ok().map(Note)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_score_and_places_its_notes() {
        let score = Score::parse(
            "title Test tune\n\
             tempo 60 # one beat a second\n\
             v1 C4:1 r:1/2 E4:1/2\n\
             v1 G4:2\n\
             v3 A4:4\n",
        )
        .unwrap();
        assert_eq!(score.title, "Test tune");
        assert_eq!(score.tempo, 60);
        assert_eq!(score.voices_used(), 2);
        let events = score.events(1000);
        assert_eq!(
            events,
            [
                NoteEvent {
                    voice: 0,
                    start: 0,
                    frames: 1000,
                    note: Note(60)
                },
                NoteEvent {
                    voice: 2,
                    start: 0,
                    frames: 4000,
                    note: Note(69)
                },
                NoteEvent {
                    voice: 0,
                    start: 1500,
                    frames: 500,
                    note: Note(64)
                },
                NoteEvent {
                    voice: 0,
                    start: 2000,
                    frames: 2000,
                    note: Note(67)
                },
            ]
        );
        assert_eq!(score.frames(1000), 4000);
    }

    #[test]
    fn pitches_and_beats() {
        assert_eq!(parse_pitch("C4"), Some(Note(60)));
        assert_eq!(parse_pitch("A4"), Some(Note(69)));
        assert_eq!(parse_pitch("F#3"), Some(Note(54)));
        assert_eq!(parse_pitch("Bb5"), Some(Note(82)));
        assert_eq!(parse_pitch("Cb0"), Some(Note(11)));
        assert_eq!(parse_pitch("H4"), None);
        assert_eq!(parse_pitch("C9"), None);
        assert_eq!(parse_beats("1/3"), Some(16));
        assert_eq!(parse_beats("3/4"), Some(36));
        assert_eq!(parse_beats("1/5"), None, "not a multiple of 1/48");
        assert_eq!(parse_beats("0"), None);
        assert_eq!(parse_beats("65"), None);
        assert_eq!(parse_beats("1/0"), None);
    }

    #[test]
    fn errors_say_where() {
        let e = Score::parse("tempo 60\nv1 C4:1 X4:1\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 9), "{e}");
        let e = Score::parse("v5 C4:1").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        let e = Score::parse("tempo 7000\nv1 C4:1").unwrap_err();
        assert_eq!((e.line, e.column), (1, 7));
        assert!(Score::parse("# nothing\n").is_err());
        assert!(Score::parse("drums C4:1").is_err());
    }

    proptest::proptest! {
        /// Arbitrary text never panics the parser.
        #[test]
        fn any_text_parses_or_errs(text in "[ -~\\n]{0,200}") {
            let _ = Score::parse(&text);
        }
    }
}
