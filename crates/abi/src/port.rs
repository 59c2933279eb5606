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
//! Passing a handle: `reconfigure(send end,`
//! [`SioSelector::PortAttachHandle`]`, handle, rights)` sends one message
//! that carries the caller's SIO `handle` with `rights` (a non-empty
//! subset of `READ | WRITE` and of how it was opened; only the SIO's owner
//! may pass it). The message is an ordinary 64-byte message, a
//! [`PortHandleMessage`]: [`PORT_HANDLE_TAG`], a token and the rights.
//! Whoever receives it calls `reconfigure(receive end,`
//! [`SioSelector::PortTakeHandle`]`, token)` and gets a new handle to the
//! same open SIO in its own SMACH: a share ([`SioReconfigure::Share`]),
//! which the owner can revoke like any other. A token works once, only on
//! the port that carried it, and only while the sender's open is the one
//! it named (a closed handle's grant fails with
//! [`SysError::BadHandle`](crate::SysError::BadHandle)); grants die with
//! the receive end. The send does not block: a full queue is
//! [`SysError::WouldBlock`](crate::SysError::WouldBlock). Taking within
//! the sender's own SMACH returns the sender's handle. Sends and receives
//! of the message itself stay on the synthesized paths.
//!
//! [`SioReconfigure::Share`]: crate::SioReconfigure::Share
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

/// The first 8 bytes of a message that carries a handle (`"SKHANDLE"`).
pub const PORT_HANDLE_TAG: u64 = u64::from_le_bytes(*b"SKHANDLE");

/// A message that carries a handle, as the receiver reads it: bytes 0..8
/// [`PORT_HANDLE_TAG`], 8..16 the token to take it with, 16..20 the
/// rights (`OpenFlags` bits), the rest 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortHandleMessage {
    /// What `PortTakeHandle` takes.
    pub token: u64,
    /// The rights the handle comes with (`OpenFlags` bits).
    pub rights: u32,
}

impl PortHandleMessage {
    /// The 64 message bytes.
    #[must_use]
    pub fn to_bytes(self) -> [u8; PORT_MESSAGE_BYTES] {
        let mut out = [0; PORT_MESSAGE_BYTES];
        let (tag, rest) = out.split_at_mut(8);
        tag.copy_from_slice(&PORT_HANDLE_TAG.to_le_bytes());
        let (token, rest) = rest.split_at_mut(8);
        token.copy_from_slice(&self.token.to_le_bytes());
        if let Some(rights) = rest.get_mut(..4) {
            rights.copy_from_slice(&self.rights.to_le_bytes());
        }
        out
    }

    /// Reads a received message: `None` unless it carries a handle.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; PORT_MESSAGE_BYTES]) -> Option<Self> {
        let word = |at: usize| {
            let mut w = [0; 8];
            w.copy_from_slice(bytes.get(at..at.checked_add(8)?)?);
            Some(u64::from_le_bytes(w))
        };
        if word(0)? != PORT_HANDLE_TAG {
            return None;
        }
        let rights = u32::try_from(word(16)? & 0xffff_ffff).ok()?;
        Some(Self {
            token: word(8)?,
            rights,
        })
    }
}

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
    fn handle_messages_round_trip_and_others_are_not_ones() {
        let message = PortHandleMessage {
            token: 0x1234,
            rights: 3,
        };
        let bytes = message.to_bytes();
        assert_eq!(&bytes[..8], b"SKHANDLE");
        assert_eq!(PortHandleMessage::from_bytes(&bytes), Some(message));
        assert_eq!(PortHandleMessage::from_bytes(&[0; 64]), None);
    }

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
