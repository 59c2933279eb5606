//! The per-thread routine table, as a portable model, and replugging.
//!
//! Owns [`RoutineTable`], [`SlotIndex`], [`Slot`], [`InstanceId`],
//! [`Replug`], [`ReplugAction`] and [`ErrorResults`]. The kernel's real table
//! is an array of code addresses indexed by `(handle << 3) | op` that the
//! entry stub `call`s through; this model decides what each entry holds and
//! remembers the invariants baked into each installed instance. Every
//! decision is carried out by the kernel as **one atomic store** of a code
//! address into the slot (the new instance, the slot's generic trampoline,
//! or an error stub); retired code is freed after a quiescent point.
//!
//! The rule this module keeps (`owner-holds-code`, STYLE §8): after
//! [`RoutineTable::apply`] returns, no slot refers to an instance whose
//! invariants the event broke — stale code never runs.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::{breaks, Event, Instance, Invariant, Scope, SynthError};

/// Slots per handle: an op is 3 bits.
pub const OPS_PER_HANDLE: u32 = 8;

/// Index of a slot: `(handle << 3) | op`, the value user code puts in `rax`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotIndex(u32);

impl SlotIndex {
    /// The slot of `op` on `handle`; `None` if `op >= 8` or the index overflows.
    pub fn new(handle: u32, op: u8) -> Option<Self> {
        if u32::from(op) >= OPS_PER_HANDLE {
            return None;
        }
        let base = handle.checked_mul(OPS_PER_HANDLE)?;
        Some(Self(base | u32::from(op)))
    }

    /// The raw index (what `rax` holds).
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The handle part.
    pub const fn handle(self) -> u32 {
        self.0 >> 3
    }

    /// The op part.
    #[allow(clippy::cast_possible_truncation)] // masked to 3 bits
    pub const fn op(self) -> u8 {
        (self.0 & 7) as u8
    }
}

/// Identifies one installed instance in one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub u64);

/// What a slot points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// A synthesized routine.
    Synthesized(InstanceId),
    /// The slot's generic trampoline (the generic path).
    Generic,
    /// An error stub returning this value.
    ErrorStub(i32),
}

/// What the kernel must do for one slot after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplugAction {
    /// Synthesize a new routine for the new state and install it. Until it
    /// is, the slot already points at the generic path.
    Resynthesize,
    /// Point the slot at the generic path for good (e.g. the object is shared).
    Generic,
    /// Point the slot at an error stub returning this value.
    ErrorStub(i32),
}

/// One replug decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Replug {
    /// The slot to store into.
    pub slot: SlotIndex,
    /// The instance the slot stops pointing at (free after a quiescent point).
    pub retired: Option<InstanceId>,
    /// What to store.
    pub action: ReplugAction,
}

/// Results the error stubs return (negative error codes, from `sk-abi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorResults {
    /// For every op of a closed handle (`-(BadHandle)`).
    pub closed: i32,
    /// For ops whose right was revoked (`-(NoRights)`).
    pub revoked: i32,
}

#[derive(Clone, Debug)]
struct Installed {
    slot: SlotIndex,
    template: &'static str,
    invariants: Vec<Invariant>,
}

/// One thread's routine table (model).
#[derive(Clone, Debug)]
pub struct RoutineTable {
    slots: Vec<Slot>,
    installed: BTreeMap<InstanceId, Installed>,
    next_id: u64,
    errors: ErrorResults,
}

impl RoutineTable {
    /// A table for `handles` handles, every slot on the generic path.
    pub fn new(handles: u32, errors: ErrorResults) -> Self {
        let len = handles as usize * OPS_PER_HANDLE as usize;
        Self {
            slots: alloc::vec![Slot::Generic; len],
            installed: BTreeMap::new(),
            next_id: 1,
            errors,
        }
    }

    /// Number of slots (the entry stub's `table_len` hole).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// All slots, by index.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The slot at `index`.
    pub fn slot(&self, index: SlotIndex) -> Option<Slot> {
        self.slots.get(index.get() as usize).copied()
    }

    /// The concrete invariants recorded for an installed instance.
    pub fn invariants(&self, id: InstanceId) -> Option<&[Invariant]> {
        self.installed
            .get(&id)
            .map(|installed| installed.invariants.as_slice())
    }

