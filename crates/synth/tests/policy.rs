//! The replug policy, unit by unit: `plan` for every kind and flag (today's
//! kernel rules), what `replan` does on each event (the module doc's
//! table), install failures, close and handle reuse, the thread entry.
//! The fake mechanism checks every action it is asked for.

#[path = "support/fake_mechanism.rs"]
mod fake_mechanism;
#[path = "support/policy_common.rs"]
mod policy_common;

use policy_common::*;

use fake_mechanism::Fake;
use sk_synth::policy::{
    initial_slot, plan, Env, FileFacts, Op, RoutineSpec, SioPlan, SioRoutines, SioTarget, Slot,
    SlotPlan, SlotTarget, ThreadEntryPlan,
};
use sk_synth::templates::EntryStubHoles;
use sk_synth::{instantiate, verify_instance, Imm32, Imm64, Invariant, InvariantKind, Smap};

// ---- plan: kinds and flags ----------------------------------------------

#[test]
fn each_kind_read_write_gets_todays_routines() {
    let cases = [
        (SioTarget::Null, ("generic", "dev_null_write")),
        (SioTarget::Zero, ("dev_zero_read", "generic")),
        (MEM, ("dev_mem_read", "generic")),
        (tty(true), ("generic", "tty_write")),
        (tty(false), ("generic", "tty_write_cooked")),
        (
            SioTarget::File(file(0)),
            ("ram_file_read", "ram_file_write"),
        ),
        (SioTarget::Dir, ("generic", "generic")),
        (pipe(true), ("pipe_read", "generic")),
        (pipe(false), ("generic", "pipe_write")),
    ];
    for (target, expected) in cases {
        assert_eq!(names_of(&facts(target)), expected, "{target:?}");
    }
}

#[test]
fn an_op_not_opened_for_stays_generic() {
    let read_only = |t| with(facts(t), |f| f.can_write = false);
    let write_only = |t| with(facts(t), |f| f.can_read = false);
    assert_eq!(
        names_of(&read_only(SioTarget::Null)),
        ("generic", "generic")
    );
    assert_eq!(
        names_of(&write_only(SioTarget::Zero)),
        ("generic", "generic")
    );
    assert_eq!(names_of(&write_only(MEM)), ("generic", "generic"));
    assert_eq!(names_of(&read_only(tty(true))), ("generic", "generic"));
    let file = SioTarget::File(file(0));
    assert_eq!(names_of(&read_only(file)), ("ram_file_read", "generic"));
    assert_eq!(names_of(&write_only(file)), ("generic", "ram_file_write"));
}

#[test]
fn append_mode_file_writes_stay_generic() {
    let append = with(facts(SioTarget::File(file(0))), |f| f.is_append = true);
    assert_eq!(names_of(&append), ("ram_file_read", "generic"));
}

#[test]
fn an_unlinked_file_is_all_generic() {
    let mut gone = file(1);
    gone.is_unlinked = true;
    assert_eq!(
        names_of(&facts(SioTarget::File(gone))),
        ("generic", "generic")
    );
}

#[test]
fn a_shared_sio_is_all_generic() {
    for target in [
        SioTarget::Null,
        SioTarget::Zero,
        MEM,
        tty(true),
        SioTarget::File(file(0)),
        pipe(true),
        pipe(false),
    ] {
        let shared = with(facts(target), |f| f.is_shared = true);
        assert_eq!(names_of(&shared), ("generic", "generic"), "{target:?}");
    }
}

#[test]
fn handles_past_the_table_and_ownerless_sios_have_no_slot() {
    let file = SioTarget::File(file(0));
    let last = with(facts(file), |f| f.handle = 63);
    assert_eq!(names_of(&last), ("ram_file_read", "ram_file_write"));
    for beyond in [64, 65, u32::MAX] {
        let far = with(facts(file), |f| f.handle = beyond);
        assert_eq!(names_of(&far), ("-", "-"), "handle {beyond}");
    }
    assert_eq!(names_of(&with(facts(file), |f| f.owner = None)), ("-", "-"));
    let off = Env {
        is_enabled: false,
        ..env()
    };
    assert_eq!(names(&plan(&facts(file), &off)), ("-", "-"));
}

#[test]
fn a_mem_window_too_large_for_the_template_stays_generic() {
    let big = SioTarget::Mem {
        base: 0x1000,
        window_bytes: 1 << 31,
    };
    assert_eq!(names_of(&facts(big)), ("generic", "generic"));
}

