//! Counting semaphores between SCPUs (Synthesis §3.3): the generic P and V.
//!
//! Owns [`Semaphore`], [`POutcome`] and [`SemaphoreWord`]. A semaphore is
//! an SIO on `/dev/semaphore` (a new one per open, count 0): `read` is P,
//! `write` is V. Its state is one `u64` cell that never moves while the SIO
//! is open, so synthesized routines can bake its address in, plus a FIFO of
//! the waiting threads that only this (generic) code touches:
//!
//! ```text
//! bits 63..32  waiters: threads queued in P (the FIFO's length)
//! bits 31..0   count:   units available
//! ```
//!
//! **Invariant**: `count > 0` implies `waiters == 0`. V on a semaphore with
//! waiters hands its unit straight to the first waiter (the count stays 0;
//! FIFO wake order, no barging), so a unit is never available while someone
//! waits for it.
//!
//! **The fast paths** (synthesized, `crates/synth/templates/sem_*.rs`) work
//! on the cell alone with one `lock cmpxchg`: P decrements when
//! `count > 0`; V increments when the whole word is below `u32::MAX` (no
//! waiter, no overflow). Everything else goes to this code. Because
//! waiters and count share one word, a fast V can never increment past a
//! waiter that the slow P registered: its compare-exchange fails, it
//! reloads, sees the waiter and goes slow. On one CPU with interrupts
//! masked (every kernel call) the two paths never interleave anyway; on
//! SMP the cell's single-word protocol still holds, and the slow paths
//! serialize on the kernel lock (the FIFO and the "granted" set are only
//! touched under it). What SMP would still need: the waiter count must be
//! raised in the cell *before* the slow P releases the lock and blocks (it
//! is: one compare-exchange decides unit-or-wait), the block must be in the
//! same critical section as that decision (`scheduler::block_current_unless`
//! does it), and waking an SCPU that another CPU is about to switch away
//! from needs that CPU's switch to be complete before the woken SCPU runs
//! elsewhere (a per-thread "on CPU" flag, or an IPI); the fast paths need
//! nothing more (`lock cmpxchg` is the whole protocol).
//!
//! A woken waiter does not race for the unit: V records it as *granted*;
//! its P consumes the grant when it runs again. A waiter that leaves
//! without consuming (killed, or its SCPU ended) is [`cancel`](Semaphore::cancel)led:
//! queued, it just leaves the FIFO; granted, its unit goes to the next
//! waiter or back to the count, so no unit is ever lost.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::SysError;

/// The cell's two halves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SemaphoreWord {
    /// Units available.
    pub count: u32,
    /// Threads queued in P.
    pub waiters: u32,
}

impl SemaphoreWord {
    /// Splits a cell value.
    pub const fn from_bits(bits: u64) -> Self {
        let [c0, c1, c2, c3, w0, w1, w2, w3] = bits.to_le_bytes();
        Self {
            count: u32::from_le_bytes([c0, c1, c2, c3]),
            waiters: u32::from_le_bytes([w0, w1, w2, w3]),
        }
    }

    /// The cell value.
    pub const fn bits(self) -> u64 {
        ((self.waiters as u64) << 32) | self.count as u64
    }
}

/// What a generic P found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum POutcome {
    /// The caller has its unit; P returns.
    Acquired,
    /// The caller is queued (or still queued): block, then call P again.
    Wait,
}

/// One semaphore: the cell and the FIFO of waiters (thread ids).
#[derive(Debug)]
pub struct Semaphore {
    cell: Box<[AtomicU64; 1]>,
    queue: VecDeque<u64>,
    granted: Vec<u64>,
}

impl Semaphore {
    /// A semaphore with count 0 and no waiter.
    ///
    /// # Errors
    /// [`SysError::NoMemory`].
    pub fn new() -> Result<Self, SysError> {
        let mut v = Vec::new();
        v.try_reserve_exact(1).map_err(|_| SysError::NoMemory)?;
        v.push(AtomicU64::new(0));
        let cell = v
            .into_boxed_slice()
            .try_into()
            .map_err(|_| SysError::NoMemory)?;
        Ok(Self {
            cell,
            queue: VecDeque::new(),
            granted: Vec::new(),
        })
    }

    /// The cell (its address is baked into the synthesized P and V).
    pub fn cell(&self) -> &AtomicU64 {
        let [cell] = &*self.cell;
        cell
    }

