//! The single reader of a byte ring: read, sleeping on empty, end of file,
//! closing.
//!
//! Owns [`ByteRingReader`]. A read, step by step (what a synthesized pipe
//! read mirrors):
//!
//! 1. `produced` (`Acquire`); `available = produced - consumed`. If
//!    non-zero: copy `min(len, available)` bytes at `consumed`, store
//!    `consumed + len` (`Release`), then [`WaitWord::take_waiter`] for
//!    [`WRITER_WAITING`]: `Read { len, wake }`.
//! 2. Empty: `wait` (`Acquire`); writer closed ⇒ re-load `produced`
//!    (everything written before the close is visible now): still empty
//!    ⇒ `EndOfFile`, else go to 1. (Loading `wait` *before* the last look
//!    at `produced` is what keeps a write-then-close from reading as a
//!    premature end of file.)
//! 3. Non-blocking: `WouldBlock`. Blocking: announce [`READER_WAITING`]
//!    (`fetch_or`, `fence(SeqCst)`); re-load `produced`: still empty and
//!    the writer was open ⇒ `Blocked` (sleep); else withdraw, go to 1.
//!
//! [`WaitWord::take_waiter`]: crate::wait_word::WaitWord

use crate::byte_ring::ByteRing;
use crate::outcome::{ReadOutcome, WaitMode, Wake};
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::wait_word::{READER_CLOSED, READER_WAITING, WRITER_CLOSED, WRITER_WAITING};

/// The one reading end of a byte ring (from [`crate::pipe`]); also the
/// reader of a multi-writer ring ([`crate::shared_pipe`]).
#[derive(Debug)]
pub struct ByteRingReader {
    ring: Arc<ByteRing>,
}

impl ByteRingReader {
    pub(crate) fn new(ring: Arc<ByteRing>) -> Self {
        Self { ring }
    }

    /// The shared ring (for its layout and shape).
    pub fn ring(&self) -> &ByteRing {
        &self.ring
    }

    /// Blocking read: copies what is there, or reports end of file, or
    /// announces the reader and returns `Blocked`.
    pub fn read(&mut self, out: &mut [u8]) -> ReadOutcome {
        self.read_with(out, WaitMode::Blocking)
    }

    /// Non-blocking read: copies what is there, or end of file, or
    /// `WouldBlock`.
    pub fn try_read(&mut self, out: &mut [u8]) -> ReadOutcome {
        self.read_with(out, WaitMode::NonBlocking)
    }

    /// A read in the given mode (see the module doc for the steps).
    pub fn read_with(&mut self, out: &mut [u8], mode: WaitMode) -> ReadOutcome {
        match self.peek_with(out, mode) {
            ReadOutcome::Read { len, .. } => ReadOutcome::Read {
                len,
                wake: self.consume(len),
            },
            other => other,
        }
    }

    /// Step 1 of a read without its end: copies up to `out.len()` bytes
    /// but leaves them in the ring (`Read { len, wake: Nobody }`), or
    /// reports end of file, `WouldBlock` or `Blocked` as
    /// [`read_with`](Self::read_with) does. [`consume`](Self::consume)
    /// then takes the bytes the caller kept (a kernel copying to user
    /// memory consumes only what reached it, so a fault loses nothing).
    pub fn peek_with(&mut self, out: &mut [u8], mode: WaitMode) -> ReadOutcome {
        let ring = Arc::clone(&self.ring);
        let outcome = self.peek_by(out.len(), mode, |at, len| {
            ring.copy_out(at, out.get_mut(..len).unwrap_or_default());
            Ok::<(), core::convert::Infallible>(())
        });
        match outcome {
            Ok(outcome) => outcome,
            Err(never) => match never {},
        }
    }