#[test]
fn a_pipe_ring_the_templates_cannot_bake_in_stays_generic() {
    let ring = |capacity: u64, atomic_bytes: u64| {
        let SioTarget::Pipe {
            buffer,
            produced_cell,
            consumed_cell,
            wait_cell,
            ..
        } = pipe(true)
        else {
            unreachable!()
        };
        SioTarget::Pipe {
            is_read_end: true,
            buffer,
            capacity,
            atomic_bytes,
            produced_cell,
            consumed_cell,
            wait_cell,
        }
    };
    assert_eq!(names_of(&facts(ring(1 << 31, 4096))).0, "pipe_read");
    for (capacity, atomic_bytes) in [(1 << 32, 4096), (12_288, 4096), (4096, 8192), (4096, 0)] {
        assert_eq!(
            names_of(&facts(ring(capacity, atomic_bytes))).0,
            "generic",
            "{capacity} {atomic_bytes}"
        );
    }
}

#[test]
fn pipe_hole_values_come_from_the_ring() {
    let SlotPlan::Routine(RoutineSpec::PipeRead(r)) = plan(&facts(pipe(true)), &env()).read else {
        panic!()
    };
    assert_eq!(
        (r.buffer, r.mask, r.max_len),
        (Imm64(0xffff_8000_0300_0000), Imm32(0x3fff), Imm32(4096))
    );
    assert_eq!(
        (r.produced, r.consumed, r.wait),
        (
            Imm64(0xffff_8000_0200_0000),
            Imm64(0xffff_8000_0200_0040),
            Imm64(0xffff_8000_0200_0080)
        )
    );
    assert_eq!(
        (r.bad_address, r.slow_path),
        (Imm32(-14), Imm64(env().slow_path))
    );
    let SlotPlan::Routine(RoutineSpec::PipeWrite(w)) = plan(&facts(pipe(false)), &env()).write
    else {
        panic!()
    };
    assert_eq!(
        (w.buffer, w.mask, w.produced, w.consumed, w.wait, w.max_len),
        (r.buffer, r.mask, r.produced, r.consumed, r.wait, r.max_len)
    );
}

#[test]
fn hole_values_come_from_the_facts() {
    let p = plan(&facts(SioTarget::File(file(4))), &env());
    let SlotPlan::Routine(RoutineSpec::RamFileWrite {
        write,
        fallback,
        file: basis,
    }) = p.write
    else {
        panic!("{p:?}");
    };
    assert_eq!(write.data, Imm64(file(4).data_addr));
    assert_eq!(write.capacity, Imm64(4096));
    assert_eq!(write.position_cell, Imm64(POSITION));
    assert_eq!(write.size_cell, Imm64(file(4).size_cell));
    assert_eq!(write.bad_address, Imm32(-14));
    assert_eq!(fallback.handle, Imm32(5));
    assert_eq!(fallback.op, Imm32(5)); // sk_abi::Call::Write
    assert_eq!(fallback.generic_entry, Imm64(env().generic_entry));
    assert_eq!((basis.node, basis.generation), (3, 4));
    let SlotPlan::Routine(RoutineSpec::DevMemRead(mem)) = plan(&facts(MEM), &env()).read else {
        panic!()
    };
    assert_eq!(
        (mem.base, mem.window_size, mem.position_cell),
        (Imm64(0xffff_8000_0009_0000), Imm32(0x1000), Imm64(POSITION))
    );
    let SlotPlan::Routine(RoutineSpec::TtyWrite(t)) = plan(&facts(tty(true)), &env()).write else {
        panic!()
    };
    assert_eq!(
        (t.data_port, t.line_status_port),
        (Imm32(0x3f8), Imm32(0x3fd))
    );
    let SlotPlan::Routine(RoutineSpec::TtyWriteCooked(c)) = plan(&facts(tty(false)), &env()).write
    else {
        panic!()
    };
    assert_eq!(
        (c.data_port, c.line_status_port, c.max_len),
        (Imm32(0x3f8), Imm32(0x3fd), t.max_len)
    );
}

