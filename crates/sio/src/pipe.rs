//! Pipes: a byte ring between one read end and one write end, each an SIO
//! (`/dev/pipe` makes both), and the threads blocked on them.
//!
//! Owns [`PipeEnd`], [`PipeWaiters`] and the generic pipe read and write
//! ([`PipeEnd::read_from_ring`], [`PipeEnd::write_to_ring`]). The ring and
//! its handshake are `sk-queue`'s ([`sk_queue::pipe`]): free-running
//! `produced`/`consumed` counters, a wait word whose bits say which side
//! sleeps and which end closed. These functions never sleep or wake: they
//! return what the kernel must do (block the caller after registering it
//! with [`PipeWaiters`], wake the other side), and the kernel performs it
//! in the same critical section (`block_current_unless`), so a wake is
//! never lost.
//!
//! Semantics (as Linux pipes): a read returns what is in the ring (at
//! most what was asked), blocks while it is empty and the write end is
//! open, and returns 0 (end of file) once the write end closed and the
//! ring is drained. A write of at most [`PIPE_ATOMIC_BYTES`] goes in whole
//! or waits (never split, never interleaved with another write); a longer
//! one goes in pieces, blocking on a full ring. A write after the read end
//! closed fails with [`SysError::BrokenPipe`]. A read copies to user
//! memory before it consumes, so a fault in the buffer loses no byte.

use alloc::vec::Vec;
use sk_abi::SysError;
use sk_queue::{
    ByteRingReader, ByteRingWriter, ReadOutcome, RingConfig, WaitMode, Wake, WriteOutcome,
};

use crate::UserMemory;

pub use sk_abi::PIPE_PATH;
/// Bytes a pipe holds.
pub const PIPE_CAPACITY: usize = 16 * 1024;
/// Writes of at most this many bytes are atomic (`PIPE_BUF`).
pub const PIPE_ATOMIC_BYTES: usize = 4096;
/// Bytes one generic read or write piece moves. A piece of more than
/// [`SMALL_BOUNCE_BYTES`] is copied straight between user memory and the
/// ring's buffer (`UserMemory::read_into_words`, `write_from_words`:
/// `sk-machine`'s user copy in the kernel); a smaller one through a bounce
/// buffer.
const BOUNCE_BYTES: usize = PIPE_ATOMIC_BYTES;
/// A piece of at most this many bytes goes through a small bounce buffer
/// (cheaper than the straight copy's setup for a byte or two).
const SMALL_BOUNCE_BYTES: usize = 64;

/// Runs `f` on a zeroed bounce buffer of `want` bytes (at most
/// [`BOUNCE_BYTES`]), only as large as it must be.
fn with_bounce<R>(want: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    if want <= SMALL_BOUNCE_BYTES {
        let mut bounce = [0u8; SMALL_BOUNCE_BYTES];
        f(bounce.get_mut(..want).unwrap_or(&mut []))
    } else {
        let mut bounce = [0u8; BOUNCE_BYTES];
        f(bounce.get_mut(..want).unwrap_or(&mut []))
    }
}

/// One end of a pipe.
#[derive(Debug)]
pub enum PipeEnd {
    /// The read end.
    Read {
        /// The pipe's number (its waiters' key).
        pipe: u64,
        /// The ring's reading side.
        reader: ByteRingReader,
    },
    /// The write end.
    Write {
        /// The pipe's number.
        pipe: u64,
        /// The ring's writing side.
        writer: ByteRingWriter,
    },
    /// A write end whose reader is the console (`program | tty`): its
    /// writes go to the console; its side of the ring was closed at the
    /// switch ([`PipeEnd::send_to_console`]).
    ToConsole {
        /// The pipe's number.
        pipe: u64,
    },
}

/// What a generic pipe read or write piece did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeStep {
    /// Moved this many bytes (a read: 0 is end of file); then wake the
    /// other side's sleepers if `wake` says so.
    Moved {
        /// Bytes moved.
        len: u64,
        /// Whom to wake.
        wake: Wake,
    },
    /// The caller announced itself on the wait word: register it as a
    /// waiter of [`PipeEnd::pipe`] and block, then try again.
    Blocked,
    /// A write end whose reader is the console: nothing was done; the
    /// kernel writes to the console instead.
    ToConsole,
}

