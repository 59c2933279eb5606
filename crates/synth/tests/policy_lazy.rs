//! Lazy synthesis (`policy::lazy`): the gate over `plan()` and the SIO's
//! call record, as the kernel drives them (replan at open; one
//! `note_generic` per call on the generic path; a replan when it says so).
//!
//! Properties, over every kind, random modes and costs and random call
//! and event sequences: a slot never holds a routine before its op's `K`-th
//! generic call, always holds it right after; once synthesized, the slots
//! are exactly what `plan()` says whatever the facts do (the replug rules
//! unchanged); `K` is monotone in the costs (more synthesis cost, later;
//! more saving, sooner); `off` is eager.

#[path = "support/fake_mechanism.rs"]
mod fake_mechanism;

#[path = "support/policy_common.rs"]
mod policy_common;

use fake_mechanism::{Fake, FakeBlock};
use policy_common::*;
use proptest::prelude::*;
use sk_synth::policy::lazy::{RoutineCosts, DEFAULT_COSTS};
use sk_synth::policy::{
    plan, Lazy, LazyMode, Op, PortFacts, RoutineKind, SioFacts, SioRoutines, SioTarget, Slot,
    SlotPlan, SlotTarget,
};

/// Every kind of target with a routine for some op.
fn targets() -> Vec<SioTarget> {
    vec![
        SioTarget::Null,
        SioTarget::Zero,
        MEM,
        tty(true),
        tty(false),
        SioTarget::File(file(1)),
        SioTarget::Semaphore {
            cell: 0xffff_8000_0400_0000,
        },
        pipe(true),
        pipe(false),
        SioTarget::Port(PortFacts {
            is_receive_end: true,
            cells: 0xffff_8000_0500_0000,
            slots: 0xffff_8000_0500_1000,
            slot_stride: 64,
            capacity: 64,
        }),
        SioTarget::Port(PortFacts {
            is_receive_end: false,
            cells: 0xffff_8000_0500_0000,
            slots: 0xffff_8000_0500_1000,
            slot_stride: 64,
            capacity: 64,
        }),
        SioTarget::Dir,
    ]
}

/// Costs chosen by the test: leaked once per case (the table is `'static`).
fn table(costs: [RoutineCosts; RoutineKind::COUNT]) -> &'static [RoutineCosts; RoutineKind::COUNT] {
    Box::leak(Box::new(costs))
}

fn costs() -> impl Strategy<Value = RoutineCosts> {
    (0..5_000_u32, 0..3_000_u32, 0..3_000_u32).prop_map(
        |(synthesis, generic_call, synthesized_call)| RoutineCosts {
            synthesis,
            generic_call,
            synthesized_call,
        },
    )
}

fn mode() -> impl Strategy<Value = LazyMode> {
    prop_oneof![
        Just(LazyMode::Off),
        Just(LazyMode::Auto),
        (0..6_u32).prop_map(LazyMode::Fixed),
    ]
}

/// What happens to the SIO.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A call of the op on the generic path (only when its slot is generic).
    Call(Op),
    /// The file's layout changes (a new generation; growth moves the data).
    Relayout,
    /// A tty mode change.
    TtyMode,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop_oneof![Just(Op::Read), Just(Op::Write)].prop_map(Step::Call),
        1 => Just(Step::Relayout),
        1 => Just(Step::TtyMode),
    ]
}

/// One SIO driven as the kernel drives it.
struct Driven {
    fake: Fake,
    facts: SioFacts,
    routines: SioRoutines<FakeBlock>,
    lazy: Lazy,
}

impl Driven {
    /// Opens it; `defer`: as the kernel does when [`Lazy::defers_open`],
    /// no plan at open, the first generic call replans.
    fn open(target: SioTarget, lazy: Lazy, defer: bool) -> Self {
        let mut d = Self {
            fake: Fake::new([OWNER]),
            facts: facts(target),
            routines: SioRoutines::new(),
            lazy,
        };
        if defer && lazy.defers_open() {
            d.routines.usage = sk_synth::policy::Usage::due_at_first_call();
        } else {
            d.replan();
        }
        d
    }

    /// Replans; an injected install failure leaves the slot generic.
    fn replan(&mut self) {
        let _ = self
            .routines
            .replan_lazily(&self.facts, &env(), &self.lazy, &mut self.fake);
    }

    fn slot(&self, op: Op) -> SlotTarget {
        self.fake.slot(Slot {
            owner: OWNER,
            handle: self.facts.handle,
            op,
        })
    }

    /// The routine `plan()` wants for `op`, if any.
    fn wanted(&self, op: Op) -> Option<RoutineKind> {
        match plan(&self.facts, &env()).slot(op) {
            SlotPlan::Routine(spec) => Some(spec.kind()),
            _ => None,
        }
    }

