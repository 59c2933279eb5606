//! The ready queue: strict-priority round robin, the generic path.
//!
//! Owns [`RunQueue`]: one FIFO per [`Priority`] level plus a bitmap of the
//! non-empty levels, so [`RunQueue::pick_next`] finds the highest runnable
//! level with one `leading_zeros` and pops without allocating. Ids are
//! opaque (`sk-core` uses thread handles); each is queued at most once.
//!
//! Starvation: priority is strict, so lower levels run only when every
//! higher level is empty. Nothing here ages priorities.

use alloc::collections::VecDeque;

use crate::{Priority, SchedError};

/// Runnable ids ordered by priority, round robin within a priority.
///
/// The running thread is *not* in the queue: [`pick_next`](Self::pick_next)
/// removes what it returns, and the caller re-inserts the thread when it is
/// preempted (it goes to the back of its level) or leaves it out when it
/// blocks or exits.
#[derive(Debug, Clone)]
pub struct RunQueue<T: Copy + Eq> {
    /// `levels[p]` holds the ids at priority `p`, front runs next.
    levels: [VecDeque<T>; Priority::LEVELS],
    /// Bit `p` set ⇔ `levels[p]` is non-empty.
    non_empty: u8,
    len: usize,
}

impl<T: Copy + Eq> RunQueue<T> {
    /// An empty run queue.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            levels: [const { VecDeque::new() }; Priority::LEVELS],
            non_empty: 0,
            len: 0,
        }
    }

    /// An empty run queue with room for `per_level` ids at every level, so
    /// inserts up to that count do not allocate.
    ///
    /// # Errors
    /// [`SchedError::OutOfMemory`] if the heap refuses.
    pub fn with_capacity(per_level: usize) -> Result<Self, SchedError> {
        let mut queue = Self::new();
        for level in &mut queue.levels {
            level.try_reserve(per_level)?;
        }
        Ok(queue)
    }

    /// Queues `id` at the back of `priority`'s level.
    ///
    /// # Errors
    /// [`SchedError::AlreadyQueued`] if `id` is queued (at any level);
    /// [`SchedError::OutOfMemory`] if the level cannot grow. Either way the
    /// queue is unchanged.
    pub fn insert(&mut self, id: T, priority: Priority) -> Result<(), SchedError> {
        if self.contains(id) {
            return Err(SchedError::AlreadyQueued);
        }
        let level = self.level_mut(priority)?;
        level.try_reserve(1)?;
        level.push_back(id);
        self.mark_non_empty(priority);
        // Each id is queued once and every queued id occupies memory, so the
        // count stays far below `usize::MAX`.
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// Removes `id` wherever it is queued; `false` if it was not queued.
    pub fn remove(&mut self, id: T) -> bool {
        let Some((priority, position)) = self.find(id) else {
            return false;
        };
        self.take(priority, position).is_some()
    }

    /// Removes and returns the id to run next: the front of the highest
    /// non-empty level. `None` when nothing is runnable (run the idle loop).
    ///
    /// Never allocates.
    pub fn pick_next(&mut self) -> Option<T> {
        self.take(self.highest_non_empty()?, 0)
    }

    /// The id [`pick_next`](Self::pick_next) would return, left queued.
    #[must_use]
    pub fn peek_next(&self) -> Option<T> {
        self.level(self.highest_non_empty()?)?.front().copied()
    }

    /// Moves a queued `id` to `priority`: to the back of the new level if
    /// the priority changes, nowhere if it does not. `Ok(false)` if `id` is
    /// not queued (the caller keeps the running thread's priority itself).
    ///
    /// # Errors
    /// [`SchedError::OutOfMemory`] if the new level cannot grow; the id then
    /// stays where it was.
    pub fn set_priority(&mut self, id: T, priority: Priority) -> Result<bool, SchedError> {
        let Some((old, position)) = self.find(id) else {
            return Ok(false);
        };
        if old == priority {
            return Ok(true);
        }
        // Reserve first, so that a failure leaves the id in place.
        self.level_mut(priority)?.try_reserve(1)?;
        if let Some(moved) = self.take(old, position) {
            self.level_mut(priority)?.push_back(moved);
            self.mark_non_empty(priority);
            self.len = self.len.saturating_add(1);
        }
        Ok(true)
    }

    /// The priority `id` is queued at, if it is queued.
    #[must_use]
    pub fn priority_of(&self, id: T) -> Option<Priority> {
        self.find(id).map(|(priority, _)| priority)
    }

    /// Whether `id` is queued.
    #[must_use]
    pub fn contains(&self, id: T) -> bool {
        self.find(id).is_some()
    }

    /// Number of queued ids.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is runnable.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of ids queued at `priority`.
    #[must_use]
    pub fn len_at(&self, priority: Priority) -> usize {
        self.level(priority).map_or(0, VecDeque::len)
    }

    /// Where `id` is: its level and its position in that level. Searches
    /// from the highest level down, so runnable threads are found first.
    fn find(&self, id: T) -> Option<(Priority, usize)> {
        (0..=Priority::MAX.get()).rev().find_map(|level| {
            let priority = Priority::new(level).ok()?;
            let position = self
                .level(priority)?
                .iter()
                .position(|&queued| queued == id)?;
            Some((priority, position))
        })
    }

    /// Removes the id at `position` in `priority`'s level, keeping the
    /// bitmap and the count in step.
    fn take(&mut self, priority: Priority, position: usize) -> Option<T> {
        let level = self.levels.get_mut(priority.index())?;
        let id = level.remove(position)?;
        if level.is_empty() {
            self.mark_empty(priority);
        }
        self.len = self.len.saturating_sub(1);
        Some(id)
    }

    fn highest_non_empty(&self) -> Option<Priority> {
        // Bit p set ⇔ level p non-empty, so the highest set bit is the
        // highest runnable level: 7 - leading_zeros, none when the map is 0.
        let highest = 7_u32.checked_sub(self.non_empty.leading_zeros())?;
        Priority::new(u8::try_from(highest).ok()?).ok()
    }

    fn level(&self, priority: Priority) -> Option<&VecDeque<T>> {
        self.levels.get(priority.index())
    }

    /// The level's queue. `Priority` is validated to `0..=7`, so this never
    /// fails; the error only keeps the lookup panic-free.
    fn level_mut(&mut self, priority: Priority) -> Result<&mut VecDeque<T>, SchedError> {
        self.levels
            .get_mut(priority.index())
            .ok_or(SchedError::BadPriority(priority.get()))
    }

    fn mark_non_empty(&mut self, priority: Priority) {
        self.non_empty |= level_bit(priority);
    }

    fn mark_empty(&mut self, priority: Priority) {
        self.non_empty &= !level_bit(priority);
    }
}

/// Bit `priority` of the non-empty bitmap.
fn level_bit(priority: Priority) -> u8 {
    1_u8.checked_shl(u32::from(priority.get())).unwrap_or(0)
}

impl<T: Copy + Eq> Default for RunQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
