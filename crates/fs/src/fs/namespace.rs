//! Path operations: lookup, mkdir, create, unlink, rmdir, rename.
//!
//! Owns the namespace half of [`FileSystem`] and [`CreateMode`]. Every
//! operation parses its path once ([`Path::parse`]), walks from the root,
//! then checks and allocates everything before changing the tree, so a
//! failed call changes nothing. Error precedence while walking: a missing
//! component is [`FsError::NotFound`], a file used as a directory
//! [`FsError::NotDir`]. Semantics follow POSIX (`rename(2)`, `unlink(2)`,
//! `rmdir(2)`) except that `.`/`..` are rejected and hard links do not exist.

use super::FileSystem;
use crate::directory::{owned_name, Directory};
use crate::event::EventKind;
use crate::file_data::FileData;
use crate::inode::{Node, NodeKind};
use crate::path::Path;
use crate::{FsError, NodeId};

/// What [`FileSystem::create`] does when the name already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreateMode {
    /// Fail with [`FsError::Exists`] (`O_CREAT | O_EXCL`).
    Exclusive,
    /// Return the existing file unchanged (`O_CREAT` alone); an existing
    /// directory is [`FsError::IsDir`].
    OpenExisting,
}

impl FileSystem {
    /// The node `path` names.
    ///
    /// # Errors
    /// [`FsError::BadPath`] / [`FsError::NameTooLong`] for a malformed path;
    /// [`FsError::NotFound`] / [`FsError::NotDir`] while walking it.
    pub fn lookup(&self, path: &str) -> Result<NodeId, FsError> {
        self.resolve(Path::parse(path)?)
    }

    /// Makes an empty directory at `path`.
    ///
    /// # Errors
    /// Path and walk errors as [`lookup`](Self::lookup) (for the parent);
    /// [`FsError::Exists`] if the name is taken (`/` included);
    /// [`FsError::NoSpace`] at the node limit; [`FsError::OutOfMemory`].
    pub fn mkdir(&mut self, path: &str) -> Result<NodeId, FsError> {
        let path = Path::parse(path)?;
        let (parent, name) = path.split_last().ok_or(FsError::Exists)?;
        let parent = self.resolve(parent)?;
        let id = self.add_node(parent, name, |parent| {
            Ok(Node::new_directory(Directory::new(Some(parent))))
        })?;
        log::debug!("sk-fs: mkdir {} -> {id:?}", path.as_str());
        Ok(id)
    }

    /// Makes an empty file at `path`, or per `mode` returns the file already
    /// there. Does not open it (see [`open`](Self::open)).
    ///
    /// # Errors
    /// Path and walk errors as [`lookup`](Self::lookup) (for the parent);
    /// [`FsError::Exists`] for an existing name under
    /// [`CreateMode::Exclusive`]; [`FsError::IsDir`] if the existing name is a
    /// directory under [`CreateMode::OpenExisting`]; [`FsError::NoSpace`] at
    /// the node limit; [`FsError::OutOfMemory`].
    pub fn create(&mut self, path: &str, mode: CreateMode) -> Result<NodeId, FsError> {
        let path = Path::parse(path)?;
        let existing = match path.split_last() {
            None => Some(self.root),
            Some((parent, name)) => self.directory(self.resolve(parent)?)?.get(name),
        };
        if let Some(existing) = existing {
            return match (mode, self.nodes.get(existing)?.kind()) {
                (CreateMode::Exclusive, _) => Err(FsError::Exists),
                (CreateMode::OpenExisting, NodeKind::Directory) => Err(FsError::IsDir),
                (CreateMode::OpenExisting, NodeKind::File) => Ok(existing),
            };
        }
        let (parent, name) = path.split_last().ok_or(FsError::Exists)?;
        let parent = self.resolve(parent)?;
        let id = self.add_node(parent, name, |_| Ok(Node::new_file(FileData::new()?)))?;
        log::debug!("sk-fs: create {} -> {id:?}", path.as_str());
        Ok(id)
    }

    /// Removes the file at `path`. If it is open it lives on, nameless,
    /// until the last [`close`](Self::close); otherwise it is freed now.
    /// Raises [`EventKind::Unlinked`], then [`EventKind::Freed`] when freed.
    ///
    /// # Errors
    /// Path and walk errors as [`lookup`](Self::lookup);
    /// [`FsError::IsDir`] for a directory (`/` included);
    /// [`FsError::OutOfMemory`] if the events cannot be reserved.
    pub fn unlink(&mut self, path: &str) -> Result<(), FsError> {
        let path = Path::parse(path)?;
        let (parent_path, name) = path.split_last().ok_or(FsError::IsDir)?;
        let parent = self.resolve(parent_path)?;
        let id = self.directory(parent)?.get(name).ok_or(FsError::NotFound)?;
        if self.nodes.get(id)?.kind() == NodeKind::Directory {
            return Err(FsError::IsDir);
        }
        self.reserve_events()?;
        self.directory_mut(parent)?.remove(name);
        log::debug!("sk-fs: unlink {} ({id:?})", path.as_str());
        self.drop_link(id)
    }

