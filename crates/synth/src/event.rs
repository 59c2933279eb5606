//! Events: changes to an object that may break invariants baked into code.
//!
//! Owns [`Event`], [`Sharer`], [`Access`], [`Scope`] and [`breaks`], the
//! table of which event breaks which [`crate::Invariant`]. Node events
//! (truncate, unlink, grow) concern every handle on the node; the others
//! concern one handle. Neighbours: [`crate::RoutineTable::apply`] acts on
//! the answers. When in doubt an event breaks the fact: a needless replug
//! costs speed, a missed one runs stale code.

use crate::Invariant;

/// Who an object is newly shared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sharer {
    /// Another thread of the same synthetic machine.
    Thread(u64),
    /// Another synthetic machine.
    Machine(u64),
}

/// Which access a revocation removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reading.
    Read,
    /// Writing.
    Write,
    /// Both.
    All,
}

/// A change to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The file was truncated (its data may move or shrink).
    Truncated {
        /// File-system node id.
        node: u64,
    },
    /// The file was unlinked (conservatively: its data may be freed).
    Unlinked {
        /// File-system node id.
        node: u64,
    },
    /// A write needed more than the capacity; the data area was reallocated.
    GrewPastCapacity {
        /// File-system node id.
        node: u64,
    },
    /// The handle's object is now shared.
    Shared {
        /// Handle.
        handle: u32,
        /// With whom.
        with: Sharer,
    },
    /// The position moved to `position`.
    Seeked {
        /// Handle.
        handle: u32,
        /// New position.
        position: u64,
    },
    /// The device was reconfigured (mode, port, window).
    Reconfigured {
        /// Handle.
        handle: u32,
    },
    /// The handle was closed.
    Closed {
        /// Handle.
        handle: u32,
    },
    /// Rights on the handle were revoked.
    Revoked {
        /// Handle.
        handle: u32,
        /// What may no longer be done.
        access: Access,
    },
}

/// Which installed routines an event concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every routine of any handle (the invariant itself names the node).
    Node(u64),
    /// The routines of one handle.
    Handle(u32),
}

impl Event {
    /// Which routines the event concerns.
    pub const fn scope(&self) -> Scope {
        match *self {
            Self::Truncated { node }
            | Self::Unlinked { node }
            | Self::GrewPastCapacity { node } => Scope::Node(node),
            Self::Shared { handle, .. }
            | Self::Seeked { handle, .. }
            | Self::Reconfigured { handle }
            | Self::Closed { handle }
            | Self::Revoked { handle, .. } => Scope::Handle(handle),
        }
    }
}

/// Whether `event` makes `invariant` false (for a routine in the event's scope).
pub fn breaks(invariant: &Invariant, event: &Event) -> bool {
    use Invariant as I;
    match *event {
        // A closed handle has no facts left.
        Event::Closed { .. } => true,
        Event::Truncated { node } | Event::Unlinked { node } => match *invariant {
            I::FileData { node: n, .. } => n == node,
            I::FileCapacity { node: n, .. } => {
                n == node && matches!(event, Event::Truncated { .. })
            }
            _ => false,
        },
        Event::GrewPastCapacity { node } => {
            matches!(*invariant, I::FileData { node: n, .. } | I::FileCapacity { node: n, .. } if n == node)
        }
        Event::Shared { with, .. } => match *invariant {
            I::SingleOwner { thread } => with != Sharer::Thread(thread),
            I::NotShared => matches!(with, Sharer::Machine(_)),
            _ => false,
        },
        Event::Seeked { position, .. } => {
            matches!(*invariant, I::PositionRange { start, end } if !(start..=end).contains(&position))
        }
        Event::Reconfigured { .. } => matches!(invariant, I::DeviceKind(_)),
        Event::Revoked { access, .. } => match invariant {
            I::OpenForRead => matches!(access, Access::Read | Access::All),
            I::OpenForWrite => matches!(access, Access::Write | Access::All),
            _ => false,
        },
    }
}
