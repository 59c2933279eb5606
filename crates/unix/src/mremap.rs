//! `mremap`: shrink, grow in place, or move a mapping (mremap(2)).
//!
//! Owns [`AddressMap::mremap`]. The old range must lie inside one region
//! (else `EFAULT`). Shrinking unmaps the tail; growing extends in place if
//! the pages after the region are free, else moves the mapping (with
//! `MREMAP_MAYMOVE`) to a free range, or to `new_address` (with
//! `MREMAP_FIXED`, replacing what is there). A move is a
//! [`MapAction::Move`] (the kernel moves the pages, contents and all),
//! followed by a [`MapAction::Map`] of the extension if it grew.
//! Not supported: `MREMAP_DONTUNMAP` and `old_size` 0 (duplicating a
//! shared mapping), both `EINVAL`.

use crate::address_map::{AddressMap, Mapped};
use crate::errno::Errno;
use crate::vma::{
    is_page_aligned, mremap_flags, page_align_up, MapAction, Region, MAP_END, MMAP_MIN_ADDR,
};
use alloc::vec::Vec;

impl AddressMap {
    /// `mremap(old_address, old_size, new_size, flags, new_address)`.
    ///
    /// # Errors
    /// `EINVAL`: unknown or unsupported flags, `MREMAP_FIXED` without
    /// `MREMAP_MAYMOVE`, unaligned addresses, a size of 0, overlapping old
    /// and new ranges, a new range leaving user space; `EPERM`: a fixed
    /// address below `MMAP_MIN_ADDR`; `EFAULT`: the old range is not inside
    /// one mapping; `ENOMEM`: it cannot grow in place and may not move, or
    /// there is no room.
    pub fn mremap(
        &mut self,
        old_addr: u64,
        old_size: u64,
        new_size: u64,
        flags: u64,
        new_addr: u64,
    ) -> Result<Mapped, Errno> {
        let known = mremap_flags::MAYMOVE | mremap_flags::FIXED;
        let may_move = flags & mremap_flags::MAYMOVE != 0;
        let fixed = flags & mremap_flags::FIXED != 0;
        if flags & !known != 0 || (fixed && !may_move) || !is_page_aligned(old_addr) {
            return Err(Errno::EINVAL);
        }
        let old_len = page_align_up(old_size)
            .filter(|&l| l != 0)
            .ok_or(Errno::EINVAL)?;
        let new_len = page_align_up(new_size)
            .filter(|&l| l != 0)
            .ok_or(Errno::EINVAL)?;
        let region = *self.lookup(old_addr).ok_or(Errno::EFAULT)?;
        let old_end = old_addr.checked_add(old_len).ok_or(Errno::EFAULT)?;
        if old_end > region.end {
            return Err(Errno::EFAULT);
        }

        if fixed {
            if !is_page_aligned(new_addr) || new_len > MAP_END || new_addr > MAP_END - new_len {
                return Err(Errno::EINVAL);
            }
            if old_end > new_addr && new_addr + new_len > old_addr {
                return Err(Errno::EINVAL);
            }
            if new_addr < MMAP_MIN_ADDR {
                return Err(Errno::EPERM);
            }
            let mut actions = self.carve(new_addr, new_addr + new_len);
            let moved = old_len.min(new_len);
            actions.extend(self.carve(old_addr + moved, old_end));
            actions.extend(self.relocate(&region, old_addr, moved, new_addr, new_len));
            return Ok(Mapped {
                addr: new_addr,
                actions,
            });
        }

        if new_len <= old_len {
            let actions = self.carve(old_addr + new_len, old_end);
            return Ok(Mapped {
                addr: old_addr,
                actions,
            });
        }
        // Grow in place if the old range ends the region and the pages after
        // it are free.
        let grown_end = old_addr.checked_add(new_len).filter(|&e| e <= MAP_END);
        if let Some(grown_end) = grown_end {
            if old_end == region.end && self.is_free(old_end, grown_end) {
                let extension = region.slice(old_end, grown_end);
                let actions = alloc::vec![map_action(&extension)];
                self.insert(extension);
                return Ok(Mapped {
                    addr: old_addr,
                    actions,
                });
            }
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let to = self.find_free(new_len).ok_or(Errno::ENOMEM)?;
        let actions = self.relocate(&region, old_addr, old_len, to, new_len);
        Ok(Mapped { addr: to, actions })
    }

    /// Moves `from..from + len` of `region` (still mapped) to `to` (free),
    /// extended to `new_len` bytes with the region's attributes.
    fn relocate(
        &mut self,
        region: &Region,
        from: u64,
        len: u64,
        to: u64,
        new_len: u64,
    ) -> Vec<MapAction> {
        let piece = region.slice(from, from + len);
        // The old pages move rather than being unmapped.
        let _ = self.carve(from, from + len);
        let moved = Region {
            start: to,
            end: to + len,
            ..piece
        };
        let mut actions = alloc::vec![MapAction::Move { from, to, len }];
        self.insert(moved);
        if new_len > len {
            let extension = moved.slice(to + len, to + new_len);
            actions.push(map_action(&extension));
            self.insert(extension);
        }
        actions
    }
}

/// The `Map` action creating `region`'s pages.
fn map_action(region: &Region) -> MapAction {
    MapAction::Map {
        range: region.range(),
        prot: region.prot,
        shared: region.shared,
        backing: region.backing,
    }
}
