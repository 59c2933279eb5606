//! The one error of this crate: a queue that cannot be built (a shape the
//! protocols cannot use, or no memory for it).
//!
//! Owns [`ConfigError`]. Operations themselves never fail with an error:
//! full, empty, end of file and broken pipe are outcomes
//! ([`crate::outcome`]), since the kernel acts on each differently.

/// Why a queue cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Capacities are powers of two (the index-to-slot map is a mask).
    #[error("capacity {0} is not a power of two")]
    CapacityNotPowerOfTwo(usize),
    /// A message queue needs at least two slots: with one, the sequence
    /// number that marks "holds the message of `p`" (`p + 1`) equals the one
    /// that marks "free for the sender of `p + 1`".
    #[error("capacity {0} is below the minimum of 2 slots")]
    CapacityTooSmall(usize),
    /// A byte ring's capacity is above 2^32 bytes or a message queue's
    /// above 2^32 slots (keeps every index difference far from overflow).
    #[error("capacity {0} is above 2^32")]
    CapacityTooLarge(usize),
    /// The atomic size (a write of at most this many bytes never splits)
    /// must fit in the ring.
    #[error("atomic size {atomic_size} exceeds capacity {capacity}")]
    AtomicSizeTooLarge {
        /// The requested atomic size.
        atomic_size: usize,
        /// The ring's capacity.
        capacity: usize,
    },
    /// The allocator had no room for the queue (a kernel's heap that
    /// cannot grow must fail the `create`, not panic).
    #[error("no memory for the queue")]
    NoMemory,
}
