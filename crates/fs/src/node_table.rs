//! Node storage: a slab of nodes named by generation-checked ids.
//!
//! Owns [`NodeId`] and `NodeTable`. A freed slot's incarnation is bumped, so
//! an old `NodeId` is detected as stale ([`FsError::StaleNode`]) instead of
//! silently naming whatever node reuses the slot. Freeing never allocates
//! (the free list is threaded through the vacant slots), so releasing a node
//! cannot fail. Nodes may move when the slab grows; that is why a file's
//! size cell and data buffer live in their own heap blocks (`file_data`).

use alloc::vec::Vec;

use crate::inode::Node;
use crate::FsError;

/// Names one node (file or directory) for as long as it lives.
///
/// Cheap to copy. After the node is freed every copy is stale, and using it
/// returns [`FsError::StaleNode`] even if the slot was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    index: u32,
    incarnation: u32,
}

impl NodeId {
    /// Packs the id into a `u64` (for handle tables and events crossing
    /// crate boundaries).
    pub const fn to_bits(self) -> u64 {
        ((self.incarnation as u64) << 32) | self.index as u64
    }

    /// Unpacks [`to_bits`](Self::to_bits). Any value is accepted: a value
    /// that names no live node is rejected when it is used.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "splitting a u64 into halves"
    )]
    pub const fn from_bits(bits: u64) -> Self {
        Self {
            index: bits as u32,
            incarnation: (bits >> 32) as u32,
        }
    }
}

/// One slab entry.
#[derive(Debug)]
enum Slot {
    Occupied {
        incarnation: u32,
        node: Node,
    },
    /// `next_free` threads the free list; `incarnation` is the one the next
    /// occupant will get.
    Vacant {
        incarnation: u32,
        next_free: Option<u32>,
    },
    /// The incarnation counter is exhausted; the slot is never reused, so an
    /// old id can never alias a new node.
    Retired,
}

/// The slab of all live nodes.
#[derive(Debug)]
pub(crate) struct NodeTable {
    slots: Vec<Slot>,
    first_free: Option<u32>,
    live: usize,
    max_live: usize,
}

impl NodeTable {
    /// An empty table holding at most `max_live` nodes at once.
    pub(crate) fn new(max_live: usize) -> Self {
        Self {
            slots: Vec::new(),
            first_free: None,
            live: 0,
            max_live,
        }
    }

