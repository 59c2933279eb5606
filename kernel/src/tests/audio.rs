//! The AC'97 driver (`sk_machine::ac97`): a tone pair played into the
//! device, which QEMU writes to a WAV file the host analyses
//! (`xtask`'s `audio` check: each tone's pitch, the duration, no gap).
//!
//! These tests need the controller, which only `cargo xtask test`'s audio
//! boot adds (`-device AC97` with a `wav` audiodev): the runner runs them
//! only when the filter names this module (`ktest_runner::OWN_BOOT`).

use alloc::format;
use sk_ktest::{ensure, ensure_eq, ktest};
use sk_machine::ac97::{Ac97, BUFFER_FRAMES};

use sk_ktest::audio::{RATE, TONES};

/// A sine period in 256 steps, amplitude 12,000 (Bhaskara I's rational
/// approximation: no floating point in the kernel).
const SINE: [i16; 256] = sine();

const fn sine() -> [i16; 256] {
    let mut table = [0_i16; 256];
    let mut i = 0;
    while i < 256 {
        let t = (i % 128) as i64;
        let p = t * (128 - t);
        let value = 16 * p * 12_000 / (5 * 128 * 128 - 4 * p);
        table[i] = if i < 128 {
            value as i16
        } else {
            -(value as i16)
        };
        i += 1;
    }
    table
}

ktest!(
    fn ac97_plays_two_tones_without_underrun() {
        let mut ac97 = Ac97::init(RATE).map_err(|e| format!("AC'97: {e:?}"))?;
        let rate = ac97.rate();
        ensure_eq!(rate, RATE);
        let mut chunk = [[0_i16; 2]; BUFFER_FRAMES];
        let mut phase = 0_u32;
        let mut queued_frames = 0_u64;
        for (frequency, ms) in TONES {
            let step = ((u64::from(frequency) << 32) / u64::from(rate)) as u32;
            let mut left = u64::from(rate) * u64::from(ms) / 1000;
            while left > 0 {
                let n = (left as usize).min(BUFFER_FRAMES);
                for frame in chunk.iter_mut().take(n) {
                    let sample = SINE[(phase >> 24) as usize];
                    *frame = [sample, sample];
                    phase = phase.wrapping_add(step);
                }
                loop {
                    ac97.poll();
                    if ac97.queue(&chunk[..n]) {
                        break;
                    }
                    core::hint::spin_loop();
                }
                left -= n as u64;
                queued_frames += n as u64;
            }
        }
        // Everything queued plays out; an underrun before that is a gap.
        ac97.finish();
        let underruns = ac97.underruns();
        while ac97.queued() > 0 {
            core::hint::spin_loop();
        }
        // The device has taken every frame; QEMU's backend writes them out
        // at its own period (10 ms): give it that before stopping.
        sk_machine::tsc::spin_ns(50_000_000);
        ac97.stop();
        sk_machine::println!(
            "audio: AC'97 at {:?}, {rate} Hz, {queued_frames} frames played, {underruns} underruns",
            ac97.function()
        );
        ensure!(underruns == 0, "{underruns} underruns");
        Ok(())
    }
);

ktest!(
    fn dev_audio_is_write_only_one_open_at_a_time_and_free_after_close() {
        // `/bin/music` start argument 4: its self test of the open rules
        // (it writes no sound, so the tone recording stays as it is).
        let id = sk_core::spawn_program("/bin/music", 4).map_err(|e| format!("spawn: {e}"))?;
        let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
        sk_core::release_program(id);
        ensure_eq!(status?, 0);
        // The last close's stream ends at a timer tick.
        let start = sk_machine::apic::ticks();
        while sk_core::audio_out::is_playing() && sk_machine::apic::ticks() < start + 10 {
            sk_core::yield_now();
        }
        ensure!(
            !sk_core::audio_out::is_playing(),
            "the stream did not end in 10 ticks"
        );
        Ok(())
    }
);
