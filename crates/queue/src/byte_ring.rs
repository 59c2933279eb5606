//! The byte ring itself: buffer, cells, and the steps both ends share.
//!
//! Owns [`ByteRing`] (what both ends point to) and [`pipe`], the only way
//! to make one, which hands out exactly one [`ByteRingWriter`] and one
//! [`ByteRingReader`] (single producer, single consumer by construction).
//! The ends' operations live in [`crate::ring_writer`] and
//! [`crate::ring_reader`]; the memory layout in [`crate::ring_layout`].

use crate::error::ConfigError;
use crate::ring_layout::{ByteRingLayout, RingCells, RingConfig};
use crate::ring_reader::ByteRingReader;
use crate::ring_writer::ByteRingWriter;
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::wait_word::WaitWord;
use alloc::boxed::Box;
use alloc::vec::Vec;

/// A byte ring's memory: the cells, the buffer and the shape. Both ends
/// hold it; the ends hold nothing else, so a synthesized routine given
/// [`ByteRing::layout`] has all the state the portable code has.
#[derive(Debug)]
pub struct ByteRing {
    pub(crate) cells: RingCells,
    /// The bytes, eight to a word (little-endian: byte `i` of the buffer is
    /// byte `i % 8` of word `i / 8`, so the memory is plain bytes in order
    /// for generated code). Words so a copy moves eight bytes per access;
    /// at least one word for a ring of fewer than 8 bytes.
    words: Box<[AtomicU64]>,
    capacity: usize,
    mask: u64,
    atomic_size: usize,
    /// Writer ends not yet closed (one for [`pipe`]; counted by the
    /// multi-writer ring's clones). Not a layout cell: the kernel counts
    /// its handles itself.
    pub(crate) open_writers: AtomicU64,
}

/// A new byte ring of the shape `config`, as its two ends.
///
/// # Errors
/// A shape [`RingConfig::validate`] refuses; [`ConfigError::NoMemory`].
pub fn pipe(config: RingConfig) -> Result<(ByteRingWriter, ByteRingReader), ConfigError> {
    let ring = ByteRing::new(config)?;
    // `Arc::new` cannot fail softly (`Arc::try_new` is unstable): make
    // sure its few hundred bytes are there first, by taking and giving
    // back as many (nothing allocates in between on one CPU under the
    // caller's lock; at worst the `Arc` is still where a heap that just
    // refused 16 KiB had room).
    let mut probe: Vec<u8> = Vec::new();
    probe
        .try_reserve_exact(core::mem::size_of::<ByteRing>() + 64)
        .map_err(|_| ConfigError::NoMemory)?;
    drop(probe);
    let ring = Arc::new(ring);
    Ok((
        ByteRingWriter::new(Arc::clone(&ring)),
        ByteRingReader::new(ring),
    ))
}

impl ByteRing {
    pub(crate) fn new(config: RingConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        // Fallibly: a user program makes rings (pipes) on demand.
        let count = config.capacity.div_ceil(8);
        let mut words: Vec<AtomicU64> = Vec::new();
        words
            .try_reserve_exact(count)
            .map_err(|_| ConfigError::NoMemory)?;
        words.extend((0..count).map(|_| AtomicU64::new(0)));
        Ok(Self {
            cells: RingCells::new(config.start),
            words: words.into_boxed_slice(),
            capacity: config.capacity,
            mask: config.capacity as u64 - 1,
            atomic_size: config.atomic_size,
            open_writers: AtomicU64::new(1),
        })
    }

    /// Buffer bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes of at most this many bytes are all-or-nothing.
    pub fn atomic_size(&self) -> usize {
        self.atomic_size
    }

    /// The addresses and constants a synthesized routine bakes in.
    pub fn layout(&self) -> ByteRingLayout {
        ByteRingLayout {
            buffer_address: self.words.as_ptr() as usize,
            capacity: self.capacity(),
            mask: self.mask,
            atomic_size: self.atomic_size,
            cells_address: core::ptr::from_ref(&self.cells) as usize,
        }
    }

    pub(crate) fn produced(&self) -> &AtomicU64 {
        &self.cells.produced.0
    }

    pub(crate) fn consumed(&self) -> &AtomicU64 {
        &self.cells.consumed.0
    }

    pub(crate) fn reserved(&self) -> &AtomicU64 {
        &self.cells.reserved.0
    }

    pub(crate) fn wait(&self) -> &WaitWord {
        &self.cells.wait.0
    }

