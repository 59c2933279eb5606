//! `music`: the seed's music synthesizer (issue 14). "A note sequencer
//! running in one SCPU feeds a four-voice sampling synthesizer, one voice
//! per SCPU. The voices from the second stage go to a summing program in
//! a sixth SCPU, which sends its output to the digital-to-analog converter
//! port." (Pu, Massalin, Ioannidis 1988.)
//!
//! Six SCPUs in one SMACH, three stages, connected by pipes (each end
//! used by one SCPU, so each gets its own synthesized pipe routines):
//!
//! ```text
//! sequencer (main) --messages--> voice 1..4 --i32 blocks--> summer --frames--> /dev/audio
//! ```
//!
//! The score: `/etc/init.args` is `music [NAME]`, NAME a shipped tune
//! (`scale`, `chords`, `ode`; `chords` if absent) or a score file's path.
//! Modes, from the start argument's bits or words after the score's name:
//! 1 `generic`, every call on the generic path (`synth=off` for the
//! program's own objects); 2 `unpaced`, the frames go to `/dev/null` (the
//! pipeline's cost alone, unpaced by a sound card: the bench's
//! measurement); start argument 4 checks `/dev/audio`'s open rules
//! instead of playing. Without an audio device the frames go to
//! `/dev/null` too (said on the console). At the end it prints, per stage, the
//! TSC ticks spent computing per frame (guest instructions under TCG with
//! `-icount`) and its calls per block, then exits 0 (1 if a stage failed).
#![no_std]
#![no_main]

extern crate alloc;

mod heap;
mod stages;
mod wire;

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use sk_abi::{Handle, OpenFlags};
use sk_music::{NoteEvent, Score, VOICES};
use sk_user::{println, rdtsc, Scpu, Sio, Stack};
use stages::{Counters, COUNTERS, SUMMER};
use wire::{Message, BLOCK_FRAMES, MESSAGE_BYTES};

#[global_allocator]
static HEAP: heap::Bump = heap::Bump::new();

sk_user::entry!(main);

/// The rate the score is rendered at: the AC'97 codec takes 25 kHz exactly.
const RATE: u32 = 25_000;

/// Stacks of the five worker SCPUs.
static STACKS: [Stack<65536>; VOICES + 1] = [const { Stack::new() }; VOICES + 1];
/// Handles the workers use: per voice its input's read end and output's
/// write end; the summer's four inputs' read ends; the audio sink; the
/// semaphore the summer signals when done.
static VOICE_IN: [AtomicU32; VOICES] = [const { AtomicU32::new(0) }; VOICES];
static VOICE_OUT: [AtomicU32; VOICES] = [const { AtomicU32::new(0) }; VOICES];
static SUMMER_IN: [AtomicU32; VOICES] = [const { AtomicU32::new(0) }; VOICES];
static SINK: AtomicU32 = AtomicU32::new(0);
static DONE: AtomicU32 = AtomicU32::new(0);
static GENERIC: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicBool = AtomicBool::new(false);
/// Frames to `/dev/null`: the measurement mode.
static TO_NULL: AtomicBool = AtomicBool::new(false);

fn sio(cell: &AtomicU32) -> Sio {
    let sio = Sio::from_handle(Handle::new(cell.load(Ordering::Acquire)));
    if GENERIC.load(Ordering::Relaxed) {
        sio.generic()
    } else {
        sio
    }
}

fn main() -> i32 {
    let mut args = [0u8; 256];
    let (name, words) = score_name(&mut args);
    let mode = sk_user::start_arg() | words;
    if mode == SELF_TEST {
        return self_test();
    }
    GENERIC.store(mode & GENERIC_PATH != 0, Ordering::Relaxed);
    TO_NULL.store(mode & UNPACED != 0, Ordering::Relaxed);
    let mut text = [0u8; 8192];
    let score = match load(name, &mut text).and_then(|t| Score::parse(t).map_err(|_| "bad score")) {
        Ok(score) => score,
        Err(why) => {
            println!("music: score {name}: {why}");
            return 2;
        }
    };
    let events = score.events(RATE);
    let frames = score.frames(RATE);
    let path = if GENERIC.load(Ordering::Relaxed) {
        " (generic path)"
    } else {
        ""
    };
    let start = rdtsc();
    let played = run(&events, frames);
    let elapsed = rdtsc() - start;
    match played {
        Ok(sink) => {
            println!(
                "music: played {name}{path}: {frames} frames at {RATE} Hz ({} ms) to {sink}",
                frames * 1000 / u64::from(RATE)
            );
            report();
            report_total(elapsed, frames);
            i32::from(FAILED.load(Ordering::Relaxed))
        }
        Err(why) => {
            println!("music: {name}{path}: {why}");
            1
        }
    }
}

