//! What a handle names: one of the four kinds of objects, or an SIO
//! another SMACH owns and shared with this one ([`SharedSio`]).

use alloc::vec::Vec;
use sk_abi::{Handle, Kind, OpenFlags};
use sk_sio::Sio;
use sk_smem::Smem;

/// An entry of a handle table; `R` is the kernel's synthesized-routine
/// state of an SIO.
#[derive(Debug)]
pub enum Object<R> {
    /// A child (or its own) synthetic machine, by id.
    Smach(u64),
    /// An SCPU of the owning SMACH, by id.
    Scpu(u64),
    /// A memory region of the owning SMACH.
    Smem(Smem),
    /// An open file or device.
    Sio(Sio<R>),
    /// An SIO another SMACH opened and shared with this one (its kind is
    /// [`Kind::Sio`]).
    Shared(SharedSio<R>),
}

/// A holder's handle to an SIO shared with it: where the SIO lives (the
/// owner's table), which open it is, what the holder may do, whether the
/// owner revoked it, and the holder's own synthesized routines.
#[derive(Debug)]
pub struct SharedSio<R> {
    /// The SMACH that opened the SIO (only it may share or revoke).
    pub owner: u64,
    /// The owner's handle to it.
    pub owner_handle: Handle,
    /// The SIO's serial ([`Sio::serial`]): the open this handle names.
    pub serial: u64,
    /// What the holder may do: `READ` and/or `WRITE`, a subset of the
    /// SIO's own flags.
    pub rights: OpenFlags,
    /// The owner revoked it (or closed the SIO): every call fails with
    /// `Revoked` until the holder closes the handle.
    pub is_revoked: bool,
    /// The holder's routines, one per SCPU of the holder with a table
    /// (thread id, routines); the kernel retires them at close.
    pub routines: Vec<(u64, R)>,
}

impl<R> Object<R> {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Smach(_) => Kind::Smach,
            Object::Scpu(_) => Kind::Scpu,
            Object::Smem(_) => Kind::Smem,
            Object::Sio(_) | Object::Shared(_) => Kind::Sio,
        }
    }

    /// The SIO, if it is one.
    pub fn as_sio(&self) -> Option<&Sio<R>> {
        match self {
            Object::Sio(s) => Some(s),
            _ => None,
        }
    }

    /// The SIO, mutably, if it is one.
    pub fn as_sio_mut(&mut self) -> Option<&mut Sio<R>> {
        match self {
            Object::Sio(s) => Some(s),
            _ => None,
        }
    }
}

impl<R> Object<R> {
    /// The holder's record, if this handle names a shared SIO.
    pub fn as_shared(&self) -> Option<&SharedSio<R>> {
        match self {
            Object::Shared(s) => Some(s),
            _ => None,
        }
    }

    /// The holder's record, mutably.
    pub fn as_shared_mut(&mut self) -> Option<&mut SharedSio<R>> {
        match self {
            Object::Shared(s) => Some(s),
            _ => None,
        }
    }
}
