//! The single writer of a byte ring: write, the atomic-write rule, sleeping
//! on full, closing.
//!
//! Owns [`ByteRingWriter`]. A write, step by step (what a synthesized
//! pipe write mirrors):
//!
//! 1. `wait` (`Acquire`): reader closed ⇒ [`WriteOutcome::BrokenPipe`].
//! 2. `consumed` (`Acquire`, so the reader's loads of the bytes we are
//!    about to overwrite are done); `free = capacity - (produced - consumed)`.
//! 3. A write of `n ≤ atomic_size` bytes needs `free ≥ n`, a longer one
//!    `free ≥ 1`. If it fits: copy `min(n, free)` bytes at `produced`,
//!    store `produced + len` (`Release`), then [`WaitWord::take_waiter`]
//!    for [`READER_WAITING`]: `Wrote { len, wake }`.
//! 4. Else, non-blocking: `WouldBlock`. Blocking: announce
//!    [`WRITER_WAITING`] (`fetch_or`, `fence(SeqCst)`); reader closed
//!    before ⇒ withdraw, `BrokenPipe`; re-load `consumed`: still no room
//!    ⇒ `Blocked` (sleep); room now ⇒ withdraw and go to 1.
//!
//! [`WaitWord::take_waiter`]: crate::wait_word::WaitWord

use crate::byte_ring::ByteRing;
use crate::outcome::{WaitMode, Wake, WriteOutcome};
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::wait_word::{READER_CLOSED, READER_WAITING, WRITER_CLOSED, WRITER_WAITING};

/// The one writing end of a byte ring (from [`crate::pipe`]).
#[derive(Debug)]
pub struct ByteRingWriter {
    ring: Arc<ByteRing>,
}

impl ByteRingWriter {
    pub(crate) fn new(ring: Arc<ByteRing>) -> Self {
        Self { ring }
    }

    /// The shared ring (for its layout and shape).
    pub fn ring(&self) -> &ByteRing {
        &self.ring
    }

    /// Blocking write: copies what fits (all or nothing up to the atomic
    /// size), or announces the writer and returns `Blocked`.
    pub fn write(&mut self, bytes: &[u8]) -> WriteOutcome {
        self.write_with(bytes, WaitMode::Blocking)
    }

    /// Non-blocking write: copies what fits, or returns `WouldBlock`.
    pub fn try_write(&mut self, bytes: &[u8]) -> WriteOutcome {
        self.write_with(bytes, WaitMode::NonBlocking)
    }

    /// A write in the given mode (see the module doc for the steps).
    pub fn write_with(&mut self, bytes: &[u8], mode: WaitMode) -> WriteOutcome {
        let ring = Arc::clone(&self.ring);
        let outcome = self.write_by(bytes.len(), mode, |at, len| {
            ring.copy_in(at, bytes.get(..len).unwrap_or_default());
            Ok::<(), core::convert::Infallible>(())
        });
        match outcome {
            Ok(outcome) => outcome,
            Err(never) => match never {},
        }
    }

    /// A write of `len` bytes whose bytes come from elsewhere (user memory,
    /// with no bounce buffer): the steps of [`write_with`](Self::write_with),
    /// but where it copies, `fill` gets the ring's buffer words (plain
    /// bytes in order, little-endian) and the pieces `(byte offset, len)`
    /// to fill, at most two (around the buffer's end). If `fill` fails
    /// nothing is published and its error is returned.
    ///
    /// # Errors
    /// What `fill` returns.
    pub fn write_with_fill<E>(
        &mut self,
        len: usize,
        mode: WaitMode,
        fill: impl FnOnce(&[AtomicU64], &[(usize, usize)]) -> Result<(), E>,
    ) -> Result<WriteOutcome, E> {
        let ring = Arc::clone(&self.ring);
        self.write_by(len, mode, |at, len| {
            fill(ring.words(), &ring.pieces(at, len))
        })
    }

    /// The write protocol for `len` bytes; `copy(at, n)` puts the first `n`
    /// bytes at counter `at` (called at most once, before the publish).
    fn write_by<E>(
        &mut self,
        len: usize,
        mode: WaitMode,
        copy: impl FnOnce(u64, usize) -> Result<(), E>,
    ) -> Result<WriteOutcome, E> {
        if len == 0 {
            return Ok(WriteOutcome::Wrote {
                len: 0,
                wake: Wake::Nobody,
            });
        }
        let mut copy = Some(copy);
        let ring = &*self.ring;
        let needed = if len <= ring.atomic_size() { len } else { 1 };
        loop {
            if ring.wait().load() & READER_CLOSED != 0 {
                return Ok(WriteOutcome::BrokenPipe);
            }
            let produced = ring.produced().load(Ordering::Relaxed);
            let free = self.free_at(produced);
            if free >= needed {
                let len = len.min(free);
                if let Some(copy) = copy.take() {
                    copy(produced, len)?;
                }
                ring.produced()
                    .store(produced.wrapping_add(len as u64), Ordering::Release);
                let wake = if ring.wait().take_waiter(READER_WAITING) {
                    Wake::Readers
                } else {
                    Wake::Nobody
                };
                return Ok(WriteOutcome::Wrote { len, wake });
            }
            if mode == WaitMode::NonBlocking {
                return Ok(WriteOutcome::WouldBlock);
            }
            let before = ring.wait().announce(WRITER_WAITING);
            if before & READER_CLOSED != 0 {
                ring.wait().withdraw(WRITER_WAITING);
                return Ok(WriteOutcome::BrokenPipe);
            }
            if self.free_at(produced) < needed {
                return Ok(WriteOutcome::Blocked);
            }
            ring.wait().withdraw(WRITER_WAITING);
        }
    }

    /// Free bytes given our `produced` (loads `consumed` with `Acquire`).
    fn free_at(&self, produced: u64) -> usize {
        let consumed = self.ring.consumed().load(Ordering::Acquire);
        self.ring.capacity() - ByteRing::distance(consumed, produced)
    }

    /// Free bytes now (a snapshot: the reader may free more).
    pub fn free(&self) -> usize {
        self.free_at(self.ring.produced().load(Ordering::Relaxed))
    }

    /// Bytes in the ring now (a snapshot: the reader may take some).
    pub fn len(&self) -> usize {
        self.ring.capacity() - self.free()
    }

    /// True if the ring holds no bytes now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the reader closed its end.
    pub fn is_reader_closed(&self) -> bool {
        self.ring.wait().load() & READER_CLOSED != 0
    }

    /// Closes the writing end: the reader drains what is left, then reads
    /// end of file. Returns the wake owed to a reader asleep on empty.
    pub fn close(self) -> Wake {
        if self.ring.wait().close(WRITER_CLOSED, READER_WAITING) {
            Wake::Readers
        } else {
            Wake::Nobody
        }
    }
}
