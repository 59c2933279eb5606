//! A Linux process's memory calls on the kernel side: `brk`, `mmap`,
//! `munmap`, `mprotect` (anonymous private mappings, phase 1).
//!
//! Owns [`brk`], [`mmap`], [`munmap`], [`mprotect`]: `sk_unix`'s
//! [`AddressMap`](sk_unix::address_map::AddressMap) checks the arguments
//! as Linux does and says what to do ([`MapAction`]s); this file only
//! performs the actions on the SMACH's address space, page by page,
//! counting the pages in its `Regions`.

use crate::state::{Core, SmachId};
use sk_abi::PAGE_SIZE;
use sk_smem::{Access, AddressSpace};
use sk_unix::address_map::MmapRequest;
use sk_unix::vma::{map, Backing, MapAction, Prot};
use sk_unix::Errno;

fn access(prot: Prot) -> Access {
    // No page without read access exists here: PROT_NONE and write-only
    // pages are readable (a deviation; faults on them are phase 2).
    Access {
        write: prot.contains(Prot::WRITE),
        execute: prot.contains(Prot::EXEC),
    }
}

/// Performs `actions` on SMACH `id`'s address space.
fn perform(core: &mut Core, id: SmachId, actions: &[MapAction]) -> Result<(), Errno> {
    let smach = core.smachs.get_mut(&id).ok_or(Errno::ESRCH)?;
    let aspace = smach.aspace.as_mut().ok_or(Errno::ENOMEM)?;
    for action in actions {
        match action {
            MapAction::Map {
                range,
                prot,
                backing: Backing::Anonymous,
                ..
            } => {
                crate::memory::admit(range.end.saturating_sub(range.start))
                    .map_err(Errno::from_sys_error)?;
                let mut page = range.start;
                while page < range.end {
                    aspace
                        .map_page(page, access(*prot), &[])
                        .map_err(|_| Errno::ENOMEM)?;
                    smach.regions.add_mapped(PAGE_SIZE);
                    page = page.saturating_add(PAGE_SIZE);
                }
            }
            MapAction::Unmap { range } => {
                let mut page = range.start;
                while page < range.end {
                    if aspace.unmap_page(page) {
                        smach.regions.sub_mapped(PAGE_SIZE);
                    }
                    page = page.saturating_add(PAGE_SIZE);
                }
            }
            MapAction::Protect { range, prot } => {
                let mut page = range.start;
                while page < range.end {
                    aspace.protect_page(page, access(*prot));
                    page = page.saturating_add(PAGE_SIZE);
                }
            }
            // File mappings and moves are refused before an action exists.
            _ => return Err(Errno::ENOSYS),
        }
    }
    Ok(())
}

/// `brk(addr)`: the new break, or the old one if it cannot move.
pub(crate) fn brk(core: &mut Core, id: SmachId, addr: u64) -> Result<u64, Errno> {
    let process = core.linux.get_mut(&id).ok_or(Errno::ESRCH)?;
    let before = process.map.clone();
    let outcome = process.map.brk(addr);
    if perform(core, id, &outcome.actions).is_err() {
        // Nothing half-done stays in the map: Linux's brk fails whole.
        if let Some(p) = core.linux.get_mut(&id) {
            let old = before.current_brk();
            p.map = before;
            return Ok(old);
        }
    }
    Ok(outcome.brk)
}

/// `mmap`: anonymous private mappings only in phase 1.
pub(crate) fn mmap(
    core: &mut Core,
    id: SmachId,
    addr: u64,
    length: u64,
    prot: u32,
    flags: u32,
    offset: u64,
) -> Result<u64, Errno> {
    let flags = u64::from(flags);
    if flags & map::ANONYMOUS == 0 || flags & map::TYPE != map::PRIVATE {
        return Err(Errno::ENODEV);
    }
    let process = core.linux.get_mut(&id).ok_or(Errno::ESRCH)?;
    let before = process.map.clone();
    let mapped = process.map.mmap(&MmapRequest {
        addr,
        len: length,
        prot: u64::from(prot),
        flags,
        offset,
        file: None,
    })?;
    if let Err(e) = perform(core, id, &mapped.actions) {
        if let Some(p) = core.linux.get_mut(&id) {
            p.map = before;
        }
        return Err(e);
    }
    Ok(mapped.addr)
}

/// `munmap`.
pub(crate) fn munmap(core: &mut Core, id: SmachId, addr: u64, length: u64) -> Result<u64, Errno> {
    let process = core.linux.get_mut(&id).ok_or(Errno::ESRCH)?;
    let actions = process.map.munmap(addr, length)?;
    perform(core, id, &actions).map(|()| 0)
}

/// `mprotect`.
pub(crate) fn mprotect(
    core: &mut Core,
    id: SmachId,
    addr: u64,
    length: u64,
    prot: u32,
) -> Result<u64, Errno> {
    let process = core.linux.get_mut(&id).ok_or(Errno::ESRCH)?;
    let actions = process.map.mprotect(addr, length, u64::from(prot))?;
    perform(core, id, &actions).map(|()| 0)
}
