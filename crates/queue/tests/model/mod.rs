//! Sequential models (a `VecDeque` and the waiting/closed bits) that the
//! proptests run every queue against, operation by operation.

#![allow(dead_code)]

use sk_queue::{ReadOutcome, ReceiveOutcome, SendOutcome, WaitMode, Wake, WriteOutcome};
use std::collections::VecDeque;

/// A pipe as the spec says it behaves, one operation at a time.
#[derive(Debug)]
pub(crate) struct PipeModel {
    pub(crate) bytes: VecDeque<u8>,
    pub(crate) capacity: usize,
    pub(crate) atomic_size: usize,
    pub(crate) reader_waiting: bool,
    pub(crate) writer_waiting: bool,
    pub(crate) reader_closed: bool,
    pub(crate) open_writers: usize,
}

impl PipeModel {
    pub(crate) fn new(capacity: usize, atomic_size: usize) -> Self {
        Self {
            bytes: VecDeque::new(),
            capacity,
            atomic_size,
            reader_waiting: false,
            writer_waiting: false,
            reader_closed: false,
            open_writers: 1,
        }
    }

    pub(crate) fn free(&self) -> usize {
        self.capacity - self.bytes.len()
    }

    pub(crate) fn write(&mut self, data: &[u8], mode: WaitMode) -> WriteOutcome {
        if data.is_empty() {
            return WriteOutcome::Wrote {
                len: 0,
                wake: Wake::Nobody,
            };
        }
        if self.reader_closed {
            return WriteOutcome::BrokenPipe;
        }
        let needed = if data.len() <= self.atomic_size {
            data.len()
        } else {
            1
        };
        if self.free() >= needed {
            let len = data.len().min(self.free());
            self.bytes.extend(&data[..len]);
            let wake = if std::mem::take(&mut self.reader_waiting) {
                Wake::Readers
            } else {
                Wake::Nobody
            };
            return WriteOutcome::Wrote { len, wake };
        }
        match mode {
            WaitMode::NonBlocking => WriteOutcome::WouldBlock,
            WaitMode::Blocking => {
                self.writer_waiting = true;
                WriteOutcome::Blocked
            }
        }
    }

    pub(crate) fn read(&mut self, out_len: usize, mode: WaitMode) -> (ReadOutcome, Vec<u8>) {
        if out_len == 0 {
            return (
                ReadOutcome::Read {
                    len: 0,
                    wake: Wake::Nobody,
                },
                Vec::new(),
            );
        }
        if !self.bytes.is_empty() {
            let len = out_len.min(self.bytes.len());
            let got: Vec<u8> = self.bytes.drain(..len).collect();
            let wake = if std::mem::take(&mut self.writer_waiting) {
                Wake::Writers
            } else {
                Wake::Nobody
            };
            return (ReadOutcome::Read { len, wake }, got);
        }
        if self.open_writers == 0 {
            return (ReadOutcome::EndOfFile, Vec::new());
        }
        match mode {
            WaitMode::NonBlocking => (ReadOutcome::WouldBlock, Vec::new()),
            WaitMode::Blocking => {
                self.reader_waiting = true;
                (ReadOutcome::Blocked, Vec::new())
            }
        }
    }

    pub(crate) fn close_writer(&mut self) -> Wake {
        self.open_writers -= 1;
        if self.open_writers == 0 && std::mem::take(&mut self.reader_waiting) {
            Wake::Readers
        } else {
            Wake::Nobody
        }
    }

    pub(crate) fn close_reader(&mut self) -> Wake {
        self.reader_closed = true;
        if std::mem::take(&mut self.writer_waiting) {
            Wake::Writers
        } else {
            Wake::Nobody
        }
    }
}

/// A port's message queue as the spec says it behaves.
#[derive(Debug)]
pub(crate) struct QueueModel<const N: usize> {
    pub(crate) messages: VecDeque<[u8; N]>,
    pub(crate) capacity: usize,
    pub(crate) receivers_waiting: bool,
    pub(crate) senders_waiting: bool,
    pub(crate) senders_closed: bool,
    pub(crate) receivers_closed: bool,
}

impl<const N: usize> QueueModel<N> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            messages: VecDeque::new(),
            capacity,
            receivers_waiting: false,
            senders_waiting: false,
            senders_closed: false,
            receivers_closed: false,
        }
    }

    /// Closes the senders' end; wakes sleeping receivers.
    pub(crate) fn close_senders(&mut self) -> Wake {
        self.senders_closed = true;
        if std::mem::take(&mut self.receivers_waiting) {
            Wake::Readers
        } else {
            Wake::Nobody
        }
    }

    /// Closes the receivers' end; wakes sleeping senders.
    pub(crate) fn close_receivers(&mut self) -> Wake {
        self.receivers_closed = true;
        if std::mem::take(&mut self.senders_waiting) {
            Wake::Writers
        } else {
            Wake::Nobody
        }
    }

    pub(crate) fn send(&mut self, message: [u8; N], mode: WaitMode) -> SendOutcome {
        if self.receivers_closed {
            return SendOutcome::BrokenPipe;
        }
        if self.messages.len() < self.capacity {
            self.messages.push_back(message);
            let wake = if std::mem::take(&mut self.receivers_waiting) {
                Wake::Readers
            } else {
                Wake::Nobody
            };
            return SendOutcome::Sent { wake };
        }
        match mode {
            WaitMode::NonBlocking => SendOutcome::Full,
            WaitMode::Blocking => {
                self.senders_waiting = true;
                SendOutcome::Blocked
            }
        }
    }

    pub(crate) fn receive(&mut self, mode: WaitMode) -> ReceiveOutcome<[u8; N]> {
        if let Some(message) = self.messages.pop_front() {
            let wake = if std::mem::take(&mut self.senders_waiting) {
                Wake::Writers
            } else {
                Wake::Nobody
            };
            return ReceiveOutcome::Received { message, wake };
        }
        if self.senders_closed {
            return ReceiveOutcome::EndOfStream;
        }
        match mode {
            WaitMode::NonBlocking => ReceiveOutcome::Empty,
            WaitMode::Blocking => {
                self.receivers_waiting = true;
                ReceiveOutcome::Blocked
            }
        }
    }
}
