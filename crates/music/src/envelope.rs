//! A note's loudness over time: attack, decay, sustain, release (ADSR),
//! in frames, levels in Q15 (32,767 = full).
//!
//! Owns [`Envelope`]: [`Envelope::start`] at note on, [`Envelope::release`]
//! at note off, [`Envelope::next_level`] once per frame.

/// Full level in Q15.
pub const FULL: i32 = 32_767;

/// The shape, and where a note is in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    attack: u32,
    decay: u32,
    sustain: i32,
    release: u32,
    stage: Stage,
    level: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Idle,
    Attack(u32),
    Decay(u32),
    Sustain,
    Release { from: i32, done: u32 },
}

impl Envelope {
    /// An envelope of `attack`, `decay` and `release` frames around a
    /// `sustain` level (Q15, clamped to 0..=[`FULL`]); idle.
    pub const fn new(attack: u32, decay: u32, sustain: i32, release: u32) -> Self {
        let sustain = if sustain < 0 {
            0
        } else if sustain > FULL {
            FULL
        } else {
            sustain
        };
        Self {
            attack,
            decay,
            sustain,
            release,
            stage: Stage::Idle,
            level: 0,
        }
    }

    /// The default voice shape at `rate` frames per second: 5 ms attack,
    /// 60 ms decay to 70%, 20 ms release.
    pub const fn for_rate(rate: u32) -> Self {
        Self::new(
            rate / 200,
            (rate / 50).saturating_mul(3),
            FULL / 10 * 7,
            rate / 50,
        )
    }

    /// Note on: from the current level up again.
    pub fn start(&mut self) {
        self.stage = Stage::Attack(0);
    }

    /// Note off: down to silence from wherever it is.
    pub fn release(&mut self) {
        if self.stage != Stage::Idle {
            self.stage = Stage::Release {
                from: self.level,
                done: 0,
            };
        }
    }

    /// True while it makes sound (a note, or its release).
    pub fn is_active(&self) -> bool {
        self.stage != Stage::Idle
    }

    /// This frame's level (Q15); then one frame on.
    pub fn next_level(&mut self) -> i32 {
        let level = match self.stage {
            Stage::Idle => 0,
            Stage::Attack(done) => {
                if done >= self.attack {
                    self.stage = Stage::Decay(0);
                    FULL
                } else {
                    self.stage = Stage::Attack(done.saturating_add(1));
                    ramp(0, FULL, done, self.attack)
                }
            }
            Stage::Decay(done) => {
                if done >= self.decay {
                    self.stage = Stage::Sustain;
                    self.sustain
                } else {
                    self.stage = Stage::Decay(done.saturating_add(1));
                    ramp(FULL, self.sustain, done, self.decay)
                }
            }
            Stage::Sustain => self.sustain,
            Stage::Release { from, done } => {
                if done >= self.release {
                    self.stage = Stage::Idle;
                    0
                } else {
                    self.stage = Stage::Release {
                        from,
                        done: done.saturating_add(1),
                    };
                    ramp(from, 0, done, self.release)
                }
            }
        };
        self.level = level;
        level
    }
}

/// The level `done` frames into a straight line from `from` to `to` over
/// `frames` frames.
fn ramp(from: i32, to: i32, done: u32, frames: u32) -> i32 {
    if frames == 0 {
        return to;
    }
    let span = i64::from(to).saturating_sub(i64::from(from));
    let step = span
        .saturating_mul(i64::from(done))
        .checked_div(i64::from(frames))
        .unwrap_or(span);
    i32::try_from(i64::from(from).saturating_add(step)).unwrap_or(to)
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
    fn attack_decay_sustain_release_in_order() {
        let mut e = Envelope::new(4, 4, FULL / 2, 4);
        assert_eq!(e.next_level(), 0, "idle is silent");
        e.start();
        let levels: alloc::vec::Vec<i32> = (0..12).map(|_| e.next_level()).collect();
        assert!(
            levels[..4].windows(2).all(|w| w[0] < w[1]),
            "attack rises: {levels:?}"
        );
        assert_eq!(levels[4], FULL);
        assert!(
            levels[5..9].windows(2).all(|w| w[0] > w[1]),
            "decay falls: {levels:?}"
        );
        assert!(
            levels[9..].iter().all(|&l| l == FULL / 2),
            "sustain holds: {levels:?}"
        );
        e.release();
        let tail: alloc::vec::Vec<i32> = (0..6).map(|_| e.next_level()).collect();
        assert!(
            tail[..4].windows(2).all(|w| w[0] > w[1]),
            "release falls: {tail:?}"
        );
        assert_eq!(tail[4..], [0, 0]);
        assert!(!e.is_active());
    }

    #[test]
    fn levels_stay_in_range_for_any_shape() {
        for (a, d, s, r) in [(0, 0, -5, 0), (1, 1000, 40_000, 3), (7, 0, 100, 0)] {
            let mut e = Envelope::new(a, d, s, r);
            e.start();
            for frame in 0..2000 {
                if frame == 1500 {
                    e.release();
                }
                let l = e.next_level();
                assert!((0..=FULL).contains(&l), "{l}");
            }
        }
    }
}
