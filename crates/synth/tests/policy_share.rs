//! The replug policy for ports and for sharing with another SMACH and
//! revocation (split from `policy.rs`, whose helpers it shares).

#[path = "support/fake_mechanism.rs"]
mod fake_mechanism;
#[path = "support/policy_common.rs"]
mod policy_common;

use policy_common::*;
use sk_synth::policy::{plan, Env, Op, RoutineSpec, SioFacts, SioTarget, SlotPlan, SlotTarget};
use sk_synth::{Imm32, Imm64};

fn port(is_receive_end: bool) -> SioTarget {
    SioTarget::Port(sk_synth::policy::PortFacts {
        is_receive_end,
        cells: 0xffff_8000_0030_0000,
        slots: 0xffff_8000_0030_1000,
        slot_stride: 72,
        capacity: 16,
    })
}

// ---- sharing with another SMACH, and revocation ---------------------------

fn holder(target: SioTarget, can_read: bool, can_write: bool) -> SioFacts {
    with(facts(target), |f| {
        f.is_holder = true;
        f.is_shared = true;
        f.can_read = can_read;
        f.can_write = can_write;
    })
}

#[test]
fn a_port_end_gets_its_own_op_shared_or_not() {
    let env = env();
    let receive = SioFacts {
        can_write: false,
        ..facts(port(true))
    };
    let send = SioFacts {
        can_read: false,
        ..facts(port(false))
    };
    assert_eq!(names(&plan(&receive, &env)), ("port_receive", "generic"));
    assert_eq!(names(&plan(&send, &env)), ("generic", "port_send"));
    // The queue is multi-producer multi-consumer: sharing changes nothing.
    let shared = SioFacts {
        is_shared: true,
        ..send
    };
    assert_eq!(names(&plan(&shared, &env)), ("generic", "port_send"));
    let SlotPlan::Routine(RoutineSpec::PortReceive(holes)) = plan(&receive, &env).read else {
        panic!("no receive routine");
    };
    assert_eq!(holes.mask, Imm32(15));
    assert_eq!(holes.capacity, Imm32(16));
    assert_eq!(holes.slot_stride, Imm32(72));
    assert_eq!(
        holes.call_word,
        Imm32((5 << 3) | i32::from(sk_abi::Call::Read.number()))
    );
    assert_eq!(holes.cells, Imm64(0xffff_8000_0030_0000));
    // A queue whose shape does not fit the Imm32 holes stays generic.
    let huge = SioFacts {
        target: SioTarget::Port(sk_synth::policy::PortFacts {
            is_receive_end: false,
            cells: 0,
            slots: 0,
            slot_stride: 1 << 40,
            capacity: 16,
        }),
        ..send
    };
    assert_eq!(names(&plan(&huge, &env)), ("generic", "generic"));
    // No table: nothing stored.
    let off = Env {
        is_enabled: false,
        ..env
    };
    assert_eq!(names(&plan(&send, &off)), ("-", "-"));
}

#[test]
fn a_holder_gets_its_rights_in_code_and_read_only_stays_read_only() {
    let semaphore = SioTarget::Semaphore { cell: 0x9000 };
    assert_eq!(
        names_of(&holder(semaphore, true, true)),
        ("semaphore_p", "semaphore_v")
    );
    let read_only = plan(&holder(semaphore, true, false), &env());
    assert_eq!(read_only.read, plan(&facts(semaphore), &env()).read);
    assert_eq!(read_only.write, SlotPlan::ErrorStub(-18));
    // Other kinds are generic once shared; a forbidden op is a stub.
    let file = plan(&holder(SioTarget::File(file(0)), true, false), &env());
    assert_eq!(file.read, SlotPlan::Generic);
    assert_eq!(file.write, SlotPlan::ErrorStub(-18));
    let write_only = plan(&holder(SioTarget::Null, false, true), &env());
    assert_eq!(write_only.read, SlotPlan::ErrorStub(-18));
    // The owner's own op it did not open for stays generic, as before.
    let owner = with(facts(SioTarget::Zero), |f| f.can_write = false);
    assert_eq!(names_of(&owner), ("dev_zero_read", "generic"));
}

#[test]
fn a_revoked_holder_has_error_stubs_in_both_slots_whatever_the_kind() {
    for target in [
        SioTarget::Null,
        SioTarget::Zero,
        MEM,
        tty(true),
        SioTarget::File(file(0)),
        SioTarget::Dir,
        SioTarget::Semaphore { cell: 0x9000 },
        pipe(true),
    ] {
        for (can_read, can_write) in [(true, true), (true, false), (false, true)] {
            let revoked = with(holder(target, can_read, can_write), |f| {
                f.is_revoked = true;
            });
            let planned = plan(&revoked, &env());
            assert_eq!(planned.read, SlotPlan::ErrorStub(-28), "{target:?}");
            assert_eq!(planned.write, SlotPlan::ErrorStub(-28), "{target:?}");
            // Past the table there is no slot: the generic path says so.
            let far = with(revoked, |f| f.handle = 64);
            assert_eq!(names_of(&far), ("-", "-"));
        }
    }
}

#[test]
fn revoke_replugs_a_holders_routines_to_the_stub_and_close_frees_them() {
    let mut one = One::open(SioTarget::Semaphore { cell: 0x9000 });
    one.event(|f| {
        f.is_holder = true;
        f.is_shared = true;
    });
    assert_eq!(one.template(Op::Read), Some("semaphore_p"));
    let live = one.fake.live.len();
    assert_eq!(live, 2);
    let (installs, stores, retires) = one.event(|f| f.is_revoked = true);
    assert_eq!((installs, stores, retires), (0, 2, 2));
    assert_eq!(one.slot(Op::Read), SlotTarget::ErrorStub(-28));
    assert_eq!(one.slot(Op::Write), SlotTarget::ErrorStub(-28));
    // Revoke twice: nothing to do.
    assert_eq!(one.event(|f| f.is_revoked = true), (0, 0, 0));
    std::mem::take(&mut one.routines).close(&mut one.fake);
    assert!(one.fake.slots.is_empty() && one.fake.live.is_empty());
}
