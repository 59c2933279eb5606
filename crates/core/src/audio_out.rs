//! `/dev/audio` (issue 14, docs/audio.md): a pipe whose reader is the
//! sound card's DAC.
//!
//! Owns [`open`] and [`on_tick`]. Opening `/dev/audio` (write-only, one
//! open at a time) makes a pipe: the program gets its write end, an
//! ordinary pipe end whose write is synthesized like any other
//! (`pipe_write`, Collapsing Layers: the device layer adds no code to the
//! caller's path), and the kernel keeps the read end here. When a DMA
//! buffer completes, the controller's interrupt (its PCI line routed to a
//! legacy IRQ, `sk_machine::legacy_irq`) polls the AC'97 (underruns are
//! counted there) and moves whole pages from the ring into free DMA
//! buffers, waking a writer the ring's handshake says waits for room (the
//! timer tick does the same, the fallback for a line that cannot be
//! routed);
//! once the write end is closed it sends the rest, lets what is queued
//! play out, and ends the stream (the console says how it went). A
//! writer blocks on a full ring as on any pipe, so a program producing
//! frames faster than the DAC plays them is paced by it.

use crate::state::{Core, Object};
use crate::{pipe_calls, state, synthesis};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use sk_abi::{Handle, OpenFlags, SysError, AUDIO_RATE_HZ};
use sk_machine::ac97::{Ac97, Ac97Error};
use sk_sio::{PipeEnd, PipeStep, Sio};

/// Bytes of one DMA buffer: a page of 16-bit stereo frames.
const PAGE_BYTES: usize = 4096;

/// The stream being played: the ring's read end and what it moved.
struct Stream {
    reader: PipeEnd,
    pipe: u64,
    bytes: u64,
}

/// The sound card (found at the first open and kept) and the stream.
struct AudioOut {
    device: Option<Ac97>,
    stream: Option<Stream>,
}

/// True from an open until the last frame was handed over and played:
/// the timer tick looks at it before taking any lock.
static STREAMING: AtomicBool = AtomicBool::new(false);
/// The sound card's legacy IRQ (`u32::MAX`: not routed).
static IRQ: AtomicU32 = AtomicU32::new(u32::MAX);
/// Its interrupts so far.
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);

static AUDIO: spin::Mutex<AudioOut> = spin::Mutex::new(AudioOut {
    device: None,
    stream: None,
});

/// Opens `/dev/audio` for SMACH `me` with `flags` (`WRITE` only): the
/// write end of a new pipe whose reader is the DAC, at a new handle.
///
/// # Errors
/// [`SysError::BadFlags`] for other flags; [`SysError::Busy`] while a
/// stream plays; [`SysError::NotFound`] without a sound card;
/// [`SysError::NoMemory`], [`SysError::TooManyHandles`].
pub(crate) fn open(core: &mut Core, me: u64, flags: OpenFlags) -> Result<Handle, SysError> {
    if flags != OpenFlags::WRITE {
        return Err(SysError::BadFlags);
    }
    let mut audio = AUDIO.lock();
    if audio.stream.is_some() {
        return Err(SysError::Busy);
    }
    if audio.device.is_none() {
        let mut device = Ac97::init(AUDIO_RATE_HZ).map_err(|e| match e {
            Ac97Error::NotFound | Ac97Error::NoIoBars => SysError::NotFound,
            Ac97Error::NoMemory => SysError::NoMemory,
        })?;
        // The controller's own interrupt refills: each completed buffer
        // raises it. (The timer tick feeds too, so a card whose line
        // cannot be routed still plays.)
        if let Some(irq) = sk_machine::legacy_irq::route_pci_intx(device.function()) {
            let mut hooks = sk_machine::traps::hooks();
            hooks.legacy_irq = on_interrupt;
            sk_machine::traps::set_hooks(hooks);
            device.interrupt_on_completion();
            sk_machine::legacy_irq::enable(irq);
            IRQ.store(u32::from(irq), Ordering::Relaxed);
        }
        audio.device = Some(device);
    }
    let pipe = pipe_calls::next_pipe();
    let (reader, writer) = sk_sio::new_pipe(pipe)?;
    let sio = Sio::pipe_write_end(writer)?;
    let smach = core.smachs.get_mut(&me).ok_or(SysError::NotPermitted)?;
    let handle = match smach.handles.insert(Object::Sio(sio)) {
        Ok(handle) => handle,
        Err((e, object)) => {
            if let Object::Sio(sio) = object {
                synthesis::close_sio(core, sio);
            }
            return Err(e);
        }
    };
    audio.stream = Some(Stream {
        reader,
        pipe,
        bytes: 0,
    });
    STREAMING.store(true, Ordering::Relaxed);
    drop(audio);
    synthesis::replan(core, me, handle);
    Ok(handle)
}

