//! One node of the tree: a file or a directory, with its reference counts.
//!
//! Owns `Node`, [`NodeKind`] and [`Stat`]. A node lives while a directory
//! entry names it (`link_count > 0`) or someone holds it open
//! (`open_count > 0`); the file system frees it when both reach zero, so an
//! unlinked file that is still open keeps its data until the last close.
//! Its `layout_generation` counts the events raised about it (see `event`).

use crate::directory::Directory;
use crate::file_data::FileData;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A regular file: bytes in one contiguous buffer.
    File,
    /// A directory: named entries.
    Directory,
}

/// A node's contents.
#[derive(Debug)]
pub(crate) enum NodeBody {
    File(FileData),
    Directory(Directory),
}

/// A file or directory plus its bookkeeping.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) body: NodeBody,
    /// Directory entries naming this node: 1 while linked, 0 once unlinked
    /// (hard links are not supported yet).
    pub(crate) link_count: u32,
    /// Open references ([`OpenNode`](crate::OpenNode)s) outstanding.
    pub(crate) open_count: u32,
    /// Bumped by every event raised about this node; see
    /// [`FsEvent::layout_generation`](crate::FsEvent::layout_generation).
    pub(crate) layout_generation: u64,
    /// Who pays for the file's buffer ([`NO_PAYER`](crate::NO_PAYER):
    /// nobody); see `fs::payers`.
    pub(crate) payer: u64,
}

impl Node {
    /// A new, unlinked, unopened file node.
    pub(crate) fn new_file(data: FileData) -> Self {
        Self {
            body: NodeBody::File(data),
            link_count: 0,
            open_count: 0,
            layout_generation: 0,
            payer: crate::NO_PAYER,
        }
    }

    /// A new, unlinked, unopened directory node.
    pub(crate) fn new_directory(directory: Directory) -> Self {
        Self {
            body: NodeBody::Directory(directory),
            link_count: 0,
            open_count: 0,
            layout_generation: 0,
            payer: crate::NO_PAYER,
        }
    }

    /// Whether this is a file or a directory.
    pub(crate) fn kind(&self) -> NodeKind {
        match self.body {
            NodeBody::File(_) => NodeKind::File,
            NodeBody::Directory(_) => NodeKind::Directory,
        }
    }

    /// Whether nothing refers to the node any more, so it may be freed.
    pub(crate) fn is_unreferenced(&self) -> bool {
        self.link_count == 0 && self.open_count == 0
    }

    /// What [`FileSystem::stat`](crate::FileSystem::stat) reports.
    pub(crate) fn stat(&self) -> Stat {
        let (size_bytes, capacity_bytes) = match &self.body {
            NodeBody::File(data) => (data.size(), data.capacity()),
            NodeBody::Directory(directory) => (directory.len_entries(), 0),
        };
        Stat {
            kind: self.kind(),
            size_bytes,
            capacity_bytes,
            link_count: self.link_count,
            open_count: self.open_count,
            layout_generation: self.layout_generation,
        }
    }
}

/// A snapshot of a node's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// File or directory.
    pub kind: NodeKind,
    /// A file's size in bytes; a directory's number of entries.
    pub size_bytes: u64,
    /// A file's buffer capacity in bytes (see
    /// [`DataLayout`](crate::DataLayout)); 0 for a directory.
    pub capacity_bytes: u64,
    /// Directory entries naming the node (0 once unlinked).
    pub link_count: u32,
    /// Open references outstanding.
    pub open_count: u32,
    /// Events raised about the node so far.
    pub layout_generation: u64,
}
