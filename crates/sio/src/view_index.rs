//! The views' dependency index: which views stand on which base SIO.
//!
//! Owns [`ViewIndex`]: one entry per open view, with the serial of the
//! base SIO its chain ends on (a file, `/dev/mem`, the tty) and the base
//! file's node. An event on a base (a reshape or revoke of a view on it,
//! a close of any SIO of its chain, a file-system event on its node)
//! replans only the views the index lists for that base, not every view
//! of every table (`crates/core/src/views.rs`). Room for an entry is
//! reserved before a view is made, so indexing never fails afterwards.

use alloc::vec::Vec;
use sk_abi::SysError;
use sk_fs::NodeId;

/// One open view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexedView {
    /// The serial of the base SIO its chain ends on.
    pub base: u64,
    /// The base file's node, if the base is a file.
    pub node: Option<NodeId>,
    /// The view's own open serial.
    pub serial: u64,
    /// Where it is: its maker's SMACH and handle.
    pub smach: u64,
    /// Its handle number there.
    pub handle: u32,
}

/// Every open view, by base.
#[derive(Debug, Default)]
pub struct ViewIndex {
    views: Vec<IndexedView>,
}

impl ViewIndex {
    /// An empty index.
    pub const fn new() -> Self {
        Self { views: Vec::new() }
    }

    /// Room for one more entry (before a view is made).
    ///
    /// # Errors
    /// [`SysError::NoMemory`].
    pub fn reserve_one(&mut self) -> Result<(), SysError> {
        self.views.try_reserve(1).map_err(|_| SysError::NoMemory)
    }

    /// Adds a view (after [`reserve_one`](Self::reserve_one)).
    pub fn insert(&mut self, view: IndexedView) {
        self.views.push(view);
    }

    /// Removes the view whose open serial is `serial`; returns it.
    pub fn remove(&mut self, serial: u64) -> Option<IndexedView> {
        let at = self.views.iter().position(|v| v.serial == serial)?;
        Some(self.views.swap_remove(at))
    }

    /// The view whose open serial is `serial`.
    pub fn by_serial(&self, serial: u64) -> Option<IndexedView> {
        self.views.iter().copied().find(|v| v.serial == serial)
    }

    /// The base an SIO of serial `serial` stands for: its view's base if
    /// it is an indexed view, else itself.
    pub fn base_of(&self, serial: u64) -> u64 {
        self.by_serial(serial).map_or(serial, |v| v.base)
    }

    /// The entry at `at` (a replan walks positions: it does not change
    /// the index, and needs no list of its own).
    pub fn get(&self, at: usize) -> Option<IndexedView> {
        self.views.get(at).copied()
    }

    /// Open views.
    pub fn len(&self) -> usize {
        self.views.len()
    }

    /// No view is open.
    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(base: u64, serial: u64) -> IndexedView {
        IndexedView {
            base,
            node: None,
            serial,
            smach: 1,
            handle: u32::try_from(serial).unwrap(),
        }
    }

    #[test]
    fn views_are_found_by_base_and_a_view_stands_for_its_base() {
        let mut index = ViewIndex::new();
        for (base, serial) in [(10, 20), (10, 21), (11, 22)] {
            index.reserve_one().unwrap();
            index.insert(entry(base, serial));
        }
        assert_eq!(index.base_of(21), 10);
        assert_eq!(index.base_of(10), 10);
        assert_eq!(index.base_of(99), 99);
        let on_10: Vec<u64> = (0..index.len())
            .filter_map(|i| index.get(i))
            .filter(|v| v.base == 10)
            .map(|v| v.serial)
            .collect();
        assert_eq!(on_10, [20, 21]);
        assert_eq!(index.remove(20).map(|v| v.serial), Some(20));
        assert_eq!(index.remove(20), None);
        assert_eq!(index.len(), 2);
        assert!(!index.is_empty());
    }
}
