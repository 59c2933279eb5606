//! Equal-tempered pitch in fixed point: a note's frequency in millihertz
//! from its MIDI number (A4 = 69 = 440 Hz), with no floating point.
//!
//! Owns [`Note`] (a MIDI note number) and [`frequency_millihertz`]: the
//! twelve semitone ratios of one octave as Q32 fixed-point constants
//! (`2^(k/12)`, rounded), then octaves by shifts.

/// A MIDI note number (60 = middle C, 69 = A4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Note(pub u8);

/// `2^(k/12)` for k = 0..12, in Q32 (value * 2^32), rounded.
const SEMITONE_Q32: [u64; 12] = [
    4_294_967_296,
    4_550_359_342,
    4_820_937_788,
    5_107_605_667,
    5_411_319_705,
    5_733_093_519,
    6_074_001_000,
    6_435_179_895,
    6_817_835_604,
    7_223_245_206,
    7_652_761_717,
    8_107_818_609,
];

/// A4's frequency in millihertz.
const A4_MILLIHERTZ: u64 = 440_000;

/// The frequency of `note` in millihertz (C-1 = 8,176 mHz ... G9).
pub fn frequency_millihertz(note: Note) -> u64 {
    // Semitones above the A three below MIDI 0 (A-2, six octaves under
    // A4, which is 72 semitones above it).
    let from_low_a = u32::from(note.0).saturating_add(3);
    let octave = from_low_a / 12;
    let semitone = (from_low_a % 12) as usize;
    let ratio = SEMITONE_Q32.get(semitone).copied().unwrap_or(1 << 32);
    // A4 * 2^(semitone/12), then up `octave` octaves from A-2 = A4 / 2^6.
    let base = A4_MILLIHERTZ.saturating_mul(ratio) >> 32;
    (base << octave.min(16)) >> 6
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn known_pitches() {
        assert_eq!(frequency_millihertz(Note(69)), 440_000);
        assert_eq!(frequency_millihertz(Note(81)), 880_000);
        assert_eq!(frequency_millihertz(Note(57)), 220_000);
        // Middle C: 261.626 Hz.
        let c4 = frequency_millihertz(Note(60));
        assert!((261_620..=261_630).contains(&c4), "{c4}");
        // E5: 659.255 Hz.
        let e5 = frequency_millihertz(Note(76));
        assert!((659_250..=659_260).contains(&e5), "{e5}");
    }

    #[test]
    fn every_semitone_is_within_a_hundredth_of_a_percent_of_equal_temperament() {
        for midi in 12..=120u8 {
            let got = frequency_millihertz(Note(midi)) as f64;
            let want = 440_000.0 * 2f64.powf((f64::from(midi) - 69.0) / 12.0);
            assert!((got - want).abs() / want < 1e-4, "{midi}: {got} vs {want}");
        }
    }
}