/// The two ends of a new pipe numbered `pipe`.
///
/// # Errors
/// [`SysError::NoMemory`] if the ring cannot be allocated.
pub fn new_pipe(pipe: u64) -> Result<(PipeEnd, PipeEnd), SysError> {
    let (writer, reader) = sk_queue::pipe(RingConfig::new(PIPE_CAPACITY, PIPE_ATOMIC_BYTES))
        .map_err(|_| SysError::NoMemory)?;
    Ok((
        PipeEnd::Read { pipe, reader },
        PipeEnd::Write { pipe, writer },
    ))
}

impl PipeEnd {
    /// The pipe's number.
    pub fn pipe(&self) -> u64 {
        match self {
            Self::Read { pipe, .. } | Self::Write { pipe, .. } | Self::ToConsole { pipe } => *pipe,
        }
    }

    /// Where the ring's memory is and its shape: what the synthesized
    /// pipe routines bake in (fixed while this end is open). `None` for an
    /// end whose reader is the console (it has no side of the ring).
    pub fn layout(&self) -> Option<sk_queue::ByteRingLayout> {
        match self {
            Self::Read { reader, .. } => Some(reader.ring().layout()),
            Self::Write { writer, .. } => Some(writer.ring().layout()),
            Self::ToConsole { .. } => None,
        }
    }

    /// True for a write end whose reader is the console.
    pub fn is_to_console(&self) -> bool {
        matches!(self, Self::ToConsole { .. })
    }

    /// Makes the console this write end's reader (`program | tty`): from
    /// now on its writes go to the console through its line discipline,
    /// whatever becomes of the read end (the console is the reader: never
    /// `BrokenPipe`). Its side of the ring is closed now: the read end
    /// reads the bytes written before, then end of file. Returns the wake
    /// that close owes (a reader asleep on the empty ring); the kernel
    /// also wakes this end's own sleepers (a writer asleep on the full
    /// ring looks again and writes the rest to the console).
    ///
    /// # Errors
    /// [`SysError::WrongKind`] on the read end; [`SysError::Exists`] if
    /// the console is already its reader (nothing changes).
    pub fn send_to_console(&mut self) -> Result<Wake, SysError> {
        match self {
            Self::Write { pipe, .. } => {
                let pipe = *pipe;
                match core::mem::replace(self, Self::ToConsole { pipe }) {
                    Self::Write { writer, .. } => Ok(writer.close()),
                    _ => Ok(Wake::Nobody),
                }
            }
            Self::ToConsole { .. } => Err(SysError::Exists),
            Self::Read { .. } => Err(SysError::WrongKind),
        }
    }

    /// A kernel reader's take (the audio device's drain, `/dev/audio`):
    /// copies what the ring holds into `out` and consumes it, never
    /// sleeping. With `whole` it takes nothing until the ring holds all of
    /// `out` or the write end closed (so a device is fed whole buffers).
    /// `None` when there is nothing to take now; `Some(Moved { len: 0 })`
    /// at end of file (the write end closed and the ring drained).
    pub fn drain(&mut self, out: &mut [u8], whole: bool) -> Option<PipeStep> {
        let Self::Read { reader, .. } = self else {
            return None;
        };
        if whole && reader.len() < out.len() && !reader.is_writer_closed() {
            return None;
        }
        match reader.peek_with(out, WaitMode::NonBlocking) {
            ReadOutcome::Read { len, .. } => Some(PipeStep::Moved {
                len: len as u64,
                wake: reader.consume(len),
            }),
            ReadOutcome::EndOfFile => Some(PipeStep::Moved {
                len: 0,
                wake: Wake::Nobody,
            }),
            ReadOutcome::Blocked | ReadOutcome::WouldBlock => None,
        }
    }

    /// True for the read end.
    pub fn is_read_end(&self) -> bool {
        matches!(self, Self::Read { .. })
    }

    /// Bytes in the ring now.
    pub fn len(&self) -> usize {
        match self {
            Self::Read { reader, .. } => reader.len(),
            Self::Write { writer, .. } => writer.len(),
            Self::ToConsole { .. } => 0,
        }
    }

