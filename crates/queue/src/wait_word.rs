//! The blocking handshake: one wait word per queue, and the only code that
//! touches it.
//!
//! Owns [`WaitWord`] and its bits. A queue operation that cannot proceed
//! *announces* (sets its side's waiting bit), *re-checks* the queue, and
//! only then tells its caller to sleep; an operation that makes progress
//! *publishes* (stores its index with `Release`), then *looks* at the
//! other side's waiting bit and, if it is set, *clears* it and tells its
//! caller to wake that side. The rule that makes every wake delivered
//! exactly once: **the party whose atomic read-modify-write clears a
//! waiting bit owes the wake** (a waker's `fetch_and`, a closer's
//! `fetch_or` followed by `fetch_and`, or the sleeper itself withdrawing).
//!
//! # Why no wake-up is lost (the orderings)
//!
//! This is Dekker's pattern. The sleeper does `fetch_or(bit)`, then
//! `fence(SeqCst)`, then loads the index; the waker stores the index, then
//! `fence(SeqCst)`, then loads the word. The two `SeqCst` fences are
//! totally ordered. If the sleeper's fence comes first, the waker's load
//! (after its fence) sees the bit (C++20 [atomics.fences]/Rust's fence
//! rules: a modification sequenced before a `SeqCst` fence is visible to a
//! load sequenced after a later one); if the waker's fence comes first,
//! the sleeper's re-check sees the index. Either the sleeper does not
//! sleep or the waker wakes it. `SeqCst` *accesses* alone would also do on
//! the hardware, but the fences state the argument where it is used, and
//! `loom` checks fences exactly (it models `SeqCst` loads/stores only as
//! acquire/release). On x86-64 each fence is one `mfence` (or the waker's
//! store becomes an `xchg`), the only cost the handshake adds to a write.
//!
//! Closing sets a closed bit with `fetch_or(AcqRel)`. A sleeper's
//! announcing `fetch_or(Acquire)` and the closer's `fetch_or` are
//! read-modify-writes of one word, so one reads the other: either the
//! sleeper sees the closed bit (and does not sleep) or the closer sees the
//! waiting bit (and owes the wake). `Release` on close makes every byte
//! written before the close visible to whoever acquires the closed bit.
//!
//! # What the kernel's sleep must be
//!
//! A waker's `fetch_and` may clear the bit of a sleeper that has just
//! re-checked, found work and is withdrawing (its own `fetch_and` then
//! finds the bit already clear). The wake then reaches a thread that is
//! not asleep. The kernel's sleep must therefore keep a wake that arrives
//! early (a token, like `thread::park`): the next sleep returns at once,
//! and since every sleeper repeats its operation after waking, an extra
//! wake costs one retry and loses nothing. Where a bit stands for several
//! sleepers (the multi-writer ring, the message queue), a sleeper must be
//! findable by the waker (on the object's wait list) *before* it
//! announces, and withdrawing leaves the bit set for the others.

use crate::sync::{fence, AtomicU64, Ordering};

/// The reading side announced it sleeps until the queue is not empty.
pub const READER_WAITING: u64 = 1 << 0;
/// The writing side announced it sleeps until the queue has room.
pub const WRITER_WAITING: u64 = 1 << 1;
/// The reader closed its end: writes fail with broken pipe.
pub const READER_CLOSED: u64 = 1 << 2;
/// The writer (the last writer) closed its end: reads end at end of file.
pub const WRITER_CLOSED: u64 = 1 << 3;

/// The wait word: waiting and closed bits of one queue (a `u64` cell).
#[derive(Debug)]
pub struct WaitWord {
    word: AtomicU64,
}

impl WaitWord {
    /// A word with no one waiting and both ends open.
    pub(crate) fn new() -> Self {
        Self {
            word: AtomicU64::new(0),
        }
    }

    /// The bits now (`Acquire`: a closed bit seen brings along everything
    /// its closer did before closing).
    pub(crate) fn load(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }

    /// Sets the bits (a queue image being loaded: `MessageQueue::load_image`).
    pub(crate) fn set(&self, bits: u64) {
        self.word.store(bits, Ordering::Release);
    }

    /// Waker side, called right after the `Release` store that published
    /// progress: `fence(SeqCst)`, look at `waiting` (`Relaxed`: the fence
    /// orders it), and if it is set clear it. True if this call cleared
    /// it, so the caller owes the wake. The common case (no sleeper) is
    /// one fence and one load.
    pub(crate) fn take_waiter(&self, waiting: u64) -> bool {
        fence(Ordering::SeqCst);
        if self.word.load(Ordering::Relaxed) & waiting == 0 {
            return false;
        }
        self.word.fetch_and(!waiting, Ordering::Relaxed) & waiting != 0
    }

    /// Sleeper side: set `waiting` (`Acquire`, to see a closer's writes),
    /// then `fence(SeqCst)`; the caller re-checks the queue next. Returns
    /// the bits before, so the caller sees a close that came first.
    pub(crate) fn announce(&self, waiting: u64) -> u64 {
        let before = self.word.fetch_or(waiting, Ordering::Acquire);
        fence(Ordering::SeqCst);
        before
    }

    /// Sleeper side, when the re-check found the queue ready after all:
    /// clear its own single-sleeper bit. If a waker cleared it first, a
    /// wake is already on its way; the kernel's token absorbs it.
    pub(crate) fn withdraw(&self, waiting: u64) {
        self.word.fetch_and(!waiting, Ordering::Relaxed);
    }

    /// Closer side: set `closed` (`AcqRel`), and if the other side's
    /// `peer_waiting` bit was set, clear it. True if this call cleared
    /// it, so the caller owes the wake.
    pub(crate) fn close(&self, closed: u64, peer_waiting: u64) -> bool {
        let before = self.word.fetch_or(closed, Ordering::AcqRel);
        before & peer_waiting != 0
            && self.word.fetch_and(!peer_waiting, Ordering::Relaxed) & peer_waiting != 0
    }
}
