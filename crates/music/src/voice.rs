//! A sampling voice: one period of a sampled waveform, read at a note's
//! pitch (resampling by a 32-bit phase accumulator with linear
//! interpolation), times its [`Envelope`].
//!
//! Owns [`Voice`] and [`WAVEFORM`], the period it plays: a fundamental
//! with weaker second and third harmonics, computed at build time with
//! integer arithmetic (Bhaskara I's sine approximation).

use crate::envelope::{Envelope, FULL};
use crate::pitch::{frequency_millihertz, Note};

/// Samples in one period of the waveform (a power of two).
pub const WAVEFORM_LEN: usize = 1024;
const INDEX_BITS: u32 = 10;

/// The waveform every voice plays.
pub static WAVEFORM: [i16; WAVEFORM_LEN] = waveform();

/// sin(2π i / WAVEFORM_LEN) * 1,000,000 by Bhaskara I (error < 0.2%).
#[allow(
    clippy::arithmetic_side_effects,
    reason = "evaluated at build time only (WAVEFORM): an overflow fails the build"
)]
const fn sine_micro(i: usize) -> i64 {
    let half = WAVEFORM_LEN / 2;
    let t = (i % half) as i64;
    let n = half as i64;
    let p = t * (n - t);
    let value = 16 * p * 1_000_000 / (5 * n * n - 4 * p);
    if (i % WAVEFORM_LEN) < half {
        value
    } else {
        -value
    }
}

#[allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "evaluated at build time only (WAVEFORM): an overflow or a bad index fails the build; the sum is below 1.45e8, so / 18,000 fits an i16"
)]
const fn waveform() -> [i16; WAVEFORM_LEN] {
    let mut table = [0_i16; WAVEFORM_LEN];
    let mut i = 0;
    while i < WAVEFORM_LEN {
        // 1, 0.3 and 0.15 of the fundamental, the 2nd and 3rd harmonics.
        let sum = sine_micro(i) * 100 + sine_micro(2 * i) * 30 + sine_micro(3 * i) * 15;
        // Peak below 1.45e8: scale to about 8,000.
        table[i] = (sum / 18_000) as i16;
        i += 1;
    }
    table
}

/// One voice: silent until a note starts.
#[derive(Clone, Debug)]
pub struct Voice {
    rate: u32,
    phase: u32,
    step: u32,
    envelope: Envelope,
}

impl Voice {
    /// A silent voice playing at `rate` frames per second.
    pub const fn new(rate: u32) -> Self {
        Self {
            rate,
            phase: 0,
            step: 0,
            envelope: Envelope::for_rate(rate),
        }
    }

    /// Starts `note` (the waveform read `f / rate` periods per frame).
    pub fn note_on(&mut self, note: Note) {
        let millihertz = u128::from(frequency_millihertz(note));
        let per_frame = (millihertz << 32)
            .checked_div(u128::from(self.rate).saturating_mul(1000))
            .unwrap_or(0);
        self.step = u32::try_from(per_frame).unwrap_or(u32::MAX);
        self.envelope.start();
    }

    /// Ends the note (its release still sounds).
    pub fn note_off(&mut self) {
        self.envelope.release();
    }

    /// True while it makes sound.
    pub fn is_active(&self) -> bool {
        self.envelope.is_active()
    }

    /// This frame's sample, then one frame on.
    pub fn next_sample(&mut self) -> i32 {
        let level = self.envelope.next_level();
        if level == 0 {
            self.phase = self.phase.wrapping_add(self.step);
            return 0;
        }
        let index = (self.phase >> (32 - INDEX_BITS)) as usize;
        let fraction = i64::from((self.phase >> (32 - INDEX_BITS - 16)) & 0xffff);
        let s0 = i64::from(WAVEFORM.get(index).copied().unwrap_or(0));
        let s1 = i64::from(
            WAVEFORM
                .get(index.wrapping_add(1) % WAVEFORM_LEN)
                .copied()
                .unwrap_or(0),
        );
        let sample = s0.saturating_add(s1.saturating_sub(s0).saturating_mul(fraction) >> 16);
        self.phase = self.phase.wrapping_add(self.step);
        let shaped = sample
            .saturating_mul(i64::from(level))
            .checked_div(i64::from(FULL))
            .unwrap_or(0);
        i32::try_from(shaped).unwrap_or(0)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The strongest frequency of `samples` in 50..2,000 Hz (0.25 Hz steps).
    fn strongest(samples: &[i32], rate: u32) -> f64 {
        let mut best = (0.0, 0.0);
        let mut hz = 50.0;
        while hz < 2000.0 {
            let w = 2.0 * core::f64::consts::PI * hz / f64::from(rate);
            let c = 2.0 * libm_cos(w);
            let (mut s1, mut s2) = (0.0, 0.0);
            for &x in samples {
                let s0 = f64::from(x) + c * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            let m = s1 * s1 + s2 * s2 - c * s1 * s2;
            if m > best.1 {
                best = (hz, m);
            }
            hz += 0.25;
        }
        best.0
    }

    fn libm_cos(x: f64) -> f64 {
        extern crate std;
        x.cos()
    }

    #[test]
    fn the_waveform_is_one_period_of_a_bright_tone() {
        let peak = WAVEFORM.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((6000..=9000).contains(&peak), "{peak}");
        assert_eq!(WAVEFORM[0], 0);
    }

    #[test]
    fn a_voice_plays_its_note_at_the_right_pitch() {
        let rate = 25_000;
        for midi in [48u8, 60, 69, 76, 84] {
            let mut voice = Voice::new(rate);
            voice.note_on(Note(midi));
            let samples: Vec<i32> = (0..rate / 2).map(|_| voice.next_sample()).collect();
            let want = frequency_millihertz(Note(midi)) as f64 / 1000.0;
            let got = strongest(&samples[2500..], rate);
            assert!(
                (got - want).abs() / want < 0.005,
                "MIDI {midi}: {got} Hz, want {want}"
            );
        }
    }

    #[test]
    fn note_off_fades_to_silence() {
        let mut voice = Voice::new(25_000);
        voice.note_on(Note(69));
        for _ in 0..5000 {
            voice.next_sample();
        }
        voice.note_off();
        for _ in 0..1000 {
            voice.next_sample();
        }
        assert!(!voice.is_active());
        assert_eq!(voice.next_sample(), 0);
    }
}
