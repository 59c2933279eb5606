//! Invariants: the facts a synthesized routine bakes in (quasi-invariants).
//!
//! Owns [`Invariant`] (a fact with its values), [`InvariantKind`] (what a
//! template declares) and [`DeviceKind`]. They name what a routine baked
//! in, for `show` and review: [`crate::policy::RoutineSpec::invariants`]
//! lists them for an installed routine. Whether a routine is still right
//! is not decided from them but by comparing its spec with
//! [`crate::policy::plan()`] of the current facts. Synthesis §2.1 calls
//! these the invariants factored out of the general routine.

/// Device behind a handle, as far as synthesized code cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// `/dev/null`.
    Null,
    /// `/dev/zero`.
    Zero,
    /// `/dev/mem` (a fixed kernel window).
    Mem,
    /// `/dev/tty` on a 16550 UART, in raw mode.
    RawTty,
}

/// A fact a routine assumes, with the values it was synthesized for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// The file's data lives at the address baked in (node `node`, data
    /// `generation` as of synthesis).
    FileData {
        /// File-system node id.
        node: u64,
        /// Generation of the node's data when the routine was made.
        generation: u64,
    },
    /// The file's data area holds `capacity` bytes (writes guard on it).
    FileCapacity {
        /// File-system node id.
        node: u64,
        /// Capacity in bytes baked in.
        capacity: u64,
    },
    /// Only thread `thread` uses the handle (unsynchronised position cell).
    SingleOwner {
        /// Owning thread id.
        thread: u64,
    },
    /// The device behind the handle is of this kind and configuration.
    DeviceKind(DeviceKind),
    /// No thread but the owner uses the object (nor another machine).
    NotShared,
    /// The handle may be read.
    OpenForRead,
    /// The handle may be written.
    OpenForWrite,
}

/// The kind of an [`Invariant`], without values: what a template declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)] // one per `Invariant` variant, documented there
pub enum InvariantKind {
    FileData,
    FileCapacity,
    SingleOwner,
    DeviceKind,
    NotShared,
    OpenForRead,
    OpenForWrite,
}

impl Invariant {
    /// Its kind.
    pub const fn kind(&self) -> InvariantKind {
        match self {
            Self::FileData { .. } => InvariantKind::FileData,
            Self::FileCapacity { .. } => InvariantKind::FileCapacity,
            Self::SingleOwner { .. } => InvariantKind::SingleOwner,
            Self::DeviceKind(_) => InvariantKind::DeviceKind,
            Self::NotShared => InvariantKind::NotShared,
            Self::OpenForRead => InvariantKind::OpenForRead,
            Self::OpenForWrite => InvariantKind::OpenForWrite,
        }
    }
}
