//! The user virtual ranges one SMACH has in use, and the bytes mapped.
//!
//! Owns [`Regions`]: a sorted list of half-open page ranges (program image
//! segments, stacks, SMEMs) that every new placement is checked against,
//! and first-fit placement for SMEMs the kernel places. Neighbours:
//! [`crate::Smem`] reserves and releases ranges here; `sk-smach` records its
//! image and stacks.

use alloc::vec::Vec;
use sk_abi::{SysError, PAGE_SIZE, USER_END};

/// The highest user page is never mapped: a `syscall` in its last bytes
/// would leave a non-canonical return address in `rcx`, and `sysretq` to it
/// faults in ring 0 on Intel CPUs with the user's stack pointer
/// (CVE-2012-0217). Synthesized entry stubs rely on this.
pub const USER_MAP_END: u64 = USER_END - PAGE_SIZE;

/// Where SMEM regions the kernel places start (first fit upwards).
pub const SMEM_AREA_START: u64 = 0x0000_1000_0000_0000;

/// User ranges in use, sorted by start, pairwise disjoint.
#[derive(Debug, Default, Clone)]
pub struct Regions {
    ranges: Vec<(u64, u64)>,
    mapped_bytes: u64,
}

impl Regions {
    /// No range in use.
    pub const fn new() -> Self {
        Self {
            ranges: Vec::new(),
            mapped_bytes: 0,
        }
    }

    /// True if `start..end` overlaps no range in use.
    pub fn is_free(&self, start: u64, end: u64) -> bool {
        self.ranges.iter().all(|&(s, e)| end <= s || start >= e)
    }

    /// Records `start..end` as in use.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] for an empty, unaligned or out-of-range
    /// range; [`SysError::Exists`] if it overlaps one in use;
    /// [`SysError::NoMemory`] if the list cannot grow.
    pub fn reserve(&mut self, start: u64, end: u64) -> Result<(), SysError> {
        let aligned = start.is_multiple_of(PAGE_SIZE) && end.is_multiple_of(PAGE_SIZE);
        if start >= end || !aligned || end > USER_MAP_END {
            return Err(SysError::BadAddress);
        }
        if !self.is_free(start, end) {
            return Err(SysError::Exists);
        }
        self.ranges.try_reserve(1).map_err(|_| SysError::NoMemory)?;
        let at = self.ranges.partition_point(|&(s, _)| s < start);
        self.ranges.insert(at, (start, end));
        Ok(())
    }

    /// Forgets the range `start..end` (exactly as reserved).
    pub fn release(&mut self, start: u64, end: u64) {
        self.ranges.retain(|&r| r != (start, end));
    }

    /// First fit for `len` bytes (a multiple of the page size) at or above
    /// [`SMEM_AREA_START`], leaving an unmapped guard page after every range
    /// in use and after the new one.
    pub fn find_free(&self, len: u64) -> Option<u64> {
        if len == 0 || !len.is_multiple_of(PAGE_SIZE) {
            return None;
        }
        let mut cursor = SMEM_AREA_START;
        for &(s, e) in &self.ranges {
            if e.checked_add(PAGE_SIZE)? <= cursor {
                continue;
            }
            let end = cursor.checked_add(len)?;
            if end.checked_add(PAGE_SIZE)? <= s {
                return Some(cursor);
            }
            cursor = cursor.max(e.checked_add(PAGE_SIZE)?);
        }
        let end = cursor.checked_add(len)?;
        (end <= USER_MAP_END).then_some(cursor)
    }

    /// Ranges in use, sorted.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Bytes of user memory mapped (pages actually backed).
    pub fn mapped_bytes(&self) -> u64 {
        self.mapped_bytes
    }

    /// Counts `bytes` more mapped.
    pub fn add_mapped(&mut self, bytes: u64) {
        self.mapped_bytes = self.mapped_bytes.saturating_add(bytes);
    }

    /// Counts `bytes` fewer mapped.
    pub fn sub_mapped(&mut self, bytes: u64) {
        self.mapped_bytes = self.mapped_bytes.saturating_sub(bytes);
    }

    /// Forgets everything (the address space was torn down).
    pub fn clear(&mut self) {
        self.ranges.clear();
        self.mapped_bytes = 0;
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_reservations_are_refused() {
        let mut r = Regions::new();
        r.reserve(0x10000, 0x20000).unwrap();
        assert_eq!(r.reserve(0x1f000, 0x21000), Err(SysError::Exists));
        assert_eq!(r.reserve(0xf000, 0x11000), Err(SysError::Exists));
        r.reserve(0x20000, 0x21000).unwrap();
        assert_eq!(r.ranges(), &[(0x10000, 0x20000), (0x20000, 0x21000)]);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let mut r = Regions::new();
        assert_eq!(r.reserve(0x1000, 0x1000), Err(SysError::BadAddress));
        assert_eq!(r.reserve(0x1001, 0x2000), Err(SysError::BadAddress));
        assert_eq!(r.reserve(USER_MAP_END, USER_END), Err(SysError::BadAddress));
    }

    #[test]
    fn first_fit_skips_ranges_and_keeps_guard_pages() {
        let mut r = Regions::new();
        assert_eq!(r.find_free(0x2000), Some(SMEM_AREA_START));
        // A caller-placed region right where the kernel would place.
        r.reserve(SMEM_AREA_START, SMEM_AREA_START + 0x3000)
            .unwrap();
        let next = r.find_free(0x2000).unwrap();
        assert_eq!(next, SMEM_AREA_START + 0x4000);
        r.reserve(next, next + 0x2000).unwrap();
        // A hole of exactly len + guard between two ranges is used.
        r.reserve(next + 0x6000, next + 0x7000).unwrap();
        assert_eq!(r.find_free(0x2000), Some(next + 0x3000));
        assert_eq!(r.find_free(0x3000), Some(next + 0x8000));
        assert_eq!(r.find_free(0), None);
        assert_eq!(r.find_free(0x1001), None);
    }

    #[test]
    fn the_area_can_run_out() {
        let r = Regions::new();
        assert_eq!(
            r.find_free(USER_MAP_END - SMEM_AREA_START),
            Some(SMEM_AREA_START)
        );
        assert_eq!(
            r.find_free(USER_MAP_END - SMEM_AREA_START + PAGE_SIZE),
            None
        );
    }
}
