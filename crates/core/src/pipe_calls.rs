//! Pipe calls on the generic path: the kernel side of `sk_sio::PipeEnd`.
//!
//! Owns opening a pipe (two SIOs, two handles: [`open`]), the blocking
//! read and write ([`read`], [`write`], where `sio_calls` sends a `read`
//! or `write` it found is on a pipe end) and waking a pipe's sleepers
//! ([`wake`]). Every look at the
//! ring, the registration of a sleeper and its block happen in one
//! critical section (`scheduler::block_current_unless`), and every
//! transfer and close delivers the wake the ring's handshake says it owes
//! (`sk_queue::Wake`), so no wake-up is lost.

use crate::state::{Core, Object};
use crate::user_memory::KernelUserMemory;
use crate::{scheduler, synthesis};
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{Handle, OpenFlags, PipeHandles, SysError};
use sk_sio::{PipeStep, Sio, Wake};

/// Pipe numbers (keys of their sleepers): never reused while the kernel
/// runs.
static NEXT_PIPE: AtomicU64 = AtomicU64::new(1);

/// Test builds: pieces [`write_to_console`] handed to the console (the
/// revocation race's probe, `testing::console_pipe_pieces`).
#[cfg(feature = "ktest")]
pub(crate) static CONSOLE_PIECES: AtomicU64 = AtomicU64::new(0);

/// A new pipe's number.
pub(crate) fn next_pipe() -> u64 {
    NEXT_PIPE.fetch_add(1, Ordering::Relaxed)
}

/// Makes a pipe for SMACH `me`: its read end and write end, each at a new
/// handle. `flags` must be `READ | WRITE` (the pair).
///
/// # Errors
/// [`SysError::BadFlags`] for other flags; [`SysError::NoMemory`],
/// [`SysError::TooManyHandles`] (nothing is left open).
pub(crate) fn open(core: &mut Core, me: u64, flags: OpenFlags) -> Result<PipeHandles, SysError> {
    if flags != OpenFlags::READ | OpenFlags::WRITE {
        return Err(SysError::BadFlags);
    }
    let pipe = next_pipe();
    let (read_end, write_end) = Sio::open_pipe(pipe)?;
    let (read, write) = crate::sio_calls::install_pair(core, me, read_end, write_end)?;
    Ok(PipeHandles { read, write })
}

/// Wakes the sleepers `wake` names on `pipe`.
pub(crate) fn wake(core: &mut Core, pipe: u64, wake: Wake) {
    for thread in core.devices.pipe_waiters.take(pipe, wake) {
        scheduler::wake(core, thread);
    }
}

/// One look at the pipe end at `handle` (the same open as `serial`
/// names, once set): `step` runs on it and says what happened; a
/// `Blocked` registers the caller as a sleeper of that end.
fn look(
    core: &mut Core,
    handle: Handle,
    serial: &mut Option<u64>,
    is_write: bool,
    (buf, len): (u64, u64),
    step: impl FnOnce(&mut sk_sio::PipeEnd) -> Result<PipeStep, SysError>,
) -> Result<(u64, PipeStep), SysError> {
    let me = core.current_smach_id()?;
    let access = if is_write {
        crate::share::Access::Write
    } else {
        crate::share::Access::Read
    };
    let sio = crate::share::sio_mut(core, me, handle, access)?;
    if *serial.get_or_insert(sio.serial()) != sio.serial() {
        // Closed (and reused) while the caller slept.
        return Err(SysError::BadHandle);
    }
    sio.check_transfer(is_write, &mut KernelUserMemory, buf, len)?;
    let end = sio.pipe_end_mut().ok_or(SysError::WrongKind)?;
    let pipe = end.pipe();
    Ok((pipe, step(end)?))
}

