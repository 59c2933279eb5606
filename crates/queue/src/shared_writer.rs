//! Several writers on one byte ring (MPSC): reserve, copy, publish in
//! order. Writes of at most the atomic size never interleave.
//!
//! Owns [`SharedByteRingWriter`] and [`shared_pipe`]. The reader is the
//! ordinary [`ByteRingReader`]: it sees only `produced`, which writers
//! advance in reservation order. A write, step by step:
//!
//! 1. `wait` (`Acquire`): reader closed ⇒ `BrokenPipe`.
//! 2. `consumed` (`Acquire`), *then* `reserved` (`Relaxed`), in that order
//!    so that `reserved - consumed` never underestimates what is in use;
//!    `free = capacity - (reserved - consumed)` (saturating).
//! 3. Fits (the atomic-write rule as for one writer): claim
//!    `reserved → reserved + len` by compare-exchange (`Relaxed`; lost ⇒
//!    go to 1). Copy the bytes into the claimed run. Wait until
//!    `produced == reserved` (`Acquire`, spinning: earlier claimants are
//!    still copying), store `produced = reserved + len` (`Release`), then
//!    take the reader's waiting bit as a single writer does.
//! 4. No room: `WouldBlock`, or announce [`WRITER_WAITING`] (shared by all
//!    writers, so never withdrawn), re-check, `Blocked`.
//!
//! The spin in step 3 waits only for writers that already hold a claim
//! and are copying; the kernel must not preempt a writer between claim and
//! publish (it runs the whole write with preemption off), so the spin is
//! bounded by one copy of at most the ring's capacity.

use crate::byte_ring::ByteRing;
use crate::error::ConfigError;
use crate::outcome::{WaitMode, Wake, WriteOutcome};
use crate::ring_layout::RingConfig;
use crate::ring_reader::ByteRingReader;
use crate::sync::{spin_hint, Arc, Ordering};
use crate::wait_word::{READER_CLOSED, READER_WAITING, WRITER_CLOSED, WRITER_WAITING};

/// A new multi-writer byte ring of the shape `config`: one writer end
/// (clone it for more writers) and the reader.
pub fn shared_pipe(
    config: RingConfig,
) -> Result<(SharedByteRingWriter, ByteRingReader), ConfigError> {
    let ring = Arc::new(ByteRing::new(config)?);
    Ok((
        SharedByteRingWriter {
            ring: Arc::clone(&ring),
        },
        ByteRingReader::new(ring),
    ))
}

/// One of several writing ends of a byte ring (from [`shared_pipe`]).
/// Cloning adds a writer; the reader sees end of file when every writer
/// has closed.
#[derive(Debug)]
pub struct SharedByteRingWriter {
    ring: Arc<ByteRing>,
}

impl Clone for SharedByteRingWriter {
    fn clone(&self) -> Self {
        self.ring.open_writers.fetch_add(1, Ordering::Relaxed);
        Self {
            ring: Arc::clone(&self.ring),
        }
    }
}

impl SharedByteRingWriter {
    /// The shared ring (for its layout and shape).
    pub fn ring(&self) -> &ByteRing {
        &self.ring
    }

    /// Blocking write (see [`crate::ByteRingWriter::write`]).
    pub fn write(&mut self, bytes: &[u8]) -> WriteOutcome {
        self.write_with(bytes, WaitMode::Blocking)
    }

    /// Non-blocking write (see [`crate::ByteRingWriter::try_write`]).
    pub fn try_write(&mut self, bytes: &[u8]) -> WriteOutcome {
        self.write_with(bytes, WaitMode::NonBlocking)
    }

    /// A write in the given mode (see the module doc for the steps).
    pub fn write_with(&mut self, bytes: &[u8], mode: WaitMode) -> WriteOutcome {
        if bytes.is_empty() {
            return WriteOutcome::Wrote {
                len: 0,
                wake: Wake::Nobody,
            };
        }
        let ring = &*self.ring;
        let needed = if bytes.len() <= ring.atomic_size() {
            bytes.len()
        } else {
            1
        };
        loop {
            if ring.wait().load() & READER_CLOSED != 0 {
                return WriteOutcome::BrokenPipe;
            }
            let (reserved, free) = self.claimable();
            if free >= needed {
                let len = bytes.len().min(free);
                let end = reserved.wrapping_add(len as u64);
                if ring
                    .reserved()
                    .compare_exchange(reserved, end, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                ring.copy_in(reserved, &bytes[..len]);
                while ring.produced().load(Ordering::Acquire) != reserved {
                    spin_hint();
                }
                ring.produced().store(end, Ordering::Release);
                let wake = if ring.wait().take_waiter(READER_WAITING) {
                    Wake::Readers
                } else {
                    Wake::Nobody
                };
                return WriteOutcome::Wrote { len, wake };
            }
            if mode == WaitMode::NonBlocking {
                return WriteOutcome::WouldBlock;
            }
            let before = ring.wait().announce(WRITER_WAITING);
            if before & READER_CLOSED != 0 {
                return WriteOutcome::BrokenPipe;
            }
            if self.claimable().1 < needed {
                return WriteOutcome::Blocked;
            }
        }
    }

    /// The `reserved` counter and the bytes free beyond it.
    fn claimable(&self) -> (u64, usize) {
        let consumed = self.ring.consumed().load(Ordering::Acquire);
        let reserved = self.ring.reserved().load(Ordering::Relaxed);
        let in_use = ByteRing::distance(consumed, reserved);
        (reserved, self.ring.capacity().saturating_sub(in_use))
    }

    /// Free bytes now, as the next claim would see them (a snapshot).
    pub fn free(&self) -> usize {
        self.claimable().1
    }

    /// True once the reader closed its end.
    pub fn is_reader_closed(&self) -> bool {
        self.ring.wait().load() & READER_CLOSED != 0
    }

    /// Closes this writing end. The last one to close sets the writer's
    /// closed bit (`AcqRel` on the count, so every other writer's bytes are
    /// published before it) and returns the wake owed to a sleeping reader.
    pub fn close(self) -> Wake {
        let was_open = self.ring.open_writers.fetch_sub(1, Ordering::AcqRel);
        if was_open == 1 && self.ring.wait().close(WRITER_CLOSED, READER_WAITING) {
            Wake::Readers
        } else {
            Wake::Nobody
        }
    }
}
