//! The model world of the policy property test (`policy_property.rs`):
//! RAM files with changing layouts, SIOs of every kind in tables, the
//! events that change their facts, and the checks run after every step.

#![allow(dead_code)] // Some helpers serve one test only.

use std::collections::BTreeMap;

use crate::fake_mechanism::{rel32_target, Fake, FakeBlock};
use proptest::prelude::*;
use sk_synth::policy::{
    plan, Env, FileFacts, Op, PortFacts, SioFacts, SioRoutines, SioTarget, Slot, SlotPlan,
    SlotTarget,
};

/// Handles 0..6 exist; the table covers 0..4, so 4 and 5 have no slot.
pub(crate) const HANDLES: u32 = 6;
pub(crate) const TABLE_HANDLES: u16 = 4;
pub(crate) const FILES: usize = 3;
/// Owners with tables; `None` (an owner without one) is also drawn.
pub(crate) const OWNERS: [u64; 2] = [1, 2];

pub(crate) fn env(is_enabled: bool) -> Env {
    Env {
        is_enabled,
        table_handles: TABLE_HANDLES,
        bad_address: -14,
        generic_entry: 0xffff_ffff_8010_0000,
        slow_path: 0xffff_ffff_8010_0100,
        max_copy_bytes: 64 << 10,
        max_console_bytes: 64,
        yield_routine: None,
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Null,
    Zero,
    Mem,
    Tty,
    File(usize),
    Dir,
    /// `/dev/semaphore`: its routines survive sharing.
    Semaphore,
    /// A pipe's read end (`true`) or write end.
    Pipe(bool),
    /// A port end (receive end if true): its routines survive sharing.
    Port(bool),
}

#[derive(Clone, Debug)]
pub(crate) enum Event {
    Open {
        kind: Kind,
        can_read: bool,
        can_write: bool,
        is_append: bool,
        owner: Option<u64>,
    },
    Close(usize),
    /// Growth past capacity; the buffer may land at the same address.
    Grow {
        file: usize,
        moves: bool,
    },
    Truncate(usize),
    Rename(usize),
    Unlink(usize),
    Free(usize),
    /// `thread` uses SIO `pick`.
    Use {
        pick: usize,
        thread: u64,
    },
    TtyMode(bool),
    Seek(usize),
    Reown {
        pick: usize,
        owner: Option<u64>,
    },
    MoveHandle {
        pick: usize,
        to: u32,
    },
    /// The other end of pipe end `pick` closes: a closed bit in the ring's
    /// wait word, which the routines read; no fact changes.
    PeerClose(usize),
    /// SIO `pick`'s owner shares it with another SMACH, whose thread
    /// `owner` gets the holder's slots, with these rights (a subset of the
    /// open's; a holder cannot share further).
    Share {
        pick: usize,
        owner: Option<u64>,
        can_read: bool,
        can_write: bool,
    },
    /// SIO `pick`'s owner revokes every share of it (from a holder: refused).
    Revoke(usize),
}

pub(crate) fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Null),
        Just(Kind::Zero),
        Just(Kind::Mem),
        Just(Kind::Tty),
        (0..FILES).prop_map(Kind::File),
        (0..FILES).prop_map(Kind::File),
        Just(Kind::Dir),
        Just(Kind::Semaphore),
        any::<bool>().prop_map(Kind::Pipe),
        any::<bool>().prop_map(Kind::Port),
    ]
}

pub(crate) fn owner() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        4 => prop::sample::select(OWNERS.to_vec()).prop_map(Some),
        1 => Just(None),
    ]
}

