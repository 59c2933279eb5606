//! Where file bytes live: the kernel heap, or memory the kernel provides.
//!
//! Owns [`DataStore`] and [`DataAllocator`]. File data on the kernel heap
//! has two faults the kernel cannot accept: the heap never gives frames
//! back, and nothing charges it against the memory user programs may take,
//! so a program could fill RAM with file data and leave the kernel nothing.
//! The kernel therefore installs a [`DataAllocator`]
//! ([`FileSystem::set_data_allocator`](crate::FileSystem::set_data_allocator))
//! that maps frames from the same pool as user memory (refusing when only
//! the kernel's reserve is left) and frees them when the buffer is dropped.
//! Without one (host tests), buffers are boxed slices on the heap.

use alloc::boxed::Box;

/// A zero-initialised byte buffer of fixed length whose address never
/// changes while it lives (synthesized code bakes it in).
pub trait DataStore: Send + Sync + core::fmt::Debug {
    /// The bytes.
    fn bytes(&self) -> &[u8];
    /// The bytes, writable.
    fn bytes_mut(&mut self) -> &mut [u8];
}

/// Makes [`DataStore`]s.
pub trait DataAllocator: Sync + core::fmt::Debug {
    /// A zero-filled store of exactly `len` bytes (`len > 0`), or `None`
    /// when memory is short.
    fn allocate(&self, len: usize) -> Option<Box<dyn DataStore>>;
}

/// A file's buffer.
#[derive(Debug)]
pub(crate) enum Buffer {
    /// On the heap (also the empty buffer).
    Heap(Box<[u8]>),
    /// From the kernel's allocator.
    Store(Box<dyn DataStore>),
}

impl Default for Buffer {
    fn default() -> Self {
        Self::Heap(Box::default())
    }
}

impl Buffer {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Heap(b) => b,
            Self::Store(s) => s.bytes(),
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            Self::Heap(b) => b,
            Self::Store(s) => s.bytes_mut(),
        }
    }
}