    /// True if the ring is empty now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One generic read of at most `len` bytes into user memory at `buf`:
    /// what the ring holds, up to [`PIPE_ATOMIC_BYTES`]; end of file; or
    /// `Blocked` (empty, the write end open, the reader announced).
    ///
    /// # Errors
    /// [`SysError::WrongKind`] on the write end; [`SysError::BadAddress`]
    /// if the buffer faults (nothing consumed).
    pub fn read_from_ring(
        &mut self,
        user: &mut impl UserMemory,
        buf: u64,
        len: u64,
    ) -> Result<PipeStep, SysError> {
        let Self::Read { reader, .. } = self else {
            return Err(SysError::WrongKind);
        };
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(BOUNCE_BYTES);
        if want > SMALL_BOUNCE_BYTES {
            // Straight from the ring to the user; consumed only if it all
            // got there.
            let outcome = reader.read_with_drain(want, WaitMode::Blocking, |words, pieces| {
                let mut at = buf;
                for &(offset, n) in pieces {
                    user.write_from_words(at, words, offset, n)?;
                    at = at.wrapping_add(n as u64);
                }
                Ok(())
            })?;
            return Ok(match outcome {
                ReadOutcome::Read { len, wake } => PipeStep::Moved {
                    len: len as u64,
                    wake,
                },
                ReadOutcome::EndOfFile => PipeStep::Moved {
                    len: 0,
                    wake: Wake::Nobody,
                },
                ReadOutcome::Blocked | ReadOutcome::WouldBlock => PipeStep::Blocked,
            });
        }
        with_bounce(want, |out| {
            match reader.peek_with(out, WaitMode::Blocking) {
                ReadOutcome::Read { len, .. } => {
                    user.write(buf, out.get(..len).unwrap_or(&[]))?;
                    let wake = reader.consume(len);
                    Ok(PipeStep::Moved {
                        len: len as u64,
                        wake,
                    })
                }
                ReadOutcome::EndOfFile => Ok(PipeStep::Moved {
                    len: 0,
                    wake: Wake::Nobody,
                }),
                ReadOutcome::Blocked | ReadOutcome::WouldBlock => Ok(PipeStep::Blocked),
            }
        })
    }

    /// One generic write piece: at most [`PIPE_ATOMIC_BYTES`] of the `len`
    /// bytes at `buf` (a write of at most [`PIPE_ATOMIC_BYTES`] whole, or
    /// not at all), or `Blocked` (not enough room, the writer announced).
    ///
    /// # Errors
    /// [`SysError::WrongKind`] on the read end; [`SysError::BadAddress`]
    /// if the buffer faults (nothing written); [`SysError::BrokenPipe`]
    /// once the read end closed.
    pub fn write_to_ring(
        &mut self,
        user: &mut impl UserMemory,
        buf: u64,
        len: u64,
    ) -> Result<PipeStep, SysError> {
        let writer = match self {
            Self::Write { writer, .. } => writer,
            Self::ToConsole { .. } => return Ok(PipeStep::ToConsole),
            Self::Read { .. } => return Err(SysError::WrongKind),
        };
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(BOUNCE_BYTES);
        if want > SMALL_BOUNCE_BYTES {
            // Straight from the user into the ring; published only if it
            // all got there (a fault writes nothing).
            let outcome = writer.write_with_fill(want, WaitMode::Blocking, |words, pieces| {
                let mut at = buf;
                for &(offset, n) in pieces {
                    user.read_into_words(words, offset, at, n)?;
                    at = at.wrapping_add(n as u64);
                }
                Ok(())
            })?;
            return match outcome {
                WriteOutcome::Wrote { len, wake } => Ok(PipeStep::Moved {
                    len: len as u64,
                    wake,
                }),
                WriteOutcome::Blocked | WriteOutcome::WouldBlock => Ok(PipeStep::Blocked),
                WriteOutcome::BrokenPipe => Err(SysError::BrokenPipe),
            };
        }
        with_bounce(want, |bytes| {
            user.read(bytes, buf)?;
            match writer.write_with(bytes, WaitMode::Blocking) {
                WriteOutcome::Wrote { len, wake } => Ok(PipeStep::Moved {
                    len: len as u64,
                    wake,
                }),
                WriteOutcome::Blocked | WriteOutcome::WouldBlock => Ok(PipeStep::Blocked),
                WriteOutcome::BrokenPipe => Err(SysError::BrokenPipe),
            }
        })
    }

