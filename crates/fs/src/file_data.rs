//! A file's bytes: one contiguous buffer, an explicit capacity, a size cell.
//!
//! Owns `FileData`, [`DataLayout`] and the growth policy. This is the part
//! of the file system that synthesized code sees: a read or write routine
//! made for one file bakes the buffer address and capacity into its machine
//! code as immediates and reads/updates the size in place through the size
//! cell's address (Synthesis paper, "Factoring Invariants"). So:
//!
//! - the bytes live in **one** buffer whose length *is* the capacity: a
//!   boxed slice on the heap, or a [`DataStore`](crate::DataStore) from
//!   the kernel's allocator. The capacity changes only in `grow`, which
//!   the file system calls on explicit growth and reports as
//!   [`EventKind::DataMoved`]. A store grows **in place** when it can (its
//!   address stays, nothing is copied); otherwise (a heap buffer, or a
//!   store with no room left) the bytes move to a new buffer;
//! - the size lives in its own heap cell (an `AtomicU64` in a `Box`) that
//!   never moves while the file lives, even when the buffer does; this crate
//!   reads the size from that same cell, so generic and generated paths agree;
//! - **tail-zero invariant**: every byte in `size..capacity` is zero. Growing
//!   within capacity (a write past the end, or a growing truncate) therefore
//!   needs no zero-fill, only a size-cell store; a shrinking truncate zeroes
//!   what it cuts off.
//!
//! **Growth policy** ([`grown_capacity`]): the capacity doubles (from
//! [`MIN_GROWTH_CAPACITY_BYTES`]) but grows by at most
//! [`GROWTH_STEP_BYTES`] at a time; with growth in place there is no copy
//! to amortize, and each growth maps and zeroes what it adds inside the
//! call that asked for it.
//!
//! [`EventKind::DataMoved`]: crate::EventKind::DataMoved

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::data_store::{Buffer, DataAllocator};
use crate::FsError;

/// Smallest capacity a write-driven growth allocates, in bytes.
pub const MIN_GROWTH_CAPACITY_BYTES: u64 = 4096;

/// Most bytes one growth step adds to a file's capacity: the bound on the
/// zero-filled memory one call of [`FileSystem::make_room`] maps, so on
/// the kernel's generic write path the most one stretch with interrupts
/// masked grows a file by (docs/caveats.md). A write-driven growth never
/// adds more than this at once either.
///
/// [`FileSystem::make_room`]: crate::FileSystem::make_room
pub const GROWTH_STEP_BYTES: u64 = 1 << 20;

/// Where a file's bytes and size live, for code that accesses them directly.
///
/// # Stability
/// - `data_addr` and `capacity` hold until the next
///   [`EventKind::DataMoved`](crate::EventKind::DataMoved) or
///   [`EventKind::Freed`](crate::EventKind::Freed) event for the node. Only
///   growth past `capacity` changes them (a write or truncate beyond it,
///   [`FileSystem::make_room`](crate::FileSystem::make_room) or
///   [`FileSystem::reserve`](crate::FileSystem::reserve)); growth within
///   capacity and every shrink leave both in place. Growth changes the
///   capacity and usually keeps `data_addr` (a store grown in place); it
///   moves the buffer only when the store cannot grow in place.
/// - `size_cell_addr` holds until
///   [`EventKind::Freed`](crate::EventKind::Freed): the cell never moves,
///   not even on `DataMoved`.
/// - `layout_generation` is the node's event count when the layout was taken;
///   an instance built from it is stale once the node's generation differs.
///
/// # Contract for generated code
/// - The size is an `AtomicU64` (native-endian, 8-byte aligned). Store it with
///   release semantics after writing the bytes (a plain `mov` on x86-64);
///   this crate loads it with acquire semantics.
/// - Bytes `size..capacity` are zero; code that extends the file within
///   capacity writes its bytes and stores the new size, never more than
///   `capacity`. It must not shrink the size (truncation goes through the
///   file system, which zeroes the cut-off tail).
/// - Access happens only while no call into the
///   [`FileSystem`](crate::FileSystem) is running for this file: the kernel
///   serializes generic and synthesized access to one file. The file system
///   keeps no borrow of the buffer between calls.
/// - When `capacity` is 0, `data_addr` is a dangling, aligned address that
///   must not be dereferenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataLayout {
    /// Address of the first byte of the buffer.
    pub data_addr: u64,
    /// Length of the buffer, in bytes.
    pub capacity: u64,
    /// Address of the file's size cell (`AtomicU64`, bytes).
    pub size_cell_addr: u64,
    /// The node's event count when this layout was taken.
    pub layout_generation: u64,
}

