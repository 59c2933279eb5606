//! Per-SMACH handle tables: small integers naming kernel objects.
//!
//! Owns [`HandleTable`]. Handle 0 is the SMACH itself and handle 1 its
//! console; new handles take the lowest free slot. Lookups check range and
//! liveness and return `BadHandle`; kind checks return `WrongKind`.

use crate::object::Object;
use alloc::vec::Vec;
use sk_abi::{Handle, SysError};

/// Most handles one SMACH may hold.
pub(crate) const MAX_HANDLES: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct HandleTable {
    slots: Vec<Option<Object>>,
}

impl HandleTable {
    pub(crate) fn new() -> Self {
        Self { slots: Vec::new() }
    }

    /// Puts `object` at a fixed slot (0 and 1 at SMACH creation).
    pub(crate) fn install_at(&mut self, handle: Handle, object: Object) {
        let i = handle.index() as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(object);
    }

    /// Stores `object` in the lowest free slot at or above handle 2.
    pub(crate) fn insert(&mut self, object: Object) -> Result<Handle, (SysError, Object)> {
        let first = Handle::FIRST_FREE.index() as usize;
        let free = (first..self.slots.len()).find(|&i| self.slots[i].is_none());
        let index = match free {
            Some(i) => i,
            None if self.slots.len().max(first) < MAX_HANDLES => {
                let i = self.slots.len().max(first);
                self.slots.resize_with(i + 1, || None);
                i
            }
            None => return Err((SysError::TooManyHandles, object)),
        };
        self.slots[index] = Some(object);
        Ok(Handle::new(index as u32))
    }

    pub(crate) fn get(&self, handle: Handle) -> Result<&Object, SysError> {
        self.slots
            .get(handle.index() as usize)
            .and_then(Option::as_ref)
            .ok_or(SysError::BadHandle)
    }

    /// Calls `f` for every SIO in the table.
    pub(crate) fn for_each_sio(&self, mut f: impl FnMut(Handle, &crate::sio::Sio)) {
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(Object::Sio(sio)) = slot {
                f(Handle::new(i as u32), sio);
            }
        }
    }

    /// Takes the SIO at `handle` out of the table (put it back with
    /// `install_at`); None if the slot holds something else.
    pub(crate) fn take_sio(
        &mut self,
        handle: Handle,
    ) -> Option<alloc::boxed::Box<crate::sio::Sio>> {
        let slot = self.slots.get_mut(handle.index() as usize)?;
        match slot.take() {
            Some(Object::Sio(sio)) => Some(sio),
            other => {
                *slot = other;
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, handle: Handle) -> Result<Object, SysError> {
        self.slots
            .get_mut(handle.index() as usize)
            .and_then(Option::take)
            .ok_or(SysError::BadHandle)
    }

    /// Removes every object (SMACH teardown).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Object> + '_ {
        self.slots.drain(..).flatten()
    }

    pub(crate) fn count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}
