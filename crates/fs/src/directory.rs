//! A directory's entries: names mapped to nodes, kept sorted.
//!
//! Owns `Directory` and [`DirEntry`]. Entries live in one sorted `Vec`
//! (binary search to find, shift to insert) rather than a `BTreeMap`
//! because `Vec` offers fallible allocation (`try_reserve`) on stable and
//! directories in a RAM file system are small. Each directory also records
//! its parent, which `rename` walks to refuse moving a directory into its
//! own subtree.

use alloc::string::String;
use alloc::vec::Vec;

use crate::inode::NodeKind;
use crate::{FsError, NodeId};

/// One named entry, as [`FileSystem::readdir`](crate::FileSystem::readdir)
/// lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// The entry's name (one path component).
    pub name: &'a str,
    /// The node it names.
    pub node: NodeId,
    /// File or directory.
    pub kind: NodeKind,
}

/// The entries of one directory, sorted by name.
#[derive(Debug)]
pub(crate) struct Directory {
    entries: Vec<(String, NodeId)>,
    /// The directory containing this one; `None` for the root and once the
    /// directory has been removed.
    pub(crate) parent: Option<NodeId>,
}

impl Directory {
    /// An empty directory inside `parent`.
    pub(crate) fn new(parent: Option<NodeId>) -> Self {
        Self {
            entries: Vec::new(),
            parent,
        }
    }

    /// Number of entries.
    pub(crate) fn len_entries(&self) -> u64 {
        u64::try_from(self.entries.len()).unwrap_or(u64::MAX)
    }

    /// Whether the directory has no entries.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The node named `name`, if any.
    pub(crate) fn get(&self, name: &str) -> Option<NodeId> {
        let index = self.position(name).ok()?;
        self.entries.get(index).map(|(_, node)| *node)
    }

    /// Adds `name → node`.
    ///
    /// # Errors
    /// [`FsError::Exists`] if the name is taken; [`FsError::OutOfMemory`] if
    /// the name or the entry cannot be allocated.
    pub(crate) fn insert(&mut self, name: &str, node: NodeId) -> Result<(), FsError> {
        if self.get(name).is_some() {
            return Err(FsError::Exists);
        }
        let owned = owned_name(name)?;
        self.reserve_entry()?;
        self.insert_owned(owned, node)
    }

    /// Makes sure the next [`insert_owned`](Self::insert_owned) cannot
    /// allocate.
    ///
    /// # Errors
    /// [`FsError::OutOfMemory`].
    pub(crate) fn reserve_entry(&mut self) -> Result<(), FsError> {
        self.entries.try_reserve(1)?;
        Ok(())
    }

    /// Adds `name → node` with an already allocated name; allocation-free
    /// after [`reserve_entry`](Self::reserve_entry).
    ///
    /// # Errors
    /// [`FsError::Exists`] if the name is taken.
    pub(crate) fn insert_owned(&mut self, name: String, node: NodeId) -> Result<(), FsError> {
        match self.position(&name) {
            Ok(_) => Err(FsError::Exists),
            Err(index) => {
                self.entries.insert(index, (name, node));
                Ok(())
            }
        }
    }

    /// Points the existing entry `name` at `node`; returns the node it named.
    pub(crate) fn replace(&mut self, name: &str, node: NodeId) -> Option<NodeId> {
        let index = self.position(name).ok()?;
        let entry = self.entries.get_mut(index)?;
        Some(core::mem::replace(&mut entry.1, node))
    }

    /// Removes the entry `name`; returns the node it named.
    pub(crate) fn remove(&mut self, name: &str) -> Option<NodeId> {
        let index = self.position(name).ok()?;
        Some(self.entries.remove(index).1)
    }

    /// The entries in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, NodeId)> + '_ {
        self.entries
            .iter()
            .map(|(name, node)| (name.as_str(), *node))
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(entry, _)| entry.as_str().cmp(name))
    }
}

/// Copies a name into a fallibly allocated `String`.
///
/// # Errors
/// [`FsError::OutOfMemory`].
pub(crate) fn owned_name(name: &str) -> Result<String, FsError> {
    let mut owned = String::new();
    owned.try_reserve_exact(name.len())?;
    owned.push_str(name);
    Ok(owned)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn entries_stay_sorted_and_unique() {
        let mut directory = Directory::new(None);
        let ids: Vec<NodeId> = (0..3).map(NodeId::from_bits).collect();
        directory.insert("b", ids[0]).unwrap();
        directory.insert("a", ids[1]).unwrap();
        directory.insert("c", ids[2]).unwrap();
        assert_eq!(directory.insert("a", ids[2]), Err(FsError::Exists));
        let names: Vec<&str> = directory.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(directory.get("b"), Some(ids[0]));
        assert_eq!(directory.replace("b", ids[2]), Some(ids[0]));
        assert_eq!(directory.remove("b"), Some(ids[2]));
        assert_eq!(directory.get("b"), None);
        directory.reserve_entry().unwrap();
        directory
            .insert_owned(owned_name("d").unwrap(), ids[1])
            .unwrap();
        assert_eq!(
            directory.insert_owned(owned_name("d").unwrap(), ids[1]),
            Err(FsError::Exists)
        );
        assert_eq!(directory.len_entries(), 3);
        assert!(!directory.is_empty());
    }
}