#[test]
fn every_spec_names_exactly_the_facts_its_template_declares() {
    let mut seen = 0;
    for target in [
        SioTarget::Null,
        SioTarget::Zero,
        MEM,
        tty(true),
        tty(false),
        SioTarget::File(file(2)),
        pipe(true),
        pipe(false),
    ] {
        let p = plan(&facts(target), &env());
        for slot in [p.read, p.write] {
            let SlotPlan::Routine(spec) = slot else {
                continue;
            };
            let invariants = spec.invariants(OWNER);
            let mut named: Vec<InvariantKind> = invariants.iter().map(Invariant::kind).collect();
            let mut declared = spec.template().invariants.to_vec();
            named.sort();
            declared.sort();
            assert_eq!(named, declared, "{}", spec.template().name);
            if spec
                .template()
                .invariants
                .contains(&InvariantKind::SingleOwner)
            {
                assert!(invariants.contains(&Invariant::SingleOwner { thread: OWNER }));
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 9, "every SIO routine template");
}

// ---- replan: events --------------------------------------------------------

#[test]
fn open_installs_the_trampoline_then_the_write_and_stores_both_slots() {
    let one = One::open(SioTarget::File(file(0)));
    assert_eq!(one.fake.installs, 3);
    assert_eq!(one.fake.stores, 2);
    assert_eq!(one.template(Op::Read), Some("ram_file_read"));
    assert_eq!(one.template(Op::Write), Some("ram_file_write"));
    let write = one.routines.installed(Op::Write).unwrap();
    assert!(write.helper().is_some());
    assert_eq!(one.slot(Op::Write), SlotTarget::Code(write.entry()));
}

#[test]
fn growth_past_capacity_resynthesizes_read_and_write() {
    let mut one = One::open(SioTarget::File(file(0)));
    let old = one.routines.installed(Op::Write).unwrap().entry();
    let counts = one.event(|f| {
        let SioTarget::File(file) = &mut f.target else {
            unreachable!()
        };
        file.capacity = 8192;
        file.data_addr += 0x10_0000;
        file.generation += 1;
    });
    assert_eq!(counts, (3, 2, 3), "install 3, store 2, retire 3");
    assert_ne!(one.slot(Op::Write), SlotTarget::Code(old));
    let spec = *one.routines.installed(Op::Write).unwrap().spec();
    assert!(
        matches!(spec, RoutineSpec::RamFileWrite { write, .. } if write.capacity == Imm64(8192))
    );
}

#[test]
fn truncate_resynthesizes_even_with_the_same_layout() {
    let mut one = One::open(SioTarget::File(file(0)));
    assert_eq!(one.event(|_| ()), (0, 0, 0));
    one.file().generation += 1;
    assert_eq!(one.event(|_| ()), (3, 2, 3));
}

#[test]
fn unlink_sends_both_slots_generic_for_good() {
    let mut one = One::open(SioTarget::File(file(0)));
    one.file().is_unlinked = true;
    one.file().generation += 1;
    assert_eq!(one.event(|_| ()), (0, 2, 3));
    assert_eq!(one.slot(Op::Read), SlotTarget::Generic);
    assert_eq!(one.slot(Op::Write), SlotTarget::Generic);
    // Freed: the layout is gone (reported as unlinked); still nothing to do.
    *one.file() = FileFacts {
        node: 3,
        data_addr: 0,
        capacity: 0,
        size_cell: 0,
        generation: 9,
        is_unlinked: true,
    };
    assert_eq!(one.event(|_| ()), (0, 0, 0));
    assert!(one.fake.live.is_empty());
}

#[test]
fn use_by_a_second_thread_sends_every_slot_generic_for_good() {
    for target in [
        SioTarget::Null,
        SioTarget::Zero,
        MEM,
        tty(true),
        SioTarget::File(file(0)),
        pipe(true),
        pipe(false),
    ] {
        let mut one = One::open(target);
        let live = one.fake.live.len();
        let (installs, stores, retires) = one.event(|f| f.is_shared = true);
        assert_eq!((installs, retires), (0, live), "{target:?}");
        assert!(stores >= 1);
        assert_eq!(one.slot(Op::Read), SlotTarget::Generic);
        assert_eq!(one.slot(Op::Write), SlotTarget::Generic);
        // A later layout change or mode change brings nothing back.
        assert_eq!(one.event(|f| f.can_read = true), (0, 0, 0));
    }
}

#[test]
fn tty_mode_change_replugs_raw_and_cooked_writes() {
    let mut one = One::open(tty(false));
    assert_eq!(one.template(Op::Write), Some("tty_write_cooked"));
    assert_eq!(one.event(|f| f.target = tty(true)), (1, 1, 1));
    assert_eq!(one.template(Op::Write), Some("tty_write"));
    assert_eq!(one.event(|f| f.target = tty(false)), (1, 1, 1));
    assert_eq!(one.template(Op::Write), Some("tty_write_cooked"));
    // Echo is input processing: the facts the write plans on do not change.
    assert_eq!(one.event(|_| ()), (0, 0, 0));
}

#[test]
fn seek_changes_nothing() {
    // The position lives in a cell both paths share; a seek moves the value,
    // not the cell, so the facts (and the plan) are the same.
    for target in [MEM, SioTarget::File(file(0))] {
        let mut one = One::open(target);
        assert_eq!(one.event(|_| ()), (0, 0, 0));
    }
}

#[test]
fn a_pipe_end_keeps_its_routine_when_the_other_end_closes() {
    // The close sets a closed bit in the ring's wait word, which both
    // routines read on every call: no fact changes, nothing is replugged.
    let mut one = One::open(pipe(false));
    assert_eq!(one.template(Op::Write), Some("pipe_write"));
    assert_eq!(one.slot(Op::Read), SlotTarget::Generic);
    assert_eq!(one.event(|_| ()), (0, 0, 0));
    // Closing this end retires its routine.
    let routines = std::mem::take(&mut one.routines);
    routines.close(&mut one.fake);
    assert!(one.fake.live.is_empty());
    assert!(one.fake.slots.is_empty());
}

#[test]
fn close_sends_slots_generic_and_retires_everything() {
    let mut one = One::open(SioTarget::File(file(0)));
    let routines = std::mem::take(&mut one.routines);
    routines.close(&mut one.fake);
    assert!(one.fake.live.is_empty());
    assert!(one.fake.slots.is_empty());
    assert_eq!(one.fake.retires, 3);
}

#[test]
fn handle_reuse_after_close_starts_from_generic_slots() {
    let mut one = One::open(SioTarget::File(file(0)));
    std::mem::take(&mut one.routines).close(&mut one.fake);
    // Another SIO (a directory) on the same handle: nothing to store.
    one.facts = facts(SioTarget::Dir);
    assert_eq!(one.event(|_| ()), (0, 0, 0));
    assert_eq!(one.slot(Op::Read), SlotTarget::Generic);
    assert_eq!(one.slot(Op::Write), SlotTarget::Generic);
}

#[test]
fn owner_or_handle_change_moves_the_slots() {
    let mut one = One::open(SioTarget::Null);
    let old = Slot {
        owner: OWNER,
        handle: 5,
        op: Op::Write,
    };
    assert_eq!(one.event(|f| f.owner = Some(OWNER + 1)), (1, 2, 1));
    assert_eq!(one.fake.slot(old), SlotTarget::Generic);
    assert_eq!(one.template(Op::Write), Some("dev_null_write"));
    assert_eq!(one.event(|f| f.handle = 9), (1, 2, 1));
    assert_eq!(one.fake.slots.len(), 1);
    assert_eq!(one.template(Op::Write), Some("dev_null_write"));
    // Past the table: the old slot is left generic, nothing held.
    assert_eq!(one.event(|f| f.handle = 64), (0, 1, 1));
    assert!(one.fake.slots.is_empty() && one.fake.live.is_empty());
    assert_eq!(one.routines.target(Op::Write), None);
}

// ---- install failures ------------------------------------------------------

#[test]
fn a_failed_install_leaves_the_slot_generic_and_the_next_replan_retries() {
    let mut one = One {
        fake: Fake::new([OWNER]),
        facts: facts(SioTarget::File(file(0))),
        routines: SioRoutines::new(),
    };
    // The read installs; the trampoline installs, then the write fails.
    one.fake.fail = vec![false, false, true];
    assert!(one.replan().is_err());
    assert_eq!(one.template(Op::Read), Some("ram_file_read"));
    assert_eq!(one.slot(Op::Write), SlotTarget::Generic);
    assert_eq!(
        one.fake.live.len(),
        1,
        "the orphaned trampoline was retired"
    );
    one.fake.fail.clear();
    assert_eq!(one.event(|_| ()), (2, 1, 0));
    assert_eq!(one.template(Op::Write), Some("ram_file_write"));
}

#[test]
fn a_failed_resynthesis_never_leaves_stale_code() {
    let mut one = One::open(SioTarget::File(file(0)));
    one.fake.fail = vec![true];
    one.file().generation += 1;
    assert!(one.replan().is_err());
    assert_eq!(one.slot(Op::Read), SlotTarget::Generic);
    assert_eq!(one.slot(Op::Write), SlotTarget::Generic);
    assert!(one.fake.live.is_empty(), "old code retired");
}

// ---- error stubs (not planned today) ----------------------------------------

#[test]
fn an_error_stub_plan_replaces_code_and_back() {
    let mut one = One::open(SioTarget::Zero);
    let code = plan(&one.facts, &env());
    let stub = SioPlan {
        read: SlotPlan::ErrorStub(-9),
        write: SlotPlan::Generic,
    };
    one.routines
        .apply(&stub, Some(OWNER), 5, &mut one.fake)
        .unwrap();
    assert_eq!(one.slot(Op::Read), SlotTarget::ErrorStub(-9));
    assert!(one.fake.live.is_empty());
    one.routines
        .apply(&code, Some(OWNER), 5, &mut one.fake)
        .unwrap();
    assert_eq!(one.template(Op::Read), Some("dev_zero_read"));
    std::mem::take(&mut one.routines).close(&mut one.fake);
    assert!(one.fake.slots.is_empty() && one.fake.live.is_empty());
}

// ---- the thread entry -----------------------------------------------------

#[test]
fn the_entry_stub_plan_fills_every_hole_from_the_env() {
    let entry = ThreadEntryPlan::new(
        0xffff_8000_0040_0000,
        0xffff_8000_0050_0000,
        0xffff_8000_0050_1000,
        &env(),
    );
    assert_eq!(entry.table_slots, 512);
    assert_eq!(
        entry.stub,
        EntryStubHoles {
            kernel_stack_top: Imm64(0xffff_8000_0040_0000),
            table_len: Imm32(512),
            index_mask: Imm32(511),
            table: Imm64(0xffff_8000_0050_0000),
            stackful_table: Imm64(0xffff_8000_0050_1000),
            slow_path: Imm64(env().slow_path),
        }
    );
    let mut bytes = [0u8; 256];
    let stub = instantiate(
        &entry.stub,
        0xffff_b000_0000_0000,
        Smap::Enabled,
        &mut bytes,
    )
    .unwrap();
    verify_instance(&stub, &bytes[..stub.size()]).unwrap();
    let largest = ThreadEntryPlan::new(
        0,
        0,
        0,
        &Env {
            table_handles: u16::MAX,
            ..env()
        },
    );
    // 65,535 handles' 524,280 slots round up to 2^19: the mask covers
    // the whole (rounded) table and nothing past it.
    assert_eq!(largest.stub.table_len, Imm32(1 << 19));
    assert_eq!(largest.stub.index_mask, Imm32((1 << 19) - 1));
    assert_eq!(largest.table_slots, 1 << 19);
    // Any handle count: a power of two, at least the handles' slots.
    for handles in [1u16, 3, 63, 64, 65, 1000, u16::MAX] {
        let env = Env {
            table_handles: handles,
            ..env()
        };
        let slots = env.table_slots();
        assert!(slots.is_power_of_two() && slots >= u32::from(handles) * 8);
        assert_eq!(env.index_mask(), slots - 1);
    }
}

#[test]
fn a_new_table_is_generic_but_for_the_null_call_and_the_yield() {
    let with_yield = Env {
        yield_routine: Some(0xffff_ffff_c000_1000),
        ..env()
    };
    let off = Env {
        is_enabled: false,
        ..with_yield
    };
    for handle in 0..64u64 {
        for op in 0..8u64 {
            let index = handle << 3 | op;
            let expected = if op == 6 {
                SlotTarget::ErrorStub(0)
            } else {
                SlotTarget::Generic
            };
            assert_eq!(initial_slot(index, &env()), expected);
            assert_eq!(initial_slot(index, &off), expected);
            // Only `reconfigure` (op 2) on handle 0 (the SMACH itself).
            let expected = if handle == 0 && op == 2 {
                SlotTarget::Code(0xffff_ffff_c000_1000)
            } else {
                expected
            };
            assert_eq!(initial_slot(index, &with_yield), expected);
        }
    }
}
