//! Memory for file data: zeroed buffers of whole pages, mapped RW+NX in the
//! kernel's data region, with frames from the same pool as user memory.
//!
//! Owns [`DataBuffer`] and the region's virtual-range allocator. File data
//! used to live on the kernel heap, which never returns frames and ignores
//! the kernel's frame reserve; a program could then fill RAM with file data
//! and the kernel panicked on its next allocation. A `DataBuffer` takes its
//! frames only while more than [`KERNEL_RESERVE_FRAMES`] stay free (as
//! [`UserFrame`](crate::user_frame::UserFrame) does) and gives them back
//! when dropped, so file data is charged exactly like user memory.

use crate::layout::{phys_to_virt, DATA_BASE, DATA_MAX_BYTES, PAGE_SIZE};
use crate::paging::{self, Access};
use crate::user_frame::KERNEL_RESERVE_FRAMES;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

/// Free virtual ranges of the data region: `(start, pages)`, plus the
/// untouched top.
struct Ranges {
    free: Vec<(u64, u64)>,
    next: u64,
}

static RANGES: Mutex<Ranges> = Mutex::new(Ranges {
    free: Vec::new(),
    next: DATA_BASE,
});

/// Frames mapped for file data right now.
static MAPPED_PAGES: AtomicU64 = AtomicU64::new(0);

impl Ranges {
    fn take(&mut self, pages: u64) -> Option<u64> {
        if let Some(i) = self.free.iter().position(|&(_, n)| n >= pages) {
            let (start, n) = self.free.swap_remove(i);
            if n > pages {
                self.free.try_reserve(1).ok()?;
                self.free.push((start + pages * PAGE_SIZE, n - pages));
            }
            return Some(start);
        }
        let start = self.next;
        let end = start.checked_add(pages.checked_mul(PAGE_SIZE)?)?;
        if end > DATA_BASE + DATA_MAX_BYTES {
            return None;
        }
        // Keep room to give the range back without allocating.
        self.free.try_reserve(1).ok()?;
        self.next = end;
        Some(start)
    }

    fn give_back(&mut self, mut start: u64, mut pages: u64) {
        // Merge with free neighbours, so the region does not fragment.
        while let Some(i) = self
            .free
            .iter()
            .position(|&(s, n)| s + n * PAGE_SIZE == start || start + pages * PAGE_SIZE == s)
        {
            let (s, n) = self.free.swap_remove(i);
            start = start.min(s);
            pages += n;
        }
        if start + pages * PAGE_SIZE == self.next {
            self.next = start;
        } else if self.free.try_reserve(1).is_ok() {
            self.free.push((start, pages));
        }
        // Else the virtual range is lost (its frames were freed already).
    }
}

/// A zeroed, page-granular buffer of file data at a fixed kernel address.
#[derive(Debug)]
pub struct DataBuffer {
    start: u64,
    pages: u64,
    len: usize,
}

impl DataBuffer {
    /// A zeroed buffer of `len` bytes (rounded up to whole pages), or
    /// `None` when that would leave fewer than the kernel's reserved frames
    /// free, or the region's virtual space is used up.
    pub fn allocate(len: usize) -> Option<Self> {
        if len == 0 {
            return None;
        }
        let pages = (len as u64).div_ceil(PAGE_SIZE);
        let frames = paging::frames();
        if (frames.free_frames() as u64) < pages.saturating_add(KERNEL_RESERVE_FRAMES as u64) {
            return None;
        }
        let start = crate::cpu::without_interrupts(|| RANGES.lock().take(pages))?;
        let mut buffer = DataBuffer {
            start,
            pages: 0,
            len,
        };
        for i in 0..pages {
            if frames.free_frames() <= KERNEL_RESERVE_FRAMES {
                return None; // `buffer` drops: what was mapped is freed.
            }
            let frame = frames.allocate_frame()?;
            // SAFETY: the frame is fresh from the allocator and reached
            // through the direct map; nothing else refers to it.
            unsafe {
                core::ptr::write_bytes(phys_to_virt(frame) as *mut u8, 0, PAGE_SIZE as usize)
            };
            // SAFETY: `start..start + pages` was taken from RANGES for this
            // buffer alone (the data region is mapped only here); the frame
            // is fresh and owned by the buffer until its Drop unmaps it.
            let mapped =
                unsafe { paging::map_kernel_page(start + i * PAGE_SIZE, frame, Access::ReadWrite) };
            if mapped.is_err() {
                // SAFETY: fresh from the source, never mapped.
                unsafe { frames.free_frame(frame) };
                return None;
            }
            buffer.pages += 1;
            MAPPED_PAGES.fetch_add(1, Ordering::Relaxed);
        }
        Some(buffer)
    }

    /// Address of the first byte.
    pub fn address(&self) -> u64 {
        self.start
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `start..start + len` lies in pages this buffer mapped RW
        // (all `pages` of them once `allocate` returned it) and owns alone;
        // the shared borrow of `self` excludes a concurrent `bytes_mut`.
        unsafe { core::slice::from_raw_parts(self.start as *const u8, self.len) }
    }

    /// The bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only borrow.
        unsafe { core::slice::from_raw_parts_mut(self.start as *mut u8, self.len) }
    }
}

impl Drop for DataBuffer {
    fn drop(&mut self) {
        for i in 0..self.pages {
            // SAFETY: the buffer mapped these pages in `allocate`; it is
            // being dropped, so no borrow of its bytes is live, and the
            // kernel replans routines that hold its address before any of
            // them can run again (docs/unsafe-inventory.md).
            if let Ok(frame) = unsafe { paging::unmap_kernel_page(self.start + i * PAGE_SIZE) } {
                // SAFETY: the frame was this buffer's and is unmapped now.
                unsafe { paging::frames().free_frame(frame) };
                MAPPED_PAGES.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let pages = self.len.div_ceil(PAGE_SIZE as usize) as u64;
        crate::cpu::without_interrupts(|| RANGES.lock().give_back(self.start, pages));
    }
}

/// Frames holding file data right now (for leak checks and reports).
pub fn mapped_pages() -> u64 {
    MAPPED_PAGES.load(Ordering::Relaxed)
}
