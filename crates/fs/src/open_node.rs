//! Counted open references to nodes.
//!
//! Owns [`OpenNode`]. Opening a node increments its `open_count`; the only
//! way to decrement it is to hand the `OpenNode` back to
//! [`FileSystem::close`](crate::FileSystem::close), which consumes it. The
//! type is neither `Clone` nor `Copy`, so a reference cannot be closed twice.
//! While any `OpenNode` is outstanding the node, and a file's data, survive
//! `unlink`; the last close frees an unlinked node. Positions (file offsets)
//! belong to the caller's open-file object (`sk-sio`), not to us.

use crate::NodeId;

/// One counted open reference to a node. Give it back with
/// [`FileSystem::close`](crate::FileSystem::close).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "an open reference keeps its node alive until passed to FileSystem::close"]
pub struct OpenNode {
    node: NodeId,
    /// Which `FileSystem` counted this reference, so closing it on another
    /// one is refused instead of decrementing a stranger's counter.
    instance: u64,
}

impl OpenNode {
    /// Made only by [`FileSystem::open`](crate::FileSystem::open).
    pub(crate) fn new(node: NodeId, instance: u64) -> Self {
        Self { node, instance }
    }

    /// The file system instance that made this reference.
    pub(crate) fn instance(&self) -> u64 {
        self.instance
    }

    /// The node this reference keeps open.
    pub fn node(&self) -> NodeId {
        self.node
    }
}