/// A file's contents. See the module doc for the invariants.
pub(crate) struct FileData {
    buffer: Buffer,
    /// The size cell. A one-element array rather than a plain `Box` only so
    /// it can be allocated fallibly on stable (`Vec::try_reserve_exact`).
    size: Box<[AtomicU64; 1]>,
}

impl FileData {
    /// An empty file with no buffer.
    ///
    /// # Errors
    /// [`FsError::OutOfMemory`] if the size cell cannot be allocated.
    pub(crate) fn new() -> Result<Self, FsError> {
        let mut cell = Vec::new();
        cell.try_reserve_exact(1)?;
        cell.push(AtomicU64::new(0));
        let size = Box::<[AtomicU64; 1]>::try_from(cell.into_boxed_slice())
            .map_err(|_| FsError::OutOfMemory)?;
        Ok(Self {
            buffer: Buffer::default(),
            size,
        })
    }

    /// The size cell itself.
    pub(crate) fn size_cell(&self) -> &AtomicU64 {
        let [cell] = &*self.size;
        cell
    }

    /// The file size in bytes, as the size cell holds it (clamped to the
    /// capacity, so a misbehaving writer cannot make us index out of range).
    pub(crate) fn size(&self) -> u64 {
        self.size_cell()
            .load(Ordering::Acquire)
            .min(self.capacity())
    }

    /// Buffer length in bytes.
    pub(crate) fn capacity(&self) -> u64 {
        to_u64(self.buffer.as_slice().len())
    }

    /// Where the bytes and the size cell are, at `layout_generation`.
    pub(crate) fn layout(&self, layout_generation: u64) -> DataLayout {
        DataLayout {
            data_addr: to_u64(self.buffer.as_slice().as_ptr().expose_provenance()),
            capacity: self.capacity(),
            size_cell_addr: to_u64(core::ptr::from_ref(self.size_cell()).expose_provenance()),
            layout_generation,
        }
    }

    /// Copies bytes from `offset` into `buf`; returns how many (0 at or past
    /// the end of the file).
    /// The bytes from `offset` up to `offset + max_len`, clipped at the
    /// end of the file (empty at or past it).
    pub(crate) fn bytes_at(&self, offset: u64, max_len: u64) -> &[u8] {
        let Some(available) = self.size().checked_sub(offset) else {
            return &[];
        };
        let len = to_usize(max_len.min(available));
        let start = to_usize(offset);
        start
            .checked_add(len)
            .and_then(|end| self.buffer.as_slice().get(start..end))
            .unwrap_or(&[])
    }

    pub(crate) fn read_at(&self, offset: u64, buf: &mut [u8]) -> usize {
        let Some(available) = self.size().checked_sub(offset) else {
            return 0;
        };
        let len = buf.len().min(to_usize(available));
        let start = to_usize(offset);
        let source = start
            .checked_add(len)
            .and_then(|end| self.buffer.as_slice().get(start..end));
        match (source, buf.get_mut(..len)) {
            (Some(source), Some(target)) => {
                target.copy_from_slice(source);
                len
            }
            _ => 0,
        }
    }

