//! Invariants, events and replugging: the full `breaks` table, the
//! routine-table decisions, and a property test that stale code never stays
//! in a slot.

use proptest::prelude::*;
use sk_synth::templates::{DevNullWriteHoles, RamFileReadHoles, RamFileWriteHoles};
use sk_synth::{
    breaks, instantiate, Access, DeviceKind, ErrorResults, Event, Imm32, Imm64, Instance,
    InstanceId, Invariant, InvariantKind, Rel32Target, Replug, ReplugAction, RoutineTable, Sharer,
    Slot, SlotIndex, Smap, SynthError,
};

const ERRORS: ErrorResults = ErrorResults {
    closed: -9,
    revoked: -13,
};
const NODE: u64 = 1;
const THREAD: u64 = 7;
const HANDLE: u32 = 2;

fn invariants() -> [(&'static str, Invariant); 8] {
    [
        (
            "FileData",
            Invariant::FileData {
                node: NODE,
                generation: 0,
            },
        ),
        (
            "FileCapacity",
            Invariant::FileCapacity {
                node: NODE,
                capacity: 64,
            },
        ),
        (
            "PositionRange",
            Invariant::PositionRange { start: 0, end: 100 },
        ),
        ("SingleOwner", Invariant::SingleOwner { thread: THREAD }),
        ("DeviceKind", Invariant::DeviceKind(DeviceKind::Mem)),
        ("NotShared", Invariant::NotShared),
        ("OpenForRead", Invariant::OpenForRead),
        ("OpenForWrite", Invariant::OpenForWrite),
    ]
}

fn events() -> [Event; 14] {
    [
        Event::Truncated { node: NODE },
        Event::Truncated { node: NODE + 1 },
        Event::Unlinked { node: NODE },
        Event::GrewPastCapacity { node: NODE },
        Event::Shared {
            handle: HANDLE,
            with: Sharer::Thread(THREAD),
        },
        Event::Shared {
            handle: HANDLE,
            with: Sharer::Thread(THREAD + 1),
        },
        Event::Shared {
            handle: HANDLE,
            with: Sharer::Machine(3),
        },
        Event::Seeked {
            handle: HANDLE,
            position: 50,
        },
        Event::Seeked {
            handle: HANDLE,
            position: 101,
        },
        Event::Reconfigured { handle: HANDLE },
        Event::Closed { handle: HANDLE },
        Event::Revoked {
            handle: HANDLE,
            access: Access::Read,
        },
        Event::Revoked {
            handle: HANDLE,
            access: Access::Write,
        },
        Event::Revoked {
            handle: HANDLE,
            access: Access::All,
        },
    ]
}

#[test]
fn breaks_table_for_every_invariant_and_event() {
    // Columns follow `events()`: Tr1 Tr2 Unl Grew ShT7 ShT8 ShM Sk50 Sk101 Rcf Cls RvR RvW RvA
    let expected = [
        ("FileData", "10110000001000"),
        ("FileCapacity", "10010000001000"),
        ("PositionRange", "00000000101000"),
        ("SingleOwner", "00000110001000"),
        ("DeviceKind", "00000000011000"),
        ("NotShared", "00000010001000"),
        ("OpenForRead", "00000000001101"),
        ("OpenForWrite", "00000000001011"),
    ];
    for ((name, invariant), (row_name, row)) in invariants().iter().zip(expected) {
        assert_eq!(*name, row_name);
        let actual: String = events()
            .iter()
            .map(|event| if breaks(invariant, event) { '1' } else { '0' })
            .collect();
        assert_eq!(actual, row, "{name}");
    }
}

#[test]
fn invariant_kinds_match_their_values() {
    let kinds: Vec<InvariantKind> = invariants()
        .iter()
        .map(|(_, invariant)| invariant.kind())
        .collect();
    let names: Vec<String> = kinds.iter().map(|kind| format!("{kind:?}")).collect();
    let expected: Vec<&str> = invariants().iter().map(|(name, _)| *name).collect();
    assert_eq!(names, expected);
}

#[test]
fn slot_index_is_handle_shifted_by_three_or_op() {
    let slot = SlotIndex::new(5, 3).unwrap();
    assert_eq!(slot.get(), 43);
    assert_eq!((slot.handle(), slot.op()), (5, 3));
    assert_eq!(SlotIndex::new(5, 8), None);
    assert_eq!(SlotIndex::new(u32::MAX, 0), None);
}

fn read_instance() -> Instance {
    let holes = RamFileReadHoles {
        data: Imm64(0x1000),
        position_cell: Imm64(0x2000),
        size_cell: Imm64(0x2008),
        bad_address: Imm32(-14),
    };
    instantiate(&holes, 0x10_0000, Smap::Enabled, &mut [0; 256]).unwrap()
}

fn write_instance() -> Instance {
    let holes = RamFileWriteHoles {
        data: Imm64(0x1000),
        capacity: Imm64(64),
        position_cell: Imm64(0x2000),
        size_cell: Imm64(0x2008),
        generic_fallback: Rel32Target(0x10_1000),
        bad_address: Imm32(-14),
    };
    instantiate(&holes, 0x10_0000, Smap::Enabled, &mut [0; 256]).unwrap()
}

fn null_instance() -> Instance {
    instantiate(
        &DevNullWriteHoles {
            bad_address: Imm32(-14),
        },
        0x10_0000,
        Smap::Enabled,
        &mut [0; 64],
    )
    .unwrap()
}

fn file_facts(node: u64, thread: u64) -> Vec<Invariant> {
    vec![
        Invariant::FileData {
            node,
            generation: 0,
        },
        Invariant::FileCapacity { node, capacity: 64 },
        Invariant::SingleOwner { thread },
        Invariant::NotShared,
        Invariant::OpenForRead,
        Invariant::OpenForWrite,
    ]
}

/// Handle 2 with a synthesized read (op 0) and write (op 1).
fn table_with_file() -> (RoutineTable, InstanceId, InstanceId) {
    let mut table = RoutineTable::new(4, ERRORS);
    let (read, _) = table
        .install(HANDLE, 0, &read_instance(), &file_facts(NODE, THREAD))
        .unwrap();
    let (write, _) = table
        .install(HANDLE, 1, &write_instance(), &file_facts(NODE, THREAD))
        .unwrap();
    (table, read, write)
}

fn slot(handle: u32, op: u8) -> SlotIndex {
    SlotIndex::new(handle, op).unwrap()
}

#[test]
fn a_new_table_is_all_generic() {
    let table = RoutineTable::new(3, ERRORS);
    assert_eq!(table.len(), 24);
    assert!(table.slots().iter().all(|s| *s == Slot::Generic));
}

#[test]
fn install_records_invariants_and_retires_the_previous_instance() {
    let (mut table, read, _) = table_with_file();
    assert_eq!(table.slot(slot(HANDLE, 0)), Some(Slot::Synthesized(read)));
    assert_eq!(table.invariants(read).unwrap().len(), 6);
    assert_eq!(table.template_of(read), Some("ram_file_read"));
    let (again, retired) = table
        .install(HANDLE, 0, &read_instance(), &file_facts(NODE, THREAD))
        .unwrap();
    assert_eq!(retired, Some(read));
    assert_ne!(again, read);
    assert_eq!(table.invariants(read), None);
}

#[test]
fn install_refuses_missing_facts_and_bad_slots() {
    let mut table = RoutineTable::new(2, ERRORS);
    let error = table
        .install(0, 0, &read_instance(), &[Invariant::OpenForRead])
        .unwrap_err();
    assert!(matches!(
        error,
        SynthError::MissingInvariant {
            template: "ram_file_read",
            kind: InvariantKind::FileData
        }
    ));
    let error = table.install(
        2,
        0,
        &null_instance(),
        &[
            Invariant::DeviceKind(DeviceKind::Null),
            Invariant::OpenForWrite,
        ],
    );
    assert_eq!(
        error.unwrap_err(),
        SynthError::SlotOutOfRange { handle: 2, op: 0 }
    );
    assert_eq!(
        table.set_generic(0, 9),
        Err(SynthError::SlotOutOfRange { handle: 0, op: 9 })
    );
}

#[test]
fn growing_past_capacity_resynthesizes_both_routines_of_the_file() {
    let (mut table, read, write) = table_with_file();
    let replugs = table.apply(&Event::GrewPastCapacity { node: NODE });
    assert_eq!(
        replugs,
        vec![
            Replug {
                slot: slot(HANDLE, 0),
                retired: Some(read),
                action: ReplugAction::Resynthesize
            },
            Replug {
                slot: slot(HANDLE, 1),
                retired: Some(write),
                action: ReplugAction::Resynthesize
            },
        ]
    );
    assert_eq!(
        table.slot(slot(HANDLE, 0)),
        Some(Slot::Generic),
        "generic until the new routine is installed"
    );
}

#[test]
fn events_on_other_nodes_and_handles_change_nothing() {
    let (mut table, _, _) = table_with_file();
    let before = table.slots().to_vec();
    assert!(table.apply(&Event::Truncated { node: NODE + 1 }).is_empty());
    assert!(
        table.apply(&Event::Closed { handle: HANDLE + 1 }).len() == 8,
        "closing handle 3 stubs its own slots"
    );
    assert!(table
        .apply(&Event::Revoked {
            handle: HANDLE + 1,
            access: Access::All
        })
        .is_empty());
    assert!(
        table.apply(&Event::Closed { handle: 99 }).is_empty(),
        "no such handle"
    );
    assert_eq!(&table.slots()[..24], &before[..24]);
}

#[test]
fn sharing_with_another_thread_sends_slots_to_the_generic_path() {
    let (mut table, read, write) = table_with_file();
    assert!(table
        .apply(&Event::Shared {
            handle: HANDLE,
            with: Sharer::Thread(THREAD)
        })
        .is_empty());
    let replugs = table.apply(&Event::Shared {
        handle: HANDLE,
        with: Sharer::Thread(THREAD + 1),
    });
    assert_eq!(
        replugs.iter().map(|r| r.retired).collect::<Vec<_>>(),
        vec![Some(read), Some(write)]
    );
    assert!(replugs.iter().all(|r| r.action == ReplugAction::Generic));
}

#[test]
fn revoking_write_stubs_only_the_routines_that_bake_it_in() {
    let mut table = RoutineTable::new(4, ERRORS);
    let read_facts = [
        Invariant::FileData {
            node: NODE,
            generation: 0,
        },
        Invariant::SingleOwner { thread: THREAD },
        Invariant::NotShared,
        Invariant::OpenForRead,
    ];
    let (read, _) = table
        .install(HANDLE, 0, &read_instance(), &read_facts)
        .unwrap();
    let (write, _) = table
        .install(HANDLE, 1, &write_instance(), &file_facts(NODE, THREAD))
        .unwrap();
    let replugs = table.apply(&Event::Revoked {
        handle: HANDLE,
        access: Access::Write,
    });
    assert_eq!(
        replugs,
        vec![Replug {
            slot: slot(HANDLE, 1),
            retired: Some(write),
            action: ReplugAction::ErrorStub(-13)
        }]
    );
    assert_eq!(table.slot(slot(HANDLE, 0)), Some(Slot::Synthesized(read)));
    assert_eq!(table.slot(slot(HANDLE, 1)), Some(Slot::ErrorStub(-13)));
}

#[test]
fn closing_stubs_all_eight_slots_once() {
    let (mut table, read, write) = table_with_file();
    let replugs = table.apply(&Event::Closed { handle: HANDLE });
    assert_eq!(replugs.len(), 8);
    assert!(replugs
        .iter()
        .all(|r| r.action == ReplugAction::ErrorStub(-9)));
    let retired: Vec<_> = replugs.iter().filter_map(|r| r.retired).collect();
    assert_eq!(retired, vec![read, write]);
    assert!(
        table.apply(&Event::Closed { handle: HANDLE }).is_empty(),
        "already stubbed"
    );
}

#[test]
fn seeking_out_of_range_and_reconfiguring_resynthesize() {
    let mut table = RoutineTable::new(4, ERRORS);
    let facts = [
        Invariant::DeviceKind(DeviceKind::Null),
        Invariant::OpenForWrite,
        Invariant::PositionRange { start: 0, end: 10 },
    ];
    table.install(HANDLE, 1, &null_instance(), &facts).unwrap();
    assert!(table
        .apply(&Event::Seeked {
            handle: HANDLE,
            position: 10
        })
        .is_empty());
    let replugs = table.apply(&Event::Seeked {
        handle: HANDLE,
        position: 11,
    });
    assert_eq!(replugs[0].action, ReplugAction::Resynthesize);
    table.install(HANDLE, 1, &null_instance(), &facts).unwrap();
    assert_eq!(
        table.apply(&Event::Reconfigured { handle: HANDLE })[0].action,
        ReplugAction::Resynthesize
    );
}

#[derive(Clone, Debug)]
enum Step {
    Install {
        handle: u32,
        op: u8,
        node: u64,
        thread: u64,
    },
    Apply(Event),
}

fn event() -> impl Strategy<Value = Event> {
    let handle = 0u32..4;
    let node = 0u64..3;
    prop_oneof![
        node.clone().prop_map(|node| Event::Truncated { node }),
        node.clone().prop_map(|node| Event::Unlinked { node }),
        node.prop_map(|node| Event::GrewPastCapacity { node }),
        (handle.clone(), 0u64..3).prop_map(|(handle, t)| Event::Shared {
            handle,
            with: Sharer::Thread(t)
        }),
        (handle.clone(), 0u64..3).prop_map(|(handle, m)| Event::Shared {
            handle,
            with: Sharer::Machine(m)
        }),
        (handle.clone(), 0u64..200)
            .prop_map(|(handle, position)| Event::Seeked { handle, position }),
        handle
            .clone()
            .prop_map(|handle| Event::Reconfigured { handle }),
        handle.clone().prop_map(|handle| Event::Closed { handle }),
        (
            handle,
            prop_oneof![Just(Access::Read), Just(Access::Write), Just(Access::All)]
        )
            .prop_map(|(handle, access)| Event::Revoked { handle, access }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u32..4, 0u8..8, 0u64..3, 0u64..3).prop_map(|(handle, op, node, thread)| Step::Install {
            handle,
            op,
            node,
            thread
        }),
        event().prop_map(Step::Apply),
    ]
}

proptest! {
    /// After every step, no slot points at an instance one of whose recorded
    /// invariants was broken by an event applied since it was installed.
    #[test]
    fn stale_code_never_stays_in_a_slot(steps in prop::collection::vec(step(), 0..60)) {
        let mut table = RoutineTable::new(4, ERRORS);
        let mut history: Vec<(InstanceId, u32, Vec<Event>)> = Vec::new();
        let mut retired = std::collections::BTreeSet::new();
        for step in steps {
            match step {
                Step::Install { handle, op, node, thread } => {
                    let mut facts = file_facts(node, thread);
                    facts.push(Invariant::PositionRange { start: 0, end: 100 });
                    let (id, old) = table.install(handle, op, &write_instance(), &facts).unwrap();
                    retired.extend(old);
                    history.push((id, handle, Vec::new()));
                }
                Step::Apply(event) => {
                    for replug in table.apply(&event) {
                        retired.extend(replug.retired);
                    }
                    for (_, handle, events) in &mut history {
                        let in_scope = match event.scope() {
                            sk_synth::Scope::Node(_) => true,
                            sk_synth::Scope::Handle(h) => h == *handle,
                        };
                        if in_scope {
                            events.push(event);
                        }
                    }
                }
            }
            for slot in table.slots() {
                if let Slot::Synthesized(id) = slot {
                    prop_assert!(!retired.contains(id), "retired {:?} still in a slot", id);
                    let facts = table.invariants(*id).unwrap();
                    let (_, _, events) = history.iter().find(|(h, _, _)| h == id).unwrap();
                    for event in events {
                        prop_assert!(!facts.iter().any(|f| breaks(f, event)), "{:?} broken by {:?}", id, event);
                    }
                }
            }
        }
    }
}
