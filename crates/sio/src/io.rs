//! The generic read and write.
//!
//! Reads copy straight from the file's buffer (or the device) to user
//! memory; writes go through a bounce buffer so a fault in the user's buffer
//! is found before the file changes. A fault part-way through a write leaves
//! the bytes before it written and counted, then fails with `BadAddress`,
//! exactly as a synthesized write does (the differential tests hold both to
//! it). One call moves at most what the caller asks; the dispatcher keeps
//! each call's work bounded with [`crate::transfer_in_chunks`].
//!
//! A file write first makes room for its bytes ([`FileSystem::make_room`]):
//! one [`Sio::write_step`] grows the file by at most
//! [`sk_fs::GROWTH_STEP_BYTES`] and, if the write needs more, returns
//! [`Piece::Prepared`] with nothing written, so a write far past the end
//! proceeds in bounded steps with the dispatcher's preemption points
//! between them.

use crate::{fs_error, Devices, Piece, Sio, Target, UserMemory};
use sk_abi::{OpenFlags, SysError};
use sk_fs::{FileSystem, Room};

/// Bytes moved per step of the generic file and console writes.
const BOUNCE_BYTES: usize = 4096;
/// Most console bytes one read returns.
const TTY_READ_BYTES: usize = 512;

/// What a read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many bytes were read (0: end of file).
    Data(u64),
    /// Nothing to read yet (the console): the caller blocks and retries.
    WouldBlock,
}

/// A write that stopped part-way: the bytes before the stop were written
/// (and, for a file, the position moved past them), then `error` happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialWrite {
    /// Bytes written before the error (0: none).
    pub written: u64,
    /// Why it stopped.
    pub error: SysError,
}

impl PartialWrite {
    const fn nothing(error: SysError) -> Self {
        Self { written: 0, error }
    }
}

impl<R> Sio<R> {
    /// The checks a read (`is_write` false) or write of `len` bytes at
    /// `buf` makes before it moves anything, in the same order: open for
    /// the op, then the user range. A transfer split into pieces makes
    /// them once for its whole range, so a range that wraps or leaves user
    /// space moves nothing even if its first pieces are good.
    ///
    /// # Errors
    /// [`SysError::NotPermitted`], [`SysError::BadAddress`].
    pub fn check_transfer(
        &self,
        is_write: bool,
        user: &mut impl UserMemory,
        buf: u64,
        len: u64,
    ) -> Result<(), SysError> {
        let needed = if is_write {
            OpenFlags::WRITE
        } else {
            OpenFlags::READ
        };
        if !self.flags().contains(needed) {
            return Err(SysError::NotPermitted);
        }
        user.check(buf, len)
    }

