//! One SMEM region: create, protect, terminate, query.
//!
//! Owns [`Smem`]. The generic path of the SMEM kind (nothing about it is
//! synthesized): placement is checked against the SMACH's [`Regions`]
//! whoever chose it, pages are mapped one by one through the
//! [`AddressSpace`] seam, and a failure part-way unmaps exactly the pages
//! this call mapped.

use crate::{Access, AddressSpace, MapFailure, Regions, USER_MAP_END};
use sk_abi::{Prot, SmemCreate, SmemCreateFlags, SmemInfo, SysError, PAGE_SIZE};

/// Largest single region.
pub const MAX_REGION_BYTES: u64 = 256 << 20;

/// A mapped region of user memory.
#[derive(Debug, PartialEq, Eq)]
pub struct Smem {
    start: u64,
    len: u64,
    prot: Prot,
}

fn map_error(e: MapFailure) -> SysError {
    match e {
        MapFailure::NoMemory => SysError::NoMemory,
        MapFailure::AlreadyMapped => SysError::Exists,
        MapFailure::BadAddress => SysError::BadAddress,
    }
}

/// Maps zeroed pages over `start..end`; on failure unmaps the ones it
/// mapped and returns the error.
pub(crate) fn map_zeroed(
    aspace: &mut impl AddressSpace,
    start: u64,
    end: u64,
    access: Access,
) -> Result<(), SysError> {
    let mut page = start;
    while page < end {
        if let Err(e) = aspace.map_page(page, access, &[]) {
            unmap_pages(aspace, start, page);
            return Err(map_error(e));
        }
        page = page.saturating_add(PAGE_SIZE);
    }
    Ok(())
}

/// Unmaps every page of `start..end`.
pub(crate) fn unmap_pages(aspace: &mut impl AddressSpace, start: u64, end: u64) -> u64 {
    let mut unmapped = 0u64;
    let mut page = start;
    while page < end {
        if aspace.unmap_page(page) {
            unmapped = unmapped.saturating_add(PAGE_SIZE);
        }
        page = page.saturating_add(PAGE_SIZE);
    }
    unmapped
}

impl Smem {
    /// Creates a region as `args` asks: at the caller's address if given
    /// and free; else (a hint that does not fit: overlapping a range in use
    /// or reaching the unmapped top page; or no address) first fit in the
    /// SMEM area. With `FIXED` the address is not a hint.
    ///
    /// # Errors
    /// [`SysError::NoMemory`] when too large, out of address space or out
    /// of memory; [`SysError::Exists`] when a `FIXED` placement overlaps a
    /// range in use; [`SysError::BadAddress`] when a `FIXED` placement
    /// reaches the unmapped top page.
    pub fn create(
        regions: &mut Regions,
        aspace: &mut impl AddressSpace,
        args: &SmemCreate,
    ) -> Result<Self, SysError> {
        if args.len > MAX_REGION_BYTES {
            return Err(SysError::NoMemory);
        }
        let is_fixed = args.flags.contains(SmemCreateFlags::FIXED);
        let fits = |start: u64, end: u64| end <= USER_MAP_END && regions.is_free(start, end);
        let start = match &args.placement {
            Some(range) if is_fixed || fits(range.start(), range.end()) => range.start(),
            _ => regions.find_free(args.len).ok_or(SysError::NoMemory)?,
        };
        let end = start.checked_add(args.len).ok_or(SysError::BadAddress)?;
        regions.reserve(start, end)?;
        if let Err(e) = map_zeroed(aspace, start, end, Access::from(args.prot)) {
            regions.release(start, end);
            return Err(e);
        }
        regions.add_mapped(args.len);
        Ok(Self {
            start,
            len: args.len,
            prot: args.prot,
        })
    }

    /// Changes the protection of every page.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] if a page is no longer mapped (cannot
    /// happen while the region lives; reported rather than assumed).
    pub fn protect(&mut self, aspace: &mut impl AddressSpace, prot: Prot) -> Result<(), SysError> {
        let end = self.end();
        let mut page = self.start;
        while page < end {
            if !aspace.protect_page(page, Access::from(prot)) {
                return Err(SysError::BadAddress);
            }
            page = page.saturating_add(PAGE_SIZE);
        }
        self.prot = prot;
        Ok(())
    }

    /// Unmaps the region and frees its range.
    pub fn terminate(self, regions: &mut Regions, aspace: &mut impl AddressSpace) {
        let end = self.end();
        let unmapped = unmap_pages(aspace, self.start, end);
        regions.sub_mapped(unmapped);
        regions.release(self.start, end);
    }

    /// What `query` reports.
    pub fn info(&self) -> SmemInfo {
        SmemInfo {
            addr: self.start,
            len: self.len,
            prot: self.prot.bits(),
            _pad: 0,
        }
    }

    /// First byte.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Length in bytes (a multiple of the page size).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for a zero-length region (never created: `check` refuses it).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }

    /// Current protection.
    pub fn prot(&self) -> Prot {
        self.prot
    }
}