pub(crate) fn event() -> impl Strategy<Value = Event> {
    let pick = 0..8usize;
    prop_oneof![
        5 => (kind(), any::<bool>(), any::<bool>(), prop::bool::weighted(0.2), owner()).prop_map(
            |(kind, can_read, can_write, is_append, owner)| Event::Open {
                kind, can_read, can_write, is_append, owner,
            }
        ),
        2 => pick.clone().prop_map(Event::Close),
        2 => (0..FILES, any::<bool>()).prop_map(|(file, moves)| Event::Grow { file, moves }),
        1 => (0..FILES).prop_map(Event::Truncate),
        1 => (0..FILES).prop_map(Event::Rename),
        1 => (0..FILES).prop_map(Event::Unlink),
        1 => (0..FILES).prop_map(Event::Free),
        1 => (pick.clone(), 1..4u64).prop_map(|(pick, thread)| Event::Use { pick, thread }),
        1 => any::<bool>().prop_map(Event::TtyMode),
        2 => pick.clone().prop_map(Event::Seek),
        1 => (pick.clone(), owner()).prop_map(|(pick, owner)| Event::Reown { pick, owner }),
        1 => (pick.clone(), 0..HANDLES).prop_map(|(pick, to)| Event::MoveHandle { pick, to }),
        1 => pick.clone().prop_map(Event::PeerClose),
        2 => (pick.clone(), owner(), any::<bool>(), any::<bool>()).prop_map(
            |(pick, owner, can_read, can_write)| Event::Share { pick, owner, can_read, can_write }
        ),
        1 => pick.prop_map(Event::Revoke),
    ]
}

pub(crate) struct Sio {
    pub(crate) kind: Kind,
    pub(crate) can_read: bool,
    pub(crate) can_write: bool,
    pub(crate) is_append: bool,
    pub(crate) position_cell: u64,
    pub(crate) owner: Option<u64>,
    pub(crate) is_shared: bool,
    pub(crate) routines: SioRoutines<FakeBlock>,
    /// The last replan reported an install failure.
    pub(crate) is_retry_pending: bool,
    /// Unique per open (the kernel's serial); a holder has its source's.
    pub(crate) id: u64,
    /// A holder's handle (shared from SIO `id` by its owner).
    pub(crate) is_holder: bool,
    /// A holder's handle its owner revoked.
    pub(crate) is_revoked: bool,
}

pub(crate) struct World {
    pub(crate) env: Env,
    pub(crate) files: [FileFacts; FILES],
    pub(crate) tty_raw: bool,
    pub(crate) sios: BTreeMap<u32, Sio>,
    pub(crate) fake: Fake,
    pub(crate) next_cell: u64,
    pub(crate) next_data: u64,
}

impl World {
    pub(crate) fn new(is_enabled: bool, fail: Vec<bool>) -> Self {
        let files = std::array::from_fn(|i| FileFacts {
            node: i as u64 + 10,
            data_addr: 0xffff_8000_1000_0000 + 0x100_0000 * i as u64,
            capacity: 0,
            size_cell: 0xffff_8000_0800_0000 + 8 * i as u64,
            generation: 0,
            is_unlinked: false,
        });
        let mut fake = Fake::new(OWNERS);
        fake.fail = fail;
        // Instantiate every install; verify a sample (verification decodes).
        fake.verify_every = 7;
        Self {
            env: env(is_enabled),
            files,
            tty_raw: false,
            sios: BTreeMap::new(),
            fake,
            next_cell: 0xffff_8000_0900_0000,
            next_data: 0xffff_8000_2000_0000,
        }
    }