    /// The read protocol for at most `len` bytes without consuming them;
    /// `copy(at, n)` takes the `n` bytes at counter `at` (called at most
    /// once).
    fn peek_by<E>(
        &mut self,
        len: usize,
        mode: WaitMode,
        copy: impl FnOnce(u64, usize) -> Result<(), E>,
    ) -> Result<ReadOutcome, E> {
        if len == 0 {
            return Ok(ReadOutcome::Read {
                len: 0,
                wake: Wake::Nobody,
            });
        }
        let mut copy = Some(copy);
        let ring = &*self.ring;
        let consumed = ring.consumed().load(Ordering::Relaxed);
        loop {
            let available = self.available_from(consumed);
            if available > 0 {
                let len = len.min(available);
                if let Some(copy) = copy.take() {
                    copy(consumed, len)?;
                }
                return Ok(ReadOutcome::Read {
                    len,
                    wake: Wake::Nobody,
                });
            }
            if ring.wait().load() & WRITER_CLOSED != 0 {
                if self.available_from(consumed) == 0 {
                    return Ok(ReadOutcome::EndOfFile);
                }
                continue;
            }
            if mode == WaitMode::NonBlocking {
                return Ok(ReadOutcome::WouldBlock);
            }
            let before = ring.wait().announce(READER_WAITING);
            if before & WRITER_CLOSED == 0 && self.available_from(consumed) == 0 {
                return Ok(ReadOutcome::Blocked);
            }
            ring.wait().withdraw(READER_WAITING);
        }
    }

    /// A read of at most `len` bytes whose bytes go elsewhere (user
    /// memory, with no bounce buffer): the steps of
    /// [`read_with`](Self::read_with), but where it copies, `drain` gets the
    /// ring's buffer words and the pieces `(byte offset, len)` to copy out
    /// (at most two); only if it succeeds are the bytes consumed.
    ///
    /// # Errors
    /// What `drain` returns (nothing consumed).
    pub fn read_with_drain<E>(
        &mut self,
        len: usize,
        mode: WaitMode,
        drain: impl FnOnce(&[AtomicU64], &[(usize, usize)]) -> Result<(), E>,
    ) -> Result<ReadOutcome, E> {
        if len == 0 {
            return Ok(ReadOutcome::Read {
                len: 0,
                wake: Wake::Nobody,
            });
        }
        let ring = Arc::clone(&self.ring);
        let outcome = self.peek_by(len, mode, |at, n| drain(ring.words(), &ring.pieces(at, n)))?;
        Ok(match outcome {
            ReadOutcome::Read { len, .. } => ReadOutcome::Read {
                len,
                wake: self.consume(len),
            },
            other => other,
        })
    }

    /// Takes `len` bytes that a [`peek_with`](Self::peek_with) copied
    /// (at most what it reported): stores `consumed + len` (`Release`) and
    /// returns the wake owed to a writer asleep on full. `len` is clamped
    /// to the bytes in the ring.
    pub fn consume(&mut self, len: usize) -> Wake {
        let ring = &*self.ring;
        let consumed = ring.consumed().load(Ordering::Relaxed);
        let len = len.min(self.available_from(consumed));
        if len == 0 {
            return Wake::Nobody;
        }
        ring.consumed()
            .store(consumed.wrapping_add(len as u64), Ordering::Release);
        if ring.wait().take_waiter(WRITER_WAITING) {
            Wake::Writers
        } else {
            Wake::Nobody
        }
    }

    /// Bytes readable given our `consumed` (loads `produced` with `Acquire`).
    fn available_from(&self, consumed: u64) -> usize {
        let produced = self.ring.produced().load(Ordering::Acquire);
        ByteRing::distance(consumed, produced)
    }

    /// Bytes in the ring now (a snapshot: writers may add more).
    pub fn len(&self) -> usize {
        self.available_from(self.ring.consumed().load(Ordering::Relaxed))
    }

    /// True if the ring holds no bytes now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free bytes now (a snapshot: writers may fill some).
    pub fn free(&self) -> usize {
        self.ring.capacity() - self.len()
    }

    /// True once the writer (every writer) closed its end.
    pub fn is_writer_closed(&self) -> bool {
        self.ring.wait().load() & WRITER_CLOSED != 0
    }

    /// Closes the reading end: writes fail with broken pipe from now on
    /// (bytes left in the ring are dropped). Returns the wake owed to a
    /// writer asleep on full.
    pub fn close(self) -> Wake {
        if self.ring.wait().close(READER_CLOSED, WRITER_WAITING) {
            Wake::Writers
        } else {
            Wake::Nobody
        }
    }
}