    /// The generic read of `len` bytes into user memory at `buf`.
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] if not open for reading,
    /// [`SysError::BadAddress`] for a bad buffer, [`SysError::IsDir`] on a
    /// directory, file-system errors.
    pub fn read(
        &self,
        fs: &FileSystem,
        devices: &mut Devices,
        user: &mut impl UserMemory,
        buf: u64,
        len: u64,
    ) -> Result<ReadOutcome, SysError> {
        if !self.flags().contains(OpenFlags::READ) {
            return Err(SysError::NotPermitted);
        }
        user.check(buf, len)?;
        match self.target() {
            Target::Null => Ok(ReadOutcome::Data(0)),
            Target::Zero => user.fill(buf, 0, len).map(|()| ReadOutcome::Data(len)),
            Target::Mem => {
                let window = devices.mem;
                let pos = self.position();
                let size = window.len() as u64;
                let n = len.min(size.saturating_sub(pos));
                let start = usize::try_from(pos).unwrap_or(usize::MAX);
                let end = usize::try_from(pos.saturating_add(n)).unwrap_or(usize::MAX);
                let bytes = window.get(start..end).unwrap_or(&[]);
                user.write(buf, bytes)?;
                self.set_position(pos.saturating_add(n));
                Ok(ReadOutcome::Data(n))
            }
            Target::Tty => {
                let mut chunk = [0u8; TTY_READ_BYTES];
                let want = usize::try_from(len).unwrap_or(usize::MAX).min(chunk.len());
                let Some(got) = chunk.get_mut(..want) else {
                    return Ok(ReadOutcome::Data(0));
                };
                match devices.tty_read(got) {
                    Some(n) => {
                        user.write(buf, got.get(..n).unwrap_or(&[]))?;
                        Ok(ReadOutcome::Data(n as u64))
                    }
                    None => Ok(ReadOutcome::WouldBlock),
                }
            }
            Target::File(open) => {
                let pos = self.position();
                let n = fs
                    .read_with(open.node(), pos, len, |bytes| {
                        user.write(buf, bytes).map(|()| bytes.len() as u64)
                    })
                    .map_err(fs_error)??;
                self.set_position(pos.saturating_add(n));
                Ok(ReadOutcome::Data(n))
            }
            Target::Dir(_) => Err(SysError::IsDir),
            // P blocks: the kernel's semaphore path (`Sio::semaphore_p`)
            // runs it, never this byte transfer; a pipe's read blocks too
            // (`PipeEnd::read_from_ring`, run by the kernel's pipe path).
            // A view's read is the kernel's walk (`views.rs`).
            Target::Semaphore(_) | Target::Pipe(_) | Target::Port(_) | Target::View(_) => {
                Err(SysError::NotSupported)
            }
        }
    }

    /// The generic write of `len` bytes from user memory at `buf`; console
    /// output goes to `console_out`.
    ///
    /// # Errors
    /// As [`Sio::write_partial`], without the count of bytes written
    /// before the error.
    pub fn write(
        &self,
        fs: &mut FileSystem,
        devices: &Devices,
        user: &mut impl UserMemory,
        console_out: &mut impl FnMut(&[u8]),
        buf: u64,
        len: u64,
    ) -> Result<u64, SysError> {
        self.write_partial(fs, devices, user, console_out, buf, len)
            .map_err(|stop| stop.error)
    }

    /// The generic write of `len` bytes from user memory at `buf`; console
    /// output goes to `console_out`. A write that stops part-way says how
    /// many bytes it wrote first: the dispatcher counts them when an
    /// earlier piece of the same call already moved bytes. The file grows
    /// as far as the write needs, in [`write_step`](Self::write_step)s
    /// with nothing between them (the dispatcher calls `write_step`
    /// itself, with a preemption point between steps).
    ///
    /// # Errors
    /// As [`Sio::write_step`].
    pub fn write_partial(
        &self,
        fs: &mut FileSystem,
        devices: &Devices,
        user: &mut impl UserMemory,
        console_out: &mut impl FnMut(&[u8]),
        buf: u64,
        len: u64,
    ) -> Result<u64, PartialWrite> {
        loop {
            match self.write_step(fs, devices, user, console_out, buf, len)? {
                Piece::Done(n) => return Ok(n),
                Piece::Prepared => {}
                Piece::WouldBlock => return Ok(0),
            }
        }
    }

    /// One bounded step of the generic write of `len` bytes from user
    /// memory at `buf`: [`Piece::Done`] with the count once the bytes are
    /// written, or [`Piece::Prepared`] with nothing written when a file had
    /// to grow by more than [`sk_fs::GROWTH_STEP_BYTES`] to hold them (it
    /// grew by that much: call again, after a preemption point). Never
    /// [`Piece::WouldBlock`].
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] if not open for writing (and always for
    /// `/dev/mem`), [`SysError::BadAddress`] for a bad buffer (after the
    /// bytes before the fault were written), [`SysError::IsDir`],
    /// [`SysError::BadOffset`] when the end would overflow, file-system
    /// errors (growth fails before any byte of the step is written).
    pub fn write_step(
        &self,
        fs: &mut FileSystem,
        devices: &Devices,
        user: &mut impl UserMemory,
        console_out: &mut impl FnMut(&[u8]),
        buf: u64,
        len: u64,
    ) -> Result<Piece, PartialWrite> {
        if !self.flags().contains(OpenFlags::WRITE) {
            return Err(PartialWrite::nothing(SysError::NotPermitted));
        }
        user.check(buf, len).map_err(PartialWrite::nothing)?;
        match self.target() {
            Target::Null | Target::Zero => Ok(Piece::Done(len)),
            Target::Mem => Err(PartialWrite::nothing(SysError::NotPermitted)),
            Target::Dir(_) => Err(PartialWrite::nothing(SysError::IsDir)),
            // V is `Sio::semaphore_v`, a pipe write `PipeEnd::write_to_ring`
            // (both block), never this byte transfer.
            Target::Semaphore(_) | Target::Pipe(_) | Target::Port(_) | Target::View(_) => {
                Err(PartialWrite::nothing(SysError::NotSupported))
            }
            Target::Tty => {
                let mut chunk = [0u8; BOUNCE_BYTES];
                let mut done = 0u64;
                while done < len {
                    let n = usize::try_from(len.saturating_sub(done))
                        .unwrap_or(usize::MAX)
                        .min(chunk.len());
                    let piece = chunk.get_mut(..n).unwrap_or(&mut []);
                    // Bytes before a fault in the buffer still go out.
                    let copied = user.read_prefix(piece, buf.saturating_add(done));
                    let good = copied.map_or_else(|(k, _)| k, |()| n);
                    devices.tty_write(piece.get(..good).unwrap_or(&[]), console_out);
                    copied.map_err(|(_, error)| PartialWrite {
                        written: done.saturating_add(good as u64),
                        error,
                    })?;
                    done = done.saturating_add(n as u64);
                }
                Ok(Piece::Done(len))
            }
            Target::File(open) => {
                let node = open.node();
                let mut pos = if self.flags().contains(OpenFlags::APPEND) {
                    fs.stat(node)
                        .map_err(|e| PartialWrite::nothing(fs_error(e)))?
                        .size_bytes
                } else {
                    self.position()
                };
                let end = pos
                    .checked_add(len)
                    .ok_or(PartialWrite::nothing(SysError::BadOffset))?;
                let room = room_end(pos, end, fs.limits().max_file_bytes);
                if room > pos {
                    match fs.make_room(node, room) {
                        Ok(Room::Ready) => {}
                        Ok(Room::Growing) => return Ok(Piece::Prepared),
                        Err(e) => return Err(PartialWrite::nothing(fs_error(e))),
                    }
                }
                let mut chunk = [0u8; BOUNCE_BYTES];
                let mut done = 0u64;
                while done < len {
                    let n = usize::try_from(len.saturating_sub(done))
                        .unwrap_or(usize::MAX)
                        .min(chunk.len());
                    let piece = chunk.get_mut(..n).unwrap_or(&mut []);
                    // A fault in the buffer: the bytes before it are
                    // written and counted (as by a synthesized write), then
                    // the call fails with BadAddress.
                    let copied = user.read_prefix(piece, buf.saturating_add(done));
                    let good = copied.map_or_else(|(k, _)| k, |()| n);
                    fs.write(node, pos, piece.get(..good).unwrap_or(&[]))
                        .map_err(|e| PartialWrite {
                            written: done,
                            error: fs_error(e),
                        })?;
                    pos = pos.saturating_add(good as u64);
                    done = done.saturating_add(good as u64);
                    self.set_position(pos);
                    copied.map_err(|(_, error)| PartialWrite {
                        written: done,
                        error,
                    })?;
                }
                Ok(Piece::Done(len))
            }
        }
    }
}

/// Where a file write from `pos` to `end` needs room up to: `end`, or, for
/// a write that crosses the largest file size `max_bytes`, the end of the
/// last bounce-buffer step that still fits (the step after it fails with
/// `FileTooLarge`, after the steps before it were written), so room is
/// never made for bytes that cannot be written.
fn room_end(pos: u64, end: u64, max_bytes: u64) -> u64 {
    if end <= max_bytes {
        return end;
    }
    let bounce = BOUNCE_BYTES as u64;
    let fitting = max_bytes
        .saturating_sub(pos)
        .checked_div(bounce)
        .unwrap_or(0);
    pos.saturating_add(fitting.saturating_mul(bounce))
}
