//! User address ranges, checked once at the boundary.
//!
//! Owns [`USER_END`] and [`UserRange`]. `sk-core` turns every user pointer
//! and length into a `UserRange` while decoding a call; only `sk-machine`'s
//! fault-fixup copy routines then touch the bytes.

use core::ops::Range;

use crate::SysError;

/// One past the highest user address: the lower half of the 48-bit
/// canonical address space (Intel SDM vol. 1 §3.3.7.1). Every user byte
/// lies below it; the kernel half starts at `0xffff_8000_0000_0000`.
pub const USER_END: u64 = 0x0000_8000_0000_0000;

/// Size of a page: the unit of SMEM addresses and lengths.
pub const PAGE_SIZE: u64 = 4096;

/// User bytes `start..end`, checked: no wrap-around, `end <= USER_END`.
///
/// An empty range is allowed (a zero-length `read` touches no memory), even
/// at `USER_END`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserRange(Range<u64>);

impl UserRange {
    /// Checks the `len` user bytes at `start`.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] if `start + len` wraps or passes [`USER_END`].
    pub fn new(start: u64, len: u64) -> Result<Self, SysError> {
        let end = start.checked_add(len).filter(|&end| end <= USER_END);
        end.map(|end| Self(start..end)).ok_or(SysError::BadAddress)
    }

    /// Checks the range, then that `start` is a multiple of `align` (a
    /// power of two).
    ///
    /// # Errors
    /// [`SysError::BadAddress`] as for [`UserRange::new`], or if misaligned.
    pub fn new_aligned(start: u64, len: u64, align: u64) -> Result<Self, SysError> {
        let mask = align.checked_sub(1).ok_or(SysError::BadAddress)?;
        if !align.is_power_of_two() || start & mask != 0 {
            return Err(SysError::BadAddress);
        }
        Self::new(start, len)
    }

    /// The first address.
    #[must_use]
    pub const fn start(&self) -> u64 {
        self.0.start
    }

    /// One past the last address (`<= USER_END`).
    #[must_use]
    pub const fn end(&self) -> u64 {
        self.0.end
    }

    /// Length in bytes.
    #[must_use]
    pub const fn len(&self) -> u64 {
        // `new` guarantees `start <= end`.
        self.0.end.saturating_sub(self.0.start)
    }

    /// Whether the range holds no bytes.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.0.start == self.0.end
    }

    /// The addresses, as a range.
    #[must_use]
    pub fn as_range(&self) -> Range<u64> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ranges_up_to_user_end() {
        assert_eq!(
            UserRange::new(0x1000, 16).map(|range| range.end()),
            Ok(0x1010)
        );
        let last_byte = UserRange::new(USER_END - 1, 1);
        assert_eq!(last_byte.map(|range| range.len()), Ok(1));
        let all = UserRange::new(0, USER_END);
        assert_eq!(all.map(|range| range.as_range()), Ok(0..USER_END));
    }

    #[test]
    fn empty_ranges_are_allowed_even_at_the_end() {
        assert!(UserRange::new(USER_END, 0).is_ok_and(|range| range.is_empty()));
        assert!(UserRange::new(0, 0).is_ok_and(|range| range.is_empty()));
    }

    #[test]
    fn rejects_past_user_end_and_wrap_around() {
        assert_eq!(UserRange::new(USER_END, 1), Err(SysError::BadAddress));
        assert_eq!(UserRange::new(USER_END - 1, 2), Err(SysError::BadAddress));
        assert_eq!(UserRange::new(USER_END + 1, 0), Err(SysError::BadAddress));
        assert_eq!(UserRange::new(u64::MAX, 1), Err(SysError::BadAddress));
        assert_eq!(UserRange::new(1, u64::MAX), Err(SysError::BadAddress));
        assert_eq!(
            UserRange::new(0xffff_8000_0000_0000, 8),
            Err(SysError::BadAddress)
        );
    }

    #[test]
    fn aligned_ranges_check_alignment() {
        assert!(UserRange::new_aligned(0x2000, 1, PAGE_SIZE).is_ok());
        assert_eq!(
            UserRange::new_aligned(0x2001, 1, PAGE_SIZE),
            Err(SysError::BadAddress)
        );
        assert_eq!(
            UserRange::new_aligned(0x2000, 1, 0),
            Err(SysError::BadAddress)
        );
        assert_eq!(
            UserRange::new_aligned(0x2000, 1, 3),
            Err(SysError::BadAddress)
        );
    }
}
