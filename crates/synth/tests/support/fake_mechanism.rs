//! A fake [`Mechanism`] for host tests: a code "arena" that really
//! instantiates every routine (and verifies a sample), routine tables as
//! maps, and checks on every call: code a slot points at is live and not a
//! helper; a block is retired once, and only when no slot and no live
//! routine's `Rel32` refers to it; stores only go to threads with a table.

// Shared by several test crates; each uses a part.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use sk_synth::policy::{InstallError, Mechanism, RoutineHoles, Slot, SlotTarget};
use sk_synth::{verify_instance, HoleValue, Smap};

/// Where the fake arena starts (like the kernel's).
pub(crate) const ARENA: u64 = 0xffff_b000_0000_0000;

/// A block handle: neither `Copy` nor `Clone`, so the policy cannot retire
/// one twice without the compiler noticing; the fake checks it too.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FakeBlock(u64);

#[derive(Clone, Copy, Debug)]
pub(crate) struct LiveBlock {
    pub(crate) address: u64,
    pub(crate) holes: RoutineHoles,
}

#[derive(Debug, Default)]
pub(crate) struct Fake {
    /// Threads that have a table.
    pub(crate) tables: BTreeSet<u64>,
    /// Slots not generic, by `(owner, index)`.
    pub(crate) slots: BTreeMap<(u64, u64), SlotTarget>,
    pub(crate) live: BTreeMap<u64, LiveBlock>,
    pub(crate) retired: BTreeSet<u64>,
    next_id: u64,
    next_address: u64,
    /// Install failures: install number `n` fails if `fail[n % len]`.
    pub(crate) fail: Vec<bool>,
    pub(crate) install_calls: usize,
    /// Verify every `verify_every`-th successful install (0: never).
    pub(crate) verify_every: usize,
    pub(crate) verified: usize,
    pub(crate) installs: usize,
    pub(crate) stores: usize,
    pub(crate) retires: usize,
    /// Every distinct template instantiated.
    pub(crate) templates: BTreeSet<&'static str>,
}

impl Fake {
    pub(crate) fn new(tables: impl IntoIterator<Item = u64>) -> Self {
        Self {
            tables: tables.into_iter().collect(),
            next_address: ARENA,
            verify_every: 1,
            ..Self::default()
        }
    }

    /// Mechanism calls so far.
    pub(crate) fn actions(&self) -> usize {
        self.install_calls + self.stores + self.retires
    }

    pub(crate) fn slot(&self, slot: Slot) -> SlotTarget {
        self.slots
            .get(&(slot.owner, slot.index()))
            .copied()
            .unwrap_or(SlotTarget::Generic)
    }

    /// The live block whose entry is `address`.
    pub(crate) fn block_at(&self, address: u64) -> Option<LiveBlock> {
        self.live.values().find(|b| b.address == address).copied()
    }

    fn is_referenced(&self, address: u64) -> bool {
        let by_slot = self.slots.values().any(|t| *t == SlotTarget::Code(address));
        let by_rel32 = self
            .live
            .values()
            .any(|b| rel32_target(&b.holes) == Some(address));
        by_slot || by_rel32
    }
}

/// The `Rel32` target of a routine (the RAM-file write's fallback).
pub(crate) fn rel32_target(holes: &RoutineHoles) -> Option<u64> {
    holes.values().as_slice().iter().find_map(|v| match v {
        HoleValue::Rel32(target) => Some(*target),
        _ => None,
    })
}

impl Mechanism for Fake {
    type Block = FakeBlock;

    fn install(&mut self, holes: &RoutineHoles) -> Result<(FakeBlock, u64), InstallError> {
        let n = self.install_calls;
        self.install_calls += 1;
        if !self.fail.is_empty() && self.fail[n % self.fail.len()] {
            return Err(InstallError::OutOfMemory);
        }
        if let Some(target) = rel32_target(holes) {
            let helper = self.block_at(target).expect("rel32 targets a live block");
            assert!(helper.holes.is_helper(), "rel32 targets a helper");
        }
        let address = self.next_address;
        let mut bytes = [0u8; 512];
        let instance = holes
            .instantiate(address, Smap::Enabled, &mut bytes)
            .expect("every planned routine instantiates");
        // The kernel's release path writes bytes only and describes the
        // instance apart: the same bytes, the same description.
        let mut fast = [0u8; 512];
        holes
            .instantiate_bytes(address, Smap::Enabled, &mut fast)
            .expect("instantiate_bytes agrees with instantiate");
        assert_eq!(fast, bytes, "instantiate_bytes wrote other bytes");
        assert_eq!(holes.describe(address, Smap::Enabled), instance);
        self.installs += 1;
        if self.verify_every != 0 && self.installs.is_multiple_of(self.verify_every) {
            verify_instance(&instance, &bytes[..instance.size()]).expect("instance verifies");
            self.verified += 1;
        }
        self.templates.insert(instance.name());
        self.next_address += (instance.size() as u64).next_multiple_of(64);
        self.next_id += 1;
        self.live.insert(
            self.next_id,
            LiveBlock {
                address,
                holes: *holes,
            },
        );
        Ok((FakeBlock(self.next_id), address))
    }

    fn retire(&mut self, block: FakeBlock) {
        self.retires += 1;
        let live = self
            .live
            .remove(&block.0)
            .unwrap_or_else(|| panic!("retire of a block that is not live: {block:?}"));
        assert!(self.retired.insert(block.0), "block retired twice");
        assert!(
            !self.is_referenced(live.address),
            "retired {live:?} while a slot or a routine still refers to it"
        );
    }

    fn store(&mut self, slot: Slot, target: SlotTarget) {
        self.stores += 1;
        assert!(
            self.tables.contains(&slot.owner),
            "store into thread {} which has no table",
            slot.owner
        );
        if let SlotTarget::Code(address) = target {
            let block = self.block_at(address).expect("slot points at live code");
            assert!(!block.holes.is_helper(), "slot points at a helper");
        }
        let key = (slot.owner, slot.index());
        assert_ne!(
            self.slot(slot),
            target,
            "needless store of {target:?} into {slot:?}"
        );
        if target == SlotTarget::Generic {
            self.slots.remove(&key);
        } else {
            self.slots.insert(key, target);
        }
    }
}
