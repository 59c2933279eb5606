//! SMEM calls: allocate and map a region of the caller's SMACH, change its
//! protection, query it, unmap it (frames go back to the allocator).

use crate::object::Object;
use crate::smach::Smach;
use sk_abi::{Prot, SmemCreate, SmemInfo, SysError};
use sk_machine::address_space::UserAccess;
use sk_machine::address_space::USER_MAP_END;

const PAGE: u64 = 4096;
/// Largest single region.
const MAX_REGION_BYTES: u64 = 256 << 20;

/// A mapped region.
#[derive(Debug)]
pub(crate) struct Smem {
    pub(crate) start: u64,
    pub(crate) len: u64,
    pub(crate) prot: Prot,
}

fn access(prot: Prot) -> UserAccess {
    UserAccess {
        write: prot.contains(Prot::WRITE),
        execute: prot.contains(Prot::EXEC),
    }
}

pub(crate) fn create(smach: &mut Smach, args: SmemCreate) -> Result<Object, SysError> {
    if args.len > MAX_REGION_BYTES {
        return Err(SysError::NoMemory);
    }
    let start = match args.placement {
        Some(range) => {
            // The top user page stays unmapped (see `USER_MAP_END`).
            if range.end() > USER_MAP_END {
                return Err(SysError::BadAddress);
            }
            if !smach.is_free(range.start(), range.end()) {
                return Err(SysError::Exists);
            }
            range.start()
        }
        None => {
            let start = smach.next_smem;
            let end = start
                .checked_add(args.len)
                .filter(|&e| e <= USER_MAP_END)
                .ok_or(SysError::NoMemory)?;
            // One unmapped page between regions catches overruns.
            smach.next_smem = end + PAGE;
            start
        }
    };
    let end = start + args.len;
    if let Err(e) = smach.map_zeroed(start, end, access(args.prot)) {
        unmap_range(smach, start, end);
        return Err(e);
    }
    smach.regions.push((start, end));
    Ok(Object::Smem(Smem {
        start,
        len: args.len,
        prot: args.prot,
    }))
}

fn unmap_range(smach: &mut Smach, start: u64, end: u64) {
    let mut unmapped = 0;
    if let Some(aspace) = smach.aspace.as_mut() {
        let mut page = start;
        while page < end {
            if aspace.unmap(page).is_ok() {
                unmapped += PAGE;
            }
            page += PAGE;
        }
    }
    smach.mapped_bytes = smach.mapped_bytes.saturating_sub(unmapped);
}

pub(crate) fn terminate(smach: &mut Smach, region: Smem) {
    let end = region.start + region.len;
    unmap_range(smach, region.start, end);
    smach.regions.retain(|&r| r != (region.start, end));
}

pub(crate) fn protect(smach: &mut Smach, region: &mut Smem, prot: Prot) -> Result<u64, SysError> {
    let aspace = smach.aspace()?;
    let mut page = region.start;
    while page < region.start + region.len {
        aspace
            .protect(page, access(prot))
            .map_err(|_| SysError::BadAddress)?;
        page += PAGE;
    }
    region.prot = prot;
    Ok(0)
}

pub(crate) fn query(region: &Smem) -> SmemInfo {
    SmemInfo {
        addr: region.start,
        len: region.len,
        prot: region.prot.bits(),
        _pad: 0,
    }
}
