//! The SCPU kind's generic semantics on the host: what create makes, every
//! reconfigure request in every state for the SCPU itself and for another
//! caller, the errors (which change nothing), quantum clamping, the
//! priority range, what query reports, and a property test of random
//! request sequences against a tiny model (state, priority, quantum).

use proptest::prelude::*;
use sk_abi::{ScpuCreate, ScpuReconfigure, ScpuState, SysError};
use sk_sched::{
    DEFAULT_PRIORITY, DEFAULT_QUANTUM_US, MAX_PRIORITY, MAX_QUANTUM_US, MIN_QUANTUM_US,
};
use sk_scpu::{Scpu, Transition, UserStart};

const STATES: [ScpuState; 5] = [
    ScpuState::Ready,
    ScpuState::Running,
    ScpuState::Blocked,
    ScpuState::Suspended,
    ScpuState::Exited,
];

fn create(priority: u32, quantum_us: u32) -> ScpuCreate {
    ScpuCreate {
        entry: 0x40_1000,
        stack_top: 0x7fff_0000,
        arg: 42,
        priority,
        quantum_us,
    }
}

/// A user SCPU (priority 5, quantum 2 ms) put in `state`.
fn scpu_in(state: ScpuState) -> Scpu {
    let mut s = Scpu::new_user(7, 3, &create(5, 2_000)).unwrap();
    s.set_state(state);
    s
}

#[test]
fn create_makes_a_ready_user_scpu_as_asked() {
    let s = Scpu::new_user(7, 3, &create(5, 2_000)).unwrap();
    assert_eq!(s.id(), 7);
    assert_eq!(s.smach(), Some(3));
    assert_eq!(s.state(), ScpuState::Ready);
    assert_eq!(s.priority(), 5);
    assert_eq!(s.quantum_us(), 2_000);
    assert_eq!(
        s.user_start(),
        Some(UserStart {
            entry: 0x40_1000,
            stack_top: 0x7fff_0000,
            arg: 42
        })
    );
}

#[test]
fn create_accepts_priorities_0_to_7_only() {
    for priority in 0..=MAX_PRIORITY {
        let s = Scpu::new_user(1, 1, &create(priority, 0)).unwrap();
        assert_eq!(s.priority(), priority);
    }
    for priority in [MAX_PRIORITY + 1, 100, u32::MAX] {
        assert_eq!(
            Scpu::new_user(1, 1, &create(priority, 0)),
            Err(SysError::BadValue),
            "priority {priority}"
        );
    }
}

#[test]
fn create_clamps_the_quantum() {
    let cases = [
        (0, DEFAULT_QUANTUM_US),
        (1, MIN_QUANTUM_US),
        (MIN_QUANTUM_US - 1, MIN_QUANTUM_US),
        (MIN_QUANTUM_US, MIN_QUANTUM_US),
        (MIN_QUANTUM_US + 1, MIN_QUANTUM_US + 1),
        (12_345, 12_345),
        (MAX_QUANTUM_US, MAX_QUANTUM_US),
        (MAX_QUANTUM_US + 1, MAX_QUANTUM_US),
        (u32::MAX, MAX_QUANTUM_US),
    ];
    for (asked, applied) in cases {
        let s = Scpu::new_user(1, 1, &create(3, asked)).unwrap();
        assert_eq!(s.quantum_us(), applied, "asked {asked} µs");
        assert_eq!(s.info().quantum_us, applied);
    }
}

#[test]
fn the_main_scpu_gets_the_defaults() {
    let start = UserStart {
        entry: 0x40_1000,
        stack_top: 0x7fff_ffff_0000,
        arg: 0,
    };
    let s = Scpu::new_main(11, 4, start);
    assert_eq!(
        (s.id(), s.smach(), s.state()),
        (11, Some(4), ScpuState::Ready)
    );
    assert_eq!(s.priority(), DEFAULT_PRIORITY);
    assert_eq!(s.quantum_us(), DEFAULT_QUANTUM_US);
    assert_eq!(s.user_start(), Some(start));
}

