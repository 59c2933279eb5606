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
    /// `/dev/tty` on a 16550 UART, in cooked mode (`'\n'` → `"\r\n"`).
    CookedTty,
    /// `/dev/semaphore` (its cell's address baked in).
    Semaphore,
    /// One end of a pipe (its ring's buffer, mask and cells baked in).
    Pipe,
    /// A port end (its queue's addresses baked in).
    Port,
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
    /// A chain of prefix views folded into one prefix: `depth` levels,
    /// `prefix_bytes` bytes in all, each level's line state in its cell.
    PrefixChain {
        /// Levels folded.
        depth: u32,
        /// Bytes of the folded prefix.
        prefix_bytes: u32,
    },
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
    PrefixChain,
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
            Self::PrefixChain { .. } => InvariantKind::PrefixChain,
        }
    }
}

/// Most facts one routine bakes in.
pub const MAX_INVARIANTS: usize = 8;

/// The facts one routine bakes in: a list of at most [`MAX_INVARIANTS`],
/// kept inline (naming a routine's facts never allocates).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Invariants {
    items: [Invariant; MAX_INVARIANTS],
    len: usize,
}

impl Invariants {
    /// No facts.
    pub const fn new() -> Self {
        Self {
            items: [Invariant::NotShared; MAX_INVARIANTS],
            len: 0,
        }
    }

    /// Adds a fact (ignored past [`MAX_INVARIANTS`]; no template bakes in
    /// that many).
    pub fn push(&mut self, invariant: Invariant) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = invariant;
            self.len = self.len.saturating_add(1);
        }
    }
}

impl Default for Invariants {
    fn default() -> Self {
        Self::new()
    }
}

impl core::ops::Deref for Invariants {
    type Target = [Invariant];

    fn deref(&self) -> &[Invariant] {
        self.items.get(..self.len).unwrap_or_default()
    }
}

impl Extend<Invariant> for Invariants {
    fn extend<T: IntoIterator<Item = Invariant>>(&mut self, iter: T) {
        for invariant in iter {
            self.push(invariant);
        }
    }
}

impl core::fmt::Debug for Invariants {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
