//! Who sleeps on which futex word, and whom a wake reaches.
//!
//! Owns [`FutexTable`]: per futex key (a private futex is keyed by its
//! process and virtual address, a shared one by the physical address the
//! kernel resolves), the sleeping threads in arrival order with their
//! `FUTEX_WAIT_BITSET` masks. `wake` takes up to `count` sleepers whose
//! mask meets the waker's, oldest first, as Linux does. The check of the
//! futex word against the expected value, and the sleep itself, are the
//! kernel's (under its lock, so no wake is lost between them).

use crate::errno::Errno;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

/// What identifies a futex word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FutexKey {
    /// `FUTEX_PRIVATE_FLAG`: this process's virtual address.
    Private {
        /// The process (its SMACH id).
        process: u64,
        /// The word's virtual address.
        address: u64,
    },
    /// Shared between processes: the word's physical address.
    Shared {
        /// Physical address.
        physical: u64,
    },
}

/// The bitset `FUTEX_WAIT`/`FUTEX_WAKE` use: every bit.
pub const MATCH_ANY: u32 = u32::MAX;

/// Sleepers by futex.
#[derive(Clone, Debug, Default)]
pub struct FutexTable {
    sleepers: BTreeMap<FutexKey, VecDeque<(u64, u32)>>,
}

impl FutexTable {
    /// An empty table.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            sleepers: BTreeMap::new(),
        }
    }

    /// Checks a futex word address: 4-byte aligned.
    ///
    /// # Errors
    /// `EINVAL` if misaligned.
    pub const fn check_address(address: u64) -> Result<(), Errno> {
        if !address.is_multiple_of(4) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// Thread `thread` sleeps on `key` with `bitset` (`MATCH_ANY` for
    /// `FUTEX_WAIT`).
    ///
    /// # Errors
    /// `EINVAL` for an empty bitset (Linux's rule); `ENOMEM`.
    pub fn wait(&mut self, key: FutexKey, thread: u64, bitset: u32) -> Result<(), Errno> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let queue = self.sleepers.entry(key).or_default();
        queue.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        queue.push_back((thread, bitset));
        Ok(())
    }

    /// Wakes up to `count` sleepers on `key` whose bitset meets `bitset`,
    /// oldest first; the threads to make runnable.
    ///
    /// # Errors
    /// `EINVAL` for an empty bitset.
    pub fn wake(&mut self, key: FutexKey, count: u32, bitset: u32) -> Result<Vec<u64>, Errno> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let mut woken = Vec::new();
        let Some(queue) = self.sleepers.get_mut(&key) else {
            return Ok(woken);
        };
        let mut left = usize::try_from(count).unwrap_or(usize::MAX);
        queue.retain(|&(thread, mask)| {
            if left > 0 && mask & bitset != 0 {
                left -= 1;
                woken.push(thread);
                false
            } else {
                true
            }
        });
        if queue.is_empty() {
            self.sleepers.remove(&key);
        }
        Ok(woken)
    }

    /// Forgets `thread` wherever it sleeps (it was interrupted by a
    /// signal, timed out, or ended); true if it was asleep.
    pub fn forget(&mut self, thread: u64) -> bool {
        let mut found = false;
        self.sleepers.retain(|_, queue| {
            let before = queue.len();
            queue.retain(|&(t, _)| t != thread);
            found |= queue.len() != before;
            !queue.is_empty()
        });
        found
    }

    /// Forgets every private futex of `process` (it exited or exec'd);
    /// the threads that slept there.
    pub fn forget_process(&mut self, process: u64) -> Vec<u64> {
        let mut gone = Vec::new();
        self.sleepers.retain(|key, queue| {
            let doomed = matches!(key, FutexKey::Private { process: p, .. } if *p == process);
            if doomed {
                gone.extend(queue.iter().map(|&(thread, _)| thread));
            }
            !doomed
        });
        gone
    }

    /// Sleepers in all.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sleepers.values().map(VecDeque::len).sum()
    }

    /// True if nobody sleeps.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sleepers.is_empty()
    }
}
