//! The read queue: bytes that a `read` can return, with line boundaries.
//!
//! Owns [`InputQueue`], a fixed ring of [`Slot`]s. A slot is a byte, a byte
//! that ends a record (a completed line, or a partial line pushed by
//! Ctrl-D), or an end-of-file mark. Cooked reads stop at the end of a
//! record, which gives POSIX's "at most one line per read"; raw reads ignore
//! record ends. Fixed capacity, no allocation: input arrives in the serial
//! interrupt handler, where the heap is off limits.

/// Slots in the read queue: bytes waiting to be read, plus end-of-file marks.
pub const READ_QUEUE_CAPACITY: usize = 8192;

/// One position in the read queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A byte inside a record, or any byte typed in raw mode.
    Byte(u8),
    /// The last byte of a record: a cooked read stops after it.
    LastByte(u8),
    /// End of file: one cooked or raw read returns `Eof` and consumes it.
    EndOfFile,
}

/// What [`InputQueue::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// This many bytes were copied.
    Bytes(usize),
    /// An end-of-file mark was consumed.
    EndOfFile,
}

/// A fixed-capacity FIFO of slots.
#[derive(Debug, Clone)]
pub(crate) struct InputQueue {
    slots: [Slot; READ_QUEUE_CAPACITY],
    /// Index of the oldest slot.
    head: usize,
    len: usize,
}

impl InputQueue {
    pub(crate) const fn new() -> Self {
        Self {
            slots: [Slot::EndOfFile; READ_QUEUE_CAPACITY],
            head: 0,
            len: 0,
        }
    }

    pub(crate) const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Free slots.
    pub(crate) const fn free(&self) -> usize {
        READ_QUEUE_CAPACITY.saturating_sub(self.len)
    }

    /// Appends `body` and then `terminator` as one record; without a
    /// terminator the last byte of `body` ends it. All or nothing: `false`
    /// if the record is empty or does not fit.
    pub(crate) fn push_record(&mut self, body: &[u8], terminator: Option<u8>) -> bool {
        let len = body.len().saturating_add(usize::from(terminator.is_some()));
        if len == 0 || len > self.free() {
            return false;
        }
        for &byte in body {
            self.push(Slot::Byte(byte));
        }
        match terminator {
            Some(byte) => {
                self.push(Slot::LastByte(byte));
            }
            None => self.end_record(),
        }
        true
    }

    /// Appends one byte that ends no record (raw mode); `false` when full.
    pub(crate) fn push_byte(&mut self, byte: u8) -> bool {
        self.push(Slot::Byte(byte))
    }

    /// Appends an end-of-file mark; `false` when full.
    pub(crate) fn push_end_of_file(&mut self) -> bool {
        self.push(Slot::EndOfFile)
    }

    /// Makes the newest byte end a record, so bytes typed in raw mode form
    /// one record when switching to cooked mode.
    pub(crate) fn end_record(&mut self) {
        let Some(index) = self.index_of(self.len.wrapping_sub(1)) else {
            return;
        };
        if let Some(slot) = self.slots.get_mut(index) {
            if let Slot::Byte(byte) = *slot {
                *slot = Slot::LastByte(byte);
            }
        }
    }

    /// Moves bytes into `buf` from the front: up to `buf.len()`, never past
    /// an end-of-file mark, and, if `stop_at_record_end`, not past the end of
    /// a record. An end-of-file mark at the very front is consumed instead.
    pub(crate) fn read(&mut self, buf: &mut [u8], stop_at_record_end: bool) -> Taken {
        if self.front() == Some(Slot::EndOfFile) {
            self.pop();
            return Taken::EndOfFile;
        }
        let mut copied = 0_usize;
        for out in buf.iter_mut() {
            let (byte, is_last) = match self.front() {
                Some(Slot::Byte(byte)) => (byte, false),
                Some(Slot::LastByte(byte)) => (byte, true),
                Some(Slot::EndOfFile) | None => break,
            };
            self.pop();
            *out = byte;
            copied = copied.saturating_add(1);
            if is_last && stop_at_record_end {
                break;
            }
        }
        Taken::Bytes(copied)
    }