    /// The template name of an installed instance.
    pub fn template_of(&self, id: InstanceId) -> Option<&'static str> {
        self.installed.get(&id).map(|installed| installed.template)
    }

    fn checked_slot(&self, handle: u32, op: u8) -> Result<SlotIndex, SynthError> {
        SlotIndex::new(handle, op)
            .filter(|index| (index.get() as usize) < self.slots.len())
            .ok_or(SynthError::SlotOutOfRange { handle, op })
    }

    /// Records `instance` in the slot of `handle`/`op` with the concrete
    /// values of the facts its template bakes in. Returns its id and the
    /// instance it displaced (to retire).
    ///
    /// # Errors
    ///
    /// [`SynthError::SlotOutOfRange`]; [`SynthError::MissingInvariant`] when
    /// `invariants` lacks a kind the template declares.
    pub fn install(
        &mut self,
        handle: u32,
        op: u8,
        instance: &Instance,
        invariants: &[Invariant],
    ) -> Result<(InstanceId, Option<InstanceId>), SynthError> {
        let slot = self.checked_slot(handle, op)?;
        for &kind in instance.invariants() {
            if !invariants.iter().any(|invariant| invariant.kind() == kind) {
                return Err(SynthError::MissingInvariant {
                    template: instance.name(),
                    kind,
                });
            }
        }
        let id = InstanceId(self.next_id);
        self.next_id += 1;
        let retired = self.store(slot, Slot::Synthesized(id));
        self.installed.insert(
            id,
            Installed {
                slot,
                template: instance.name(),
                invariants: invariants.to_vec(),
            },
        );
        log::debug!(
            "install {} as {id:?} in slot {}",
            instance.name(),
            slot.get()
        );
        Ok((id, retired))
    }

    /// Points the slot of `handle`/`op` at the generic path; returns the retired instance.
    ///
    /// # Errors
    ///
    /// [`SynthError::SlotOutOfRange`].
    pub fn set_generic(&mut self, handle: u32, op: u8) -> Result<Option<InstanceId>, SynthError> {
        let slot = self.checked_slot(handle, op)?;
        Ok(self.store(slot, Slot::Generic))
    }

    /// Stores `new` in `slot`, forgetting a displaced synthesized instance.
    fn store(&mut self, slot: SlotIndex, new: Slot) -> Option<InstanceId> {
        let entry = self.slots.get_mut(slot.get() as usize)?;
        let old = core::mem::replace(entry, new);
        match old {
            Slot::Synthesized(id) => {
                self.installed.remove(&id);
                Some(id)
            }
            Slot::Generic | Slot::ErrorStub(_) => None,
        }
    }

    /// Applies an event: every slot whose routine bakes in a fact the event
    /// breaks is replugged, and the decisions are returned for the kernel to
    /// carry out. A closed handle's eight slots all become error stubs.
    pub fn apply(&mut self, event: &Event) -> Vec<Replug> {
        let mut replugs = Vec::new();
        if let Event::Closed { handle } = *event {
            for op in 0..=7u8 {
                let Ok(slot) = self.checked_slot(handle, op) else {
                    break;
                };
                let stub = Slot::ErrorStub(self.errors.closed);
                if self.slot(slot) != Some(stub) {
                    let retired = self.store(slot, stub);
                    replugs.push(Replug {
                        slot,
                        retired,
                        action: ReplugAction::ErrorStub(self.errors.closed),
                    });
                }
            }
        } else {
            let broken: Vec<(InstanceId, SlotIndex)> = self
                .installed
                .iter()
                .filter(|(_, installed)| match event.scope() {
                    Scope::Node(_) => true,
                    Scope::Handle(handle) => installed.slot.handle() == handle,
                })
                .filter(|(_, installed)| {
                    installed
                        .invariants
                        .iter()
                        .any(|invariant| breaks(invariant, event))
                })
                .map(|(id, installed)| (*id, installed.slot))
                .collect();
            let action = self.remedy(event);
            for (_, slot) in broken {
                let new = match action {
                    ReplugAction::ErrorStub(result) => Slot::ErrorStub(result),
                    ReplugAction::Generic | ReplugAction::Resynthesize => Slot::Generic,
                };
                let retired = self.store(slot, new);
                replugs.push(Replug {
                    slot,
                    retired,
                    action,
                });
            }
        }
        for replug in &replugs {
            log::debug!(
                "replug slot {} after {event:?}: {:?}",
                replug.slot.get(),
                replug.action
            );
        }
        replugs
    }

    /// What a slot whose invariants `event` broke gets.
    fn remedy(&self, event: &Event) -> ReplugAction {
        match event {
            Event::Closed { .. } => ReplugAction::ErrorStub(self.errors.closed),
            Event::Revoked { .. } => ReplugAction::ErrorStub(self.errors.revoked),
            // Shared objects need the generic path's synchronisation; an
            // unlinked file's data is the generic path's business.
            Event::Shared { .. } | Event::Unlinked { .. } => ReplugAction::Generic,
            // The fact changed but a specialised routine exists for the new one.
            Event::Truncated { .. }
            | Event::GrewPastCapacity { .. }
            | Event::Seeked { .. }
            | Event::Reconfigured { .. } => ReplugAction::Resynthesize,
        }
    }
}
