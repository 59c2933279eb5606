//! The summer: the voices' samples added, halved and clipped to 16 bits.
//!
//! Owns [`mix`]. Four voices at full level peak near 4 × 8,000: halving
//! keeps chords below the clip, which remains for anything louder.

/// One output sample from the voices' samples.
pub fn mix(voices: &[i32]) -> i16 {
    let sum: i64 = voices.iter().map(|&v| i64::from(v)).sum();
    let halved = sum / 2;
    i16::try_from(halved.clamp(i64::from(i16::MIN), i64::from(i16::MAX))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_halves_and_clips() {
        assert_eq!(mix(&[]), 0);
        assert_eq!(mix(&[1000, 2000, -500, 0]), 1250);
        assert_eq!(mix(&[40_000, 40_000, 0, 0]), i16::MAX);
        assert_eq!(mix(&[-40_000, -40_000, -40_000, -40_000]), i16::MIN);
    }
}