    pub(crate) fn facts(&self, handle: u32, sio: &Sio) -> SioFacts {
        let target = match sio.kind {
            Kind::Null => SioTarget::Null,
            Kind::Zero => SioTarget::Zero,
            Kind::Mem => SioTarget::Mem {
                base: 0xffff_8000_000a_0000,
                window_bytes: 0x1000,
            },
            Kind::Tty => SioTarget::Tty {
                is_raw: self.tty_raw,
                data_port: 0x3f8,
                status_port: 0x3fd,
            },
            Kind::File(i) => SioTarget::File(self.files[i]),
            Kind::Dir => SioTarget::Dir,
            // The cell is the SIO's own fixed cell, like the position.
            Kind::Semaphore => SioTarget::Semaphore {
                cell: sio.position_cell,
            },
            // The ring's memory is the SIO's own (fixed while it is open).
            Kind::Pipe(is_read_end) => SioTarget::Pipe {
                is_read_end,
                buffer: sio.position_cell << 8,
                capacity: 16 << 10,
                atomic_bytes: 4096,
                produced_cell: (sio.position_cell << 8) + 0x1_0000,
                consumed_cell: (sio.position_cell << 8) + 0x1_0040,
                wait_cell: (sio.position_cell << 8) + 0x1_0080,
            },
            // The queue's cells and slots are the SIO's own, fixed.
            Kind::Port(is_receive_end) => SioTarget::Port(PortFacts {
                is_receive_end,
                cells: sio.position_cell,
                slots: sio.position_cell + 0x1000,
                slot_stride: 72,
                capacity: 16,
            }),
        };
        SioFacts {
            target,
            can_read: sio.can_read,
            can_write: sio.can_write,
            is_append: sio.is_append,
            position_cell: sio.position_cell,
            owner: sio.owner,
            is_shared: sio.is_shared,
            handle,
            is_holder: sio.is_holder,
            is_revoked: sio.is_revoked,
        }
    }

    pub(crate) fn handle_at(&self, pick: usize) -> Option<u32> {
        let handles: Vec<u32> = self.sios.keys().copied().collect();
        (!handles.is_empty()).then(|| handles[pick % handles.len()])
    }

    /// Replans one SIO; then replanning again must do nothing (unless an
    /// install failed, which the next replan retries).
    pub(crate) fn replan(&mut self, handle: u32) {
        let mut sio = self.sios.remove(&handle).expect("open");
        let facts = self.facts(handle, &sio);
        let result = sio.routines.replan(&facts, &self.env, &mut self.fake);
        sio.is_retry_pending = result.is_err();
        if result.is_ok() {
            let before = self.fake.actions();
            sio.routines
                .replan(&facts, &self.env, &mut self.fake)
                .expect("nothing to install");
            assert_eq!(
                self.fake.actions(),
                before,
                "replan of unchanged facts acted"
            );
        }
        self.sios.insert(handle, sio);
    }

    pub(crate) fn replan_file(&mut self, file: usize) {
        let on_file: Vec<u32> = self
            .sios
            .iter()
            .filter(|(_, s)| matches!(s.kind, Kind::File(i) if i == file))
            .map(|(h, _)| *h)
            .collect();
        for handle in on_file {
            self.replan(handle);
        }
    }

