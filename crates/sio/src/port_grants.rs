//! Handles in flight through ports.
//!
//! Owns [`PortGrants`]: for each port, the SIO handles sent on it and not
//! yet taken, each under a token the message carries
//! ([`sk_abi::PortHandleMessage`]). A grant names the sender's open by
//! SMACH, handle and serial (so a handle closed and reused in between no
//! longer matches) and the rights it passes; taking it is the receiver's
//! share of that open. Only a caller holding the port's receive end can
//! take, so a token is no secret beyond the port; grants die with the
//! receive end. At most [`GRANTS_PER_PORT`] wait per port.

use alloc::collections::BTreeMap;
use sk_abi::SysError;

/// Grants waiting on one port, at most.
pub const GRANTS_PER_PORT: usize = 16;

/// One handle in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The sender's SMACH (the SIO's owner).
    pub owner: u64,
    /// The owner's handle to the SIO.
    pub handle: u32,
    /// The open's serial when it was sent.
    pub serial: u64,
    /// `OpenFlags` bits the receiver gets.
    pub rights: u32,
}

/// Every port's grants, by (port, token).
#[derive(Debug, Default)]
pub struct PortGrants {
    grants: BTreeMap<(u64, u64), Grant>,
    next_token: u64,
}

impl PortGrants {
    /// Records `grant` on `port`; its token.
    ///
    /// # Errors
    /// [`SysError::WouldBlock`] if [`GRANTS_PER_PORT`] are waiting there
    /// already.
    pub fn add(&mut self, port: u64, grant: Grant) -> Result<u64, SysError> {
        let waiting = self.grants.range((port, 0)..=(port, u64::MAX)).count();
        if waiting >= GRANTS_PER_PORT {
            return Err(SysError::WouldBlock);
        }
        self.next_token = self.next_token.wrapping_add(1);
        let token = self.next_token;
        self.grants.insert((port, token), grant);
        Ok(token)
    }

    /// Takes the grant `token` of `port`, if it is there.
    pub fn take(&mut self, port: u64, token: u64) -> Option<Grant> {
        self.grants.remove(&(port, token))
    }

    /// Puts back a grant taken under `token` whose share then failed (the
    /// taker's table was full, say): the token stays good for a retry.
    pub fn restore(&mut self, port: u64, token: u64, grant: Grant) {
        self.grants.insert((port, token), grant);
    }

    /// Drops a grant that was never sent (its message did not fit).
    pub fn cancel(&mut self, port: u64, token: u64) {
        self.grants.remove(&(port, token));
    }

    /// Forgets every grant of `port` (its receive end closed).
    pub fn forget_port(&mut self, port: u64) {
        self.grants.retain(|&(p, _), _| p != port);
    }

    /// Grants waiting, on every port.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// True if none is waiting.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn grant(handle: u32) -> Grant {
        Grant {
            owner: 1,
            handle,
            serial: 7,
            rights: 1,
        }
    }

    #[test]
    fn grants_are_taken_once_per_port_and_die_with_it() {
        let mut g = PortGrants::default();
        let a = g.add(1, grant(3)).unwrap();
        let b = g.add(2, grant(4)).unwrap();
        assert_ne!(a, b);
        assert_eq!(g.take(2, a), None, "a token only works on its port");
        assert_eq!(g.take(1, a), Some(grant(3)));
        assert_eq!(g.take(1, a), None, "once");
        g.forget_port(2);
        assert!(g.is_empty());
        for i in 0..GRANTS_PER_PORT {
            g.add(5, grant(i as u32)).unwrap();
        }
        assert_eq!(g.add(5, grant(99)), Err(SysError::WouldBlock));
        assert!(g.add(6, grant(99)).is_ok(), "another port has room");
        let last = g.add(6, grant(98)).unwrap();
        g.cancel(6, last);
        assert_eq!(g.len(), GRANTS_PER_PORT + 1);
    }
}
