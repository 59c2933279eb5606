//! The file system object: node table, root, limits, event log.
//!
//! Owns [`FileSystem`] and its lifecycle rules: opening and closing nodes,
//! `stat`, `readdir`, draining events, and freeing a node once no name and
//! no open reference is left. Path operations live in `fs::namespace`, data
//! operations in `fs::file_io`; both are `impl FileSystem` blocks.

mod file_io;
mod namespace;
mod payers;

pub use file_io::{Cut, Room};
pub use namespace::CreateMode;
pub use payers::{frames_of, RefusedGrowth, FRAME_BYTES, NO_PAYER};

use core::sync::atomic::{AtomicU64, Ordering};

use crate::directory::{DirEntry, Directory};
use crate::event::{EventKind, EventLog, FsEvent};
use crate::inode::{Node, NodeBody, Stat};
use crate::node_table::NodeTable;
use crate::{FsError, Limits, NodeId, OpenNode};

/// Source of [`FileSystem::instance`] numbers.
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(0);

/// A RAM file system: one tree of directories and files.
///
/// All methods take `&self` or `&mut self`; the kernel wraps the whole
/// object in its lock. Every mutating call either succeeds or changes
/// nothing.
#[derive(Debug)]
pub struct FileSystem {
    pub(crate) nodes: NodeTable,
    root: NodeId,
    events: EventLog,
    limits: Limits,
    /// Sum of all file buffer capacities, checked against
    /// [`Limits::max_total_bytes`].
    total_capacity_bytes: u64,
    /// `OpenNode`s outstanding; each owns one reserved event slot so that
    /// [`close`](Self::close) can always record `Freed`.
    open_references: usize,
    /// Distinguishes file systems, so an `OpenNode` is closed only where it
    /// was opened.
    instance: u64,
    /// Where file buffers come from (none: the heap).
    pub(crate) allocator: Option<&'static dyn crate::DataAllocator>,
    /// The growth grant of the call in progress and the last refusal.
    grants: payers::Grants,
}

impl FileSystem {
    /// Heap bytes of the file system's long-lived containers: the node
    /// slab and the pending events (capacities; they grow with the most
    /// nodes, and open references, ever live at once). For leak checks.
    pub fn container_bytes(&self) -> [usize; 2] {
        [self.nodes.capacity_bytes(), self.events.capacity_bytes()]
    }

    /// An empty file system (just `/`) with [`Limits::DEFAULT`].
    ///
    /// # Errors
    /// [`FsError::OutOfMemory`] if the root cannot be allocated.
    pub fn new() -> Result<Self, FsError> {
        Self::with_limits(Limits::DEFAULT)
    }

    /// An empty file system (just `/`) enforcing `limits`.
    ///
    /// # Errors
    /// [`FsError::NoSpace`] if `limits.max_nodes` is 0;
    /// [`FsError::OutOfMemory`] if the root cannot be allocated.
    pub fn with_limits(limits: Limits) -> Result<Self, FsError> {
        let mut nodes = NodeTable::new(limits.max_nodes);
        let mut root = Node::new_directory(Directory::new(None));
        // The root is named by the file system itself and never unlinked.
        root.link_count = 1;
        let root = nodes.insert(root)?;
        Ok(Self {
            nodes,
            root,
            events: EventLog::default(),
            limits,
            total_capacity_bytes: 0,
            open_references: 0,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            allocator: None,
            grants: payers::Grants::default(),
        })
    }

    /// Takes file buffers from `allocator` from now on (buffers already
    /// allocated stay where they are until they are reallocated).
    pub fn set_data_allocator(&mut self, allocator: &'static dyn crate::DataAllocator) {
        self.allocator = Some(allocator);
    }

    /// The root directory, `/`.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// The limits this file system enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Number of live nodes (the root included).
    pub fn node_count(&self) -> usize {
        self.nodes.live()
    }

    /// Sum of all file buffer capacities, in bytes.
    pub fn total_capacity_bytes(&self) -> u64 {
        self.total_capacity_bytes
    }

    /// Metadata of `node`.
    ///
    /// # Errors
    /// [`FsError::StaleNode`] if the node has been freed.
    pub fn stat(&self, node: NodeId) -> Result<Stat, FsError> {
        Ok(self.nodes.get(node)?.stat())
    }

