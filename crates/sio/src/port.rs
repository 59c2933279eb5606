//! Ports: a bounded queue of 64-byte messages between a receive end and a
//! send end, each an SIO (`/dev/port` makes both), for any number of
//! senders and receivers.
//!
//! Owns [`PortEnd`], [`PortStep`] and the generic send and receive
//! ([`PortEnd::send_from`], [`PortEnd::receive_into`]). The queue and its
//! handshake are `sk-queue`'s [`MessageQueue`] (Vyukov's sequence-numbered
//! slots, multi-producer multi-consumer; the wait word's bits say which
//! side sleeps and which end closed). As with pipes, these functions never
//! sleep or wake: they return what the kernel must do (block the caller
//! after registering it in `Devices::port_waiters`, wake the other side),
//! and the kernel does it in the same critical section.
//!
//! Semantics ([`sk_abi::port`]): every call moves exactly
//! [`PORT_MESSAGE_BYTES`]; any other length is
//! [`SysError::MessageSize`]. A send blocks while the queue is full and
//! fails with [`SysError::BrokenPipe`] once the receive end closed. A
//! receive blocks while the queue is empty and the send end is open, and
//! returns 0 (end of stream) once the send end closed and the queue is
//! drained. A receive delivers to user memory before it takes the message
//! out ([`MessageQueue::receive_into`]), and a send reads user memory
//! before it claims a slot, so a faulting buffer moves nothing.
//!
//! Several SCPUs may use one end at once (the queue is MPMC): each message
//! is received once, and one sender's messages arrive in its order.

use alloc::sync::Arc;
use sk_abi::SysError;
use sk_queue::{MessageQueue, MessageQueueLayout, ReceiveOutcome, SendOutcome, WaitMode, Wake};

use crate::UserMemory;

pub use sk_abi::{PORT_MESSAGE_BYTES, PORT_PATH};
/// Messages a port holds.
pub const PORT_CAPACITY: usize = 16;

/// The queue of a port.
pub type PortQueue = MessageQueue<PORT_MESSAGE_BYTES>;

/// One end of a port.
#[derive(Debug)]
pub struct PortEnd {
    /// The port's number (its waiters' key).
    port: u64,
    /// True for the receive end.
    is_receive_end: bool,
    queue: Arc<PortQueue>,
}

/// What a generic send or receive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortStep {
    /// Moved a message ([`PORT_MESSAGE_BYTES`]; 0 for a receive at end of
    /// stream); then wake the other side's sleepers if `wake` says so.
    Moved {
        /// Bytes moved.
        len: u64,
        /// Whom to wake.
        wake: Wake,
    },
    /// The caller announced itself on the wait word: register it as a
    /// waiter of [`PortEnd::port`] and block, then try again.
    Blocked,
}

/// The two ends of a new port numbered `port`: (receive end, send end).
///
/// # Errors
/// [`SysError::NoMemory`] if the queue cannot be made.
pub fn new_port(port: u64) -> Result<(PortEnd, PortEnd), SysError> {
    let queue = PortQueue::new(PORT_CAPACITY, 0).map_err(|_| SysError::NoMemory)?;
    // `Arc::new` cannot fail softly (`Arc::try_new` is unstable): make sure
    // its bytes are there first, by taking and giving back as many
    // (nothing allocates in between under the kernel's lock), as
    // `sk_queue::pipe` does.
    let mut probe: alloc::vec::Vec<u8> = alloc::vec::Vec::new();
    probe
        .try_reserve_exact(core::mem::size_of::<PortQueue>().saturating_add(64))
        .map_err(|_| SysError::NoMemory)?;
    drop(probe);
    let queue = Arc::new(queue);
    Ok((
        PortEnd {
            port,
            is_receive_end: true,
            queue: queue.clone(),
        },
        PortEnd {
            port,
            is_receive_end: false,
            queue,
        },
    ))
}

/// Checks the length of a port call.
fn message_len(len: u64) -> Result<(), SysError> {
    if len == PORT_MESSAGE_BYTES as u64 {
        Ok(())
    } else {
        Err(SysError::MessageSize)
    }
}

