//! Invalidation events: what changed about a node that generated code may
//! have baked in.
//!
//! Owns [`FsEvent`], [`EventKind`] and `EventLog`. A synthesized routine
//! records the facts it assumes (a file's [`DataLayout`](crate::DataLayout),
//! that it is linked, its size not shrinking under it); when one stops being
//! true the file system appends an event, and the owner of the routine
//! (`sk-sio`) drains them with
//! [`FileSystem::take_events`](crate::FileSystem::take_events) and replugs
//! (ARCHITECTURE.md §5, "invariant sets").
//!
//! Every event also bumps the node's `layout_generation`, so an instance
//! that recorded the generation it was built at can tell it is stale even
//! without seeing the event. Each mutating call reserves room for its
//! events before it changes anything, so an event is never lost to an
//! allocation failure: the call fails whole instead.

use alloc::vec::Vec;

use crate::inode::Node;
use crate::{FsError, NodeId};

/// The most events one call can raise (a rename over an existing file:
/// `Renamed` for the source, `Unlinked` and `Freed` for the target).
pub(crate) const MAX_EVENTS_PER_CALL: usize = 3;

/// What happened to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The file's capacity grew: its buffer grew in place (same
    /// `data_addr`, larger `capacity`) or moved to a new one (the old
    /// `data_addr` is freed). Raised on every growth past the capacity,
    /// whichever happened; a layout taken before it is stale either way.
    DataMoved,
    /// The file was truncated (raised on every truncate, growing or
    /// shrinking): its size may now be below a position a routine assumed.
    Truncated,
    /// The node's last name was removed (`unlink`, `rmdir`, or replaced by
    /// a rename). It lives on while open; `Freed` follows at the last close.
    Unlinked,
    /// The node was moved to another name or directory. Node ids and data
    /// layout are unchanged; only path-based facts are stale. Raised for
    /// the moved node only, not for the contents of a moved directory.
    Renamed,
    /// The node is gone: its id is stale, its buffer and size cell freed.
    /// Always the node's last event.
    Freed,
}

/// One event about one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FsEvent {
    /// The node it is about.
    pub node: NodeId,
    /// What happened.
    pub kind: EventKind,
    /// The node's `layout_generation` after this event: layouts taken at an
    /// older generation are stale.
    pub layout_generation: u64,
}

/// The pending events, oldest first.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    pending: Vec<FsEvent>,
}

impl EventLog {
    /// Makes room for `MAX_EVENTS_PER_CALL` more events plus one per
    /// outstanding open reference (`open_references`), so recording during
    /// this call, and the `Freed` a later close may raise, cannot allocate.
    ///
    /// # Errors
    /// [`FsError::OutOfMemory`].
    pub(crate) fn reserve_for_call(&mut self, open_references: usize) -> Result<(), FsError> {
        let room = MAX_EVENTS_PER_CALL.saturating_add(open_references);
        self.pending.try_reserve(room)?;
        Ok(())
    }

    /// Bumps `node`'s generation and appends the event.
    pub(crate) fn record(&mut self, id: NodeId, node: &mut Node, kind: EventKind) {
        node.layout_generation = node.layout_generation.wrapping_add(1);
        debug_assert!(
            self.pending.len() < self.pending.capacity(),
            "events reserved"
        );
        self.pending.push(FsEvent {
            node: id,
            kind,
            layout_generation: node.layout_generation,
        });
    }

    /// Heap bytes of the pending list (its capacity).
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.pending
            .capacity()
            .saturating_mul(core::mem::size_of::<FsEvent>())
    }

    /// Number of pending events.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Removes and yields the pending events, oldest first. Keeps the
    /// allocation for the next ones.
    pub(crate) fn drain(&mut self) -> alloc::vec::Drain<'_, FsEvent> {
        self.pending.drain(..)
    }
}
