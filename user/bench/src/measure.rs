//! Timing and statistics: repetitions of a timed loop, median, min, max.
//!
//! Owns [`Plan`] (iterations per repetition, repetitions), [`Stats`] (ticks
//! per operation in hundredths), [`timed_loop`] and [`repeat`]. Fixed
//! costs (the two TSC reads, the loop set-up: a few dozen instructions) are
//! spread over `iterations` operations of at least a few dozen instructions
//! each, so they stay under 1% of a figure; the per-iteration loop control
//! (a decrement and a branch) is part of every figure, the same on both
//! systems.

use core::fmt;

use crate::tsc;

/// Most repetitions a plan may ask for.
pub(crate) const MAX_REPS: usize = 9;

/// How much to run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// Operations per repetition.
    pub(crate) iterations: u64,
    /// Repetitions (1..=[`MAX_REPS`]).
    pub(crate) reps: usize,
}

/// A figure in hundredths (ticks per operation × 100).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Hundredths(pub(crate) u64);

impl fmt::Display for Hundredths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// The result of a plan.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stats {
    /// Median over repetitions (the upper middle for an even count).
    pub(crate) median: Hundredths,
    /// Fastest repetition.
    pub(crate) min: Hundredths,
    /// Slowest repetition.
    pub(crate) max: Hundredths,
    /// The plan.
    pub(crate) plan: Plan,
}

impl Stats {
    /// Prints the metric's line.
    pub(crate) fn print(&self, name: &str) {
        crate::println!(
            "bench: {name} ticks_per_op={} min={} max={} iterations={} reps={}",
            self.median,
            self.min,
            self.max,
            self.plan.iterations,
            self.plan.reps
        );
    }
}

/// Runs `op` `iterations` times between two TSC reads; returns the ticks.
#[inline(always)]
pub(crate) fn timed_loop(iterations: u64, mut op: impl FnMut()) -> u64 {
    let start = tsc::read();
    for _ in 0..iterations {
        op();
    }
    tsc::read().wrapping_sub(start)
}

/// Runs `rep` (one repetition of `plan.iterations` operations, returning
/// its ticks or an error) `plan.reps` times.
pub(crate) fn repeat<E>(
    plan: Plan,
    mut rep: impl FnMut(u64) -> Result<u64, E>,
) -> Result<Stats, E> {
    let reps = plan.reps.clamp(1, MAX_REPS);
    let iterations = plan.iterations.max(1);
    let mut per_op = [Hundredths(0); MAX_REPS];
    for slot in per_op.iter_mut().take(reps) {
        let ticks = rep(iterations)?;
        *slot = Hundredths(ticks.saturating_mul(100) / iterations);
    }
    let done = per_op.get_mut(..reps).unwrap_or(&mut []);
    done.sort_unstable();
    let pick = |index: usize| done.get(index).copied().unwrap_or(Hundredths(0));
    Ok(Stats {
        median: pick(reps / 2),
        min: pick(0),
        max: pick(reps - 1),
        plan: Plan { iterations, reps },
    })
}
