//! Data operations on file nodes: read, write, truncate, reserve, layout.
//!
//! Owns the data half of [`FileSystem`]: the generic read/write path that
//! synthesized routines fall back to and are tested against
//! (`guard-then-generic`), and the quota-aware buffer growth behind it.
//! `read` and `write` are hot paths: no logging, no allocation unless the
//! file grows past its capacity. Layout facts and their stability are
//! documented on [`DataLayout`].

use core::sync::atomic::AtomicU64;

use super::FileSystem;
use crate::event::EventKind;
use crate::file_data::{grown_capacity, DataLayout, FileData};
use crate::inode::NodeBody;
use crate::{FsError, NodeId};

impl FileSystem {
    /// Copies bytes of file `node` from `offset` into `buf`; returns how
    /// many (0 at or past the end). Works on open and unopened files alike.
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`].
    pub fn read(&self, node: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        Ok(self.file(node)?.read_at(offset, buf))
    }

    /// Lends the bytes of file `node` from `offset` (at most `max_len`,
    /// clipped at the end of the file) to `f`, without copying: the kernel's
    /// generic read copies them straight to user memory.
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`].
    pub fn read_with<R>(
        &self,
        node: NodeId,
        offset: u64,
        max_len: u64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, FsError> {
        Ok(f(self.file(node)?.bytes_at(offset, max_len)))
    }

    /// Writes `data` at `offset` of file `node`; returns `data.len()`.
    ///
    /// A write past the end grows the file, and a gap between the old end
    /// and `offset` reads as zeros. Within the capacity only the size cell
    /// changes; past it the buffer is reallocated by the growth policy
    /// (doubling, at least `MIN_GROWTH_CAPACITY_BYTES`, clamped to the
    /// limits) and [`EventKind::DataMoved`] is raised. An empty write
    /// changes nothing.
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`]; [`FsError::BadOffset`] if
    /// `offset + data.len()` overflows; [`FsError::FileTooLarge`] past
    /// [`Limits::max_file_bytes`](crate::Limits::max_file_bytes);
    /// [`FsError::NoSpace`] past the byte quota; [`FsError::OutOfMemory`].
    pub fn write(&mut self, node: NodeId, offset: u64, data: &[u8]) -> Result<usize, FsError> {
        let len = u64::try_from(data.len()).map_err(|_| FsError::BadOffset)?;
        let end = offset.checked_add(len).ok_or(FsError::BadOffset)?;
        let entry = self.nodes.get_mut(node)?;
        let NodeBody::File(file) = &mut entry.body else {
            return Err(FsError::IsDir);
        };
        if data.is_empty() {
            return Ok(0);
        }
        let is_moving = end > file.capacity();
        if is_moving {
            if end > self.limits.max_file_bytes {
                return Err(FsError::FileTooLarge);
            }
            self.events.reserve_for_call(self.open_references)?;
            let preferred = grown_capacity(file.capacity(), end, self.limits.max_file_bytes);
            let quota = Quota {
                total_bytes: &mut self.total_capacity_bytes,
                max_bytes: self.limits.max_total_bytes,
                allocator: self.allocator,
            };
            quota.reallocate(file, preferred, end)?;
        }
        file.write_at(offset, data)?;
        if is_moving {
            self.events.record(node, entry, EventKind::DataMoved);
        }
        Ok(data.len())
    }

    /// Sets the size of file `node` to `size_bytes`. Shrinking zeroes the
    /// cut-off bytes and keeps the buffer; growing within capacity only
    /// changes the size cell; growing past it reallocates to exactly
    /// `size_bytes` ([`EventKind::DataMoved`]). Always raises
    /// [`EventKind::Truncated`].
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`]; [`FsError::FileTooLarge`];
    /// [`FsError::NoSpace`]; [`FsError::OutOfMemory`].
    pub fn truncate(&mut self, node: NodeId, size_bytes: u64) -> Result<(), FsError> {
        self.file(node)?;
        if size_bytes > self.limits.max_file_bytes {
            return Err(FsError::FileTooLarge);
        }
        self.reserve_events()?;
        let is_moving = self.grow_exact(node, size_bytes)?;
        let entry = self.nodes.get_mut(node)?;
        if let NodeBody::File(file) = &mut entry.body {
            file.set_size(size_bytes)?;
        }
        if is_moving {
            self.events.record(node, entry, EventKind::DataMoved);
        }
        self.events.record(node, entry, EventKind::Truncated);
        Ok(())
    }

    /// Makes the capacity of file `node` at least `capacity_bytes` (exactly
    /// that, if it grows), without changing its size, so later writes up to
    /// it neither move the buffer nor raise events. Raises
    /// [`EventKind::DataMoved`] if the buffer moved. Never shrinks.
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`]; [`FsError::FileTooLarge`];
    /// [`FsError::NoSpace`]; [`FsError::OutOfMemory`].
    pub fn reserve(&mut self, node: NodeId, capacity_bytes: u64) -> Result<(), FsError> {
        if capacity_bytes <= self.file(node)?.capacity() {
            return Ok(());
        }
        if capacity_bytes > self.limits.max_file_bytes {
            return Err(FsError::FileTooLarge);
        }
        self.reserve_events()?;
        self.grow_exact(node, capacity_bytes)?;
        log::debug!("sk-fs: reserved {capacity_bytes} bytes for {node:?}");
        let entry = self.nodes.get_mut(node)?;
        self.events.record(node, entry, EventKind::DataMoved);
        Ok(())
    }

    /// Where the bytes and size cell of file `node` are now; see
    /// [`DataLayout`] for how long each fact holds.
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`].
    pub fn data_layout(&self, node: NodeId) -> Result<DataLayout, FsError> {
        let generation = self.nodes.get(node)?.layout_generation;
        Ok(self.file(node)?.layout(generation))
    }

    /// The size cell of file `node`: the very cell
    /// [`DataLayout::size_cell_addr`] points at. Lets safe kernel code
    /// observe or extend the size the way generated code does.
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`].
    pub fn size_cell(&self, node: NodeId) -> Result<&AtomicU64, FsError> {
        Ok(self.file(node)?.size_cell())
    }

    /// The file data of `id`.
    fn file(&self, id: NodeId) -> Result<&FileData, FsError> {
        match &self.nodes.get(id)?.body {
            NodeBody::File(file) => Ok(file),
            NodeBody::Directory(_) => Err(FsError::IsDir),
        }
    }

    /// Reallocates file `id` to exactly `capacity_bytes` if that exceeds
    /// its capacity; returns whether it did.
    fn grow_exact(&mut self, id: NodeId, capacity_bytes: u64) -> Result<bool, FsError> {
        let NodeBody::File(file) = &mut self.nodes.get_mut(id)?.body else {
            return Err(FsError::IsDir);
        };
        if capacity_bytes <= file.capacity() {
            return Ok(false);
        }
        let quota = Quota {
            total_bytes: &mut self.total_capacity_bytes,
            max_bytes: self.limits.max_total_bytes,
            allocator: self.allocator,
        };
        quota.reallocate(file, capacity_bytes, capacity_bytes)?;
        Ok(true)
    }
}

/// The byte quota: the sum of all buffer capacities and its limit.
struct Quota<'a> {
    total_bytes: &'a mut u64,
    max_bytes: u64,
    allocator: Option<&'static dyn crate::DataAllocator>,
}

impl Quota<'_> {
    /// Moves `file` to a buffer of `preferred_bytes`, or of `needed_bytes`
    /// if the quota or the heap cannot give `preferred_bytes`, and accounts
    /// for the change.
    fn reallocate(
        self,
        file: &mut FileData,
        preferred_bytes: u64,
        needed_bytes: u64,
    ) -> Result<(), FsError> {
        let others = self.total_bytes.saturating_sub(file.capacity());
        let budget = self.max_bytes.saturating_sub(others);
        if needed_bytes > budget {
            return Err(FsError::NoSpace);
        }
        let preferred_bytes = preferred_bytes.min(budget).max(needed_bytes);
        match file.reallocate(preferred_bytes, self.allocator) {
            Err(FsError::OutOfMemory) if preferred_bytes > needed_bytes => {
                file.reallocate(needed_bytes, self.allocator)?
            }
            result => result?,
        }
        *self.total_bytes = others.saturating_add(file.capacity());
        Ok(())
    }
}