    pub(crate) fn apply(&mut self, event: &Event) {
        match *event {
            Event::Open {
                kind,
                can_read,
                can_write,
                is_append,
                owner,
            } => {
                let Some(handle) = (0..HANDLES).find(|h| !self.sios.contains_key(h)) else {
                    return;
                };
                self.next_cell += 8;
                let sio = Sio {
                    kind,
                    can_read,
                    can_write,
                    is_append,
                    position_cell: self.next_cell,
                    owner,
                    is_shared: false,
                    routines: SioRoutines::new(),
                    is_retry_pending: false,
                    id: self.next_cell,
                    is_holder: false,
                    is_revoked: false,
                };
                self.sios.insert(handle, sio);
                self.replan(handle);
            }
            Event::Close(pick) => {
                if let Some(handle) = self.handle_at(pick) {
                    let sio = self.sios.remove(&handle).unwrap();
                    // The owner's close revokes every share (the kernel's rule).
                    if !sio.is_holder {
                        self.revoke(sio.id);
                    }
                    sio.routines.close(&mut self.fake);
                }
            }
            Event::Share {
                pick,
                owner,
                can_read,
                can_write,
            } => {
                let Some(from) = self.handle_at(pick) else {
                    return;
                };
                let Some(handle) = (0..HANDLES).find(|h| !self.sios.contains_key(h)) else {
                    return;
                };
                let source = &self.sios[&from];
                let (can_read, can_write) =
                    (can_read && source.can_read, can_write && source.can_write);
                if source.is_holder || !(can_read || can_write) {
                    return; // refused
                }
                let sio = Sio {
                    kind: source.kind,
                    can_read,
                    can_write,
                    is_append: source.is_append,
                    position_cell: source.position_cell,
                    owner,
                    is_shared: true,
                    routines: SioRoutines::new(),
                    is_retry_pending: false,
                    id: source.id,
                    is_holder: true,
                    is_revoked: false,
                };
                // The owner's SIO is shared from now on.
                self.sios.get_mut(&from).unwrap().is_shared = true;
                self.replan(from);
                self.sios.insert(handle, sio);
                self.replan(handle);
            }
            Event::Revoke(pick) => {
                if let Some(handle) = self.handle_at(pick) {
                    let sio = &self.sios[&handle];
                    if !sio.is_holder {
                        self.revoke(sio.id);
                    }
                }
            }
            Event::Grow { file, moves } => {
                let f = &mut self.files[file];
                if f.is_unlinked && f.size_cell == 0 {
                    return; // freed
                }
                f.capacity = f.capacity * 2 + 4096;
                if moves {
                    self.next_data += 0x10_0000;
                    f.data_addr = self.next_data;
                }
                f.generation += 1;
                self.replan_file(file);
            }
            Event::Truncate(file) | Event::Rename(file) => {
                self.files[file].generation += 1;
                self.replan_file(file);
            }
            Event::Unlink(file) => {
                let f = &mut self.files[file];
                if !f.is_unlinked {
                    f.is_unlinked = true;
                    f.generation += 1;
                    self.replan_file(file);
                }
            }
            Event::Free(file) => {
                let f = &mut self.files[file];
                if f.is_unlinked && f.size_cell != 0 {
                    // No layout any more: reported unlinked, zeros elsewhere.
                    *f = FileFacts {
                        node: f.node,
                        data_addr: 0,
                        capacity: 0,
                        size_cell: 0,
                        generation: f.generation + 1,
                        is_unlinked: true,
                    };
                    self.replan_file(file);
                }
            }
            Event::Use { pick, thread } => {
                if let Some(handle) = self.handle_at(pick) {
                    let sio = self.sios.get_mut(&handle).unwrap();
                    if sio.owner != Some(thread) {
                        sio.is_shared = true;
                        self.replan(handle);
                    }
                }
            }
            Event::TtyMode(is_raw) => {
                self.tty_raw = is_raw;
                let ttys: Vec<u32> = self
                    .sios
                    .iter()
                    .filter(|(_, s)| matches!(s.kind, Kind::Tty))
                    .map(|(h, _)| *h)
                    .collect();
                for handle in ttys {
                    self.replan(handle);
                }
            }
            Event::Seek(pick) => {
                // The position cell's value moves; no fact changes.
                if let Some(handle) = self.handle_at(pick) {
                    let pending = self.sios[&handle].is_retry_pending;
                    let before = self.fake.actions();
                    self.replan(handle);
                    if !pending {
                        assert_eq!(self.fake.actions(), before, "seek acted");
                    }
                }
            }
            Event::Reown { pick, owner } => {
                if let Some(handle) = self.handle_at(pick) {
                    self.sios.get_mut(&handle).unwrap().owner = owner;
                    self.replan(handle);
                }
            }
            Event::PeerClose(pick) => {
                if let Some(handle) = self.handle_at(pick) {
                    let sio = &self.sios[&handle];
                    if matches!(sio.kind, Kind::Pipe(_)) {
                        let pending = sio.is_retry_pending;
                        let before = self.fake.actions();
                        self.replan(handle);
                        if !pending {
                            assert_eq!(self.fake.actions(), before, "a peer's close acted");
                        }
                    }
                }
            }
            Event::MoveHandle { pick, to } => {
                if let Some(handle) = self.handle_at(pick) {
                    if !self.sios.contains_key(&to) {
                        let sio = self.sios.remove(&handle).unwrap();
                        self.sios.insert(to, sio);
                        self.replan(to);
                    }
                }
            }
        }
    }

