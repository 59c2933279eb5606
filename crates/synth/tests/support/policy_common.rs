//! Helpers of the policy tests (`policy.rs`, `policy_share.rs`): facts for
//! every kind, the test `Env`, plan names, and `One`, an SIO and its
//! routines over the fake mechanism.

#![allow(dead_code)] // Each test file uses some of them.

use crate::fake_mechanism::{Fake, FakeBlock};
use sk_synth::policy::{
    plan, Env, FileFacts, Op, SioFacts, SioPlan, SioRoutines, SioTarget, Slot, SlotPlan, SlotTarget,
};

pub(crate) const OWNER: u64 = 7;
pub(crate) const POSITION: u64 = 0xffff_8000_0020_0000;

pub(crate) fn env() -> Env {
    Env {
        is_enabled: true,
        table_handles: 64,
        bad_address: -14,
        generic_entry: 0xffff_ffff_8010_0000,
        slow_path: 0xffff_ffff_8010_0100,
        max_copy_bytes: 64 << 10,
        max_console_bytes: 64,
        yield_routine: None,
    }
}

pub(crate) fn file(generation: u64) -> FileFacts {
    FileFacts {
        node: 3,
        data_addr: 0xffff_8000_0100_0000,
        capacity: 4096,
        size_cell: 0xffff_8000_0000_1000,
        generation,
        is_unlinked: false,
    }
}

pub(crate) fn tty(is_raw: bool) -> SioTarget {
    SioTarget::Tty {
        is_raw,
        data_port: 0x3f8,
        status_port: 0x3fd,
    }
}

/// A pipe end on a 16 KiB ring (atomic size 4 KiB).
pub(crate) const fn pipe(is_read_end: bool) -> SioTarget {
    SioTarget::Pipe {
        is_read_end,
        buffer: 0xffff_8000_0300_0000,
        capacity: 16 << 10,
        atomic_bytes: 4096,
        produced_cell: 0xffff_8000_0200_0000,
        consumed_cell: 0xffff_8000_0200_0040,
        wait_cell: 0xffff_8000_0200_0080,
    }
}

pub(crate) const MEM: SioTarget = SioTarget::Mem {
    base: 0xffff_8000_0009_0000,
    window_bytes: 0x1000,
};

pub(crate) fn facts(target: SioTarget) -> SioFacts {
    SioFacts {
        target,
        can_read: true,
        can_write: true,
        is_append: false,
        position_cell: POSITION,
        owner: Some(OWNER),
        is_shared: false,
        is_holder: false,
        is_revoked: false,
        handle: 5,
    }
}

/// The plan as (read template, write template), "generic" or "-" (no slot).
pub(crate) fn names(plan: &SioPlan) -> (&'static str, &'static str) {
    let name = |slot: &SlotPlan| match slot {
        SlotPlan::NotInTable => "-",
        SlotPlan::Generic => "generic",
        SlotPlan::ErrorStub(_) => "error",
        SlotPlan::Routine(spec) => spec.template().name,
    };
    (name(&plan.read), name(&plan.write))
}

pub(crate) fn names_of(facts: &SioFacts) -> (&'static str, &'static str) {
    names(&plan(facts, &env()))
}

pub(crate) fn with(facts: SioFacts, change: impl FnOnce(&mut SioFacts)) -> SioFacts {
    let mut facts = facts;
    change(&mut facts);
    facts
}

/// One SIO and its routines over a fake mechanism.
pub(crate) struct One {
    pub(crate) fake: Fake,
    pub(crate) facts: SioFacts,
    pub(crate) routines: SioRoutines<FakeBlock>,
}

impl One {
    pub(crate) fn open(target: SioTarget) -> Self {
        let mut one = Self {
            fake: Fake::new([OWNER, OWNER + 1]),
            facts: facts(target),
            routines: SioRoutines::new(),
        };
        one.replan().expect("no failure injected");
        one
    }

    pub(crate) fn replan(&mut self) -> Result<(), sk_synth::policy::InstallError> {
        self.routines.replan(&self.facts, &env(), &mut self.fake)
    }

    /// Applies `change` to the facts, replans, returns (installs, stores, retires).
    pub(crate) fn event(&mut self, change: impl FnOnce(&mut SioFacts)) -> (usize, usize, usize) {
        change(&mut self.facts);
        let before = (self.fake.install_calls, self.fake.stores, self.fake.retires);
        self.replan().expect("no failure injected");
        (
            self.fake.install_calls - before.0,
            self.fake.stores - before.1,
            self.fake.retires - before.2,
        )
    }

    pub(crate) fn slot(&self, op: Op) -> SlotTarget {
        self.fake.slot(Slot {
            owner: self.facts.owner.unwrap(),
            handle: self.facts.handle,
            op,
        })
    }

    pub(crate) fn template(&self, op: Op) -> Option<&'static str> {
        let SlotTarget::Code(address) = self.slot(op) else {
            return None;
        };
        Some(self.fake.block_at(address).unwrap().holes.template().name)
    }

    pub(crate) fn file(&mut self) -> &mut FileFacts {
        let SioTarget::File(file) = &mut self.facts.target else {
            panic!("not a file")
        };
        file
    }
}
