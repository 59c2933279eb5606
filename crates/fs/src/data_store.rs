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
//!
//! A store may grow in place ([`DataStore::grow`]): the kernel's reserve
//! virtual space beyond what they map, so a growing file keeps its address
//! and is never copied; the file system tries that first and moves the
//! bytes to a new store only when the store cannot grow.

use alloc::boxed::Box;

/// A zero-initialised byte buffer whose address never changes while it
/// lives (synthesized code bakes it in); its length changes only by
/// [`grow`](Self::grow).
pub trait DataStore: Send + Sync + core::fmt::Debug {
    /// The bytes.
    fn bytes(&self) -> &[u8];
    /// The bytes, writable.
    fn bytes_mut(&mut self) -> &mut [u8];
    /// Grows the store in place to `new_len` bytes (at least its length),
    /// the new bytes zero, its address unchanged. Returns false, and
    /// changes nothing, if it cannot (no room left where it lives, or
    /// memory short). The work is proportional to the growth, never to
    /// the length. By default a store cannot grow.
    fn grow(&mut self, new_len: usize) -> bool {
        let _ = new_len;
        false
    }
}

/// Makes [`DataStore`]s.
pub trait DataAllocator: Sync + core::fmt::Debug {
    /// A zero-filled store of exactly `len` bytes (`len > 0`), or `None`
    /// when memory is short. `reach` (at least `len`) is how far the file
    /// system expects it to grow: an allocator that can should make a
    /// store that [`grows`](DataStore::grow) in place that far.
    fn allocate(&self, len: usize, reach: usize) -> Option<Box<dyn DataStore>>;
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

    /// Grows in place to `new_len` bytes if the buffer can (a heap buffer
    /// cannot).
    pub(crate) fn grow(&mut self, new_len: usize) -> bool {
        match self {
            Self::Heap(_) => false,
            Self::Store(s) => s.grow(new_len),
        }
    }
}