    /// A generic call of `op`, as `sio_calls::with_sio` makes it.
    fn call(&mut self, op: Op) {
        if self.routines.usage.note_generic(op) {
            self.replan();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    /// Never before `K`, always by `K`, sticky after, and the slots are
    /// what `plan()` says once synthesized.
    #[test]
    fn routines_come_at_k_and_stay(
        pick in 0..12_usize,
        mode in mode(),
        row in prop::array::uniform14(costs()),
        steps in prop::collection::vec(step(), 0..40),
        defer in any::<bool>(),
        fail in prop_oneof![
            2 => Just(Vec::new()),
            1 => prop::collection::vec(prop::bool::weighted(0.3), 1..8),
        ],
    ) {
        let lazy = Lazy { mode, costs: table(row) };
        let target = targets()[pick];
        let mut d = Driven::open(target, lazy, defer);
        d.fake.fail = fail.clone();
        let mut synthesized = [false; 2];
        for step in steps {
            match step {
                Step::Call(op) => {
                    // A call reaches the generic path only while its slot
                    // is generic (else the routine serves it).
                    if d.slot(op) == SlotTarget::Generic {
                        d.call(op);
                    }
                }
                Step::Relayout => {
                    if let SioTarget::File(f) = &mut d.facts.target {
                        f.generation += 1;
                        f.data_addr += 0x1000;
                        d.replan();
                    }
                }
                Step::TtyMode => {
                    if let SioTarget::Tty { is_raw, .. } = &mut d.facts.target {
                        *is_raw = !*is_raw;
                        d.replan();
                    }
                }
            }
            for op in Op::ALL {
                let calls = d.routines.usage.op(op).generic_calls;
                let has_code = matches!(d.slot(op), SlotTarget::Code(_));
                let Some(kind) = d.wanted(op) else {
                    prop_assert!(!has_code, "{op:?}: code the plan does not want");
                    continue;
                };
                let k = lazy.threshold(kind);
                let due_at = d.routines.usage.op(op).due_at;
                if has_code {
                    // Never before K.
                    prop_assert!(
                        synthesized[op as usize] || calls >= k,
                        "{:?} {:?}: code after {} generic calls, K {}", op, kind, calls, k
                    );
                    synthesized[op as usize] = true;
                } else if calls >= k || synthesized[op as usize] {
                    // By K, unless the install failed: then it is tried
                    // again, backing off (at twice the calls so far).
                    prop_assert!(!fail.is_empty(), "{:?} {:?}: no code after {} calls, K {}", op, kind, calls, k);
                    prop_assert!(due_at > calls, "{:?}: a failed install is not retried", op);
                    prop_assert!(due_at <= (calls * 2).max(calls + 1), "{:?}: due at {} after {} calls", op, due_at, calls);
                } else {
                    // Held back: due at K (or, before the first generic
                    // call of a deferred open, at that call).
                    prop_assert!(
                        due_at == k.max(1) || (calls == 0 && due_at == 1),
                        "{:?}: due at {} with K {}", op, due_at, k
                    );
                }
                if has_code {
                    let SlotTarget::Code(at) = d.slot(op) else { unreachable!() };
                    let installed = d.fake.block_at(at).unwrap().holes.template().name;
                    let SlotPlan::Routine(spec) = *plan(&d.facts, &env()).slot(op) else {
                        unreachable!()
                    };
                    prop_assert_eq!(installed, spec.template().name);
                }
            }
        }
        d.routines.close(&mut d.fake);
        prop_assert!(d.fake.live.is_empty());
    }

    /// `K` (auto) grows with the synthesis cost and shrinks with the saving.
    #[test]
    fn threshold_is_monotone_in_the_costs(
        c in costs(),
        more_cost in 0..5_000_u32,
        more_saving in 0..3_000_u32,
    ) {
        let k = |c: RoutineCosts| {
            let lazy = Lazy { mode: LazyMode::Auto, costs: table([c; RoutineKind::COUNT]) };
            lazy.threshold(RoutineKind::DevMemRead)
        };
        let dearer = RoutineCosts { synthesis: c.synthesis + more_cost, ..c };
        let better = RoutineCosts { generic_call: c.generic_call + more_saving, ..c };
        prop_assert!(k(dearer) >= k(c));
        prop_assert!(k(better) <= k(c));
        if let Some(b) = c.break_even() {
            // The break-even point pays and one call fewer does not.
            prop_assert!(u64::from(b) * u64::from(c.saving()) >= u64::from(c.synthesis));
            prop_assert!(b == 1 || u64::from(b - 1) * u64::from(c.saving()) < u64::from(c.synthesis));
            prop_assert!(c.paid_off(u64::from(b)) && !c.paid_off(u64::from(b) - 1));
        } else {
            prop_assert_eq!(c.saving(), 0);
            prop_assert_eq!(k(c), u32::MAX);
        }
    }
}

/// `off` is eager: every routine at open, as before lazy synthesis.
#[test]
fn off_synthesizes_at_open() {
    for target in targets() {
        let d = Driven::open(target, Lazy::EAGER, true);
        for op in Op::ALL {
            assert_eq!(
                d.wanted(op).is_some(),
                matches!(d.slot(op), SlotTarget::Code(_)),
                "{target:?} {op:?}"
            );
        }
    }
}

/// `auto` with the boot table: no kind is synthesized at open, and every
/// kind's `K` is small (each pays within a few calls); the open's plan is
/// left to the first call.
#[test]
fn auto_defaults_wait_a_few_calls() {
    for kind in RoutineKind::ALL {
        let k = Lazy::AUTO.threshold(kind);
        assert!((1..=10).contains(&k), "{kind:?}: K {k}");
        assert_eq!(RoutineKind::from_name(kind.name()), Some(kind));
        assert!(DEFAULT_COSTS[kind.index()].saving() > 0);
    }
    assert!(Lazy::AUTO.defers_open() && !Lazy::EAGER.defers_open());
    let mut d = Driven::open(MEM, Lazy::AUTO, true);
    let k = Lazy::AUTO.threshold(RoutineKind::DevMemRead);
    for _ in 1..k {
        d.call(Op::Read);
        assert_eq!(d.slot(Op::Read), SlotTarget::Generic);
    }
    d.call(Op::Read);
    assert!(matches!(d.slot(Op::Read), SlotTarget::Code(_)));
    // The synthesized routine is `plan()`'s, and its name is the kind's.
    let SlotTarget::Code(at) = d.slot(Op::Read) else {
        unreachable!()
    };
    assert_eq!(
        d.fake.block_at(at).unwrap().holes.template().name,
        "dev_mem_read"
    );
}