/// At a timer tick: while a stream plays, [`feed`] the sound card (the
/// fallback: the controller's interrupt does it as each buffer ends).
pub(crate) fn on_tick() {
    if STREAMING.load(Ordering::Relaxed) {
        state::with(feed);
    }
}

/// The sound card's interrupt (a buffer completed): acknowledge it and
/// refill.
fn on_interrupt(_: &mut sk_machine::traps::TrapFrame, irq: u8) {
    if u32::from(irq) != IRQ.load(Ordering::Relaxed) {
        return;
    }
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    state::with(|core| {
        let mut audio = AUDIO.lock();
        if let Some(device) = audio.device.as_mut() {
            device.poll();
        }
        drop(audio);
        if STREAMING.load(Ordering::Relaxed) {
            feed(core);
        }
    });
}

/// Interrupts the sound card raised so far.
pub fn interrupts() -> u64 {
    INTERRUPTS.load(Ordering::Relaxed)
}

/// Polls the sound card and feeds it whole pages from the stream's ring
/// (the rest once the writer closed).
fn feed(core: &mut Core) {
    let mut audio = AUDIO.lock();
    let AudioOut { device, stream } = &mut *audio;
    let Some(device) = device.as_mut() else {
        return;
    };
    let Some(playing) = stream.as_mut() else {
        // The stream ended: playing out what is queued.
        device.poll();
        if device.queued() == 0 {
            STREAMING.store(false, Ordering::Relaxed);
        }
        return;
    };
    device.poll();
    let mut page = [0u8; PAGE_BYTES];
    let mut ended = false;
    while device.free() > 0 {
        match playing.reader.drain(&mut page, true) {
            Some(PipeStep::Moved { len: 0, .. }) => {
                ended = true;
                break;
            }
            Some(PipeStep::Moved { len, wake }) => {
                let len = usize::try_from(len).unwrap_or(0);
                device.queue_bytes(page.get(..len).unwrap_or(&[]));
                playing.bytes = playing.bytes.saturating_add(len as u64);
                pipe_calls::wake(core, playing.pipe, wake);
            }
            Some(PipeStep::Blocked | PipeStep::ToConsole) | None => break,
        }
    }
    if ended {
        device.finish();
        if let Some(done) = stream.take() {
            let frames = done.bytes / 4;
            sk_machine::println!(
                "audio: stream ended: {frames} frames ({} ms at {AUDIO_RATE_HZ} Hz), {} underruns so far, {} interrupts so far",
                frames * 1000 / u64::from(AUDIO_RATE_HZ),
                device.underruns(),
                INTERRUPTS.load(Ordering::Relaxed)
            );
            let _ = done.reader.close();
        }
    }
    if stream.is_none() && device.queued() == 0 {
        STREAMING.store(false, Ordering::Relaxed);
    }
}

/// The sound card's underrun count, if it was found (tests, `show`).
/// Under the kernel lock, as every other taker of the audio lock (a
/// timer tick taking it inside would spin forever).
pub fn underruns() -> Option<u64> {
    state::with(|_| AUDIO.lock().device.as_ref().map(Ac97::underruns))
}

/// True from an open of `/dev/audio` until its last frame was played
/// (the demo waits for it before the machine powers off).
pub fn is_playing() -> bool {
    STREAMING.load(Ordering::Relaxed)
}