    fn front(&self) -> Option<Slot> {
        self.slots.get(self.index_of(0)?).copied()
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.head = wrap(self.head.saturating_add(1));
            self.len = self.len.saturating_sub(1);
        }
    }

    fn push(&mut self, slot: Slot) -> bool {
        if self.len >= READ_QUEUE_CAPACITY {
            return false;
        }
        let index = wrap(self.head.saturating_add(self.len));
        match self.slots.get_mut(index) {
            Some(free) => {
                *free = slot;
                self.len = self.len.saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// Ring index of the `position`-th oldest slot, if there is one.
    fn index_of(&self, position: usize) -> Option<usize> {
        (position < self.len).then(|| wrap(self.head.saturating_add(position)))
    }
}

/// Reduces an index in `0..2 * CAPACITY` into the ring.
fn wrap(index: usize) -> usize {
    index.checked_sub(READ_QUEUE_CAPACITY).unwrap_or(index)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn cooked_reads_stop_at_record_ends_raw_reads_do_not() {
        let mut queue = InputQueue::new();
        assert!(queue.push_record(b"ab", Some(b'\n')));
        assert!(queue.push_record(b"cd", Some(b'\n')));
        let mut buf = [0_u8; 8];
        assert_eq!(queue.read(&mut buf, true), Taken::Bytes(3));
        assert_eq!(&buf[..3], b"ab\n");
        assert!(queue.push_record(b"ef", None));
        assert_eq!(queue.read(&mut buf, false), Taken::Bytes(5));
        assert_eq!(&buf[..5], b"cd\nef");
        assert!(queue.is_empty());
    }

    #[test]
    fn end_of_file_marks_are_consumed_one_at_a_time() {
        let mut queue = InputQueue::new();
        assert!(queue.push_byte(b'x'));
        assert!(queue.push_end_of_file());
        assert!(queue.push_end_of_file());
        let mut buf = [0_u8; 4];
        assert_eq!(queue.read(&mut buf, false), Taken::Bytes(1));
        assert_eq!(queue.read(&mut buf, false), Taken::EndOfFile);
        assert_eq!(queue.read(&mut buf, false), Taken::EndOfFile);
        assert_eq!(queue.read(&mut buf, false), Taken::Bytes(0));
    }

    #[test]
    fn wraps_around_and_refuses_when_full() {
        let mut queue = InputQueue::new();
        let mut buf = [0_u8; 100];
        for round in 0..1000_usize {
            let record = [b"abcdefghijklmnopqrstuvwxyz"[round % 26]; 37];
            assert!(queue.push_record(&record, None));
            assert_eq!(queue.read(&mut buf, true), Taken::Bytes(37));
            assert_eq!(buf[..37], record);
        }
        for _ in 0..READ_QUEUE_CAPACITY {
            assert!(queue.push_byte(b'z'));
        }
        assert_eq!(queue.free(), 0);
        assert!(!queue.push_byte(b'z'));
        assert!(!queue.push_end_of_file());
        assert!(!queue.push_record(b"", Some(b'\n')));
        assert!(!queue.push_record(b"", None));
    }

    #[test]
    fn end_record_marks_the_newest_byte() {
        let mut queue = InputQueue::new();
        queue.end_record();
        assert!(queue.push_byte(b'a'));
        assert!(queue.push_byte(b'b'));
        queue.end_record();
        assert!(queue.push_record(b"c", Some(b'\n')));
        let mut buf = [0_u8; 8];
        assert_eq!(queue.read(&mut buf, true), Taken::Bytes(2));
        assert_eq!(queue.read(&mut buf, true), Taken::Bytes(2));
    }
}
