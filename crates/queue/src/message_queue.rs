//! A bounded multi-producer multi-consumer queue of fixed-size messages
//! (Vyukov's sequence-numbered slots): what ports carry.
//!
//! Owns [`MessageQueue`], its slots and [`MessageQueueLayout`]. Memory:
//! [`QueueCells`] (`enqueue` counter at offset 0, `dequeue` at 64, the
//! wait word at 128, each on its own cache line) and `capacity` slots of
//! [`MessageQueue::SLOT_STRIDE`] bytes, each a `u64` sequence number at
//! offset 0 and the `N` message bytes at offset 8.
//!
//! Slot `p & mask` serves position `p` (both counters are free-running).
//! Its sequence says whose turn it is: `p` — free for the sender of `p`;
//! `p + 1` — holds the message of `p` for its receiver; `p + capacity` —
//! freed, for the sender of the next lap. Send: read `enqueue = p`, load
//! the slot's sequence (`Acquire`); equal to `p` ⇒ claim `p` by
//! compare-exchange of `enqueue` (`Relaxed`), copy in, store sequence
//! `p + 1` (`Release`), take the receivers' waiting bit. Sequence behind
//! `p` (compared as a signed difference, so wrap-around is harmless) ⇒
//! full; ahead ⇒ another sender claimed `p`, reload. Receive is the mirror
//! image with `dequeue`, `p + 1`, and `p + capacity`.
//!
//! "Full" and "empty" can be transient: a slot claimed but not yet
//! published (or read but not yet freed) makes the next operation see
//! full (empty) until its owner stores the sequence, after which the
//! owner's `take_waiter` wakes anyone who slept on it. The blocking
//! handshake is [`crate::wait_word`]'s with [`READER_WAITING`] for
//! receivers and [`WRITER_WAITING`] for senders; both bits stand for any
//! number of sleepers, so a sleeper that re-checks and finds work leaves
//! the bit set and the waker wakes every registered sleeper.
//!
//! Closing (ports): [`MessageQueue::close_receivers`] sets
//! [`READER_CLOSED`], after which every send is `BrokenPipe` (checked
//! before each attempt, and in the bits an announcing sender sees);
//! [`MessageQueue::close_senders`] sets [`WRITER_CLOSED`], after which a
//! receive that finds the queue empty looks once more (the closed bit is
//! acquired, so every message sent before the close is visible) and ends
//! with `EndOfStream`. Any non-zero wait word (a sleeper or a closed end)
//! is what a synthesized routine sends to the generic path.

use crate::error::ConfigError;
use crate::outcome::{ReceiveOutcome, SendOutcome, WaitMode, Wake};
use crate::ring_layout::{validate_capacity, OnOwnLine};
use crate::sync::{AtomicU64, AtomicU8, Ordering};
use crate::wait_word::{WaitWord, READER_CLOSED, READER_WAITING, WRITER_CLOSED, WRITER_WAITING};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// The counters and wait word of a message queue, at documented offsets.
#[repr(C)]
#[derive(Debug)]
pub struct QueueCells {
    enqueue: OnOwnLine<AtomicU64>,
    dequeue: OnOwnLine<AtomicU64>,
    wait: OnOwnLine<WaitWord>,
}

impl QueueCells {
    /// Offset of the senders' `enqueue` counter.
    pub const ENQUEUE_OFFSET: usize = 0;
    /// Offset of the receivers' `dequeue` counter.
    pub const DEQUEUE_OFFSET: usize = 64;
    /// Offset of the wait word.
    pub const WAIT_OFFSET: usize = 128;
}

/// One slot: sequence number, then the message bytes.
#[repr(C)]
#[derive(Debug)]
struct Slot<const N: usize> {
    sequence: AtomicU64,
    bytes: [AtomicU8; N],
}

/// Where one live queue's memory is: what synthesized send and receive
/// routines bake in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageQueueLayout {
    /// Address of slot 0.
    pub slots_address: usize,
    /// Bytes from one slot to the next.
    pub slot_stride: usize,
    /// Slots (a power of two).
    pub capacity: usize,
    /// `capacity - 1`: position to slot index.
    pub mask: u64,
    /// Address of [`QueueCells`]; the cells are at its `*_OFFSET`s.
    pub cells_address: usize,
}

/// A bounded MPMC queue of `N`-byte messages. Share it (e.g. in an `Arc`)
/// among any number of senders and receivers.
#[derive(Debug)]
pub struct MessageQueue<const N: usize> {
    cells: QueueCells,
    slots: Box<[Slot<N>]>,
    mask: u64,
}