    /// Every holder of SIO `id` is revoked and replanned.
    pub(crate) fn revoke(&mut self, id: u64) {
        let holders: Vec<u32> = self
            .sios
            .iter()
            .filter(|(_, s)| s.is_holder && s.id == id && !s.is_revoked)
            .map(|(h, _)| *h)
            .collect();
        for handle in holders {
            self.sios.get_mut(&handle).unwrap().is_revoked = true;
            self.replan(handle);
        }
    }

    /// The invariant, over every slot and block.
    pub(crate) fn check(&self) -> Result<(), TestCaseError> {
        let mut held = BTreeMap::new();
        let mut referenced = BTreeMap::<u64, usize>::new();
        for (&handle, sio) in &self.sios {
            let facts = self.facts(handle, sio);
            let planned = plan(&facts, &self.env);
            for op in Op::ALL {
                let slot_plan = planned.slot(op);
                if *slot_plan == SlotPlan::NotInTable {
                    prop_assert_eq!(sio.routines.target(op), None, "holds a slot it has none");
                    continue;
                }
                let owner = facts.owner.expect("in table");
                let slot = Slot { owner, handle, op };
                held.insert((owner, slot.index()), ());
                let actual = self.fake.slot(slot);
                // Revocation and rights, in code: a revoked holder's slots
                // and a holder's forbidden op never hold a routine.
                let is_allowed = match op {
                    Op::Read => sio.can_read,
                    Op::Write => sio.can_write,
                };
                if sio.is_revoked || (sio.is_holder && !is_allowed) {
                    prop_assert!(
                        matches!(actual, SlotTarget::ErrorStub(_)),
                        "{:?} of a revoked or forbidden holder holds {:?}",
                        slot,
                        actual
                    );
                }
                match (slot_plan, actual) {
                    (SlotPlan::Routine(spec), SlotTarget::Code(address)) => {
                        let block = self.fake.block_at(address);
                        prop_assert!(block.is_some(), "slot points at dead code");
                        let block = block.unwrap();
                        *referenced.entry(address).or_default() += 1;
                        let helper_entry = match spec.helper() {
                            Some(helper) => {
                                let target = rel32_target(&block.holes);
                                prop_assert!(target.is_some(), "{:?}", block.holes);
                                let target = target.unwrap();
                                let trampoline = self.fake.block_at(target);
                                prop_assert_eq!(trampoline.map(|t| t.holes), Some(helper));
                                *referenced.entry(target).or_default() += 1;
                                target
                            }
                            None => 0,
                        };
                        prop_assert_eq!(
                            block.holes,
                            spec.routine(helper_entry),
                            "stale code in {:?}",
                            slot
                        );
                    }
                    (SlotPlan::Routine(_), SlotTarget::Generic) => prop_assert!(
                        sio.is_retry_pending,
                        "{:?} generic though a routine is planned and nothing failed",
                        slot
                    ),
                    (SlotPlan::Generic, SlotTarget::Generic) => {}
                    (SlotPlan::ErrorStub(a), SlotTarget::ErrorStub(b)) if *a == b => {}
                    (planned, actual) => {
                        prop_assert!(
                            false,
                            "{:?} holds {:?}, planned {:?}",
                            slot,
                            actual,
                            planned
                        )
                    }
                }
            }
        }
        for (key, target) in &self.fake.slots {
            prop_assert!(
                held.contains_key(key),
                "slot {:?} of no open SIO holds {:?}",
                key,
                target
            );
        }
        let live: Vec<u64> = self.fake.live.values().map(|b| b.address).collect();
        prop_assert_eq!(
            live.len(),
            referenced.len(),
            "a live block nobody refers to"
        );
        for address in live {
            prop_assert_eq!(referenced.get(&address), Some(&1), "{:#x}", address);
        }
        Ok(())
    }
}