/// The generic pipe read: what the ring holds (at most `len` bytes, one
/// bounce buffer), blocking while it is empty and the write end open; 0 at
/// end of file.
pub(crate) fn read(handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    let mut serial = None;
    loop {
        let mut moved = None;
        let done = scheduler::block_current_unless(|core| {
            let (pipe, step) = look(core, handle, &mut serial, false, (buf, len), |end| {
                if len == 0 {
                    return Ok(PipeStep::Moved {
                        len: 0,
                        wake: Wake::Nobody,
                    });
                }
                end.read_from_ring(&mut KernelUserMemory, buf, len)
            })?;
            match step {
                PipeStep::Moved { len, wake: owed } => {
                    moved = Some(len);
                    wake(core, pipe, owed);
                    Ok(true)
                }
                PipeStep::Blocked => {
                    if crate::linux_signals::interrupts_wait(core) {
                        return Err(SysError::Interrupted);
                    }
                    let current = core.current;
                    core.devices.pipe_waiters.add(pipe, true, current)?;
                    Ok(false)
                }
                // Only a write end says so.
                PipeStep::ToConsole => Err(SysError::WrongKind),
            }
        })?;
        if done {
            return Ok(moved.unwrap_or(0));
        }
    }
}

/// The generic pipe write: all `len` bytes, in pieces of at most the
/// atomic size (a write of at most [`sk_sio::PIPE_ATOMIC_BYTES`] is one
/// piece, whole or waiting), blocking while the ring is full. A broken
/// pipe or a fault after some pieces returns the count written; before
/// any, the error.
pub(crate) fn write(handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    let mut serial = None;
    let mut written = 0u64;
    loop {
        let mut moved = None;
        let mut to_console = false;
        let at = (buf.wrapping_add(written), len.saturating_sub(written));
        let done = scheduler::block_current_unless(|core| {
            let (pipe, step) = look(core, handle, &mut serial, true, (buf, len), |end| {
                if at.1 == 0 {
                    return Ok(PipeStep::Moved {
                        len: 0,
                        wake: Wake::Nobody,
                    });
                }
                end.write_to_ring(&mut KernelUserMemory, at.0, at.1)
            })?;
            match step {
                PipeStep::Moved { len, wake: owed } => {
                    moved = Some(len);
                    wake(core, pipe, owed);
                    Ok(true)
                }
                PipeStep::Blocked => {
                    if crate::linux_signals::interrupts_wait(core) {
                        return Err(SysError::Interrupted);
                    }
                    let current = core.current;
                    core.devices.pipe_waiters.add(pipe, false, current)?;
                    Ok(false)
                }
                // `program | tty`: found in the same look, at no cost to
                // the pipe's own path.
                PipeStep::ToConsole => {
                    to_console = true;
                    Ok(true)
                }
            }
        });
        if to_console {
            // The rest of the call goes to the console. Bytes already in
            // the ring count: an error of the console's part after them
            // ends the call with their count, as any later piece's does
            // (a revoke still fails it).
            let rest = serial
                .ok_or(SysError::BadHandle)
                .and_then(|serial| write_to_console(handle, serial, at.0, at.1));
            return match rest {
                Ok(n) => Ok(written.saturating_add(n)),
                Err(e) => end_after_error(written, e),
            };
        }
        match done {
            Err(e) => return end_after_error(written, e),
            Ok(true) => {
                written = written.saturating_add(moved.unwrap_or(0));
                if written >= len {
                    return Ok(written);
                }
                scheduler::preemption_point();
            }
            // Woken (room, or the read end closed): look again.
            Ok(false) => {}
        }
    }
}

/// `reconfigure(PipeToConsole)` on the write end at `handle` of SMACH
/// `me` (its owner): the console becomes the pipe's reader, the end's
/// routines are replanned (to the console's collapsed write), and the
/// pipe's sleepers are woken (a reader to read what the ring holds, then
/// end of file; a writer to write the rest to the console).
///
/// # Errors
/// [`SysError::WrongKind`] unless it is a pipe's write end;
/// [`SysError::Exists`] if the console is already its reader;
/// [`SysError::NotPermitted`] from a holder. Nothing changes then.
pub(crate) fn to_console(core: &mut Core, me: u64, handle: Handle) -> Result<u64, SysError> {
    let current = core.current;
    let sio = match core
        .smachs
        .get_mut(&me)
        .ok_or(SysError::NotPermitted)?
        .handles
        .get_mut(handle)?
    {
        Object::Sio(sio) => sio,
        Object::Shared(_) => return Err(SysError::NotPermitted),
        _ => return Err(SysError::WrongKind),
    };
    let end = sio.pipe_end_mut().ok_or(SysError::WrongKind)?;
    let pipe = end.pipe();
    let owed = end.send_to_console()?;
    // The switch is a use: an end nobody used yet becomes the caller's
    // (`Sio::note_caller`), so the replan below puts its routines in the
    // caller's table.
    sio.note_caller(current);
    // This SIO is replanned in place: no list to allocate, so a full heap
    // cannot leave the pipe's routine on a console-bound end. (Holders of
    // a shared end are planned generic whatever it targets.)
    synthesis::replan(core, me, handle);
    wake(core, pipe, owed);
    wake(core, pipe, Wake::Writers);
    Ok(0)
}

