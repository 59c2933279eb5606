//! The mechanism: what the kernel implements so the policy can act.
//!
//! Owns [`Mechanism`], [`Slot`], [`SlotTarget`] and [`InstallError`]. The
//! kernel's implementation instantiates [`RoutineHoles`] into its code
//! arena, stores code addresses into its threads' routine tables (one
//! atomic store each) and frees retired code after a quiescent point; host
//! tests implement it with a fake that checks every call. Neighbours:
//! [`super::SioRoutines`] is the only caller.

use core::fmt;

use crate::SynthError;

use super::{Op, RoutineHoles};

/// One slot of one thread's routine table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    /// The thread whose table it is.
    pub owner: u64,
    /// The handle.
    pub handle: u32,
    /// The op.
    pub op: Op,
}

impl Slot {
    /// The slot's index in the table: `(handle << 3) | call number`, the
    /// call word user code puts in `rax`.
    pub fn index(&self) -> u64 {
        (u64::from(self.handle) << sk_abi::Call::BITS) | u64::from(self.op.call().number())
    }
}

/// What a slot is made to point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotTarget {
    /// Code at this address (an entry [`Mechanism::install`] returned).
    Code(u64),
    /// The generic path (the kernel stores its slow-path address).
    Generic,
    /// An error stub returning this value (the kernel keeps one per value).
    ErrorStub(i32),
}

/// Why code could not be installed. The slot stays on the generic path;
/// the next replan tries again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallError {
    /// The code arena (or the memory for its bookkeeping) is exhausted.
    OutOfMemory,
    /// Instantiation refused (e.g. a `Rel32` target out of range).
    Instantiate(SynthError),
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory => f.write_str("out of code memory"),
            Self::Instantiate(e) => write!(f, "instantiation failed: {e}"),
        }
    }
}

impl core::error::Error for InstallError {}

impl From<SynthError> for InstallError {
    fn from(e: SynthError) -> Self {
        Self::Instantiate(e)
    }
}

/// What the kernel does for the policy. Every method is one action; the
/// policy ([`super::SioRoutines`]) decides which and in what order:
///
/// - code is installed before any slot points at it;
/// - a slot is switched by one [`store`](Self::store) from old to new
///   target, never through a stale or dangling state;
/// - a block is retired only after no slot (and no live routine's `Rel32`)
///   refers to it, and exactly once. `retire` takes the block by value and
///   the policy never copies one; use a non-`Copy` type to make that a
///   compile-time fact.
pub trait Mechanism {
    /// An installed piece of code (and whatever the kernel keeps with it:
    /// its instance, a call counter).
    type Block;

    /// Instantiates `holes` into fresh code memory and makes it executable.
    /// Returns the block and the address a slot (or a `Rel32`) should target.
    ///
    /// # Errors
    ///
    /// [`InstallError`]; nothing is left allocated.
    fn install(&mut self, holes: &RoutineHoles) -> Result<(Self::Block, u64), InstallError>;

    /// Frees `block` once every CPU has passed a quiescent point.
    fn retire(&mut self, block: Self::Block);

    /// Points `slot` at `target` (one atomic store). A slot of a thread that
    /// no longer has a table is ignored.
    fn store(&mut self, slot: Slot, target: SlotTarget);
}
