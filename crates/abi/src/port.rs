//! Ports: fixed-size message passing between SCPUs (the local half of the
//! network SIO to come).
//!
//! Owns [`PORT_PATH`], [`PORT_MESSAGE_BYTES`] and [`PortHandles`].
//! `create(Kind::Sio)` of [`PORT_PATH`] with flags `READ | WRITE` makes a
//! port and returns its two ends in one `rax`: the receive end (open for
//! `read`) in bits 31..0, the send end (open for `write`) in bits 63..32.
//!
//! - `write(send, buf, PORT_MESSAGE_BYTES)` sends one message: it returns
//!   [`PORT_MESSAGE_BYTES`], blocks while the queue is full, and fails
//!   with [`SysError::BrokenPipe`](crate::SysError::BrokenPipe) once the
//!   receive end is closed.
//! - `read(receive, buf, PORT_MESSAGE_BYTES)` receives one message: it
//!   returns [`PORT_MESSAGE_BYTES`], blocks while the queue is empty and
//!   the send end is open, and returns 0 (end of stream) once the send end
//!   is closed and every message was received.
//! - Any other length is
//!   [`SysError::MessageSize`](crate::SysError::MessageSize) (nothing moves);
//!   a bad buffer is [`SysError::BadAddress`](crate::SysError::BadAddress)
//!   (nothing moves: a receive into a faulting buffer leaves the message
//!   in the queue); `read` on the send end or `write` on the receive end
//!   is [`SysError::NotPermitted`](crate::SysError::NotPermitted).
//!
//! Many senders and receivers: the queue is multi-producer
//! multi-consumer. Every SCPU of the SMACH may use either handle at once;
//! each message is received exactly once, and the messages of one sender
//! (one SCPU) arrive in the order it sent them. An end is one open: closing
//! its handle closes the end for every SCPU.
//!
//! Passing a handle in a message (issue 11) is reserved, not built: it
//! needs SIO sharing between SMACHs. The place for it is the two
//! reconfigure selectors [`SioSelector::PortAttachHandle`] (the next
//! message sent on this end carries a handle) and
//! [`SioSelector::PortTakeHandle`] (install the handle the last message
//! received carried); both return
//! [`SysError::NotSupported`](crate::SysError::NotSupported) today. The
//! message bytes stay 64 bytes of payload; the handle travels beside them.
//!
//! [`SioSelector::PortAttachHandle`]: crate::SioSelector::PortAttachHandle
//! [`SioSelector::PortTakeHandle`]: crate::SioSelector::PortTakeHandle

use crate::Handle;

/// The path whose `create(Kind::Sio)` makes a new port (flags
/// `READ | WRITE`): its two ends come back as [`PortHandles`].
pub const PORT_PATH: &str = "/dev/port";

/// Bytes in one port message: every `read` and `write` on a port end moves
/// exactly this many.
pub const PORT_MESSAGE_BYTES: usize = 64;

/// The two handles a port's `create` returns in one `rax`: the receive end
/// in bits 31..0, the send end in bits 63..32 (the layout of
/// [`PipeHandles`](crate::PipeHandles)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortHandles {
    /// The receive end (open for `read`).
    pub receive: Handle,
    /// The send end (open for `write`).
    pub send: Handle,
}

impl PortHandles {
    /// The `rax` value.
    #[must_use]
    pub const fn to_return(self) -> u64 {
        (self.send.index() as u64) << 32 | self.receive.index() as u64
    }

    /// Splits a port create's `rax`.
    #[must_use]
    pub const fn from_return(value: u64) -> Self {
        let [r0, r1, r2, r3, s0, s1, s2, s3] = value.to_le_bytes();
        Self {
            receive: Handle::new(u32::from_le_bytes([r0, r1, r2, r3])),
            send: Handle::new(u32::from_le_bytes([s0, s1, s2, s3])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_handles_round_trip_through_rax() {
        let ends = PortHandles {
            receive: Handle::new(7),
            send: Handle::new(0xdead_beef),
        };
        assert_eq!(ends.to_return(), 0xdead_beef_0000_0007);
        assert_eq!(PortHandles::from_return(ends.to_return()), ends);
    }
}
