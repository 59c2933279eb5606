//! Per-SMACH handle tables: small integers naming kernel objects.
//!
//! Owns [`HandleTable`]. Handle 0 is the SMACH itself and handle 1 its
//! console; new handles take the lowest free slot from 2. Lookups check
//! range and liveness and return `BadHandle`; growth is fallible
//! (`TooManyHandles` at the limit, `NoMemory` when the heap is short).

use alloc::vec::Vec;
use sk_abi::{Handle, SysError};

/// Most handles one SMACH may hold.
pub const MAX_HANDLES: usize = 1024;

/// A SMACH's handles.
#[derive(Debug)]
pub struct HandleTable<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for HandleTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

fn index(handle: Handle) -> usize {
    usize::try_from(handle.index()).unwrap_or(usize::MAX)
}

impl<T> HandleTable<T> {
    /// An empty table.
    pub const fn new() -> Self {
        Self { slots: Vec::new() }
    }

    fn grow_to(&mut self, len: usize) -> Result<(), SysError> {
        if len > MAX_HANDLES {
            return Err(SysError::TooManyHandles);
        }
        if self.slots.len() < len {
            let more = len.saturating_sub(self.slots.len());
            self.slots
                .try_reserve(more)
                .map_err(|_| SysError::NoMemory)?;
            self.slots.resize_with(len, || None);
        }
        Ok(())
    }

    /// Puts `object` at a fixed slot (0 and 1 at SMACH creation),
    /// replacing what was there.
    ///
    /// # Errors
    /// [`SysError::TooManyHandles`], [`SysError::NoMemory`]; `object` is
    /// given back.
    pub fn install_at(&mut self, handle: Handle, object: T) -> Result<Option<T>, (SysError, T)> {
        let i = index(handle);
        if let Err(e) = self.grow_to(i.saturating_add(1)) {
            return Err((e, object));
        }
        match self.slots.get_mut(i) {
            Some(slot) => Ok(slot.replace(object)),
            None => Err((SysError::TooManyHandles, object)),
        }
    }

    /// Stores `object` in the lowest free slot at or above handle 2.
    ///
    /// # Errors
    /// [`SysError::TooManyHandles`] or [`SysError::NoMemory`], with the
    /// object given back.
    pub fn insert(&mut self, object: T) -> Result<Handle, (SysError, T)> {
        let first = index(Handle::FIRST_FREE);
        let free = (first..self.slots.len()).find(|&i| matches!(self.slots.get(i), Some(None)));
        let i = match free {
            Some(i) => i,
            None => {
                let i = self.slots.len().max(first);
                if let Err(e) = self.grow_to(i.saturating_add(1)) {
                    return Err((e, object));
                }
                i
            }
        };
        match self.slots.get_mut(i) {
            Some(slot) => {
                *slot = Some(object);
                Ok(Handle::new(u32::try_from(i).unwrap_or(u32::MAX)))
            }
            None => Err((SysError::TooManyHandles, object)),
        }
    }

    /// The object at `handle`.
    ///
    /// # Errors
    /// [`SysError::BadHandle`].
    pub fn get(&self, handle: Handle) -> Result<&T, SysError> {
        self.slots
            .get(index(handle))
            .and_then(Option::as_ref)
            .ok_or(SysError::BadHandle)
    }

    /// The object at `handle`, mutably.
    ///
    /// # Errors
    /// [`SysError::BadHandle`].
    pub fn get_mut(&mut self, handle: Handle) -> Result<&mut T, SysError> {
        self.slots
            .get_mut(index(handle))
            .and_then(Option::as_mut)
            .ok_or(SysError::BadHandle)
    }

    /// Takes the object out of its slot.
    ///
    /// # Errors
    /// [`SysError::BadHandle`].
    pub fn remove(&mut self, handle: Handle) -> Result<T, SysError> {
        self.slots
            .get_mut(index(handle))
            .and_then(Option::take)
            .ok_or(SysError::BadHandle)
    }

    /// Every live handle with its object.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.as_ref()
                .map(|o| (Handle::new(u32::try_from(i).unwrap_or(u32::MAX)), o))
        })
    }

    /// Every live handle with its object, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Handle, &mut T)> {
        self.slots.iter_mut().enumerate().filter_map(|(i, s)| {
            s.as_mut()
                .map(|o| (Handle::new(u32::try_from(i).unwrap_or(u32::MAX)), o))
        })
    }

    /// Removes every object (SMACH teardown).
    pub fn drain(&mut self) -> impl Iterator<Item = (Handle, T)> + '_ {
        self.slots
            .drain(..)
            .enumerate()
            .filter_map(|(i, s)| s.map(|o| (Handle::new(u32::try_from(i).unwrap_or(u32::MAX)), o)))
    }

    /// Handles in use.
    pub fn count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
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
    fn lowest_free_slot_from_two_and_the_limit() {
        let mut t = HandleTable::new();
        t.install_at(Handle::SELF, 0).unwrap();
        t.install_at(Handle::CONSOLE, 1).unwrap();
        assert_eq!(t.insert(2).unwrap(), Handle::new(2));
        assert_eq!(t.insert(3).unwrap(), Handle::new(3));
        assert_eq!(t.remove(Handle::new(2)), Ok(2));
        assert_eq!(t.remove(Handle::new(2)), Err(SysError::BadHandle));
        assert_eq!(t.insert(4).unwrap(), Handle::new(2));
        assert_eq!(t.get(Handle::new(99)), Err(SysError::BadHandle));
        assert_eq!(t.get(Handle::new(u32::MAX)), Err(SysError::BadHandle));
        while t.count() < MAX_HANDLES {
            t.insert(5).unwrap();
        }
        assert_eq!(t.insert(6).err(), Some((SysError::TooManyHandles, 6)));
        assert_eq!(
            t.install_at(Handle::new(u32::try_from(MAX_HANDLES).unwrap()), 7)
                .err(),
            Some((SysError::TooManyHandles, 7))
        );
    }
}