/// Mode bit: every call on the generic path.
const GENERIC_PATH: u64 = 1;
/// Mode bit: frames to `/dev/null`, unpaced.
const UNPACED: u64 = 2;
/// Mode: check `/dev/audio`'s open rules instead of playing.
const SELF_TEST: u64 = 4;

/// `/dev/audio`'s rules: write-only, one open at a time, a close ends the
/// stream (and the next open works). Exit 0 if all hold, else 1.
fn self_test() -> i32 {
    let mut failed = 0;
    let mut expect = |what: &str, ok: bool| {
        if !ok {
            println!("music: self test: {what}");
            failed = 1;
        }
    };
    let first = Sio::open("/dev/audio", OpenFlags::WRITE);
    expect("the first open failed", first.is_ok());
    let second = Sio::open("/dev/audio", OpenFlags::WRITE);
    expect(
        "a second open was not Busy",
        second.err() == Some(sk_abi::SysError::Busy),
    );
    let read = Sio::open("/dev/audio", OpenFlags::READ | OpenFlags::WRITE);
    expect(
        "an open for reading was not BadFlags",
        read.err() == Some(sk_abi::SysError::BadFlags),
    );
    if let Ok(first) = first {
        expect("an empty write", first.write(&[]) == Ok(0));
        expect("a close failed", first.close().is_ok());
    }
    // The stream ends at the next tick; then the card is free again.
    let mut again = Err(sk_abi::SysError::Busy);
    for _ in 0..1000 {
        again = Sio::open("/dev/audio", OpenFlags::WRITE);
        if again != Err(sk_abi::SysError::Busy) {
            break;
        }
        let _ = sk_user::sleep_ns(1_000_000);
    }
    expect("no open after the close", again.is_ok());
    if let Ok(again) = again {
        let _ = again.close();
    }
    println!(
        "music: self test of /dev/audio: {}",
        if failed == 0 { "passed" } else { "FAILED" }
    );
    failed
}

/// The score's name (the word after `music` in `/etc/init.args`, or
/// `chords`) and the mode bits its other words set (`generic`, `unpaced`).
fn score_name(buf: &mut [u8]) -> (&str, u64) {
    let n = Sio::open("/etc/init.args", OpenFlags::READ)
        .and_then(|f| {
            let n = f.read(buf);
            let _ = f.close();
            n
        })
        .unwrap_or(0);
    let args = core::str::from_utf8(buf.get(..n).unwrap_or(&[])).unwrap_or("");
    let mut words = args.split_ascii_whitespace();
    if words.next() != Some("music") {
        return ("chords", 0);
    }
    let mut name = "chords";
    let mut mode = 0;
    for word in words {
        match word {
            "generic" => mode |= GENERIC_PATH,
            "unpaced" => mode |= UNPACED,
            other => name = other,
        }
    }
    (name, mode)
}

/// The score text: a shipped tune by name, else the file at `name`.
fn load<'a>(name: &str, buf: &'a mut [u8]) -> Result<&'a str, &'static str> {
    if let Some((_, tune)) = sk_music::tunes::ALL.iter().find(|(n, _)| *n == name) {
        let bytes = tune.as_bytes();
        let out = buf.get_mut(..bytes.len()).ok_or("tune too long")?;
        out.copy_from_slice(bytes);
        return core::str::from_utf8(out).map_err(|_| "not UTF-8");
    }
    let file = Sio::open(name, OpenFlags::READ).map_err(|_| "cannot open it")?;
    let mut n = 0;
    loop {
        let got = file
            .read(buf.get_mut(n..).ok_or("score too long")?)
            .map_err(|_| "cannot read it")?;
        if got == 0 {
            break;
        }
        n += got;
    }
    let _ = file.close();
    core::str::from_utf8(buf.get(..n).unwrap_or(&[])).map_err(|_| "not UTF-8")
}

