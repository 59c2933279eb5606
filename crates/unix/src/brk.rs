//! The program break (brk(2)): the heap after the program's data.
//!
//! Owns [`AddressMap::brk`] and [`BrkOutcome`]. Linux's rules
//! (`mm/mmap.c`, `SYSCALL_DEFINE1(brk)`): the call returns the new break on
//! success and the old one on failure (never an error code); a request
//! below the heap's start fails; shrinking unmaps the whole pages above
//! the new break; growing maps anonymous read-write pages up to the new
//! break rounded up, and fails if any mapping lies within the new heap or
//! the page above it.

use crate::address_map::AddressMap;
use crate::vma::{page_align_up, Backing, MapAction, Prot, Region, RegionKind, MAP_END};
use alloc::vec::Vec;
use sk_abi::PAGE_SIZE;

/// What `brk` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrkOutcome {
    /// The break to return (the new one, or the old one on failure).
    pub brk: u64,
    /// What the kernel must do.
    pub actions: Vec<MapAction>,
}

impl AddressMap {
    /// The current break.
    #[must_use]
    pub fn current_brk(&self) -> u64 {
        self.brk
    }

    /// Where the heap starts.
    #[must_use]
    pub fn brk_start(&self) -> u64 {
        self.brk_start
    }

    /// `brk(requested)`; `brk(0)` reads the break.
    pub fn brk(&mut self, requested: u64) -> BrkOutcome {
        let unchanged = |brk| BrkOutcome {
            brk,
            actions: Vec::new(),
        };
        if requested < self.brk_start {
            return unchanged(self.brk);
        }
        let Some(new_top) = page_align_up(requested).filter(|&t| t <= MAP_END) else {
            return unchanged(self.brk);
        };
        // `brk` stays at or below MAP_END, so this cannot overflow.
        let old_top = page_align_up(self.brk).unwrap_or(MAP_END);
        if new_top <= old_top {
            let actions = self.carve(new_top, old_top);
            self.brk = requested;
            return BrkOutcome {
                brk: requested,
                actions,
            };
        }
        let guard_end = new_top.saturating_add(PAGE_SIZE);
        if !self.is_free(old_top, guard_end) {
            return unchanged(self.brk);
        }
        let heap = Region {
            start: old_top,
            end: new_top,
            prot: Prot::from_bits_truncate(3),
            max_prot: Prot::ALL,
            shared: false,
            backing: Backing::Anonymous,
            grows_down: false,
            kind: RegionKind::Heap,
        };
        let actions = alloc::vec![MapAction::Map {
            range: heap.range(),
            prot: heap.prot,
            shared: false,
            backing: Backing::Anonymous,
        }];
        self.insert(heap);
        self.brk = requested;
        BrkOutcome {
            brk: requested,
            actions,
        }
    }
}