    /// The entries of directory `dir`, in name order.
    ///
    /// # Errors
    /// [`FsError::StaleNode`] if the node has been freed;
    /// [`FsError::NotDir`] if it is a file.
    pub fn readdir(&self, dir: NodeId) -> Result<impl Iterator<Item = DirEntry<'_>> + '_, FsError> {
        let directory = self.directory(dir)?;
        Ok(directory.iter().filter_map(|(name, node)| {
            let kind = self.nodes.get(node).ok()?.kind();
            Some(DirEntry { name, node, kind })
        }))
    }

    /// Takes one counted open reference to `node`; the node (and a file's
    /// data) stays alive until the reference is passed to
    /// [`close`](Self::close), even if it is unlinked meanwhile.
    ///
    /// # Errors
    /// [`FsError::StaleNode`] if the node has been freed;
    /// [`FsError::NoSpace`] if its open counter is saturated;
    /// [`FsError::OutOfMemory`] if the event slot for the close cannot be
    /// reserved.
    pub fn open(&mut self, node: NodeId) -> Result<OpenNode, FsError> {
        let open_count = self.nodes.get(node)?.open_count;
        let open_count = open_count.checked_add(1).ok_or(FsError::NoSpace)?;
        let open_references = self
            .open_references
            .checked_add(1)
            .ok_or(FsError::NoSpace)?;
        self.events.reserve_for_call(open_references)?;
        self.nodes.get_mut(node)?.open_count = open_count;
        self.open_references = open_references;
        Ok(OpenNode::new(node, self.instance))
    }

    /// Gives back an open reference. If it was the last one and the node has
    /// no name left, the node is freed ([`EventKind::Freed`]). Never fails
    /// for lack of memory.
    ///
    /// # Errors
    /// [`FsError::StaleNode`] if `open` came from another file system.
    pub fn close(&mut self, open: OpenNode) -> Result<(), FsError> {
        if open.instance() != self.instance {
            return Err(FsError::StaleNode);
        }
        let id = open.node();
        let node = self.nodes.get_mut(id)?;
        node.open_count = node.open_count.checked_sub(1).ok_or(FsError::StaleNode)?;
        self.open_references = self.open_references.saturating_sub(1);
        self.free_if_unreferenced(id)
    }

    /// Removes and yields the pending events, oldest first. Call after
    /// every mutating call (or batch of them) and replug what they name;
    /// undrained events accumulate.
    pub fn take_events(&mut self) -> impl Iterator<Item = FsEvent> + '_ {
        self.events.drain()
    }

    /// Number of events waiting for [`take_events`](Self::take_events).
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Reserves event room for one mutating call (and for every
    /// outstanding close).
    fn reserve_events(&mut self) -> Result<(), FsError> {
        self.events.reserve_for_call(self.open_references)
    }

    /// The directory `id` names.
    pub(crate) fn directory(&self, id: NodeId) -> Result<&Directory, FsError> {
        match &self.nodes.get(id)?.body {
            NodeBody::Directory(directory) => Ok(directory),
            NodeBody::File(_) => Err(FsError::NotDir),
        }
    }

    /// The directory `id` names, mutably.
    fn directory_mut(&mut self, id: NodeId) -> Result<&mut Directory, FsError> {
        match &mut self.nodes.get_mut(id)?.body {
            NodeBody::Directory(directory) => Ok(directory),
            NodeBody::File(_) => Err(FsError::NotDir),
        }
    }

    /// Drops one name of `id` (its entry is already gone): records
    /// [`EventKind::Unlinked`] and frees the node if nothing else refers to
    /// it. Needs events reserved.
    fn drop_link(&mut self, id: NodeId) -> Result<(), FsError> {
        let node = self.nodes.get_mut(id)?;
        node.link_count = node.link_count.saturating_sub(1);
        if let NodeBody::Directory(directory) = &mut node.body {
            directory.parent = None;
        }
        self.events.record(id, node, EventKind::Unlinked);
        self.free_if_unreferenced(id)
    }

    /// Frees `id` if no name and no open reference is left: records
    /// [`EventKind::Freed`] and returns its buffer capacity to the quota.
    fn free_if_unreferenced(&mut self, id: NodeId) -> Result<(), FsError> {
        let node = self.nodes.get_mut(id)?;
        if !node.is_unreferenced() {
            return Ok(());
        }
        self.events.record(id, node, EventKind::Freed);
        let node = self.nodes.remove(id)?;
        if let NodeBody::File(data) = &node.body {
            self.total_capacity_bytes = self.total_capacity_bytes.saturating_sub(data.capacity());
        }
        log::debug!("sk-fs: freed {:?} {id:?}", node.kind());
        Ok(())
    }
}