    /// Copies `data` to `offset` and raises the size if the file grew. The
    /// caller has made the capacity cover `offset + data.len()`.
    ///
    /// # Errors
    /// [`FsError::FileTooLarge`] if it does not (nothing is written).
    pub(crate) fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), FsError> {
        let start = to_usize(offset);
        let end = start.checked_add(data.len()).ok_or(FsError::FileTooLarge)?;
        let target = self
            .buffer
            .as_mut_slice()
            .get_mut(start..end)
            .ok_or(FsError::FileTooLarge)?;
        target.copy_from_slice(data);
        let end = to_u64(end);
        if end > self.size() {
            self.size_cell().store(end, Ordering::Release);
        }
        Ok(())
    }

    /// Sets the size to `new_size`, which the caller has made fit the
    /// capacity; zeroes the cut-off bytes when shrinking.
    ///
    /// # Errors
    /// [`FsError::FileTooLarge`] if `new_size` exceeds the capacity.
    pub(crate) fn set_size(&mut self, new_size: u64) -> Result<(), FsError> {
        if new_size > self.capacity() {
            return Err(FsError::FileTooLarge);
        }
        let old_size = self.size();
        if new_size < old_size {
            if let Some(cut) = self
                .buffer
                .as_mut_slice()
                .get_mut(to_usize(new_size)..to_usize(old_size))
            {
                cut.fill(0);
            }
        }
        self.size_cell().store(new_size, Ordering::Release);
        Ok(())
    }

    /// Grows the capacity to `new_capacity` (no change if it is not
    /// more): in place if the buffer can, else by moving the bytes to a
    /// new buffer ([`reallocate`](Self::reallocate)); `reach` is how far
    /// the file is expected to grow (a hint for a new store).
    ///
    /// # Errors
    /// As [`reallocate`](Self::reallocate) (the buffer is kept).
    pub(crate) fn grow(
        &mut self,
        new_capacity: u64,
        reach: u64,
        allocator: Option<&'static dyn DataAllocator>,
    ) -> Result<(), FsError> {
        if new_capacity <= self.capacity() {
            return Ok(());
        }
        let in_place = usize::try_from(new_capacity).is_ok_and(|len| self.buffer.grow(len));
        if in_place {
            return Ok(());
        }
        self.reallocate(new_capacity, reach, allocator)
    }

    /// Moves the bytes to a new, zero-filled buffer of exactly
    /// `new_capacity` bytes (never less than the size), from `allocator` if
    /// given (asked for a store that can grow in place to `reach`), else
    /// the heap. The size cell stays.
    ///
    /// # Errors
    /// [`FsError::OutOfMemory`] if the buffer cannot be allocated (the old
    /// one is kept); [`FsError::FileTooLarge`] if `new_capacity` does not fit
    /// a `usize`.
    pub(crate) fn reallocate(
        &mut self,
        new_capacity: u64,
        reach: u64,
        allocator: Option<&'static dyn DataAllocator>,
    ) -> Result<(), FsError> {
        let new_capacity = usize::try_from(new_capacity).map_err(|_| FsError::FileTooLarge)?;
        let reach = to_usize(reach).max(new_capacity);
        let keep = to_usize(self.size()).min(new_capacity);
        let kept = self.buffer.as_slice().get(..keep).unwrap_or_default();
        let fresh = match allocator {
            Some(allocator) if new_capacity > 0 => {
                let mut store = allocator
                    .allocate(new_capacity, reach)
                    .ok_or(FsError::OutOfMemory)?;
                store
                    .bytes_mut()
                    .get_mut(..keep)
                    .ok_or(FsError::OutOfMemory)?
                    .copy_from_slice(kept);
                Buffer::Store(store)
            }
            _ => {
                let mut fresh = Vec::new();
                fresh.try_reserve_exact(new_capacity)?;
                fresh.extend_from_slice(kept);
                fresh.resize(new_capacity, 0);
                Buffer::Heap(fresh.into_boxed_slice())
            }
        };
        self.buffer = fresh;
        self.size_cell().store(to_u64(keep), Ordering::Release);
        Ok(())
    }
}

