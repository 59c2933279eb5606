//! The scores the project ships (text in the score format, `score.rs`).

/// A C major scale, one voice: each note's pitch alone.
pub const SCALE: &str = "\
title C major scale
tempo 120
v1 C4:1 D4:1 E4:1 F4:1 G4:1 A4:1 B4:1 C5:2
";

/// Four voices in chords: I, IV, V, I in C major, one second each.
pub const CHORDS: &str = "\
title Four chords
tempo 60
v1 C5:1 F5:1 G5:1 C5:1
v2 G4:1 C5:1 D5:1 G4:1
v3 E4:1 A4:1 B4:1 E4:1
v4 C3:1 F3:1 G3:1 C3:1
";

/// Beethoven's Ode to Joy, melody over a bass line.
pub const ODE: &str = "\
title Ode to Joy
tempo 132
v1 E4:1 E4:1 F4:1 G4:1 G4:1 F4:1 E4:1 D4:1
v1 C4:1 C4:1 D4:1 E4:1 E4:3/2 D4:1/2 D4:2
v2 C3:2 G2:2 C3:2 G2:2
v2 C3:2 G2:2 C3:2 G2:2
";

/// Every shipped tune: (name, score).
pub const ALL: [(&str, &str); 3] = [("scale", SCALE), ("chords", CHORDS), ("ode", ODE)];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Score;

    #[test]
    fn every_tune_parses_and_chords_has_four_voices() {
        for (name, text) in ALL {
            let score = Score::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(score.frames(25_000) > 0, "{name}");
        }
        assert_eq!(Score::parse(CHORDS).unwrap().voices_used(), 4);
    }
}
