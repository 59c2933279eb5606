//! Scheduling priorities: a checked level in `0..=7`, higher runs first.
//!
//! Owns [`Priority`]. Validated once at construction (STYLE.md §4,
//! `validate-once`), so [`RunQueue`](crate::RunQueue) indexes its levels
//! without re-checking.

use crate::SchedError;

/// A scheduling priority, `0..=7`; a higher value runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Priority(u8);

impl Priority {
    /// Number of priority levels.
    pub const LEVELS: usize = 8;
    /// The lowest priority (runs only when nothing else is runnable).
    pub const MIN: Self = Self(0);
    /// The priority new threads get unless told otherwise.
    pub const NORMAL: Self = Self(3);
    /// The highest priority.
    pub const MAX: Self = Self(7);

    /// The priority `level`.
    ///
    /// # Errors
    /// [`SchedError::BadPriority`] if `level` exceeds [`Priority::MAX`].
    pub const fn new(level: u8) -> Result<Self, SchedError> {
        if level <= Self::MAX.0 {
            Ok(Self(level))
        } else {
            Err(SchedError::BadPriority(level))
        }
    }

    /// The level as a number, `0..=7`.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The level as an index into per-level tables (`< LEVELS`).
    pub(crate) const fn index(self) -> usize {
        self.0 as usize
    }
}

impl TryFrom<u8> for Priority {
    type Error = SchedError;

    fn try_from(level: u8) -> Result<Self, SchedError> {
        Self::new(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_level_and_rejects_the_rest() {
        for level in 0..=7 {
            assert_eq!(Priority::new(level).map(Priority::get), Ok(level));
        }
        for level in 8..=u8::MAX {
            assert_eq!(Priority::new(level), Err(SchedError::BadPriority(level)));
        }
    }

    #[test]
    fn orders_by_level() {
        assert!(Priority::MIN < Priority::NORMAL && Priority::NORMAL < Priority::MAX);
    }
}