impl core::fmt::Debug for FileData {
    /// Sizes only: a file may hold gigabytes.
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("FileData")
            .field("size", &self.size())
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// The capacity a write that needs `needed_bytes` grows to: the capacity
/// doubled (at least [`MIN_GROWTH_CAPACITY_BYTES`]) but at most
/// [`GROWTH_STEP_BYTES`] more, clamped to `max_bytes`, and never less than
/// `needed_bytes`. Doubling keeps the events (and replans) of a file
/// written sequentially few while it is small; the step bounds the memory
/// one growth maps and zeroes, which is done in the call that asks for it.
pub(crate) fn grown_capacity(capacity: u64, needed_bytes: u64, max_bytes: u64) -> u64 {
    let headroom = capacity.clamp(MIN_GROWTH_CAPACITY_BYTES, GROWTH_STEP_BYTES);
    capacity
        .saturating_add(headroom)
        .min(max_bytes)
        .max(needed_bytes)
}

/// `usize` to `u64`: lossless on every target this kernel supports.
fn to_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// `u64` to `usize`, saturating; callers bound-check the result with `get`.
fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn write_within_capacity_keeps_the_buffer_and_bumps_the_size_cell() {
        let mut data = FileData::new().unwrap();
        data.reallocate(64, 64, None).unwrap();
        let before = data.layout(0);
        data.write_at(10, b"abc").unwrap();
        let after = data.layout(0);
        assert_eq!(before, after);
        assert_eq!(data.size(), 13);
        assert_eq!(data.size_cell().load(Ordering::Relaxed), 13);
        let mut buf = [0xff_u8; 16];
        assert_eq!(data.read_at(0, &mut buf), 13);
        assert_eq!(&buf[..13], b"\0\0\0\0\0\0\0\0\0\0abc");
        assert_eq!(data.write_at(60, b"12345"), Err(FsError::FileTooLarge));
    }

    #[test]
    fn shrinking_zeroes_the_tail_so_regrowth_reads_zeros() {
        let mut data = FileData::new().unwrap();
        data.reallocate(8, 8, None).unwrap();
        data.write_at(0, b"abcdefgh").unwrap();
        data.set_size(2).unwrap();
        data.set_size(8).unwrap();
        let mut buf = [0xff_u8; 8];
        assert_eq!(data.read_at(0, &mut buf), 8);
        assert_eq!(&buf, b"ab\0\0\0\0\0\0");
        assert_eq!(data.set_size(9), Err(FsError::FileTooLarge));
    }

    #[test]
    fn reallocation_keeps_contents_and_size_cell_address() {
        let mut data = FileData::new().unwrap();
        data.reallocate(4, 4, None).unwrap();
        data.write_at(0, b"wxyz").unwrap();
        let before = data.layout(0);
        data.reallocate(1 << 16, 1 << 16, None).unwrap();
        let after = data.layout(1);
        assert_eq!(after.size_cell_addr, before.size_cell_addr);
        assert_eq!(after.capacity, 1 << 16);
        let mut buf = [0_u8; 8];
        assert_eq!(data.read_at(0, &mut buf), 4);
        assert_eq!(&buf[..4], b"wxyz");
        assert_eq!(data.read_at(4, &mut buf), 0);
        assert_eq!(data.read_at(u64::MAX, &mut buf), 0);
    }

    #[test]
    fn growth_policy_doubles_by_at_most_one_step() {
        assert_eq!(grown_capacity(0, 1, 1 << 30), MIN_GROWTH_CAPACITY_BYTES);
        assert_eq!(grown_capacity(8192, 8193, 1 << 30), 16384);
        assert_eq!(grown_capacity(8192, 100_000, 1 << 30), 100_000);
        // Past one step, the step: no more than 1 MiB at once.
        assert_eq!(grown_capacity(1 << 20, (1 << 20) + 1, 1 << 30), 2 << 20);
        assert_eq!(
            grown_capacity(256 << 20, (256 << 20) + 1, 1 << 30),
            257 << 20
        );
        // What is needed, though, whatever it is (make_room caps that).
        assert_eq!(grown_capacity(0, 512 << 20, 1 << 30), 512 << 20);
        let limit = (1 << 29) | 7;
        assert_eq!(grown_capacity(limit - 5, limit - 4, limit), limit);
        assert_eq!(
            grown_capacity(u64::MAX / 2 + 1, u64::MAX, u64::MAX),
            u64::MAX
        );
    }
}
