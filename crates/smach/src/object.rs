//! What a handle names: one of the four kinds of objects.

use sk_abi::Kind;
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
}

impl<R> Object<R> {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Smach(_) => Kind::Smach,
            Object::Scpu(_) => Kind::Scpu,
            Object::Smem(_) => Kind::Smem,
            Object::Sio(_) => Kind::Sio,
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