impl PortEnd {
    /// The port's number.
    pub fn port(&self) -> u64 {
        self.port
    }

    /// True for the receive end.
    pub fn is_receive_end(&self) -> bool {
        self.is_receive_end
    }

    /// Messages in the queue now.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True if the queue is empty now.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Where the queue's slots and cells are (what synthesized send and
    /// receive bake in; fixed while either end is open).
    pub fn layout(&self) -> MessageQueueLayout {
        self.queue.layout()
    }

    /// One generic receive of a message into user memory at `buf`.
    ///
    /// # Errors
    /// [`SysError::WrongKind`] on the send end; [`SysError::MessageSize`]
    /// if `len` is not [`PORT_MESSAGE_BYTES`]; [`SysError::BadAddress`] if
    /// the buffer faults (the message stays).
    pub fn receive_into(
        &mut self,
        user: &mut impl UserMemory,
        buf: u64,
        len: u64,
    ) -> Result<PortStep, SysError> {
        if !self.is_receive_end {
            return Err(SysError::WrongKind);
        }
        message_len(len)?;
        let outcome = self
            .queue
            .receive_into(WaitMode::Blocking, |message| user.write(buf, message))?;
        Ok(match outcome {
            ReceiveOutcome::Received { wake, .. } => PortStep::Moved {
                len: PORT_MESSAGE_BYTES as u64,
                wake,
            },
            ReceiveOutcome::EndOfStream => PortStep::Moved {
                len: 0,
                wake: Wake::Nobody,
            },
            ReceiveOutcome::Blocked | ReceiveOutcome::Empty => PortStep::Blocked,
        })
    }

    /// One generic send of the message at user address `buf`.
    ///
    /// # Errors
    /// [`SysError::WrongKind`] on the receive end; [`SysError::MessageSize`]
    /// if `len` is not [`PORT_MESSAGE_BYTES`]; [`SysError::BadAddress`] if
    /// the buffer faults (nothing sent); [`SysError::BrokenPipe`] once the
    /// receive end closed.
    pub fn send_from(
        &mut self,
        user: &mut impl UserMemory,
        buf: u64,
        len: u64,
    ) -> Result<PortStep, SysError> {
        if self.is_receive_end {
            return Err(SysError::WrongKind);
        }
        message_len(len)?;
        let mut message = [0u8; PORT_MESSAGE_BYTES];
        user.read(&mut message, buf)?;
        match self.queue.send_with(&message, WaitMode::Blocking) {
            SendOutcome::Sent { wake } => Ok(PortStep::Moved {
                len: PORT_MESSAGE_BYTES as u64,
                wake,
            }),
            SendOutcome::Blocked | SendOutcome::Full => Ok(PortStep::Blocked),
            SendOutcome::BrokenPipe => Err(SysError::BrokenPipe),
        }
    }

    /// Sends a message the kernel built (a handle grant) without blocking:
    /// `Some(wake)` once queued, `None` if the queue is full (nothing
    /// changed, no waiting bit set).
    ///
    /// # Errors
    /// [`SysError::WrongKind`] on the receive end;
    /// [`SysError::BrokenPipe`] once the receive end closed.
    pub fn send_kernel_message(
        &mut self,
        message: &[u8; PORT_MESSAGE_BYTES],
    ) -> Result<Option<Wake>, SysError> {
        if self.is_receive_end {
            return Err(SysError::WrongKind);
        }
        match self.queue.send_with(message, WaitMode::NonBlocking) {
            SendOutcome::Sent { wake } => Ok(Some(wake)),
            SendOutcome::Blocked | SendOutcome::Full => Ok(None),
            SendOutcome::BrokenPipe => Err(SysError::BrokenPipe),
        }
    }

    /// Closes this end; returns whom to wake (the other side's sleepers:
    /// receivers see the end of the stream, senders a broken pipe).
    pub fn close(self) -> Wake {
        if self.is_receive_end {
            self.queue.close_receivers()
        } else {
            self.queue.close_senders()
        }
    }
}

#[cfg(test)]
mod tests;