#[test]
fn a_kernel_thread_has_no_smach_nor_user_start_and_a_clamped_priority() {
    let s = Scpu::new_kernel(2, ScpuState::Blocked, 6);
    assert_eq!((s.smach(), s.user_start()), (None, None));
    assert_eq!(s.state(), ScpuState::Blocked);
    assert_eq!(s.priority(), 6);
    assert_eq!(s.quantum_us(), DEFAULT_QUANTUM_US);
    assert_eq!(
        Scpu::new_kernel(2, ScpuState::Running, u32::MAX).priority(),
        MAX_PRIORITY
    );
    let mut s = s;
    s.set_smach(Some(9));
    assert_eq!(s.smach(), Some(9));
    s.set_smach(None);
    assert_eq!(s.smach(), None);
}

#[test]
fn suspend_by_another_scpu_in_every_state() {
    // From every live state the SCPU leaves the ready queue and is
    // suspended; an exited one stays exited.
    let expected = [
        (ScpuState::Ready, Transition::Unready, ScpuState::Suspended),
        (
            ScpuState::Running,
            Transition::Unready,
            ScpuState::Suspended,
        ),
        (
            ScpuState::Blocked,
            Transition::Unready,
            ScpuState::Suspended,
        ),
        (
            ScpuState::Suspended,
            Transition::Unready,
            ScpuState::Suspended,
        ),
        (ScpuState::Exited, Transition::None, ScpuState::Exited),
    ];
    for (before, transition, after) in expected {
        let mut s = scpu_in(before);
        assert_eq!(
            s.reconfigure(ScpuReconfigure::Suspend, false),
            Ok(transition),
            "{before:?}"
        );
        assert_eq!(s.state(), after, "{before:?}");
        assert_eq!((s.priority(), s.quantum_us()), (5, 2_000));
    }
}

#[test]
fn suspending_oneself_is_busy_in_every_state_and_changes_nothing() {
    for state in STATES {
        let mut s = scpu_in(state);
        let before = s.clone();
        assert_eq!(
            s.reconfigure(ScpuReconfigure::Suspend, true),
            Err(SysError::Busy),
            "{state:?}"
        );
        assert_eq!(s, before);
    }
}

#[test]
fn resume_in_every_state_for_either_caller() {
    // Only a suspended SCPU goes back on the ready queue; anything else
    // (notably a blocked one: its event wakes it) is left alone.
    let expected = [
        (ScpuState::Ready, Transition::None, ScpuState::Ready),
        (ScpuState::Running, Transition::None, ScpuState::Running),
        (ScpuState::Blocked, Transition::None, ScpuState::Blocked),
        (ScpuState::Suspended, Transition::Ready, ScpuState::Ready),
        (ScpuState::Exited, Transition::None, ScpuState::Exited),
    ];
    for is_current in [false, true] {
        for (before, transition, after) in expected {
            let mut s = scpu_in(before);
            assert_eq!(
                s.reconfigure(ScpuReconfigure::Resume, is_current),
                Ok(transition),
                "{before:?}, current {is_current}"
            );
            assert_eq!(s.state(), after, "{before:?}, current {is_current}");
            assert_eq!((s.priority(), s.quantum_us()), (5, 2_000));
        }
    }
}

#[test]
fn priority_in_every_state_for_either_caller() {
    for is_current in [false, true] {
        for state in STATES {
            let mut s = scpu_in(state);
            for p in 0..=MAX_PRIORITY {
                assert_eq!(
                    s.reconfigure(ScpuReconfigure::Priority(p), is_current),
                    Ok(Transition::None)
                );
                assert_eq!(s.priority(), p);
                assert_eq!(s.info().priority, p);
            }
            let before = s.clone();
            for p in [MAX_PRIORITY + 1, 1000, u32::MAX] {
                assert_eq!(
                    s.reconfigure(ScpuReconfigure::Priority(p), is_current),
                    Err(SysError::BadValue),
                    "{state:?}, priority {p}"
                );
                assert_eq!(s, before, "a refused priority changes nothing");
            }
            assert_eq!(s.state(), state, "priority never moves the state");
            assert_eq!(s.quantum_us(), 2_000);
        }
    }
}

