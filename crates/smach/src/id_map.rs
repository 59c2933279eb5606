//! The kernel's tables of SMACHs and SCPUs: ids to records, growth fallible.
//!
//! Owns [`IdMap`]: a map from kernel-wide ids to values, kept as a vector
//! sorted by id (lookups are binary searches; ids only grow, so inserts
//! almost always append). `BTreeMap` would allocate nodes with no way to
//! report failure; here [`IdMap::insert`] reserves first and gives the
//! value back when memory is short, so creating a SMACH or an SCPU is
//! `NoMemory`, never a panic.

use alloc::vec::Vec;
use sk_abi::SysError;

/// Ids to values, sorted by id.
#[derive(Debug)]
pub struct IdMap<T> {
    entries: Vec<(u64, T)>,
}

impl<T> Default for IdMap<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> IdMap<T> {
    /// An empty map.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Heap bytes the map holds (its capacity, used or not): what the
    /// kernel's leak check reports when the map grew.
    pub fn capacity_bytes(&self) -> usize {
        self.entries
            .capacity()
            .saturating_mul(core::mem::size_of::<(u64, T)>())
    }

    fn position(&self, id: u64) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&id, |&(k, _)| k)
    }

    /// Inserts `value` under `id` (replacing any value there).
    ///
    /// # Errors
    /// [`SysError::NoMemory`] with the value given back.
    pub fn insert(&mut self, id: u64, value: T) -> Result<(), (SysError, T)> {
        match self.position(id) {
            Ok(at) => {
                if let Some(slot) = self.entries.get_mut(at) {
                    slot.1 = value;
                }
                Ok(())
            }
            Err(at) => {
                if self.entries.try_reserve(1).is_err() {
                    return Err((SysError::NoMemory, value));
                }
                self.entries.insert(at, (id, value));
                Ok(())
            }
        }
    }

    /// The value under `id`.
    pub fn get(&self, id: &u64) -> Option<&T> {
        let at = self.position(*id).ok()?;
        self.entries.get(at).map(|(_, v)| v)
    }

    /// The value under `id`, mutably.
    pub fn get_mut(&mut self, id: &u64) -> Option<&mut T> {
        let at = self.position(*id).ok()?;
        self.entries.get_mut(at).map(|(_, v)| v)
    }

    /// Removes and returns the value under `id`.
    pub fn remove(&mut self, id: &u64) -> Option<T> {
        let at = self.position(*id).ok()?;
        Some(self.entries.remove(at).1)
    }

    /// True if `id` has a value.
    pub fn contains_key(&self, id: &u64) -> bool {
        self.position(*id).is_ok()
    }

    /// Values stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every `(id, value)`, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &T)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Every value, by id.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Every value, by id, to change in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl<'a, T> IntoIterator for &'a IdMap<T> {
    type Item = (&'a u64, &'a T);
    type IntoIter =
        core::iter::Map<core::slice::Iter<'a, (u64, T)>, fn(&'a (u64, T)) -> (&'a u64, &'a T)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn a_sorted_map() {
        let mut m = IdMap::new();
        for id in [5, 1, 9, 3] {
            m.insert(id, id * 10).unwrap();
        }
        assert_eq!(m.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 3, 5, 9]);
        assert_eq!(m.get(&3), Some(&30));
        *m.get_mut(&3).unwrap() = 31;
        assert_eq!(m.remove(&3), Some(31));
        assert_eq!(m.remove(&3), None);
        assert!(!m.contains_key(&3) && m.contains_key(&9));
        m.insert(9, 0).unwrap();
        assert_eq!((m.len(), m.get(&9)), (3, Some(&0)));
        assert_eq!(m.values().sum::<u64>(), 60);
    }
}
