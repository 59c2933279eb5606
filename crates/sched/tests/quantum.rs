//! How long an SCPU runs per turn: the quantum it may ask for is clamped,
//! priority scales it (`× (priority + 1) / 4`), and a turn is at least one
//! tick. Unit cases at each priority and bound, and property tests of the
//! bounds, the formula and monotonicity.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_sched::{
    clamp_quantum_us, quantum_ticks, DEFAULT_PRIORITY, DEFAULT_QUANTUM_US, MAX_PRIORITY,
    MAX_QUANTUM_US, MIN_QUANTUM_US,
};

#[test]
fn the_policy_constants() {
    assert_eq!((DEFAULT_PRIORITY, MAX_PRIORITY), (3, 7));
    assert_eq!(MIN_QUANTUM_US, 100, "100 µs");
    assert_eq!(MAX_QUANTUM_US, 100_000, "100 ms");
    assert_eq!(DEFAULT_QUANTUM_US, 50_000, "50 ms");
}

#[test]
fn a_requested_quantum_is_clamped() {
    let cases = [
        (0, DEFAULT_QUANTUM_US),
        (1, MIN_QUANTUM_US),
        (MIN_QUANTUM_US - 1, MIN_QUANTUM_US),
        (MIN_QUANTUM_US, MIN_QUANTUM_US),
        (MIN_QUANTUM_US + 1, MIN_QUANTUM_US + 1),
        (DEFAULT_QUANTUM_US, DEFAULT_QUANTUM_US),
        (MAX_QUANTUM_US - 1, MAX_QUANTUM_US - 1),
        (MAX_QUANTUM_US, MAX_QUANTUM_US),
        (MAX_QUANTUM_US + 1, MAX_QUANTUM_US),
        (u32::MAX, MAX_QUANTUM_US),
    ];
    for (asked, applied) in cases {
        assert_eq!(clamp_quantum_us(asked), applied, "asked {asked} µs");
    }
}

#[test]
fn priority_scales_the_quantum_by_a_quarter_per_step() {
    // 100 ms at 1 kHz: 100 ticks as set at priority 3, 25 per step.
    let at_1khz: Vec<u64> = (0..=MAX_PRIORITY)
        .map(|p| quantum_ticks(MAX_QUANTUM_US, p, 1000))
        .collect();
    assert_eq!(at_1khz, [25, 50, 75, 100, 125, 150, 175, 200]);
    // 50 ms at 100 Hz is 5 ticks; the quarters round down, never to 0.
    let at_100hz: Vec<u64> = (0..=MAX_PRIORITY)
        .map(|p| quantum_ticks(DEFAULT_QUANTUM_US, p, 100))
        .collect();
    assert_eq!(at_100hz, [1, 2, 3, 5, 6, 7, 8, 10]);
    // The default priority runs the quantum as set.
    for ms in [1u32, 7, 20, 50, 100] {
        assert_eq!(
            quantum_ticks(ms * 1000, DEFAULT_PRIORITY, 1000),
            u64::from(ms)
        );
    }
}

#[test]
fn a_priority_past_7_counts_as_7() {
    for p in [MAX_PRIORITY + 1, 100, u32::MAX] {
        assert_eq!(quantum_ticks(MAX_QUANTUM_US, p, 1000), 200);
        assert_eq!(quantum_ticks(DEFAULT_QUANTUM_US, p, 100), 10);
    }
}

#[test]
fn the_quantum_is_clamped_before_it_is_scaled() {
    // 0 asks for the default; tiny and huge requests hit the bounds.
    assert_eq!(quantum_ticks(0, 3, 1000), 50);
    assert_eq!(quantum_ticks(1, 3, 1_000_000), 100, "100 µs at 1 MHz");
    assert_eq!(quantum_ticks(u32::MAX, 3, 1000), 100);
    // The longest turn anyone can get: 200 ms (README).
    assert_eq!(quantum_ticks(u32::MAX, u32::MAX, 1000), 200);
}

#[test]
fn a_turn_is_at_least_one_tick() {
    // 100 µs at 100 Hz is 0.01 tick; priority 0 quarters it again.
    assert_eq!(quantum_ticks(MIN_QUANTUM_US, 0, 100), 1);
    assert_eq!(quantum_ticks(MIN_QUANTUM_US, 7, 100), 1);
    // A timer of 0 Hz is taken as 1 Hz rather than dividing by zero.
    assert_eq!(quantum_ticks(MAX_QUANTUM_US, 7, 0), 1);
    // Absurd timer rates saturate instead of overflowing.
    let fast = quantum_ticks(MAX_QUANTUM_US, 7, u64::MAX);
    assert!(fast >= quantum_ticks(MAX_QUANTUM_US, 3, u64::MAX));
    assert!(fast >= 1);
}

/// Requests around both bounds as well as anywhere.
fn quantum() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        1u32..=2 * MIN_QUANTUM_US,
        MAX_QUANTUM_US - 100..=MAX_QUANTUM_US + 100,
        any::<u32>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The applied quantum lies in the bounds, and a quantum inside them
    /// is applied as asked.
    #[test]
    fn clamping_stays_in_bounds(q in quantum()) {
        let c = clamp_quantum_us(q);
        prop_assert!((MIN_QUANTUM_US..=MAX_QUANTUM_US).contains(&c));
        if (MIN_QUANTUM_US..=MAX_QUANTUM_US).contains(&q) {
            prop_assert_eq!(c, q);
        }
        prop_assert_eq!(clamp_quantum_us(c), c, "clamping twice changes nothing");
    }

    /// Any request at any priority and a realistic timer rate: the turn is
    /// the README's formula (`quantum × (priority + 1) / 4` ticks, at least
    /// one), never longer than the longest turn, and never shorter for a
    /// higher priority or a longer quantum.
    #[test]
    fn ticks_follow_the_formula_and_the_bounds(
        q in quantum(),
        q2 in quantum(),
        p in prop_oneof![0u32..=9, any::<u32>()],
        p2 in 0u32..=9,
        hz in prop_oneof![1u64..=100, Just(100), Just(1000), 1u64..=100_000],
    ) {
        let ticks = quantum_ticks(q, p, hz);
        let quantum = u128::from(clamp_quantum_us(q));
        let base = quantum * u128::from(hz) / 1_000_000;
        let want = (base * u128::from(p.min(MAX_PRIORITY) + 1) / 4).max(1);
        prop_assert_eq!(u128::from(ticks), want);
        prop_assert!(ticks >= 1);
        prop_assert!(ticks <= quantum_ticks(MAX_QUANTUM_US, MAX_PRIORITY, hz));
        if p.min(MAX_PRIORITY) <= p2.min(MAX_PRIORITY) {
            prop_assert!(ticks <= quantum_ticks(q, p2, hz));
        }
        if clamp_quantum_us(q) <= clamp_quantum_us(q2) {
            prop_assert!(ticks <= quantum_ticks(q2, p, hz));
        }
    }
}
