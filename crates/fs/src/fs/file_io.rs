//! Data operations on file nodes: read, write, make room, truncate,
//! reserve, layout.
//!
//! Owns the data half of [`FileSystem`]: the generic read/write path that
//! synthesized routines fall back to and are tested against
//! (`guard-then-generic`), [`Room`], and the quota-aware buffer growth
//! behind them. `read` and `write` are hot paths: no logging, no
//! allocation unless the file grows past its capacity. Layout facts and
//! their stability are documented on [`DataLayout`].
//!
//! Growth is bounded per call where the kernel needs it: [`make_room`]
//! grows a file by at most [`GROWTH_STEP_BYTES`] and says whether the
//! write fits yet, so the kernel's generic write can grow a file toward a
//! far offset in steps with preemption points between them
//! (docs/caveats.md).
//!
//! [`make_room`]: FileSystem::make_room

use core::sync::atomic::AtomicU64;

use super::FileSystem;
use crate::event::EventKind;
use crate::file_data::{grown_capacity, DataLayout, FileData, GROWTH_STEP_BYTES};
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
    /// changes; past it the buffer grows by the growth policy (doubling by
    /// at most [`GROWTH_STEP_BYTES`], at least `MIN_GROWTH_CAPACITY_BYTES`,
    /// clamped to the limits, never less than the write needs: in place
    /// when the buffer can) and [`EventKind::DataMoved`] is raised. An
    /// empty write changes nothing. The growth is not bounded: a caller
    /// that bounds its work (the kernel's generic write) makes room first
    /// with [`make_room`](Self::make_room).
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
        let payer = entry.payer;
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
                payer,
                grants: &mut self.grants,
            };
            quota.grow(file, preferred, end, end)?;
        }
        file.write_at(offset, data)?;
        if is_moving {
            self.events.record(node, entry, EventKind::DataMoved);
        }
        Ok(data.len())
    }

    /// Makes room for a write that ends at `end_bytes` of file `node`,
    /// growing its capacity by at most [`GROWTH_STEP_BYTES`]: returns
    /// [`Room::Ready`] once the capacity covers `end_bytes` (then a
    /// [`write`](Self::write) up to it grows nothing), or [`Room::Growing`]
    /// if it grew one step and the write needs more: call again. Every
    /// `Growing` raised the capacity, so calls toward one end terminate.
    ///
    /// The growth follows the policy of [`write`](Self::write) (doubling,
    /// at most one step), settling for what the write needs (up to one
    /// step) when memory is short; it raises [`EventKind::DataMoved`].
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`];
    /// [`FsError::FileTooLarge`] past
    /// [`Limits::max_file_bytes`](crate::Limits::max_file_bytes);
    /// [`FsError::NoSpace`] if the quota cannot hold `end_bytes` (checked
    /// before any growth); [`FsError::OutOfMemory`].
    pub fn make_room(&mut self, node: NodeId, end_bytes: u64) -> Result<Room, FsError> {
        let capacity = self.file(node)?.capacity();
        if end_bytes <= capacity {
            return Ok(Room::Ready);
        }
        if end_bytes > self.limits.max_file_bytes {
            return Err(FsError::FileTooLarge);
        }
        self.events.reserve_for_call(self.open_references)?;
        let entry = self.nodes.get_mut(node)?;
        let NodeBody::File(file) = &mut entry.body else {
            return Err(FsError::IsDir);
        };
        let ceiling = capacity.saturating_add(GROWTH_STEP_BYTES);
        let needed = end_bytes.min(ceiling);
        let preferred = grown_capacity(capacity, needed, self.limits.max_file_bytes).min(ceiling);
        let quota = Quota {
            total_bytes: &mut self.total_capacity_bytes,
            max_bytes: self.limits.max_total_bytes,
            allocator: self.allocator,
            payer: entry.payer,
            grants: &mut self.grants,
        };
        quota.grow(file, preferred, needed, end_bytes)?;
        let is_ready = end_bytes <= file.capacity();
        self.events.record(node, entry, EventKind::DataMoved);
        Ok(if is_ready { Room::Ready } else { Room::Growing })
    }

    /// Sets the size of file `node` to `size_bytes`. Shrinking zeroes the
    /// cut-off bytes and keeps the buffer; growing within capacity only
    /// changes the size cell; growing past it grows the buffer to exactly
    /// `size_bytes` ([`EventKind::DataMoved`]; not bounded by
    /// [`GROWTH_STEP_BYTES`]). Always raises [`EventKind::Truncated`].
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

    /// One bounded step of truncating file `node` toward `size_bytes`:
    /// while its size is more than [`GROWTH_STEP_BYTES`] above
    /// `size_bytes`, cuts [`GROWTH_STEP_BYTES`] off its end (zeroing at
    /// most that many bytes, raising [`EventKind::Truncated`]) and returns
    /// [`Cut::Cutting`]: call again. Returns [`Cut::Near`], changing
    /// nothing, once a [`truncate`](Self::truncate) to `size_bytes` cuts
    /// at most one step. Every `Cutting` lowered the size, so calls toward
    /// one size terminate unless something else grows the file meanwhile.
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`]; [`FsError::OutOfMemory`]
    /// (no room to record the event).
    pub fn cut_toward(&mut self, node: NodeId, size_bytes: u64) -> Result<Cut, FsError> {
        let size = self.file(node)?.size();
        if size <= size_bytes.saturating_add(GROWTH_STEP_BYTES) {
            return Ok(Cut::Near);
        }
        self.truncate(node, size.saturating_sub(GROWTH_STEP_BYTES))?;
        Ok(Cut::Cutting)
    }

    /// Makes the capacity of file `node` at least `capacity_bytes` (exactly
    /// that, if it grows), without changing its size, so later writes up to
    /// it neither grow the buffer nor raise events. Raises
    /// [`EventKind::DataMoved`] if the capacity changed. Never shrinks; not
    /// bounded by [`GROWTH_STEP_BYTES`].
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

    /// Grows file `id` to exactly `capacity_bytes` if that exceeds its
    /// capacity; returns whether it did.
    fn grow_exact(&mut self, id: NodeId, capacity_bytes: u64) -> Result<bool, FsError> {
        let entry = self.nodes.get_mut(id)?;
        let payer = entry.payer;
        let NodeBody::File(file) = &mut entry.body else {
            return Err(FsError::IsDir);
        };
        if capacity_bytes <= file.capacity() {
            return Ok(false);
        }
        let quota = Quota {
            total_bytes: &mut self.total_capacity_bytes,
            max_bytes: self.limits.max_total_bytes,
            allocator: self.allocator,
            payer,
            grants: &mut self.grants,
        };
        quota.grow(file, capacity_bytes, capacity_bytes, capacity_bytes)?;
        Ok(true)
    }
}