    /// Number of live nodes.
    /// Heap bytes of the slab (its capacity): grows with the most nodes
    /// ever live at once.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.slots
            .capacity()
            .saturating_mul(core::mem::size_of::<Slot>())
    }

    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Stores `node` and returns its new id.
    ///
    /// # Errors
    /// [`FsError::NoSpace`] at the node limit; [`FsError::OutOfMemory`] if
    /// the slab cannot grow.
    pub(crate) fn insert(&mut self, node: Node) -> Result<NodeId, FsError> {
        if self.live >= self.max_live {
            return Err(FsError::NoSpace);
        }
        let id = match self.first_free {
            Some(index) => {
                let slot = self
                    .slots
                    .get_mut(slot_index(index))
                    .ok_or(FsError::StaleNode)?;
                let Slot::Vacant {
                    incarnation,
                    next_free,
                } = *slot
                else {
                    return Err(FsError::StaleNode);
                };
                self.first_free = next_free;
                *slot = Slot::Occupied { incarnation, node };
                NodeId { index, incarnation }
            }
            None => {
                let index = u32::try_from(self.slots.len()).map_err(|_| FsError::NoSpace)?;
                self.slots.try_reserve(1)?;
                self.slots.push(Slot::Occupied {
                    incarnation: 0,
                    node,
                });
                NodeId {
                    index,
                    incarnation: 0,
                }
            }
        };
        self.live = self.live.saturating_add(1);
        Ok(id)
    }

    /// The live node `id` names.
    ///
    /// # Errors
    /// [`FsError::StaleNode`] if it was freed (or never existed).
    pub(crate) fn get(&self, id: NodeId) -> Result<&Node, FsError> {
        match self.slots.get(slot_index(id.index)) {
            Some(Slot::Occupied { incarnation, node }) if *incarnation == id.incarnation => {
                Ok(node)
            }
            _ => Err(FsError::StaleNode),
        }
    }

    /// The live node `id` names, mutably.
    ///
    /// # Errors
    /// [`FsError::StaleNode`] if it was freed (or never existed).
    pub(crate) fn get_mut(&mut self, id: NodeId) -> Result<&mut Node, FsError> {
        match self.slots.get_mut(slot_index(id.index)) {
            Some(Slot::Occupied { incarnation, node }) if *incarnation == id.incarnation => {
                Ok(node)
            }
            _ => Err(FsError::StaleNode),
        }
    }

    /// Every live node.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Node> + '_ {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Occupied { node, .. } => Some(node),
            _ => None,
        })
    }

    /// Every live node, mutably.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Node> + '_ {
        self.slots.iter_mut().filter_map(|slot| match slot {
            Slot::Occupied { node, .. } => Some(node),
            _ => None,
        })
    }

    /// Frees the node `id` names and returns it. Never allocates.
    ///
    /// # Errors
    /// [`FsError::StaleNode`] if it was already freed.
    pub(crate) fn remove(&mut self, id: NodeId) -> Result<Node, FsError> {
        self.get(id)?;
        let slot = self
            .slots
            .get_mut(slot_index(id.index))
            .ok_or(FsError::StaleNode)?;
        let vacant = match id.incarnation.checked_add(1) {
            Some(incarnation) => Slot::Vacant {
                incarnation,
                next_free: self.first_free,
            },
            None => Slot::Retired,
        };
        let Slot::Occupied { node, .. } = core::mem::replace(slot, vacant) else {
            return Err(FsError::StaleNode);
        };
        if matches!(slot, Slot::Vacant { .. }) {
            self.first_free = Some(id.index);
        }
        self.live = self.live.saturating_sub(1);
        Ok(node)
    }
}

/// Widens a slot index; lossless on every target with 32-bit or wider `usize`.
fn slot_index(index: u32) -> usize {
    usize::try_from(index).unwrap_or(usize::MAX)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use crate::directory::Directory;
    use crate::inode::Node;

    fn dir_node() -> Node {
        Node::new_directory(Directory::new(None))
    }

    #[test]
    fn freed_ids_are_stale_even_after_slot_reuse() {
        let mut table = NodeTable::new(8);
        let first = table.insert(dir_node()).unwrap();
        table.remove(first).unwrap();
        assert_eq!(table.get(first).err(), Some(FsError::StaleNode));
        let second = table.insert(dir_node()).unwrap();
        assert_eq!(second.index, first.index, "slot is reused");
        assert_ne!(second, first);
        assert_eq!(table.get(first).err(), Some(FsError::StaleNode));
        assert_eq!(table.remove(first).err(), Some(FsError::StaleNode));
        assert!(table.get(second).is_ok());
        assert_eq!(NodeId::from_bits(second.to_bits()), second);
    }

    #[test]
    fn node_limit_gives_no_space() {
        let mut table = NodeTable::new(2);
        table.insert(dir_node()).unwrap();
        let id = table.insert(dir_node()).unwrap();
        assert_eq!(table.insert(dir_node()).err(), Some(FsError::NoSpace));
        table.remove(id).unwrap();
        assert!(table.insert(dir_node()).is_ok());
        assert_eq!(table.live(), 2);
    }

    #[test]
    fn exhausted_incarnation_retires_the_slot() {
        let mut table = NodeTable::new(8);
        table.slots.push(Slot::Occupied {
            incarnation: u32::MAX,
            node: dir_node(),
        });
        table.live = 1;
        let old = NodeId {
            index: 0,
            incarnation: u32::MAX,
        };
        table.remove(old).unwrap();
        let fresh = table.insert(dir_node()).unwrap();
        assert_eq!(fresh.index, 1, "retired slot 0 is not reused");
    }
}
