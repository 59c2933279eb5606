//! Frames destined for user address spaces, filled before they are mapped.
//!
//! Owns [`UserFrame`]: a zeroed physical frame the kernel holds exclusively
//! until it hands it to an `AddressSpace` (which then owns it). Writing
//! goes through the direct map, so loaders never touch user mappings.

use crate::layout::{phys_to_virt, PAGE_SIZE};

/// Frames user memory may never take (16 MiB).
pub const KERNEL_RESERVE_FRAMES: usize = 4096;

/// An exclusively owned, zeroed 4 KiB frame; freed on drop unless mapped.
#[derive(Debug)]
pub struct UserFrame {
    phys: u64,
}

impl UserFrame {
    /// Allocates and zeroes a frame. None when memory is exhausted, or
    /// when taking it would eat into the frames kept for the kernel
    /// ([`KERNEL_RESERVE_FRAMES`]): user memory cannot starve the kernel's
    /// own allocations (heap, stacks, page tables, code arena).
    pub fn new() -> Option<Self> {
        let frames = crate::paging::frames();
        if frames.free_frames() <= KERNEL_RESERVE_FRAMES {
            return None;
        }
        let phys = frames.allocate_frame()?;
        // SAFETY: the frame was just allocated, so nothing else references
        // it; the direct map covers it.
        unsafe { core::ptr::write_bytes(phys_to_virt(phys) as *mut u8, 0, PAGE_SIZE as usize) };
        Some(Self { phys })
    }

    /// A new frame holding a copy of the frame at physical `source` (a
    /// user page of another space: `fork`'s copy). None as for [`new`](Self::new).
    pub fn copy_of(source: u64) -> Option<Self> {
        let frames = crate::paging::frames();
        if frames.free_frames() <= KERNEL_RESERVE_FRAMES {
            return None;
        }
        let phys = frames.allocate_frame()?;
        // SAFETY: the new frame was just allocated (nothing else refers to
        // it); `source` is a mapped user frame, read through the direct
        // map; the two are distinct frames of one page each.
        unsafe {
            core::ptr::copy_nonoverlapping(
                phys_to_virt(source & !(PAGE_SIZE - 1)) as *const u8,
                phys_to_virt(phys) as *mut u8,
                PAGE_SIZE as usize,
            )
        };
        Some(Self { phys })
    }

    /// Copies `bytes` into the frame at `offset` (truncated to the page).
    pub fn write(&mut self, offset: usize, bytes: &[u8]) {
        let Some(room) = (PAGE_SIZE as usize).checked_sub(offset) else {
            return;
        };
        let n = bytes.len().min(room);
        // SAFETY: the frame is owned exclusively by `self` (&mut), and
        // `offset + n` stays inside the page.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (phys_to_virt(self.phys) + offset as u64) as *mut u8,
                n,
            )
        };
    }

    /// Gives up ownership, returning the physical address (the caller now
    /// owns the frame, e.g. an address space mapping it).
    pub fn into_phys(self) -> u64 {
        let phys = self.phys;
        core::mem::forget(self);
        phys
    }
}

impl Drop for UserFrame {
    fn drop(&mut self) {
        // SAFETY: the frame came from the source in `new` and is owned by
        // `self` alone: `into_phys` (which hands it on) forgets `self`.
        unsafe { crate::paging::frames().free_frame(self.phys) };
    }
}
