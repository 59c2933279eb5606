//! The pipeline's second and third stages, each running in its own SCPU:
//! four sampling voices and the summer.
//!
//! Owns [`voice`] (messages in from the sequencer's pipe, one block of
//! `i32` samples out per `Advance` to the summer's pipe) and [`summer`]
//! (a block from each voice, mixed and clipped by `sk_music::mix`, out as
//! 16-bit stereo frames to the audio SIO), and [`Counters`]: the TSC
//! ticks each stage spends computing (under TCG with `-icount`, guest
//! instructions) and the samples it made, read by `main` for the report.

use crate::wire::{Message, BLOCK_FRAMES, MESSAGE_BYTES};
use core::sync::atomic::{AtomicU64, Ordering};
use sk_music::{mix, Note, Voice, VOICES};
use sk_user::{rdtsc, Sio};

/// What one stage spent: compute ticks (between `rdtsc`s around its own
/// work, no system call inside), calls made and samples (frames) made.
pub(crate) struct Counters {
    pub(crate) compute_ticks: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) frames: AtomicU64,
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Self {
            compute_ticks: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            frames: AtomicU64::new(0),
        }
    }

    /// `ticks` spent computing `frames` frames.
    pub(crate) fn add_compute(&self, ticks: u64, frames: u64) {
        self.compute_ticks.fetch_add(ticks, Ordering::Relaxed);
        self.frames.fetch_add(frames, Ordering::Relaxed);
    }

    /// One system call made.
    pub(crate) fn add_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

/// Stage counters: 0 the sequencer, 1..=4 the voices, 5 the summer.
pub(crate) static COUNTERS: [Counters; 6] = [const { Counters::new() }; 6];

/// Index of the summer's counters.
pub(crate) const SUMMER: usize = 5;

/// A voice: plays what `input` says into `output`; `counters` are its own.
/// Returns when the sequencer says stop (or a pipe fails).
pub(crate) fn voice(
    rate: u32,
    input: &Sio,
    output: &Sio,
    counters: &Counters,
) -> Result<(), &'static str> {
    let mut voice = Voice::new(rate);
    let mut block = [0i32; BLOCK_FRAMES];
    let mut filled = 0usize;
    let mut now = 0u64;
    let mut bytes = [0u8; 4096];
    let mut out = [0u8; BLOCK_FRAMES * 4];
    loop {
        let n = input.read(&mut bytes).map_err(|_| "voice: read")?;
        counters.add_call();
        if n == 0 {
            return Err("voice: the sequencer's pipe closed early");
        }
        for message in bytes[..n].chunks_exact(MESSAGE_BYTES) {
            let mut m = [0u8; MESSAGE_BYTES];
            m.copy_from_slice(message);
            let message = Message::decode(&m).ok_or("voice: bad message")?;
            let until = match message {
                Message::NoteOn { frame, .. }
                | Message::NoteOff { frame }
                | Message::Advance { frame } => frame,
                Message::Stop => return Ok(()),
            };
            // Render up to the message's frame (within this block).
            let start = rdtsc();
            #[allow(clippy::cast_possible_truncation)]
            let frames = until
                .saturating_sub(now)
                .min((BLOCK_FRAMES - filled) as u64) as usize;
            for sample in &mut block[filled..filled + frames] {
                *sample = voice.next_sample();
            }
            filled += frames;
            now += frames as u64;
            match message {
                Message::NoteOn { note, .. } => voice.note_on(Note(note)),
                Message::NoteOff { .. } => voice.note_off(),
                _ => {}
            }
            counters.add_compute(rdtsc() - start, frames as u64);
            if let Message::Advance { .. } = message {
                for (sample, out) in block[..filled].iter().zip(out.chunks_exact_mut(4)) {
                    out.copy_from_slice(&sample.to_le_bytes());
                }
                output
                    .write_all(&out[..filled * 4])
                    .map_err(|_| "voice: write")?;
                counters.add_call();
                filled = 0;
            }
        }
    }
}

/// The summer: a block from each voice in turn, mixed, to `sink` as
/// stereo frames. Returns at the end of the voices' pipes.
pub(crate) fn summer(
    inputs: &[Sio; VOICES],
    sink: &Sio,
    counters: &Counters,
) -> Result<(), &'static str> {
    let mut blocks = [[0u8; BLOCK_FRAMES * 4]; VOICES];
    let mut frames_out = [0u8; BLOCK_FRAMES * 4];
    loop {
        // Voice 0's block says how long this one is (the last may be short).
        let first = read_full(&inputs[0], &mut blocks[0], None, counters)?;
        if first == 0 {
            return Ok(());
        }
        for (input, block) in inputs.iter().zip(blocks.iter_mut()).skip(1) {
            read_full(input, block, Some(first), counters)?;
        }
        let start = rdtsc();
        let frames = first / 4;
        for (i, frame) in frames_out.chunks_exact_mut(4).take(frames).enumerate() {
            let mut voices = [0i32; VOICES];
            for (v, block) in voices.iter_mut().zip(&blocks) {
                let mut s = [0u8; 4];
                s.copy_from_slice(&block[i * 4..i * 4 + 4]);
                *v = i32::from_le_bytes(s);
            }
            let sample = mix(&voices).to_le_bytes();
            frame[..2].copy_from_slice(&sample);
            frame[2..].copy_from_slice(&sample);
        }
        counters.add_compute(rdtsc() - start, frames as u64);
        sink.write_all(&frames_out[..first])
            .map_err(|_| "summer: audio write")?;
        counters.add_call();
    }
}

/// Reads one block from `input` into `block`: whatever one read gives
/// (`want` None: voice 0 sets the length), or exactly `want` bytes.
fn read_full(
    input: &Sio,
    block: &mut [u8],
    want: Option<usize>,
    counters: &Counters,
) -> Result<usize, &'static str> {
    let Some(want) = want else {
        let n = input.read(block).map_err(|_| "summer: read")?;
        counters.add_call();
        return Ok(n);
    };
    let mut got = 0;
    while got < want {
        let n = input
            .read(&mut block[got..want])
            .map_err(|_| "summer: read")?;
        counters.add_call();
        if n == 0 {
            return Err("summer: a voice ended early");
        }
        got += n;
    }
    Ok(got)
}