    /// Removes the empty directory at `path` (freed now, or at its last
    /// close if open). Raises [`EventKind::Unlinked`] and then
    /// [`EventKind::Freed`] when freed.
    ///
    /// # Errors
    /// Path and walk errors as [`lookup`](Self::lookup);
    /// [`FsError::Busy`] for `/`; [`FsError::NotDir`] for a file;
    /// [`FsError::NotEmpty`]; [`FsError::OutOfMemory`] if the events cannot
    /// be reserved.
    pub fn rmdir(&mut self, path: &str) -> Result<(), FsError> {
        let path = Path::parse(path)?;
        let (parent_path, name) = path.split_last().ok_or(FsError::Busy)?;
        let parent = self.resolve(parent_path)?;
        let id = self.directory(parent)?.get(name).ok_or(FsError::NotFound)?;
        if !self.directory(id)?.is_empty() {
            return Err(FsError::NotEmpty);
        }
        self.reserve_events()?;
        self.directory_mut(parent)?.remove(name);
        log::debug!("sk-fs: rmdir {} ({id:?})", path.as_str());
        self.drop_link(id)
    }

    /// Moves the node at `from` to `to`, like POSIX `rename(2)`: an existing
    /// file at `to` is replaced by a file, an existing *empty* directory by a
    /// directory; renaming a name onto itself does nothing. The moved node
    /// keeps its id and data; it raises [`EventKind::Renamed`], a replaced
    /// node [`EventKind::Unlinked`] (and [`EventKind::Freed`] unless open).
    ///
    /// # Errors
    /// Path and walk errors as [`lookup`](Self::lookup) (for `from`, and for
    /// `to`'s parent); [`FsError::Busy`] if either is `/`;
    /// [`FsError::IntoOwnSubtree`] when moving a directory inside itself;
    /// [`FsError::IsDir`] for a file onto a directory; [`FsError::NotDir`]
    /// for a directory onto a file; [`FsError::NotEmpty`] for a directory
    /// onto a non-empty one; [`FsError::OutOfMemory`].
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), FsError> {
        let (from, to) = (Path::parse(from)?, Path::parse(to)?);
        let (from_parent_path, from_name) = from.split_last().ok_or(FsError::Busy)?;
        let (to_parent_path, to_name) = to.split_last().ok_or(FsError::Busy)?;
        let from_parent = self.resolve(from_parent_path)?;
        let source = self
            .directory(from_parent)?
            .get(from_name)
            .ok_or(FsError::NotFound)?;
        let to_parent = self.resolve(to_parent_path)?;
        let target = self.directory(to_parent)?.get(to_name);
        let source_kind = self.nodes.get(source)?.kind();
        if source_kind == NodeKind::Directory && self.is_within(to_parent, source) {
            return Err(FsError::IntoOwnSubtree);
        }
        if target == Some(source) {
            return Ok(());
        }
        if let Some(target) = target {
            match (source_kind, self.nodes.get(target)?.kind()) {
                (NodeKind::File, NodeKind::Directory) => return Err(FsError::IsDir),
                (NodeKind::Directory, NodeKind::File) => return Err(FsError::NotDir),
                (NodeKind::Directory, NodeKind::Directory)
                    if !self.directory(target)?.is_empty() =>
                {
                    return Err(FsError::NotEmpty)
                }
                _ => {}
            }
        }
        // Everything that can fail happens before the first change.
        self.reserve_events()?;
        let new_name = match target {
            Some(_) => None,
            None => {
                self.directory_mut(to_parent)?.reserve_entry()?;
                Some(owned_name(to_name)?)
            }
        };
        self.directory_mut(from_parent)?.remove(from_name);
        let to_directory = self.directory_mut(to_parent)?;
        match new_name {
            Some(new_name) => to_directory.insert_owned(new_name, source)?,
            None => {
                to_directory.replace(to_name, source);
            }
        }
        let node = self.nodes.get_mut(source)?;
        if let crate::inode::NodeBody::Directory(directory) = &mut node.body {
            directory.parent = Some(to_parent);
        }
        self.events.record(source, node, EventKind::Renamed);
        log::debug!(
            "sk-fs: rename {} -> {} ({source:?})",
            from.as_str(),
            to.as_str()
        );
        match target {
            Some(target) => self.drop_link(target),
            None => Ok(()),
        }
    }

    /// Walks `path` from the root.
    fn resolve(&self, path: Path<'_>) -> Result<NodeId, FsError> {
        path.components().try_fold(self.root, |dir, name| {
            self.directory(dir)?.get(name).ok_or(FsError::NotFound)
        })
    }

    /// Whether directory `dir` is `ancestor` or lies below it.
    pub(crate) fn is_within(&self, dir: NodeId, ancestor: NodeId) -> bool {
        let mut current = dir;
        // Bounded by the node count, so a corrupted parent chain cannot hang us.
        for _ in 0..=self.nodes.live() {
            if current == ancestor {
                return true;
            }
            match self
                .directory(current)
                .ok()
                .and_then(|directory| directory.parent)
            {
                Some(parent) => current = parent,
                None => return false,
            }
        }
        false
    }

    /// Makes the node `make(parent)` returns and links it as `name` in
    /// directory `parent`; undoes the node if linking fails.
    fn add_node(
        &mut self,
        parent: NodeId,
        name: &str,
        make: impl FnOnce(NodeId) -> Result<Node, FsError>,
    ) -> Result<NodeId, FsError> {
        if self.directory(parent)?.get(name).is_some() {
            return Err(FsError::Exists);
        }
        let mut node = make(parent)?;
        node.link_count = 1;
        let id = self.nodes.insert(node)?;
        if let Err(error) = self
            .directory_mut(parent)
            .and_then(|directory| directory.insert(name, id))
        {
            // Nothing names the node yet, so removing it is the whole undo.
            self.nodes.remove(id)?;
            return Err(error);
        }
        Ok(id)
    }
}
