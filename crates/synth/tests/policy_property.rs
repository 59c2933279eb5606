//! Property test of the replug policy over a model world: a few RAM files
//! whose layouts change on random events (growth past capacity, truncate,
//! rename, unlink, free), SIOs of every kind opened and closed with handle
//! reuse (port ends among them), owners with and without tables, use by
//! another thread, tty mode changes, seeks, owner and handle moves, shares
//! with another SMACH (a holder's handle with its rights, in its own
//! tables) and revokes (and the owner's close, which revokes), and install
//! failures injected
//! by the fake mechanism. After every step, for every slot of every table:
//! the code it holds is live and is exactly what `plan(current facts)`
//! specifies (routine and trampoline), generic slots are planned generic
//! (or the SIO's last replan failed), and slots no open SIO holds are
//! generic; every live block is referenced once (no leaks); a revoked
//! holder's slots never hold a routine, and forbidden ops of a holder
//! never do either. Replanning
//! unchanged facts does nothing. At the end, after closing everything, no
//! block is live and every block was retired exactly once.

#[path = "support/fake_mechanism.rs"]
mod fake_mechanism;

#[path = "support/policy_world.rs"]
mod policy_world;

use policy_world::*;
use proptest::prelude::*;
use sk_synth::policy::Op;

fn failures() -> impl Strategy<Value = Vec<bool>> {
    prop_oneof![
        2 => Just(Vec::new()),
        3 => prop::collection::vec(prop::bool::weighted(0.2), 1..24),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn slots_always_match_the_plan_and_blocks_retire_once(
        is_enabled in prop::bool::weighted(0.9),
        fail in failures(),
        events in prop::collection::vec(event(), 1..64),
    ) {
        let mut world = World::new(is_enabled, fail);
        for event in &events {
            world.apply(event);
            world.check().map_err(|e| TestCaseError::fail(format!("after {event:?}: {e}")))?;
        }
        let handles: Vec<u32> = world.sios.keys().copied().collect();
        for handle in handles {
            let sio = world.sios.remove(&handle).unwrap();
            sio.routines.close(&mut world.fake);
        }
        prop_assert!(world.fake.live.is_empty(), "blocks left live: {:?}", world.fake.live);
        prop_assert!(world.fake.slots.is_empty(), "slots left: {:?}", world.fake.slots);
        prop_assert_eq!(world.fake.retired.len(), world.fake.installs);
    }
}

/// The property test's world exercises every routine template and the
/// trampoline (all instantiated; a sample verified), and both failure paths.
#[test]
fn the_model_world_produces_every_routine() {
    // Install calls: file 0 read 0, trampoline 1, write 2 (fails: the
    // trampoline is retired); null 3, zero 4, mem 5, tty 6 (raw), 7 (cooked,
    // after the mode change); file 1 read 8, trampoline 9, write 10; after
    // growth read 11, trampoline 12 (fails).
    let mut fail = vec![false; 16];
    fail[2] = true;
    fail[12] = true;
    let mut world = World::new(true, fail);
    let open = |kind, can_write| Event::Open {
        kind,
        can_read: true,
        can_write,
        is_append: false,
        owner: Some(1),
    };
    world.apply(&Event::TtyMode(true));
    for event in [
        open(Kind::File(0), true),
        Event::Close(0),
        open(Kind::Null, true),
        open(Kind::Zero, false),
        open(Kind::Mem, false),
        open(Kind::Tty, true),
        // Raw -> cooked: tty_write replugged by the collapsed tty_write_cooked.
        Event::TtyMode(false),
        Event::Close(0),
        open(Kind::File(1), true),
        Event::Grow {
            file: 1,
            moves: true,
        },
        // Frees handle 1 (the table covers 0..4) for the semaphore.
        Event::Close(1),
        open(Kind::Semaphore, true),
        // Shared by another thread: a semaphore keeps its routines.
        Event::Use { pick: 1, thread: 3 },
        // Handles 2 and 3 for the two ends of a pipe.
        Event::Close(2),
        Event::Close(2),
        open(Kind::Pipe(true), false),
        Event::Open {
            kind: Kind::Pipe(false),
            can_read: false,
            can_write: true,
            is_append: false,
            owner: Some(1),
        },
        Event::PeerClose(2),
    ] {
        world.apply(&event);
        world.check().unwrap();
    }
    let expected = [
        "dev_mem_read",
        "dev_null_write",
        "dev_zero_read",
        "generic_trampoline",
        "pipe_read",
        "pipe_write",
        "ram_file_read",
        "ram_file_write",
        "semaphore_p",
        "semaphore_v",
        "tty_write",
        "tty_write_cooked",
    ];
    assert_eq!(
        world.fake.templates.iter().copied().collect::<Vec<_>>(),
        expected
    );
    let semaphore = &world.sios[&1];
    assert!(matches!(semaphore.kind, Kind::Semaphore) && semaphore.is_shared);
    assert!(
        semaphore.routines.installed(Op::Read).is_some()
            && semaphore.routines.installed(Op::Write).is_some(),
        "a shared semaphore keeps its P and V"
    );
    let pipes: Vec<&Sio> = world
        .sios
        .values()
        .filter(|s| matches!(s.kind, Kind::Pipe(_)))
        .collect();
    assert_eq!(pipes.len(), 2, "both ends open");
    assert!(pipes
        .iter()
        .all(|s| s.routines.installed(Op::Read).is_some()
            || s.routines.installed(Op::Write).is_some()));
    assert!(world.fake.verified > 0);
    assert_eq!(world.fake.install_calls - world.fake.installs, 2);
    assert!(world.sios.values().any(|s| s.is_retry_pending));
}