/// True if `handle` names the open `serial`, a pipe write end whose
/// reader is the console.
fn is_to_console(core: &mut Core, handle: Handle, serial: u64) -> Result<bool, SysError> {
    let me = core.current_smach_id()?;
    let sio = crate::share::sio_mut(core, me, handle, crate::share::Access::Write)?;
    if sio.serial() != serial {
        // Closed (and the handle reused) between two pieces.
        return Err(SysError::BadHandle);
    }
    Ok(sio.pipe_end().is_some_and(sk_sio::PipeEnd::is_to_console))
}

/// How a pipe write ends on an error after `written` bytes: with their
/// count, or with the error when nothing moved yet or the end was revoked
/// (no holder call completes after a revoke).
fn end_after_error(written: u64, e: SysError) -> Result<u64, SysError> {
    if written > 0 && e != SysError::Revoked {
        Ok(written)
    } else {
        Err(e)
    }
}

/// The generic write of a pipe whose reader is the console (the open
/// `serial`), layered: this pipe layer hands each piece (the console's
/// own piece size, [`sk_sio::TTY_CHUNK_BYTES`]: each byte is polled out
/// of the UART with interrupts masked) to the console's line discipline,
/// which hands it to the UART driver. As the console's generic write: a
/// fault in the first piece fails the call with `BadAddress` (the bytes
/// before it written); in a later one, the call returns every byte
/// written. A revoke between pieces fails the call; a close (or the
/// handle reused by another open) ends it with what was written. So the
/// end answers as the console's synthesized routine, which it runs when
/// synthesis is on (`synthtest` part 8 compares the results and the
/// serial port's bytes).
fn write_to_console(handle: Handle, serial: u64, buf: u64, len: u64) -> Result<u64, SysError> {
    let mut written = 0u64;
    let mut piece = [0u8; sk_sio::TTY_CHUNK_BYTES as usize];
    while written < len {
        let n = usize::try_from(len - written)
            .unwrap_or(usize::MAX)
            .min(piece.len());
        let at = buf.wrapping_add(written);
        let copied = crate::state::with(
            |core| -> Result<Result<usize, (usize, SysError)>, SysError> {
                // Looked up at every piece: a revoke or close stops it.
                if !is_to_console(core, handle, serial)? {
                    return Err(SysError::BadHandle);
                }
                let chunk = piece.get_mut(..n).ok_or(SysError::BadAddress)?;
                let copied = sk_sio::UserMemory::read_prefix(&mut KernelUserMemory, chunk, at);
                let good = copied.map_or_else(|(k, _)| k, |()| n);
                core.devices.tty_write(
                    chunk.get(..good).unwrap_or(&[]),
                    &mut crate::sio_calls::console_out,
                );
                #[cfg(feature = "ktest")]
                CONSOLE_PIECES.fetch_add(1, Ordering::Relaxed);
                Ok(copied.map(|()| n))
            },
        );
        match copied {
            Err(e) => return end_after_error(written, e),
            Ok(Ok(n)) => written = written.saturating_add(n as u64),
            Ok(Err((good, e))) => {
                return if written > 0 {
                    Ok(written.saturating_add(good as u64))
                } else {
                    Err(e)
                };
            }
        }
        #[cfg(feature = "ktest")]
        if written < len {
            crate::testing::console_pipe::between_console_pieces();
        }
        scheduler::preemption_point();
    }
    Ok(written)
}
