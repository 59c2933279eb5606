//! The shared memory of a byte ring, cell by cell: what synthesized pipe
//! code bakes in as constants.
//!
//! Owns [`RingConfig`] (the shape asked for), [`RingCells`] (the index
//! and wait cells, each on its own cache line) and
//! [`ByteRingLayout`] (the addresses and constants of one live ring).
//!
//! | cell | offset in [`RingCells`] | written by | read by |
//! |---|---|---|---|
//! | `produced` (`u64`) | [`RingCells::PRODUCED_OFFSET`] = 0 | writer (`Release` store) | reader (`Acquire` load) |
//! | `consumed` (`u64`) | [`RingCells::CONSUMED_OFFSET`] = 64 | reader (`Release` store) | writer (`Acquire` load) |
//! | `wait` (`u64`) | [`RingCells::WAIT_OFFSET`] = 128 | both (`lock or`/`lock and`) | both |
//! | `reserved` (`u64`) | [`RingCells::RESERVED_OFFSET`] = 192 | writers of a multi-writer ring (`lock cmpxchg`) | those writers |
//!
//! `produced` and `consumed` are free-running byte counters: they only
//! grow (wrapping at 2^64), the ring holds `produced - consumed` bytes
//! (wrapping subtraction), and the byte with counter value `c` lives at
//! `buffer[c & mask]`, `mask = capacity - 1`. Counters start at any value
//! (tests start them just below `u64::MAX`). The wait word's bits are in
//! [`crate::wait_word`]. Buffer bytes are plain bytes in order (eight to an
//! `AtomicU64`, little-endian), written and read with relaxed accesses,
//! i.e. ordinary `mov`s (a part of a word: `lock and`, `lock or`); the
//! index cells' `Release`/`Acquire` order them.

use crate::error::ConfigError;
use crate::sync::AtomicU64;
use crate::wait_word::WaitWord;

/// Largest capacity a queue accepts (2^32): counters that differ by at
/// most this never come near wrapping ambiguity.
pub const MAX_CAPACITY: usize = 1 << 32;

/// The shape of a byte ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// Buffer bytes; a power of two, at most [`MAX_CAPACITY`].
    pub capacity: usize,
    /// Writes of at most this many bytes are all-or-nothing (`PIPE_BUF`);
    /// at most `capacity`.
    pub atomic_size: usize,
    /// The value both counters start at (0 in the kernel; anything in tests).
    pub start: u64,
}

impl RingConfig {
    /// A ring of `capacity` bytes whose writes of at most `atomic_size`
    /// bytes never split, counters starting at 0.
    pub const fn new(capacity: usize, atomic_size: usize) -> Self {
        Self {
            capacity,
            atomic_size,
            start: 0,
        }
    }

    /// The same shape with both counters starting at `start`.
    pub const fn starting_at(self, start: u64) -> Self {
        Self { start, ..self }
    }

    /// Checks the shape: capacity a power of two within bounds, atomic
    /// size within capacity.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_capacity(self.capacity)?;
        if self.atomic_size > self.capacity {
            return Err(ConfigError::AtomicSizeTooLarge {
                atomic_size: self.atomic_size,
                capacity: self.capacity,
            });
        }
        Ok(())
    }
}

/// Checks a queue capacity: a power of two, at most [`MAX_CAPACITY`].
pub(crate) fn validate_capacity(capacity: usize) -> Result<(), ConfigError> {
    if !capacity.is_power_of_two() {
        return Err(ConfigError::CapacityNotPowerOfTwo(capacity));
    }
    if capacity > MAX_CAPACITY {
        return Err(ConfigError::CapacityTooLarge(capacity));
    }
    Ok(())
}

/// One value alone on a 64-byte cache line, so that the writer's and the
/// reader's cells do not bounce one line between CPUs.
#[repr(C, align(64))]
#[derive(Debug)]
pub(crate) struct OnOwnLine<T>(pub(crate) T);

/// The index and wait cells of a byte ring, in this order at these offsets
/// (checked by a test; under loom the sizes differ and the offsets mean
/// nothing).
#[repr(C)]
#[derive(Debug)]
pub struct RingCells {
    pub(crate) produced: OnOwnLine<AtomicU64>,
    pub(crate) consumed: OnOwnLine<AtomicU64>,
    pub(crate) wait: OnOwnLine<WaitWord>,
    pub(crate) reserved: OnOwnLine<AtomicU64>,
}

impl RingCells {
    /// Offset of the writer's `produced` counter.
    pub const PRODUCED_OFFSET: usize = 0;
    /// Offset of the reader's `consumed` counter.
    pub const CONSUMED_OFFSET: usize = 64;
    /// Offset of the wait word.
    pub const WAIT_OFFSET: usize = 128;
    /// Offset of the multi-writer ring's `reserved` counter (unused by a
    /// single-writer ring): bytes claimed by writers, `>= produced`.
    pub const RESERVED_OFFSET: usize = 192;

    /// Cells with both counters at `start`, no one waiting, both ends open.
    pub(crate) fn new(start: u64) -> Self {
        Self {
            produced: OnOwnLine(AtomicU64::new(start)),
            consumed: OnOwnLine(AtomicU64::new(start)),
            wait: OnOwnLine(WaitWord::new()),
            reserved: OnOwnLine(AtomicU64::new(start)),
        }
    }
}

/// Where one live ring's memory is and the constants of its code: what a
/// synthesized read or write routine is instantiated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRingLayout {
    /// Address of the first buffer byte.
    pub buffer_address: usize,
    /// Buffer bytes (a power of two).
    pub capacity: usize,
    /// `capacity - 1`: counter to buffer offset.
    pub mask: u64,
    /// Writes of at most this many bytes are all-or-nothing.
    pub atomic_size: usize,
    /// Address of [`RingCells`]; the cells are at its `*_OFFSET`s.
    pub cells_address: usize,
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn cells_sit_at_their_documented_offsets() {
        assert_eq!(
            core::mem::offset_of!(RingCells, produced),
            RingCells::PRODUCED_OFFSET
        );
        assert_eq!(
            core::mem::offset_of!(RingCells, consumed),
            RingCells::CONSUMED_OFFSET
        );
        assert_eq!(
            core::mem::offset_of!(RingCells, wait),
            RingCells::WAIT_OFFSET
        );
        assert_eq!(
            core::mem::offset_of!(RingCells, reserved),
            RingCells::RESERVED_OFFSET
        );
        assert_eq!(core::mem::size_of::<WaitWord>(), 8);
        assert_eq!(core::mem::size_of::<RingCells>(), 256);
    }

    #[test]
    fn shapes_are_checked() {
        assert_eq!(RingConfig::new(8, 8).validate(), Ok(()));
        assert_eq!(RingConfig::new(1, 0).validate(), Ok(()));
        assert_eq!(
            RingConfig::new(0, 0).validate(),
            Err(ConfigError::CapacityNotPowerOfTwo(0))
        );
        assert_eq!(
            RingConfig::new(12, 4).validate(),
            Err(ConfigError::CapacityNotPowerOfTwo(12))
        );
        assert_eq!(
            RingConfig::new(8, 9).validate(),
            Err(ConfigError::AtomicSizeTooLarge {
                atomic_size: 9,
                capacity: 8
            })
        );
        assert_eq!(
            RingConfig::new(MAX_CAPACITY * 2, 1).validate(),
            Err(ConfigError::CapacityTooLarge(MAX_CAPACITY * 2))
        );
    }
}