    /// The cell, split.
    pub fn word(&self) -> SemaphoreWord {
        SemaphoreWord::from_bits(self.cell().load(Ordering::Acquire))
    }

    /// Units available.
    pub fn count(&self) -> u32 {
        self.word().count
    }

    /// Threads waiting, in wake order (granted ones not included).
    pub fn waiters(&self) -> impl Iterator<Item = &u64> {
        self.queue.iter()
    }

    /// True if `thread` is queued or holds a grant it has not consumed.
    pub fn involves(&self, thread: u64) -> bool {
        self.queue.contains(&thread) || self.granted.contains(&thread)
    }

    /// Changes the cell with one compare-exchange loop (the fast paths'
    /// protocol, so the generic path is correct beside them on SMP too).
    fn update(&self, f: impl Fn(SemaphoreWord) -> SemaphoreWord) {
        let _ = self
            .cell()
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                Some(f(SemaphoreWord::from_bits(bits)).bits())
            });
    }

    /// The generic P by `thread`: takes a grant V left it, else a unit,
    /// else queues it (once) at the back.
    ///
    /// # Errors
    /// [`SysError::NoMemory`] if the queue cannot grow (nothing changed).
    pub fn p(&mut self, thread: u64) -> Result<POutcome, SysError> {
        if let Some(at) = self.granted.iter().position(|&t| t == thread) {
            self.granted.swap_remove(at);
            return Ok(POutcome::Acquired);
        }
        if self.queue.contains(&thread) {
            return Ok(POutcome::Wait);
        }
        // Decrement if a unit is there; else register as a waiter. One
        // compare-exchange decides which, against the fast paths.
        self.queue.try_reserve(1).map_err(|_| SysError::NoMemory)?;
        self.granted
            .try_reserve(1)
            .map_err(|_| SysError::NoMemory)?;
        let mut acquired = false;
        let _ = self
            .cell()
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                let mut w = SemaphoreWord::from_bits(bits);
                acquired = w.count > 0;
                if acquired {
                    w.count = w.count.saturating_sub(1);
                } else {
                    w.waiters = w.waiters.saturating_add(1);
                }
                Some(w.bits())
            });
        if acquired {
            Ok(POutcome::Acquired)
        } else {
            self.queue.push_back(thread);
            Ok(POutcome::Wait)
        }
    }

    /// The generic V: hands the unit to the first waiter (returned: wake
    /// it), else adds it to the count.
    ///
    /// # Errors
    /// [`SysError::BadValue`] if the count is already `u32::MAX` (nothing
    /// changed).
    pub fn v(&mut self) -> Result<Option<u64>, SysError> {
        if let Some(thread) = self.queue.pop_front() {
            // Room was reserved when it queued.
            self.granted.push(thread);
            self.update(|mut w| {
                w.waiters = w.waiters.saturating_sub(1);
                w
            });
            return Ok(Some(thread));
        }
        let mut overflow = false;
        let _ = self
            .cell()
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                let mut w = SemaphoreWord::from_bits(bits);
                overflow = w.count == u32::MAX;
                w.count = w.count.saturating_add(1);
                Some(w.bits())
            });
        if overflow {
            Err(SysError::BadValue)
        } else {
            Ok(None)
        }
    }

    /// `thread` will never call P again (killed, or its SCPU ended): it
    /// leaves the queue; an unconsumed grant is passed on as by V. Returns
    /// the thread to wake, if the grant went to another waiter.
    pub fn cancel(&mut self, thread: u64) -> Option<u64> {
        if let Some(at) = self.queue.iter().position(|&t| t == thread) {
            self.queue.remove(at);
            self.update(|mut w| {
                w.waiters = w.waiters.saturating_sub(1);
                w
            });
            return None;
        }
        let at = self.granted.iter().position(|&t| t == thread)?;
        self.granted.swap_remove(at);
        // The count was 0 when the grant was made and can only have grown
        // by V's since, each below u32::MAX, or been taken: it is below
        // u32::MAX unless V's filled it, in which case the unit is dropped
        // (saturating), never wrapped.
        self.v().ok().flatten()
    }

    /// Every thread involved (queued or granted), for the close that
    /// destroys the semaphore: the kernel wakes them and their P fails.
    pub fn drain(&mut self) -> Vec<u64> {
        let mut all: Vec<u64> = self.queue.drain(..).collect();
        all.append(&mut self.granted);
        self.update(|mut w| {
            w.waiters = 0;
            w
        });
        all
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests;