#[test]
fn quantum_in_every_state_for_either_caller_is_clamped() {
    let cases = [
        // The ABI decoder refuses 0; the generic path still gives the
        // default rather than a zero-length turn.
        (0, DEFAULT_QUANTUM_US),
        (1, MIN_QUANTUM_US),
        (MIN_QUANTUM_US, MIN_QUANTUM_US),
        (777, 777),
        (MAX_QUANTUM_US, MAX_QUANTUM_US),
        (MAX_QUANTUM_US + 1, MAX_QUANTUM_US),
        (u32::MAX, MAX_QUANTUM_US),
    ];
    for is_current in [false, true] {
        for state in STATES {
            let mut s = scpu_in(state);
            for (asked, applied) in cases {
                assert_eq!(
                    s.reconfigure(ScpuReconfigure::Quantum { quantum_us: asked }, is_current),
                    Ok(Transition::None)
                );
                assert_eq!(s.quantum_us(), applied, "{state:?}, asked {asked}");
                assert_eq!(s.info().quantum_us, applied);
            }
            assert_eq!((s.state(), s.priority()), (state, 5));
        }
    }
}

#[test]
fn suspend_then_resume_round_trips_through_the_ready_queue() {
    let mut s = scpu_in(ScpuState::Ready);
    assert_eq!(
        s.reconfigure(ScpuReconfigure::Suspend, false),
        Ok(Transition::Unready)
    );
    // Changing parameters while suspended does not wake it.
    assert_eq!(
        s.reconfigure(ScpuReconfigure::Priority(0), false),
        Ok(Transition::None)
    );
    assert_eq!(s.state(), ScpuState::Suspended);
    assert_eq!(
        s.reconfigure(ScpuReconfigure::Resume, false),
        Ok(Transition::Ready)
    );
    assert_eq!(s.state(), ScpuState::Ready);
    assert_eq!(
        s.reconfigure(ScpuReconfigure::Resume, false),
        Ok(Transition::None),
        "a second resume is a no-op"
    );
}

#[test]
fn info_reports_every_field() {
    for (n, state) in STATES.into_iter().enumerate() {
        let mut s = Scpu::new_user(0xdead_beef_0000 + n as u64, 1, &create(2, 3_000)).unwrap();
        s.set_state(state);
        let info = s.info();
        assert_eq!(info.state, state.number());
        assert_eq!(info.state(), Ok(state));
        assert_eq!(info.priority, 2);
        assert_eq!(info.quantum_us, 3_000);
        assert_eq!(info._pad, 0);
        assert_eq!(info.id, 0xdead_beef_0000 + n as u64);
    }
    // The state numbers are the ABI's, in order.
    assert_eq!(
        STATES.map(ScpuState::number),
        [0, 1, 2, 3, 4],
        "ScpuState numbering"
    );
}

/// One step: a request from the SCPU itself or another, or a scheduler
/// transition (`set_state`).
#[derive(Debug, Clone)]
enum Step {
    Request(ScpuReconfigure, bool),
    Schedule(ScpuState),
}

fn request() -> impl Strategy<Value = ScpuReconfigure> {
    prop_oneof![
        Just(ScpuReconfigure::Suspend),
        Just(ScpuReconfigure::Resume),
        prop_oneof![0u32..=9, Just(u32::MAX)].prop_map(ScpuReconfigure::Priority),
        prop_oneof![
            Just(0u32),
            1u32..300,
            90_000u32..110_000,
            Just(u32::MAX),
            any::<u32>()
        ]
        .prop_map(|quantum_us| ScpuReconfigure::Quantum { quantum_us }),
        Just(ScpuReconfigure::Yield),
        any::<u64>().prop_map(|ns| ScpuReconfigure::Sleep { ns }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (request(), any::<bool>()).prop_map(|(r, me)| Step::Request(r, me)),
        1 => proptest::sample::select(STATES.to_vec()).prop_map(Step::Schedule),
    ]
}

/// The tiny model: the three things a request may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Model {
    state: ScpuState,
    priority: u32,
    quantum_us: u32,
}

