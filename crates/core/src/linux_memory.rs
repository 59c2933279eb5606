//! A Linux process's memory calls on the kernel side: `brk`, `mmap`,
//! `munmap`, `mprotect` (anonymous private mappings, phase 1).
//!
//! Owns [`brk`], [`mmap`], [`munmap`], [`mprotect`]: `sk_unix`'s
//! [`AddressMap`](sk_unix::address_map::AddressMap) checks the arguments
//! as Linux does and says what to do ([`MapAction`]s); this file only
//! performs the actions on the SMACH's address space, page by page,
//! counting the pages in its `Regions`.

use crate::state::{Core, SmachId};
use alloc::vec::Vec;
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
    // Under a budget the new pages are charged like an SMEM create (one
    // rule, nest_memory's); unmapping returns them (the count is the
    // SMACH's mapped frames). Over it: ENOMEM.
    let new_frames = actions
        .iter()
        .map(|a| match a {
            MapAction::Map { range, .. } => range.end.saturating_sub(range.start) / PAGE_SIZE,
            _ => 0,
        })
        .fold(0_u64, u64::saturating_add);
    crate::nest_memory::admit_frames(core, id, new_frames).map_err(Errno::from_sys_error)?;
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
                // Mapped and zeroed page by page with interrupts masked:
                // bounded as a native SMEM region is (a deviation: Linux
                // maps larger regions, lazily).
                if range.end.saturating_sub(range.start) > sk_smem::MAX_REGION_BYTES {
                    return Err(Errno::ENOMEM);
                }
                crate::memory::admit(range.end.saturating_sub(range.start))
                    .map_err(Errno::from_sys_error)?;
                let mut page = range.start;
                while page < range.end {
                    if aspace.map_page(page, access(*prot), &[]).is_err() {
                        // Out of memory: this action's pages go again.
                        let mut undo = range.start;
                        while undo < page {
                            if aspace.unmap_page(undo) {
                                smach.regions.sub_mapped(PAGE_SIZE);
                            }
                            undo = undo.saturating_add(PAGE_SIZE);
                        }
                        return Err(Errno::ENOMEM);
                    }
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

/// Most regions one process's map may hold. Each is kernel heap, and
/// `mprotect` can split a mapping into one region per page without taking
/// a new frame, so this bounds a process's map to 4,096 regions (about
/// 200 KiB of heap, and a few times that while a call changes it), far
/// below the kernel's frame reserve. Linux's `vm.max_map_count` default
/// is 65,530: a deviation (docs/unix.md), since 65,530 regions cost
/// megabytes of heap per call that nothing admitted.
const MAX_MAP_COUNT: usize = 4_096;

/// Heap bytes a map change may hold at once, for a map of `regions`
/// regions: the copy kept for a restore, the changed list, and the list a
/// split or a merge builds, each with room for the regions a call adds.
fn change_heap_bytes(regions: &[sk_unix::vma::Region]) -> u64 {
    let per_list = core::mem::size_of_val(regions)
        .saturating_add(2 * core::mem::size_of::<sk_unix::vma::Region>());
    (per_list as u64).saturating_mul(4)
}

/// Runs `change` on process `id`'s map and performs the actions it
/// returns; on any failure (or past [`MAX_MAP_COUNT`]) the map is as it
/// was and the error comes back. A `Map` that runs out of memory unmaps
/// its own pages again; actions before it in the same list (an `Unmap` of
/// a `MAP_FIXED` replacement) stay done.
pub(crate) fn change_map<T>(
    core: &mut Core,
    id: SmachId,
    change: impl FnOnce(&mut sk_unix::address_map::AddressMap) -> Result<(T, Vec<MapAction>), Errno>,
) -> Result<T, Errno> {
    let process = core.linux.get_mut(&id).ok_or(Errno::ESRCH)?;
    // Admit the heap the change holds (running out of it must be ENOMEM,
    // never a kernel panic); a change that leaves more than
    // MAX_MAP_COUNT regions is undone below (one that shrinks a full map
    // must still work).
    crate::memory::admit(change_heap_bytes(process.map.regions())).map_err(|_| Errno::ENOMEM)?;
    let before = process.map.clone();
    let restore = |core: &mut Core, e: Errno| {
        if let Some(p) = core.linux.get_mut(&id) {
            p.map = before;
        }
        Err(e)
    };
    let (value, actions) = match change(&mut process.map) {
        Ok(done) => done,
        Err(e) => return restore(core, e),
    };
    if process.map.regions().len() > MAX_MAP_COUNT {
        return restore(core, Errno::ENOMEM);
    }
    match perform(core, id, &actions) {
        Ok(()) => Ok(value),
        Err(e) => restore(core, e),
    }
}

/// `brk(addr)`: the new break, or the old one if it cannot move.
pub(crate) fn brk(core: &mut Core, id: SmachId, addr: u64) -> Result<u64, Errno> {
    let old = core.linux.get(&id).ok_or(Errno::ESRCH)?.map.current_brk();
    // Linux's brk fails whole: the old break, nothing half-done.
    Ok(change_map(core, id, |map| {
        let outcome = map.brk(addr);
        Ok((outcome.brk, outcome.actions))
    })
    .unwrap_or(old))
}

/// `mmap`: anonymous private mappings only in phase 1 (`ENODEV` else).
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
    change_map(core, id, |map| {
        let mapped = map.mmap(&MmapRequest {
            addr,
            len: length,
            prot: u64::from(prot),
            flags,
            offset,
            file: None,
        })?;
        Ok((mapped.addr, mapped.actions))
    })
}

/// `munmap`.
pub(crate) fn munmap(core: &mut Core, id: SmachId, addr: u64, length: u64) -> Result<u64, Errno> {
    change_map(core, id, |map| Ok((0, map.munmap(addr, length)?)))
}

/// `mprotect`.
pub(crate) fn mprotect(
    core: &mut Core,
    id: SmachId,
    addr: u64,
    length: u64,
    prot: u32,
) -> Result<u64, Errno> {
    change_map(core, id, |map| {
        Ok((0, map.mprotect(addr, length, u64::from(prot))?))
    })
}
