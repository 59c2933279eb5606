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
use crate::sync::{Arc, AtomicU64, AtomicU8, Ordering};
use crate::wait_word::WaitWord;
use alloc::boxed::Box;
use alloc::vec::Vec;

/// A byte ring's memory: the cells, the buffer and the shape. Both ends
/// hold it; the ends hold nothing else, so a synthesized routine given
/// [`ByteRing::layout`] has all the state the portable code has.
#[derive(Debug)]
pub struct ByteRing {
    pub(crate) cells: RingCells,
    buffer: Box<[AtomicU8]>,
    mask: u64,
    atomic_size: usize,
    /// Writer ends not yet closed (one for [`pipe`]; counted by the
    /// multi-writer ring's clones). Not a layout cell: the kernel counts
    /// its handles itself.
    pub(crate) open_writers: AtomicU64,
}

/// A new byte ring of the shape `config`, as its two ends.
pub fn pipe(config: RingConfig) -> Result<(ByteRingWriter, ByteRingReader), ConfigError> {
    let ring = Arc::new(ByteRing::new(config)?);
    Ok((
        ByteRingWriter::new(Arc::clone(&ring)),
        ByteRingReader::new(ring),
    ))
}

impl ByteRing {
    pub(crate) fn new(config: RingConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let buffer: Vec<AtomicU8> = (0..config.capacity).map(|_| AtomicU8::new(0)).collect();
        Ok(Self {
            cells: RingCells::new(config.start),
            buffer: buffer.into_boxed_slice(),
            mask: config.capacity as u64 - 1,
            atomic_size: config.atomic_size,
            open_writers: AtomicU64::new(1),
        })
    }

    /// Buffer bytes.
    pub fn capacity(&self) -> usize {
        self.buffer.len()
    }

    /// Writes of at most this many bytes are all-or-nothing.
    pub fn atomic_size(&self) -> usize {
        self.atomic_size
    }

    /// The addresses and constants a synthesized routine bakes in.
    pub fn layout(&self) -> ByteRingLayout {
        ByteRingLayout {
            buffer_address: self.buffer.as_ptr() as usize,
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

    /// Copies `bytes` into the buffer from counter value `at` on, in at
    /// most two runs (up to the end of the buffer, then from its start).
    /// Relaxed stores: the caller publishes them with a `Release` store.
    pub(crate) fn copy_in(&self, at: u64, bytes: &[u8]) {
        let (first, second) = self.runs(at, bytes.len());
        let (head, tail) = bytes.split_at(first.len());
        for (cell, &byte) in first.iter().zip(head) {
            cell.store(byte, Ordering::Relaxed);
        }
        for (cell, &byte) in second.iter().zip(tail) {
            cell.store(byte, Ordering::Relaxed);
        }
    }

    /// Copies `out.len()` bytes out of the buffer from counter value `at`
    /// on. Relaxed loads: the caller acquired them first.
    pub(crate) fn copy_out(&self, at: u64, out: &mut [u8]) {
        let (first, second) = self.runs(at, out.len());
        let (head, tail) = out.split_at_mut(first.len());
        for (byte, cell) in head.iter_mut().zip(first) {
            *byte = cell.load(Ordering::Relaxed);
        }
        for (byte, cell) in tail.iter_mut().zip(second) {
            *byte = cell.load(Ordering::Relaxed);
        }
    }

    /// The buffer runs holding `len` bytes from counter value `at`:
    /// `len <= capacity`, so at most one wrap.
    fn runs(&self, at: u64, len: usize) -> (&[AtomicU8], &[AtomicU8]) {
        let offset = Self::distance(0, at & self.mask);
        let first_len = len.min(self.capacity() - offset);
        let first = &self.buffer[offset..offset + first_len];
        let second = &self.buffer[..len - first_len];
        (first, second)
    }
}
