//! The call word: `rax` at `syscall`, `(handle << 3) | call`.
//!
//! Owns [`CallWord`]. The kernel uses the word itself as the index into
//! the calling thread's table of synthesized routines (8 slots per handle),
//! so the fast path does no decoding at all (ARCHITECTURE.md §4); the
//! generic path decodes it once with [`CallWord::decode`].

use crate::{Call, Handle, SysError};

/// A checked call word: a [`Handle`] and a [`Call`] packed as
/// `(handle << 3) | call`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallWord(u64);

impl CallWord {
    /// Set in a call word to send that one call down the generic path even
    /// when a synthesized routine exists for it (the per-call mode used by
    /// differential tests and benchmarks). The kernel clears the bit before
    /// decoding, so it never changes which call is made.
    pub const FORCE_GENERIC: u64 = 1 << 63;

    /// The word for `call` on `handle`.
    #[must_use]
    pub const fn new(handle: Handle, call: Call) -> Self {
        // A u32 shifted by 3 fits in 35 bits: no overflow.
        Self(((handle.index() as u64) << Call::BITS) | call.number() as u64)
    }

    /// The raw word: the `rax` value, and the routine-table index.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The handle part.
    #[must_use]
    pub const fn handle(self) -> Handle {
        // Built from a u32 by `new`/`decode`: the shifted value fits.
        let [b0, b1, b2, b3, ..] = (self.0 >> Call::BITS).to_le_bytes();
        Handle::new(u32::from_le_bytes([b0, b1, b2, b3]))
    }

    /// The call part.
    #[must_use]
    pub const fn call(self) -> Call {
        match Call::from_number(self.0 & Call::MASK) {
            Some(call) => call,
            // Unreachable: `new` and `decode` only build words with valid calls.
            None => Call::Null,
        }
    }

    /// Decodes a raw `rax` value into handle and call.
    ///
    /// # Errors
    /// - [`SysError::BadCall`] if the call bits are 7.
    /// - [`SysError::BadHandle`] if the handle does not fit in 32 bits.
    pub fn decode(word: u64) -> Result<(Handle, Call), SysError> {
        let checked = Self::try_from(word)?;
        Ok((checked.handle(), checked.call()))
    }
}

impl TryFrom<u64> for CallWord {
    type Error = SysError;

    /// Checks a raw `rax` value; see [`CallWord::decode`].
    fn try_from(word: u64) -> Result<Self, SysError> {
        Call::try_from(word & Call::MASK)?;
        u32::try_from(word >> Call::BITS).map_err(|_| SysError::BadHandle)?;
        Ok(Self(word))
    }
}

impl From<CallWord> for u64 {
    fn from(word: CallWord) -> u64 {
        word.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_round_trips_on_edge_handles() {
        for handle in [0, 1, 2, 0x1234, u32::MAX].map(Handle::new) {
            for &call in Call::ALL {
                let word = CallWord::new(handle, call);
                assert_eq!(word.get() & Call::MASK, u64::from(call.number()));
                assert_eq!(CallWord::decode(word.get()), Ok((handle, call)));
                assert_eq!((word.handle(), word.call()), (handle, call));
            }
        }
    }

    #[test]
    fn word_is_handle_times_eight_plus_call() {
        assert_eq!(CallWord::new(Handle::SELF, Call::Create).get(), 0);
        assert_eq!(CallWord::new(Handle::CONSOLE, Call::Write).get(), 13);
        assert_eq!(CallWord::new(Handle::new(5), Call::Read).get(), 44);
        assert_eq!(
            CallWord::new(Handle::new(u32::MAX), Call::Null).get(),
            (u64::from(u32::MAX) << 3) | 6
        );
    }

    #[test]
    fn call_seven_is_bad_call() {
        assert_eq!(CallWord::decode(7), Err(SysError::BadCall));
        assert_eq!(CallWord::decode((9 << 3) | 7), Err(SysError::BadCall));
        assert_eq!(Call::try_from(7), Err(SysError::BadCall));
        assert_eq!(Call::from_number(7), None);
    }

    #[test]
    fn handle_past_u32_is_bad_handle() {
        assert_eq!(CallWord::decode(1 << 35), Err(SysError::BadHandle));
        assert_eq!(CallWord::decode(u64::MAX - 1), Err(SysError::BadHandle));
        assert_eq!(Handle::from_return(1 << 32), Err(SysError::BadHandle));
    }

    #[test]
    fn kinds_and_calls_have_their_abi_numbers() {
        use crate::Kind;
        let kinds = [
            (Kind::Smach, 0),
            (Kind::Scpu, 1),
            (Kind::Smem, 2),
            (Kind::Sio, 3),
        ];
        for (kind, number) in kinds {
            assert_eq!(u64::from(kind), number);
            assert_eq!(Kind::try_from(number), Ok(kind));
        }
        assert_eq!(Kind::try_from(4), Err(SysError::WrongKind));
        let numbers = Call::ALL.iter().map(|call| call.number());
        assert!(numbers.eq(0..=6));
    }
}
