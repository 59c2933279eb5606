//! A [`DataAllocator`] fake whose stores grow in place inside
//! reservations, as the kernel's (`sk_machine::data_memory`) do: a store
//! reserves `small` bytes when its reach fits, else `large`, maps (here:
//! initialises) only its length, and grows without moving while its
//! reservation has room. It logs every allocation and growth, and can be
//! given a byte budget (memory short).
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sk_fs::{DataAllocator, DataStore};

/// What the fake saw.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// `(len, reach)` of each allocation.
    pub(crate) allocations: Vec<(usize, usize)>,
    /// Bytes added by each growth in place.
    pub(crate) growths: Vec<usize>,
}

#[derive(Debug)]
pub(crate) struct Reserving {
    small: usize,
    large: usize,
    /// Bytes that may still be initialised (stores give theirs back).
    budget: Arc<AtomicUsize>,
    log: Arc<Mutex<Log>>,
}

impl Reserving {
    /// A fake with reservations of `small` and `large` bytes and no budget
    /// limit, leaked so the file system can hold it.
    pub(crate) fn leaked(small: usize, large: usize) -> &'static Self {
        Box::leak(Box::new(Self {
            small,
            large,
            budget: Arc::new(AtomicUsize::new(usize::MAX / 2)),
            log: Arc::default(),
        }))
    }

    /// Limits the bytes stores may hold from now on to `bytes` more.
    pub(crate) fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::SeqCst);
    }

    /// The log so far.
    pub(crate) fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap()
    }
}

fn take(budget: &AtomicUsize, bytes: usize) -> bool {
    budget
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(bytes)
        })
        .is_ok()
}

#[derive(Debug)]
struct Store {
    /// Its capacity is the reservation; its length, the store's.
    bytes: Vec<u8>,
    budget: Arc<AtomicUsize>,
    log: Arc<Mutex<Log>>,
}

impl DataStore for Store {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    fn grow(&mut self, new_len: usize) -> bool {
        let old = self.bytes.len();
        if new_len < old || new_len > self.bytes.capacity() || !take(&self.budget, new_len - old) {
            return false;
        }
        let address = self.bytes.as_ptr();
        self.bytes.resize(new_len, 0);
        assert_eq!(self.bytes.as_ptr(), address, "grown within the reservation");
        self.log.lock().unwrap().growths.push(new_len - old);
        true
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.budget.fetch_add(self.bytes.len(), Ordering::SeqCst);
    }
}

impl DataAllocator for Reserving {
    fn allocate(&self, len: usize, reach: usize) -> Option<Box<dyn DataStore>> {
        let reserved = if reach.max(len) <= self.small {
            self.small
        } else {
            self.large
        };
        if len > reserved || !take(&self.budget, len) {
            return None;
        }
        self.log.lock().unwrap().allocations.push((len, reach));
        let mut bytes = Vec::with_capacity(reserved);
        bytes.resize(len, 0);
        Some(Box::new(Store {
            bytes,
            budget: Arc::clone(&self.budget),
            log: Arc::clone(&self.log),
        }))
    }
}
