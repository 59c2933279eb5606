//! Timed wake-ups: the SCPUs that sleep, ordered by deadline.
//!
//! Owns [`SleepQueue`]: a vector kept sorted by `(deadline, sequence)`, so
//! the earliest sleeper is at the front and sleepers with equal deadlines
//! wake in the order they went to sleep. The kernel's timer hook calls
//! [`SleepQueue::pop_due`] with the current TSC on every tick; a sleeper
//! that is killed leaves with [`SleepQueue::remove`]. Deadlines are plain
//! `u64` clock values (the kernel uses TSC ticks: guest time).
//!
//! A sorted vector, not a timer wheel: insertion is O(n) (a binary search
//! and a shift), the tick's check O(1) when nobody is due, and `n` is at
//! most the number of threads (a few hundred). Memory: [`SleepQueue::push`]
//! reserves fallibly; nothing else allocates.

use alloc::vec::Vec;

use crate::QueueFull;

/// The clock value `ns` nanoseconds after `now` on a clock of `hz` ticks
/// per second, rounded up (a sleep never ends early), saturating at
/// `u64::MAX`. With `hz` 0 (an uncalibrated clock) the deadline is `now`.
pub fn deadline_after(now: u64, ns: u64, hz: u64) -> u64 {
    let ticks = u128::from(ns)
        .saturating_mul(u128::from(hz))
        .div_ceil(1_000_000_000);
    now.saturating_add(u64::try_from(ticks).unwrap_or(u64::MAX))
}

/// One sleeper: when it wakes, the order it came in, who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sleeper<T> {
    deadline: u64,
    sequence: u64,
    id: T,
}

/// Sleeping ids by deadline (earliest first; ties in arrival order). An id
/// is in the queue at most once: sleeping again replaces its deadline.
#[derive(Debug, Clone)]
pub struct SleepQueue<T> {
    sleepers: Vec<Sleeper<T>>,
    next_sequence: u64,
}

impl<T> Default for SleepQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> SleepQueue<T> {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            sleepers: Vec::new(),
            next_sequence: 0,
        }
    }

    /// Heap bytes the queue holds (its capacity, used or not).
    pub fn capacity_bytes(&self) -> usize {
        self.sleepers
            .capacity()
            .saturating_mul(core::mem::size_of::<Sleeper<T>>())
    }

    /// Sleepers queued.
    pub fn len(&self) -> usize {
        self.sleepers.len()
    }

    /// True if nobody sleeps.
    pub fn is_empty(&self) -> bool {
        self.sleepers.is_empty()
    }

    /// The earliest deadline, if anyone sleeps.
    pub fn next_deadline(&self) -> Option<u64> {
        self.sleepers.first().map(|s| s.deadline)
    }
}

impl<T: Copy + PartialEq> SleepQueue<T> {
    /// `id` sleeps until `deadline` (replacing an earlier entry of `id`).
    ///
    /// # Errors
    /// [`QueueFull`] if the queue cannot grow (the queue is unchanged).
    pub fn push(&mut self, id: T, deadline: u64) -> Result<(), QueueFull> {
        self.sleepers.try_reserve(1).map_err(|_| QueueFull)?;
        self.remove(id);
        let sequence = self.next_sequence;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        // After every entry with a deadline <= this one: ties keep arrival
        // order (sequence numbers only break ties between equal deadlines).
        let at = self.sleepers.partition_point(|s| s.deadline <= deadline);
        self.sleepers.insert(
            at,
            Sleeper {
                deadline,
                sequence,
                id,
            },
        );
        Ok(())
    }

    /// Takes the earliest sleeper whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<T> {
        match self.sleepers.first() {
            Some(first) if first.deadline <= now => Some(self.sleepers.remove(0).id),
            _ => None,
        }
    }

    /// Takes `id` out (it was killed or woken otherwise); true if it slept.
    pub fn remove(&mut self, id: T) -> bool {
        let before = self.sleepers.len();
        self.sleepers.retain(|s| s.id != id);
        self.sleepers.len() != before
    }

    /// True if `id` sleeps.
    pub fn contains(&self, id: T) -> bool {
        self.sleepers.iter().any(|s| s.id == id)
    }

    /// The deadline of `id`, if it sleeps.
    pub fn deadline_of(&self, id: T) -> Option<u64> {
        self.sleepers
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.deadline)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[test]
    fn deadlines_round_up_and_saturate() {
        assert_eq!(deadline_after(100, 1, 1_000_000_000), 101);
        assert_eq!(deadline_after(0, 1, 3_000_000_000), 3);
        assert_eq!(
            deadline_after(0, 1, 999_999_999),
            1,
            "a part tick is a tick"
        );
        assert_eq!(deadline_after(0, 0, 2_000_000_000), 0);
        assert_eq!(deadline_after(u64::MAX - 1, 10, 1_000_000_000), u64::MAX);
        assert_eq!(deadline_after(5, u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(deadline_after(7, 1_000, 0), 7);
    }

    #[test]
    fn wakes_in_deadline_order_then_arrival_order() {
        let mut q = SleepQueue::new();
        q.push(1_u64, 50).unwrap();
        q.push(2, 10).unwrap();
        q.push(3, 50).unwrap();
        q.push(4, 30).unwrap();
        assert_eq!(q.next_deadline(), Some(10));
        assert_eq!(q.pop_due(9), None, "nobody is due before 10");
        assert_eq!(q.pop_due(10), Some(2));
        assert_eq!(q.pop_due(49), Some(4));
        assert_eq!(q.pop_due(49), None);
        assert_eq!(q.pop_due(u64::MAX), Some(1), "equal deadlines: first come");
        assert_eq!(q.pop_due(u64::MAX), Some(3));
        assert!(q.is_empty());
    }

    #[test]
    fn sleeping_again_replaces_and_remove_forgets() {
        let mut q = SleepQueue::new();
        q.push(7_u64, 100).unwrap();
        q.push(7, 5).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q.deadline_of(7), Some(5));
        assert!(q.remove(7));
        assert!(!q.remove(7));
        assert_eq!(q.pop_due(u64::MAX), None);
    }

    proptest! {
        /// Against a model: whatever the pushes, removals and clock steps,
        /// each pop gives a sleeper that is due, never one early, the
        /// earliest (ties: first pushed), and nobody is lost.
        #[test]
        fn matches_a_model(ops in proptest::collection::vec((0_u8..4, 0_u64..8, 0_u64..200), 0..200)) {
            let mut q = SleepQueue::new();
            // (id, deadline, sequence)
            let mut model: Vec<(u64, u64, u64)> = Vec::new();
            let mut sequence = 0;
            let mut now = 0_u64;
            for (op, id, value) in ops {
                match op {
                    0 | 1 => {
                        let deadline = now + value;
                        q.push(id, deadline).unwrap();
                        model.retain(|m| m.0 != id);
                        model.push((id, deadline, sequence));
                        sequence += 1;
                    }
                    2 => {
                        prop_assert_eq!(q.remove(id), model.iter().any(|m| m.0 == id));
                        model.retain(|m| m.0 != id);
                    }
                    _ => {
                        now += value;
                        loop {
                            let due = model
                                .iter()
                                .filter(|m| m.1 <= now)
                                .min_by_key(|m| (m.1, m.2))
                                .copied();
                            let got = q.pop_due(now);
                            prop_assert_eq!(got, due.map(|m| m.0));
                            match due {
                                Some(m) => model.retain(|x| x.0 != m.0),
                                None => break,
                            }
                        }
                    }
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.next_deadline(), model.iter().map(|m| m.1).min());
            }
        }
    }
}
