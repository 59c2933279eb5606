//! What an operation tells its caller to do next: the results of reads,
//! writes, sends and receives, and the wake they owe.
//!
//! Owns [`Wake`], [`WaitMode`], [`ReadOutcome`], [`WriteOutcome`],
//! [`SendOutcome`] and [`ReceiveOutcome`]. The queues never sleep or wake
//! anyone themselves: they return `Blocked` when the caller has announced
//! itself as a sleeper and must now sleep, and a [`Wake`] when the caller
//! took over the duty of waking the other side (see [`crate::wait_word`]).

/// Whom the caller must wake after the operation, because its own atomic
/// step cleared the other side's waiting bit. Dropping a `Wake` other than
/// [`Wake::Nobody`] leaves a sleeper asleep forever.
#[must_use = "a cleared waiting bit is a promise to wake the sleeper"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// No one was waiting.
    Nobody,
    /// The reading side (a pipe's reader, a port's receivers) announced it
    /// sleeps on empty: wake it (every registered reader, for the
    /// multi-consumer queue).
    Readers,
    /// The writing side (a pipe's writer or writers, a port's senders)
    /// announced it sleeps on full: wake it (every registered writer).
    Writers,
}

/// Whether an operation that cannot proceed announces a sleeper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    /// Return `WouldBlock` and change nothing (`O_NONBLOCK`).
    NonBlocking,
    /// Set the caller's waiting bit, re-check, and return `Blocked` if the
    /// operation still cannot proceed: the caller then sleeps until woken
    /// and repeats the operation.
    Blocking,
}

/// The result of a byte-stream read.
#[must_use = "a read may owe a wake or require the caller to sleep"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// `len` bytes were copied out (0 only for an empty buffer); then
    /// deliver `wake`.
    Read {
        /// Bytes copied into the caller's buffer.
        len: usize,
        /// The wake this read owes.
        wake: Wake,
    },
    /// Empty, the writer is open, nothing announced ([`WaitMode::NonBlocking`]).
    WouldBlock,
    /// Empty, the writer is open, and the reader's waiting bit is set
    /// ([`WaitMode::Blocking`]): sleep until woken, then read again.
    Blocked,
    /// The writer closed and every byte it wrote has been read.
    EndOfFile,
}

/// The result of a byte-stream write.
#[must_use = "a write may owe a wake or require the caller to sleep"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// `len` bytes were copied in (all of them for a write of at most the
    /// atomic size; 0 only for an empty buffer); then deliver `wake`.
    Wrote {
        /// Bytes taken from the caller's buffer.
        len: usize,
        /// The wake this write owes.
        wake: Wake,
    },
    /// Not enough room (none, or less than a write of at most the atomic
    /// size needs), nothing written, nothing announced.
    WouldBlock,
    /// Not enough room and the writer's waiting bit is set: sleep until
    /// woken, then write again.
    Blocked,
    /// The reader closed: nothing was written (`EPIPE`).
    BrokenPipe,
}

/// The result of a message send.
#[must_use = "a send may owe a wake or require the caller to sleep"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// The message is in the queue; deliver `wake`.
    Sent {
        /// The wake this send owes.
        wake: Wake,
    },
    /// The queue is full; nothing announced.
    Full,
    /// The queue is full and the senders' waiting bit is set: sleep until
    /// woken, then send again.
    Blocked,
    /// The receivers closed their end: nothing was sent (`EPIPE`).
    BrokenPipe,
}

/// The result of a message receive.
#[must_use = "a receive may owe a wake or require the caller to sleep"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveOutcome<M> {
    /// A message was taken out; deliver `wake`.
    Received {
        /// The message.
        message: M,
        /// The wake this receive owes.
        wake: Wake,
    },
    /// The queue is empty; nothing announced.
    Empty,
    /// The queue is empty and the receivers' waiting bit is set: sleep
    /// until woken, then receive again.
    Blocked,
    /// The senders closed their end and every message sent was received.
    EndOfStream,
}