fn new_pipe() -> Result<(Sio, Sio), &'static str> {
    if GENERIC.load(Ordering::Relaxed) {
        Sio::pipe_generic()
    } else {
        Sio::pipe()
    }
    .map_err(|_| "cannot make a pipe")
}

/// Sets the pipeline up, runs the sequencer here, waits for the summer;
/// returns the sink's name.
fn run(events: &[NoteEvent], frames: u64) -> Result<&'static str, &'static str> {
    let (sink, sink_name) = open_sink()?;
    SINK.store(sink.handle().index(), Ordering::Release);
    let done = Sio::semaphore().map_err(|_| "cannot make a semaphore")?;
    DONE.store(done.handle().index(), Ordering::Release);
    let mut to_voices: [Option<Sio>; VOICES] = [None, None, None, None];
    for (v, to_voice) in to_voices.iter_mut().enumerate() {
        let (voice_in, seq_out) = new_pipe()?;
        let (summer_in, voice_out) = new_pipe()?;
        VOICE_IN[v].store(voice_in.handle().index(), Ordering::Release);
        VOICE_OUT[v].store(voice_out.handle().index(), Ordering::Release);
        SUMMER_IN[v].store(summer_in.handle().index(), Ordering::Release);
        *to_voice = Some(seq_out);
    }
    for (index, stack) in STACKS.iter().enumerate() {
        let stack = stack.take().ok_or("stack taken")?;
        let entry: extern "C" fn(u64) -> ! = if index < VOICES {
            voice_main
        } else {
            summer_main
        };
        Scpu::create(entry, stack, index as u64).map_err(|_| "cannot start an SCPU")?;
    }
    sequence(events, frames, &to_voices)?;
    let done = sio(&DONE);
    done.p().map_err(|_| "waiting for the summer")?;
    Ok(sink_name)
}

/// `/dev/audio`, or `/dev/null` when there is no audio device.
fn open_sink() -> Result<(Sio, &'static str), &'static str> {
    let open = |path| {
        if GENERIC.load(Ordering::Relaxed) {
            Sio::open_generic(path, OpenFlags::WRITE)
        } else {
            Sio::open(path, OpenFlags::WRITE)
        }
    };
    if TO_NULL.load(Ordering::Relaxed) {
        return open("/dev/null")
            .map(|sink| (sink, "/dev/null"))
            .map_err(|_| "cannot open /dev/null");
    }
    match open("/dev/audio") {
        Ok(sink) => Ok((sink, "/dev/audio")),
        Err(e) => {
            println!("music: no /dev/audio ({e}): the frames go to /dev/null");
            open("/dev/null")
                .map(|sink| (sink, "/dev/null"))
                .map_err(|_| "cannot open /dev/null")
        }
    }
}

/// The first stage: for each block, each voice's note starts and ends in
/// it, then `Advance` to its end; `Stop` after the last.
fn sequence(
    events: &[NoteEvent],
    frames: u64,
    to_voices: &[Option<Sio>; VOICES],
) -> Result<(), &'static str> {
    let counters: &Counters = &COUNTERS[0];
    // Each voice's events, in order (a voice plays one note at a time).
    let mut next = [0usize; VOICES];
    let mut playing: [Option<u64>; VOICES] = [None; VOICES];
    let mut batch = [0u8; 64 * MESSAGE_BYTES];
    let mut block_start = 0u64;
    while block_start < frames {
        let block_end = (block_start + BLOCK_FRAMES as u64).min(frames);
        for (v, to_voice) in to_voices.iter().enumerate() {
            let start = rdtsc();
            let mut n = 0usize;
            let mut push = |m: Message, n: &mut usize| {
                if let Some(slot) = batch.get_mut(*n * MESSAGE_BYTES..(*n + 1) * MESSAGE_BYTES) {
                    slot.copy_from_slice(&m.encode());
                    *n += 1;
                }
            };
            loop {
                // The earlier of this voice's note end and next start.
                let end = playing[v].filter(|&e| e < block_end);
                let on = events
                    .iter()
                    .skip(next[v])
                    .find(|e| e.voice == v)
                    .filter(|e| e.start < block_end);
                match (end, on) {
                    (Some(e), Some(o)) if e <= o.start => {
                        push(Message::NoteOff { frame: e }, &mut n);
                        playing[v] = None;
                    }
                    (Some(e), None) => {
                        push(Message::NoteOff { frame: e }, &mut n);
                        playing[v] = None;
                    }
                    (_, Some(o)) => {
                        push(
                            Message::NoteOn {
                                frame: o.start,
                                note: o.note.0,
                            },
                            &mut n,
                        );
                        playing[v] = Some(o.start + o.frames);
                        next[v] = events
                            .iter()
                            .position(|e| core::ptr::eq(e, o))
                            .map_or(events.len(), |i| i + 1);
                    }
                    (None, None) => break,
                }
            }
            push(Message::Advance { frame: block_end }, &mut n);
            counters.add_compute(rdtsc() - start, block_end - block_start);
            let to_voice = to_voice.as_ref().ok_or("no pipe")?;
            to_voice
                .write_all(&batch[..n * MESSAGE_BYTES])
                .map_err(|_| "sequencer: write")?;
            counters.add_call();
        }
        block_start = block_end;
    }
    for to_voice in to_voices.iter().flatten() {
        to_voice
            .write_all(&Message::Stop.encode())
            .map_err(|_| "sequencer: stop")?;
    }
    Ok(())
}