    /// Bytes between two counters, `later - earlier` (wrapping), as a
    /// buffer length. The protocols keep it within the capacity.
    pub(crate) fn distance(earlier: u64, later: u64) -> usize {
        usize::try_from(later.wrapping_sub(earlier)).unwrap_or(usize::MAX)
    }

    /// The piece of the buffer at counter value `at` that one word access
    /// can reach, for at most `len` bytes: (word, first byte lane, lanes),
    /// never past the end of the buffer (a copy then wraps to word 0).
    fn piece(&self, at: u64, len: usize) -> (&AtomicU64, usize, usize) {
        let offset = Self::distance(0, at & self.mask);
        let lane = offset % 8;
        let lanes = len.min(8 - lane).min(self.capacity - offset);
        // `offset < capacity <= 8 * words.len()`.
        (&self.words[offset / 8], lane, lanes)
    }

    /// The buffer's words (plain bytes in order, little-endian), for a
    /// copy straight from or to user memory ([`crate::ByteRingWriter::write_with_fill`],
    /// [`crate::ByteRingReader::read_with_drain`]).
    pub fn words(&self) -> &[AtomicU64] {
        &self.words
    }

    /// The buffer pieces `(byte offset, len)` that hold `len` bytes from
    /// counter value `at` on: one, or two around the buffer's end (the
    /// second may be empty). `len` is at most the capacity.
    pub(crate) fn pieces(&self, at: u64, len: usize) -> [(usize, usize); 2] {
        let offset = Self::distance(0, at & self.mask);
        let first = len.min(self.capacity - offset);
        [(offset, first), (0, len - first)]
    }

    /// Copies `bytes` into the buffer from counter value `at` on. A whole
    /// word is one relaxed store; a part of a word is an atomic clear and
    /// set of its lanes (`fetch_and`, `fetch_or`), so writers of a
    /// multi-writer ring filling neighbouring lanes never undo each other.
    /// The caller publishes the bytes with a `Release` store.
    pub(crate) fn copy_in(&self, at: u64, bytes: &[u8]) {
        let mut at = at;
        let mut rest = bytes;
        while !rest.is_empty() {
            let (word, lane, lanes) = self.piece(at, rest.len());
            if lane == 0 && lanes == 8 {
                // Whole words up to the end of the buffer or of the bytes.
                let offset = Self::distance(0, at & self.mask);
                let run = rest.len().min(self.capacity - offset) / 8 * 8;
                let (words_now, later) = rest.split_at(run);
                let cells = &self.words[offset / 8..(offset + run) / 8];
                for (cell, chunk) in cells.iter().zip(words_now.chunks_exact(8)) {
                    let mut value = [0u8; 8];
                    value.copy_from_slice(chunk);
                    cell.store(u64::from_le_bytes(value), Ordering::Relaxed);
                }
                rest = later;
                at = at.wrapping_add(run as u64);
                continue;
            }
            let (now, later) = rest.split_at(lanes);
            let mut value = [0u8; 8];
            value[lane..lane + lanes].copy_from_slice(now);
            let mut mask = [0u8; 8];
            mask[lane..lane + lanes].fill(0xff);
            word.fetch_and(!u64::from_le_bytes(mask), Ordering::Relaxed);
            word.fetch_or(u64::from_le_bytes(value), Ordering::Relaxed);
            rest = later;
            at = at.wrapping_add(lanes as u64);
        }
    }

    /// Copies `out.len()` bytes out of the buffer from counter value `at`
    /// on, a word per relaxed load. The caller acquired them first.
    pub(crate) fn copy_out(&self, at: u64, out: &mut [u8]) {
        let mut at = at;
        let mut rest = out;
        while !rest.is_empty() {
            let (word, lane, lanes) = self.piece(at, rest.len());
            if lane == 0 && lanes == 8 {
                let offset = Self::distance(0, at & self.mask);
                let run = rest.len().min(self.capacity - offset) / 8 * 8;
                let (words_now, later) = rest.split_at_mut(run);
                let cells = &self.words[offset / 8..(offset + run) / 8];
                for (cell, chunk) in cells.iter().zip(words_now.chunks_exact_mut(8)) {
                    chunk.copy_from_slice(&cell.load(Ordering::Relaxed).to_le_bytes());
                }
                rest = later;
                at = at.wrapping_add(run as u64);
                continue;
            }
            let value = word.load(Ordering::Relaxed).to_le_bytes();
            let (now, later) = rest.split_at_mut(lanes);
            now.copy_from_slice(&value[lane..lane + lanes]);
            rest = later;
            at = at.wrapping_add(lanes as u64);
        }
    }
}