/// What [`FileSystem::make_room`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// The capacity covers the write: it grows nothing.
    Ready,
    /// The capacity grew by one step, and the write needs more.
    Growing,
}

/// What [`FileSystem::cut_toward`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The size is within one step of the target: nothing was cut.
    Near,
    /// One step was cut off, and the file is still more than one step
    /// above the target.
    Cutting,
}

/// The byte quota (the sum of all buffer capacities and its limit) and
/// the grant of the file's payer (`fs::payers`).
struct Quota<'a> {
    total_bytes: &'a mut u64,
    max_bytes: u64,
    allocator: Option<&'static dyn crate::DataAllocator>,
    payer: u64,
    grants: &'a mut super::payers::Grants,
}

impl Quota<'_> {
    /// Grows `file` to `preferred_bytes`, or to `needed_bytes` if the quota,
    /// the payer's grant or memory cannot give `preferred_bytes`, and accounts for the
    /// change. `reach` (at least `needed_bytes`) is where the growth is
    /// headed: the quota must hold it, and a new store is asked to grow in
    /// place that far.
    fn grow(
        self,
        file: &mut FileData,
        preferred_bytes: u64,
        needed_bytes: u64,
        reach: u64,
    ) -> Result<(), FsError> {
        let others = self.total_bytes.saturating_sub(file.capacity());
        let budget = self.max_bytes.saturating_sub(others);
        if needed_bytes.max(reach) > budget {
            return Err(FsError::NoSpace);
        }
        let preferred_bytes = preferred_bytes.min(budget).max(needed_bytes);
        let preferred_bytes =
            self.grants
                .admit(self.payer, file.capacity(), preferred_bytes, needed_bytes)?;
        match file.grow(preferred_bytes, reach, self.allocator) {
            Err(FsError::OutOfMemory) if preferred_bytes > needed_bytes => {
                file.grow(needed_bytes, reach, self.allocator)?;
            }
            result => result?,
        }
        *self.total_bytes = others.saturating_add(file.capacity());
        Ok(())
    }
}