    /// Closes this end; returns whom to wake (the other side's sleepers:
    /// a reader sees end of file, a writer a broken pipe).
    pub fn close(self) -> Wake {
        match self {
            Self::Read { reader, .. } => reader.close(),
            Self::Write { writer, .. } => writer.close(),
            Self::ToConsole { .. } => Wake::Nobody,
        }
    }
}

/// The threads blocked on each pipe, by pipe number.
#[derive(Debug, Default)]
pub struct PipeWaiters {
    /// (pipe, its sleepers), pipes with none left out. A list grown
    /// fallibly: a `BTreeMap` insert allocates a node infallibly, and a
    /// read that blocks with the heap full must fail, not panic.
    pipes: Vec<(u64, Sleepers)>,
}

/// Threads asleep on one pipe.
#[derive(Debug, Default)]
struct Sleepers {
    readers: Vec<u64>,
    writers: Vec<u64>,
}

impl PipeWaiters {
    /// Registers `thread` as asleep on `pipe`'s read end (`is_reader`) or
    /// write end.
    ///
    /// # Errors
    /// [`SysError::NoMemory`] if the list cannot grow.
    pub fn add(&mut self, pipe: u64, is_reader: bool, thread: u64) -> Result<(), SysError> {
        if !self.pipes.iter().any(|(p, _)| *p == pipe) {
            self.pipes.try_reserve(1).map_err(|_| SysError::NoMemory)?;
            self.pipes.push((pipe, Sleepers::default()));
        }
        let Some((_, sleepers)) = self.pipes.iter_mut().find(|(p, _)| *p == pipe) else {
            return Err(SysError::NoMemory);
        };
        let list = if is_reader {
            &mut sleepers.readers
        } else {
            &mut sleepers.writers
        };
        if !list.contains(&thread) {
            list.try_reserve(1).map_err(|_| SysError::NoMemory)?;
            list.push(thread);
        }
        Ok(())
    }

    /// The threads `wake` names on `pipe`, taken off their list.
    pub fn take(&mut self, pipe: u64, wake: Wake) -> Vec<u64> {
        let Some(at) = self.pipes.iter().position(|(p, _)| *p == pipe) else {
            return Vec::new();
        };
        let Some((_, sleepers)) = self.pipes.get_mut(at) else {
            return Vec::new();
        };
        let woken = match wake {
            Wake::Nobody => Vec::new(),
            Wake::Readers => core::mem::take(&mut sleepers.readers),
            Wake::Writers => core::mem::take(&mut sleepers.writers),
        };
        if sleepers.readers.is_empty() && sleepers.writers.is_empty() {
            self.pipes.swap_remove(at);
        }
        woken
    }

    /// Pipes with at least one sleeper (the leak check's report).
    pub fn pipe_count(&self) -> usize {
        self.pipes.len()
    }

    /// Forgets `thread` on every pipe (it ended while blocked).
    pub fn forget(&mut self, thread: u64) {
        self.pipes.retain_mut(|(_, s)| {
            s.readers.retain(|&t| t != thread);
            s.writers.retain(|&t| t != thread);
            !(s.readers.is_empty() && s.writers.is_empty())
        });
    }

    /// Every sleeper on every pipe (a thread blocked on several lists,
    /// which never happens, once per list): the stale-waiter check.
    pub fn sleepers(&self) -> impl Iterator<Item = u64> + '_ {
        self.pipes
            .iter()
            .flat_map(|(_, s)| s.readers.iter().chain(s.writers.iter()).copied())
    }

    /// True if `thread` sleeps on some pipe (the scheduler's self-check).
    pub fn involves(&self, thread: u64) -> bool {
        self.pipes
            .iter()
            .any(|(_, s)| s.readers.contains(&thread) || s.writers.contains(&thread))
    }
}