extern "C" fn voice_main(index: u64) -> ! {
    #[allow(clippy::cast_possible_truncation)]
    let v = index as usize;
    let result = stages::voice(
        RATE,
        &sio(&VOICE_IN[v]),
        &sio(&VOICE_OUT[v]),
        &COUNTERS[v + 1],
    );
    if let Err(why) = result {
        println!("music: voice {}: {why}", v + 1);
        FAILED.store(true, Ordering::Relaxed);
    }
    // The summer sees this voice's end.
    let _ = Sio::from_handle(Handle::new(VOICE_OUT[v].load(Ordering::Acquire))).close();
    park()
}

extern "C" fn summer_main(_: u64) -> ! {
    let inputs = [0, 1, 2, 3].map(|v| sio(&SUMMER_IN[v]));
    if let Err(why) = stages::summer(&inputs, &sio(&SINK), &COUNTERS[SUMMER]) {
        println!("music: summer: {why}");
        FAILED.store(true, Ordering::Relaxed);
    }
    // Closing the sink lets the device play out what is queued.
    let _ = Sio::from_handle(Handle::new(SINK.load(Ordering::Acquire))).close();
    let _ = sio(&DONE).v();
    park()
}

/// A finished stage waits here until the program exits.
fn park() -> ! {
    loop {
        let _ = sk_user::sleep_ns(1 << 40);
    }
}

/// Per stage: compute ticks per frame and calls per block.
fn report() {
    let names = [
        "sequencer",
        "voice 1",
        "voice 2",
        "voice 3",
        "voice 4",
        "summer",
    ];
    for (name, c) in names.iter().zip(&COUNTERS) {
        let ticks = c.compute_ticks.load(Ordering::Relaxed);
        let frames = c.frames.load(Ordering::Relaxed).max(1);
        let calls = c.calls.load(Ordering::Relaxed);
        println!(
            "music: stage {name}: {}.{:02} ticks computing per frame, {calls} calls",
            ticks / frames,
            (ticks % frames) * 100 / frames
        );
    }
}

/// The whole pipeline's ticks per frame from start to end (six stages,
/// their calls and switches; with a sound card also the time spent
/// waiting for it, so only unpaced, to `/dev/null`, is it the pipeline's
/// cost), against a frame's length: at 25 kHz a frame lasts 40 us, 40,000
/// ticks of a 1 GHz TSC (QEMU's TCG with `-icount shift=0`: one
/// instruction a nanosecond).
fn report_total(elapsed: u64, frames: u64) {
    let frames = frames.max(1);
    let per_frame = elapsed / frames;
    let budget = 1_000_000_000 / u64::from(RATE);
    println!(
        "music: pipeline: {per_frame} ticks per frame from start to end ({}.{:01}% of a frame's {budget} at 1 GHz; the CPU's share when unpaced, to /dev/null)",
        per_frame * 100 / budget,
        per_frame * 1000 / budget % 10
    );
}