impl Model {
    /// What the README and the ABI say a request does.
    fn apply(
        &mut self,
        request: ScpuReconfigure,
        is_current: bool,
    ) -> Result<Transition, SysError> {
        match request {
            ScpuReconfigure::Priority(p) => {
                if p > MAX_PRIORITY {
                    return Err(SysError::BadValue);
                }
                self.priority = p;
                Ok(Transition::None)
            }
            ScpuReconfigure::Quantum { quantum_us } => {
                self.quantum_us = match quantum_us {
                    0 => DEFAULT_QUANTUM_US,
                    q if q < MIN_QUANTUM_US => MIN_QUANTUM_US,
                    q if q > MAX_QUANTUM_US => MAX_QUANTUM_US,
                    q => q,
                };
                Ok(Transition::None)
            }
            ScpuReconfigure::Suspend if is_current => Err(SysError::Busy),
            ScpuReconfigure::Suspend if self.state == ScpuState::Exited => Ok(Transition::None),
            ScpuReconfigure::Suspend => {
                self.state = ScpuState::Suspended;
                Ok(Transition::Unready)
            }
            ScpuReconfigure::Resume if self.state == ScpuState::Suspended => {
                self.state = ScpuState::Ready;
                Ok(Transition::Ready)
            }
            ScpuReconfigure::Resume => Ok(Transition::None),
            // Own SCPU only; nothing in the model changes (the scheduler waits).
            ScpuReconfigure::Yield | ScpuReconfigure::Sleep { .. } if is_current => {
                Ok(Transition::None)
            }
            ScpuReconfigure::Yield | ScpuReconfigure::Sleep { .. } => Err(SysError::NotPermitted),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random requests (from the SCPU itself and from others, valid and
    /// not) interleaved with scheduler transitions: every result, and the
    /// state, priority and quantum afterwards (as the accessors and
    /// `info` report them), agree with the model; and the quantum in force
    /// always lies within the policy's bounds.
    #[test]
    fn random_requests_match_a_model(
        priority in 0u32..=7,
        quantum in any::<u32>(),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut s = Scpu::new_user(99, 5, &create(priority, quantum)).unwrap();
        let mut model = Model { state: ScpuState::Ready, priority, quantum_us: 0 };
        let _ = model.apply(ScpuReconfigure::Quantum { quantum_us: quantum }, false);
        prop_assert_eq!(s.quantum_us(), model.quantum_us);
        for step in steps {
            match step {
                Step::Request(request, is_current) => {
                    let want = model.apply(request, is_current);
                    prop_assert_eq!(s.reconfigure(request, is_current), want, "{:?}", request);
                }
                Step::Schedule(state) => {
                    s.set_state(state);
                    model.state = state;
                }
            }
            prop_assert_eq!(s.state(), model.state);
            prop_assert_eq!(s.priority(), model.priority);
            prop_assert_eq!(s.quantum_us(), model.quantum_us);
            prop_assert!((MIN_QUANTUM_US..=MAX_QUANTUM_US).contains(&s.quantum_us()));
            let info = s.info();
            prop_assert_eq!(info.state(), Ok(model.state));
            prop_assert_eq!((info.priority, info.quantum_us, info.id), (model.priority, model.quantum_us, 99));
            prop_assert_eq!(s.user_start().map(|u| u.arg), Some(42), "requests never move the start");
            prop_assert_eq!(s.smach(), Some(5));
        }
    }
}
