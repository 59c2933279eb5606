//! Time slices: how many timer ticks a thread runs before it is preempted.
//!
//! Owns [`Quantum`]. The timer interrupt calls [`Quantum::tick`] for the
//! running thread; when it returns `true` the caller re-inserts the thread
//! into the [`RunQueue`](crate::RunQueue) and picks the next one. Quanta are
//! fixed per thread here; adapting them is a policy for later.

/// The quantum `sk-core` gives a thread unless told otherwise, in ticks.
pub const DEFAULT_QUANTUM_TICKS: u32 = 10;

/// A countdown of timer ticks for the running thread.
///
/// A quantum of `n` ticks expires on the `n`-th call to [`tick`](Self::tick);
/// a quantum of 0 ticks is treated as 1 (every tick preempts), so a thread
/// always runs for at least one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantum {
    length_ticks: u32,
    remaining_ticks: u32,
}

impl Quantum {
    /// A fresh quantum of `length_ticks` (at least 1).
    #[must_use]
    pub const fn new(length_ticks: u32) -> Self {
        let length_ticks = if length_ticks == 0 { 1 } else { length_ticks };
        Self {
            length_ticks,
            remaining_ticks: length_ticks,
        }
    }

    /// Counts one timer tick; `true` when the quantum has just expired or
    /// had already expired (the caller should preempt).
    pub fn tick(&mut self) -> bool {
        self.remaining_ticks = self.remaining_ticks.saturating_sub(1);
        self.remaining_ticks == 0
    }

    /// Starts the quantum over (on dispatch).
    pub fn reset(&mut self) {
        self.remaining_ticks = self.length_ticks;
    }

    /// Ticks left before expiry; 0 once expired.
    #[must_use]
    pub const fn remaining_ticks(&self) -> u32 {
        self.remaining_ticks
    }

    /// The full length of the quantum in ticks.
    #[must_use]
    pub const fn length_ticks(&self) -> u32 {
        self.length_ticks
    }

    /// Whether the quantum has run out.
    #[must_use]
    pub const fn is_expired(&self) -> bool {
        self.remaining_ticks == 0
    }
}

impl Default for Quantum {
    fn default() -> Self {
        Self::new(DEFAULT_QUANTUM_TICKS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_on_the_nth_tick_and_stays_expired() {
        let mut quantum = Quantum::new(3);
        assert!(!quantum.tick());
        assert!(!quantum.tick());
        assert_eq!(quantum.remaining_ticks(), 1);
        assert!(quantum.tick());
        assert!(quantum.is_expired());
        assert!(quantum.tick(), "an expired quantum keeps asking to preempt");
    }

    #[test]
    fn reset_starts_over() {
        let mut quantum = Quantum::new(2);
        assert!(!quantum.tick());
        assert!(quantum.tick());
        quantum.reset();
        assert_eq!(quantum.remaining_ticks(), 2);
        assert!(!quantum.tick());
    }

    #[test]
    fn zero_length_means_one_tick() {
        let mut quantum = Quantum::new(0);
        assert_eq!(quantum.length_ticks(), 1);
        assert!(quantum.tick());
    }

    #[test]
    fn default_uses_the_default_length() {
        assert_eq!(Quantum::default().length_ticks(), DEFAULT_QUANTUM_TICKS);
    }
}
