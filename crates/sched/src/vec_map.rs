//! A small map kept as a vector sorted by key: lookups are binary
//! searches, and once room is reserved no operation allocates.
//!
//! Owns [`VecMap`], the ring's bookkeeping ([`crate::Ring`]). A block or a
//! wake changes the ring on every blocking call, so its map must not touch
//! the heap there: `BTreeMap` allocated and freed a node on each (the ring
//! emptying to the idle thread and filling again), which made a
//! blocking ping-pong costlier on the executable ready queue than on the
//! generic round robin. The kernel reserves a slot per thread when it
//! builds the thread's switch code ([`VecMap::try_reserve`]).

use alloc::collections::TryReserveError;
use alloc::vec::Vec;

/// Keys to values, sorted by key.
#[derive(Clone, Debug)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K: Ord + Copy, V> VecMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    fn position(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// Makes room for `additional` more entries.
    ///
    /// # Errors
    /// The allocator's, when memory is short.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        self.entries.try_reserve(additional)
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        let at = self.position(key).ok()?;
        self.entries.get(at).map(|(_, v)| v)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let at = self.position(key).ok()?;
        self.entries.get_mut(at).map(|(_, v)| v)
    }

    /// True if `key` has a value.
    pub fn contains_key(&self, key: &K) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key`'s value (allocates only if no room is reserved);
    /// returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(at) => self
                .entries
                .get_mut(at)
                .map(|entry| core::mem::replace(&mut entry.1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Heap bytes held (the room, used or not): the leak check counts its
    /// growth as kept, as it never shrinks.
    pub fn capacity_bytes(&self) -> usize {
        self.entries
            .capacity()
            .saturating_mul(core::mem::size_of::<(K, V)>())
    }

    /// Removes `key`'s value and returns it.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let at = self.position(key).ok()?;
        Some(self.entries.remove(at).1)
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry, keeping the room.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl<K: Ord + Copy, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use proptest::prelude::*;

    proptest! {
        /// Every operation answers as `BTreeMap` does.
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec((0u8..4, 0u8..16, any::<u32>()), 0..200)) {
            let mut map = VecMap::new();
            let mut model = BTreeMap::new();
            for (op, key, value) in ops {
                match op {
                    0 => prop_assert_eq!(map.insert(key, value), model.insert(key, value)),
                    1 => prop_assert_eq!(map.remove(&key), model.remove(&key)),
                    2 => { map.clear(); model.clear(); }
                    _ => {
                        if let Some(v) = map.get_mut(&key) {
                            *v = value;
                        }
                        if let Some(v) = model.get_mut(&key) {
                            *v = value;
                        }
                    }
                }
                for probe in 0..16 {
                    prop_assert_eq!(map.get(&probe), model.get(&probe));
                    prop_assert_eq!(map.contains_key(&probe), model.contains_key(&probe));
                }
                prop_assert_eq!(map.len(), model.len());
                prop_assert_eq!(map.is_empty(), model.is_empty());
            }
        }
    }

    #[test]
    fn reserved_room_is_kept_across_clear_and_use() {
        let mut map: VecMap<u64, u64> = VecMap::new();
        map.try_reserve(4).unwrap();
        let capacity = map.entries.capacity();
        for round in 0..100 {
            map.insert(round % 3, round);
            map.insert(7, round);
            map.remove(&7);
            map.clear();
            map.insert(1, round);
        }
        assert_eq!(
            map.entries.capacity(),
            capacity,
            "no growth, no reallocation"
        );
    }
}
