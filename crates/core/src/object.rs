//! What a handle names: one of the four kinds of objects.

use crate::sio::Sio;
use crate::smem::Smem;
use crate::state::{SmachId, ThreadId};
use alloc::boxed::Box;
use sk_abi::Kind;

/// An entry of a handle table.
#[derive(Debug)]
pub(crate) enum Object {
    /// A child (or own) synthetic machine.
    Smach(SmachId),
    /// A thread of the owning SMACH.
    Scpu(ThreadId),
    /// A memory region of the owning SMACH.
    Smem(Smem),
    /// An open file or device (boxed: the generic path moves handle
    /// entries in and out of the table, and a pointer is cheap to move).
    Sio(Box<Sio>),
}

impl Object {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Object::Smach(_) => Kind::Smach,
            Object::Scpu(_) => Kind::Scpu,
            Object::Smem(_) => Kind::Smem,
            Object::Sio(_) => Kind::Sio,
        }
    }
}