impl<const N: usize> MessageQueue<N> {
    /// Bytes from one slot to the next (sequence, message, padding).
    pub const SLOT_STRIDE: usize = core::mem::size_of::<Slot<N>>();
    /// Offset of the message bytes in a slot.
    pub const MESSAGE_OFFSET: usize = 8;

    /// An empty queue of `capacity` slots (a power of two, at least 2),
    /// positions starting at `start`.
    pub fn new(capacity: usize, start: u64) -> Result<Self, ConfigError> {
        validate_capacity(capacity)?;
        if capacity < 2 {
            return Err(ConfigError::CapacityTooSmall(capacity));
        }
        let mask = capacity as u64 - 1;
        // Slot `i` first serves the position `p` in `start..start + capacity`
        // with `p & mask == i`: `p = start + ((i - start) & mask)`.
        // Fallibly: a user program makes queues (ports) on demand, and a
        // `collect` that cannot allocate panics.
        let mut slots: Vec<Slot<N>> = Vec::new();
        slots
            .try_reserve_exact(capacity)
            .map_err(|_| ConfigError::NoMemory)?;
        slots.extend((0..capacity as u64).map(|index| Slot {
            sequence: AtomicU64::new(start.wrapping_add(index.wrapping_sub(start) & mask)),
            bytes: core::array::from_fn(|_| AtomicU8::new(0)),
        }));
        Ok(Self {
            cells: QueueCells {
                enqueue: OnOwnLine(AtomicU64::new(start)),
                dequeue: OnOwnLine(AtomicU64::new(start)),
                wait: OnOwnLine(WaitWord::new()),
            },
            slots: slots.into_boxed_slice(),
            mask,
        })
    }

    /// Slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The addresses and constants a synthesized routine bakes in.
    pub fn layout(&self) -> MessageQueueLayout {
        MessageQueueLayout {
            slots_address: self.slots.as_ptr() as usize,
            slot_stride: Self::SLOT_STRIDE,
            capacity: self.capacity(),
            mask: self.mask,
            cells_address: core::ptr::from_ref(&self.cells) as usize,
        }
    }

    /// Messages in the queue now, counting claimed ones (a snapshot).
    pub fn len(&self) -> usize {
        let dequeue = self.cells.dequeue.0.load(Ordering::Acquire);
        let enqueue = self.cells.enqueue.0.load(Ordering::Acquire);
        let len = usize::try_from(enqueue.wrapping_sub(dequeue)).unwrap_or(0);
        len.min(self.capacity())
    }

    /// True if the queue holds no message now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot(&self, position: u64) -> &Slot<N> {
        &self.slots[usize::try_from(position & self.mask).unwrap_or(0)]
    }

    /// Blocking send: the message goes in, or the sender is announced and
    /// gets `Blocked`.
    pub fn send(&self, message: &[u8; N]) -> SendOutcome {
        self.send_with(message, WaitMode::Blocking)
    }

    /// Non-blocking send: the message goes in, or `Full`.
    pub fn try_send(&self, message: &[u8; N]) -> SendOutcome {
        self.send_with(message, WaitMode::NonBlocking)
    }

    /// A send in the given mode (see the module doc).
    pub fn send_with(&self, message: &[u8; N], mode: WaitMode) -> SendOutcome {
        let enqueue = &self.cells.enqueue.0;
        let mut position = enqueue.load(Ordering::Relaxed);
        loop {
            if self.cells.wait.0.load() & READER_CLOSED != 0 {
                return SendOutcome::BrokenPipe;
            }
            let slot = self.slot(position);
            let turn = slot.sequence.load(Ordering::Acquire).wrapping_sub(position) as i64;
            if turn == 0 {
                let next = position.wrapping_add(1);
                match enqueue.compare_exchange(position, next, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => {
                        for (cell, &byte) in slot.bytes.iter().zip(message) {
                            cell.store(byte, Ordering::Relaxed);
                        }
                        slot.sequence.store(next, Ordering::Release);
                        return SendOutcome::Sent {
                            wake: self.take(READER_WAITING, Wake::Readers),
                        };
                    }
                    Err(now) => position = now,
                }
            } else if turn < 0 {
                if mode == WaitMode::NonBlocking {
                    return SendOutcome::Full;
                }
                let before = self.cells.wait.0.announce(WRITER_WAITING);
                if before & READER_CLOSED != 0 {
                    // The bit stands for every sleeper: leave it.
                    return SendOutcome::BrokenPipe;
                }
                position = enqueue.load(Ordering::Relaxed);
                let turn = self.slot(position).sequence.load(Ordering::Acquire);
                if (turn.wrapping_sub(position) as i64) < 0 {
                    return SendOutcome::Blocked;
                }
            } else {
                position = enqueue.load(Ordering::Relaxed);
            }
        }
    }

    /// Blocking receive: a message comes out, or the receiver is announced
    /// and gets `Blocked`.
    pub fn receive(&self) -> ReceiveOutcome<[u8; N]> {
        self.receive_with(WaitMode::Blocking)
    }

    /// Non-blocking receive: a message comes out, or `Empty`.
    pub fn try_receive(&self) -> ReceiveOutcome<[u8; N]> {
        self.receive_with(WaitMode::NonBlocking)
    }

    /// A receive in the given mode (see the module doc).
    pub fn receive_with(&self, mode: WaitMode) -> ReceiveOutcome<[u8; N]> {
        let mut out = [0u8; N];
        match self.receive_into(mode, |message| {
            out = *message;
            Ok::<(), core::convert::Infallible>(())
        }) {
            Ok(ReceiveOutcome::Received { wake, .. }) => {
                ReceiveOutcome::Received { message: out, wake }
            }
            Ok(ReceiveOutcome::Empty) => ReceiveOutcome::Empty,
            Ok(ReceiveOutcome::Blocked) => ReceiveOutcome::Blocked,
            Ok(ReceiveOutcome::EndOfStream) => ReceiveOutcome::EndOfStream,
            Err(never) => match never {},
        }
    }

    /// A receive that hands the message to `deliver` *before* taking it
    /// out of the queue: if `deliver` fails (a user buffer that faults),
    /// the message stays for the next receive and the error comes back.
    /// If another receiver takes the message meanwhile (another CPU),
    /// `deliver` runs again with the next one: only the last delivery
    /// counts.
    ///
    /// # Errors
    /// What `deliver` returns; nothing was taken out.
    pub fn receive_into<E>(
        &self,
        mode: WaitMode,
        mut deliver: impl FnMut(&[u8; N]) -> Result<(), E>,
    ) -> Result<ReceiveOutcome<()>, E> {
        let dequeue = &self.cells.dequeue.0;
        let mut position = dequeue.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(position);
            let next = position.wrapping_add(1);
            let turn = slot.sequence.load(Ordering::Acquire).wrapping_sub(next) as i64;
            if turn == 0 {
                let message: [u8; N] =
                    core::array::from_fn(|i| slot.bytes[i].load(Ordering::Relaxed));
                // A stale copy (another receiver took the slot and a sender
                // refilled it) is caught by the compare-exchange below.
                deliver(&message)?;
                match dequeue.compare_exchange(position, next, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => {
                        let freed = position.wrapping_add(self.capacity() as u64);
                        slot.sequence.store(freed, Ordering::Release);
                        return Ok(ReceiveOutcome::Received {
                            message: (),
                            wake: self.take(WRITER_WAITING, Wake::Writers),
                        });
                    }
                    Err(now) => position = now,
                }
            } else if turn < 0 {
                if self.cells.wait.0.load() & WRITER_CLOSED != 0 {
                    // The close (`Release`, after the last send) is seen:
                    // every message is visible now. Look once more.
                    position = dequeue.load(Ordering::Relaxed);
                    if self.is_empty_at(position) {
                        return Ok(ReceiveOutcome::EndOfStream);
                    }
                    continue;
                }
                if mode == WaitMode::NonBlocking {
                    return Ok(ReceiveOutcome::Empty);
                }
                let before = self.cells.wait.0.announce(READER_WAITING);
                position = dequeue.load(Ordering::Relaxed);
                if self.is_empty_at(position) {
                    return Ok(if before & WRITER_CLOSED != 0 {
                        ReceiveOutcome::EndOfStream
                    } else {
                        ReceiveOutcome::Blocked
                    });
                }
            } else {
                position = dequeue.load(Ordering::Relaxed);
            }
        }
    }

    /// True if the slot of `position` holds no message for it yet.
    fn is_empty_at(&self, position: u64) -> bool {
        let turn = self.slot(position).sequence.load(Ordering::Acquire);
        (turn.wrapping_sub(position.wrapping_add(1)) as i64) < 0
    }

    /// Closes the senders' end: once the queue is drained, receives end
    /// ([`ReceiveOutcome::EndOfStream`]). Returns the wake owed (sleeping
    /// receivers, to see the end). Call it once no send is in progress
    /// (the kernel closes an end with every CPU out of its routines).
    pub fn close_senders(&self) -> Wake {
        if self.cells.wait.0.close(WRITER_CLOSED, READER_WAITING) {
            Wake::Readers
        } else {
            Wake::Nobody
        }
    }

    /// Closes the receivers' end: every later send is
    /// [`SendOutcome::BrokenPipe`]. Returns the wake owed (sleeping
    /// senders, to see the broken pipe).
    pub fn close_receivers(&self) -> Wake {
        if self.cells.wait.0.close(READER_CLOSED, WRITER_WAITING) {
            Wake::Writers
        } else {
            Wake::Nobody
        }
    }

    /// Bytes of the cells in an [`image`](Self::image): [`QueueCells`]
    /// at its offsets; the slots follow.
    pub const CELLS_BYTES: usize = core::mem::size_of::<QueueCells>();

    /// The queue's memory as bytes, laid out as in memory: the cells
    /// ([`Self::CELLS_BYTES`], counters and wait word at their `*_OFFSET`s,
    /// padding zero), then the slots ([`Self::SLOT_STRIDE`] apart, sequence
    /// at 0, message at [`Self::MESSAGE_OFFSET`]). For tests that run code
    /// written against [`MessageQueueLayout`] on a copy (the host
    /// sandbox runs generated code in a child process, sharing only its
    /// data pages), then [`load_image`](Self::load_image) the result.
    pub fn image(&self) -> Vec<u8> {
        let cells = &self.cells;
        let mut out = alloc::vec![0u8; Self::CELLS_BYTES + self.slots.len() * Self::SLOT_STRIDE];
        let put = |out: &mut [u8], at: usize, value: u64| {
            out[at..at + 8].copy_from_slice(&value.to_le_bytes());
        };
        put(
            &mut out,
            QueueCells::ENQUEUE_OFFSET,
            cells.enqueue.0.load(Ordering::Acquire),
        );
        put(
            &mut out,
            QueueCells::DEQUEUE_OFFSET,
            cells.dequeue.0.load(Ordering::Acquire),
        );
        put(&mut out, QueueCells::WAIT_OFFSET, cells.wait.0.load());
        for (index, slot) in self.slots.iter().enumerate() {
            let at = Self::CELLS_BYTES + index * Self::SLOT_STRIDE;
            put(&mut out, at, slot.sequence.load(Ordering::Acquire));
            for (i, byte) in slot.bytes.iter().enumerate() {
                out[at + Self::MESSAGE_OFFSET + i] = byte.load(Ordering::Relaxed);
            }
        }
        out
    }

    /// Loads an [`image`](Self::image) of this queue (the same capacity),
    /// as code working on the copy left it. No one may use the queue
    /// meanwhile.
    ///
    /// # Panics
    /// If `image` is shorter than this queue's image.
    pub fn load_image(&self, image: &[u8]) {
        let get = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&image[at..at + 8]);
            u64::from_le_bytes(word)
        };
        let cells = &self.cells;
        cells
            .enqueue
            .0
            .store(get(QueueCells::ENQUEUE_OFFSET), Ordering::Release);
        cells
            .dequeue
            .0
            .store(get(QueueCells::DEQUEUE_OFFSET), Ordering::Release);
        cells.wait.0.set(get(QueueCells::WAIT_OFFSET));
        for (index, slot) in self.slots.iter().enumerate() {
            let at = Self::CELLS_BYTES + index * Self::SLOT_STRIDE;
            for (i, byte) in slot.bytes.iter().enumerate() {
                byte.store(image[at + Self::MESSAGE_OFFSET + i], Ordering::Relaxed);
            }
            slot.sequence.store(get(at), Ordering::Release);
        }
    }

    /// After publishing: the wake owed if `waiting` was set.
    fn take(&self, waiting: u64, wake: Wake) -> Wake {
        if self.cells.wait.0.take_waiter(waiting) {
            wake
        } else {
            Wake::Nobody
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn cells_and_slots_sit_at_their_documented_offsets() {
        use core::mem::offset_of;
        assert_eq!(offset_of!(QueueCells, enqueue), QueueCells::ENQUEUE_OFFSET);
        assert_eq!(offset_of!(QueueCells, dequeue), QueueCells::DEQUEUE_OFFSET);
        assert_eq!(offset_of!(QueueCells, wait), QueueCells::WAIT_OFFSET);
        assert_eq!(offset_of!(Slot<64>, sequence), 0);
        assert_eq!(
            offset_of!(Slot<64>, bytes),
            MessageQueue::<64>::MESSAGE_OFFSET
        );
        assert_eq!(MessageQueue::<64>::SLOT_STRIDE, 72);
        assert_eq!(MessageQueue::<1>::SLOT_STRIDE, 16);
    }
}
