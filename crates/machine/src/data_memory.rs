//! Memory for file data: zeroed buffers of whole pages, mapped RW+NX in the
//! kernel's data region, with frames from the same pool as user memory,
//! each growing in place inside a virtual reservation.
//!
//! Owns [`DataBuffer`] and the region's reservations. File data used to
//! live on the kernel heap, which never returns frames and ignores the
//! kernel's frame reserve; a program could then fill RAM with file data
//! and the kernel panicked on its next allocation. A `DataBuffer` takes
//! its frames only while more than [`KERNEL_RESERVE_FRAMES`] stay free (as
//! [`UserFrame`](crate::user_frame::UserFrame) does) and gives them back
//! when dropped, so file data is charged exactly like user memory.
//!
//! **Growth in place.** Each buffer owns a virtual reservation and maps
//! only the pages its length needs; [`DataBuffer::grow`] maps more zeroed
//! pages at its end, so its address never changes (synthesized routines
//! bake it in) and growing never copies. Two reservation classes share the
//! region (32 TiB, [`DATA_MAX_BYTES`]): [`SMALL_RESERVATION_BYTES`] (1 MiB;
//! 16 Mi of them) for most files, and [`LARGE_RESERVATION_BYTES`] (1 GiB,
//! the file system's largest file; 16 Ki of them). A buffer that must grow
//! past a small reservation is replaced by a large one once (its owner
//! copies at most 1 MiB). Reservations are reused most recently freed
//! first, so the page tables under them are reused too.
//!
//! How much one call may map at once is the caller's policy (sk-fs grows a
//! file by at most `sk_fs::GROWTH_STEP_BYTES` per call on the generic
//! write path); this module maps exactly what it is asked for.

use crate::layout::{phys_to_virt, DATA_BASE, DATA_MAX_BYTES, PAGE_SIZE};
use crate::paging::{self, Access};
use crate::user_frame::KERNEL_RESERVE_FRAMES;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

/// Virtual bytes reserved for a small buffer (one that is allocated with
/// a length and reach of at most this).
pub const SMALL_RESERVATION_BYTES: u64 = 1 << 20;
/// Virtual bytes reserved for a large buffer: the most any buffer holds.
pub const LARGE_RESERVATION_BYTES: u64 = 1 << 30;

/// Where the two pools start: small reservations in the region's lower
/// half, large ones in its upper half.
const SMALL_POOL_BASE: u64 = DATA_BASE;
const LARGE_POOL_BASE: u64 = DATA_BASE + DATA_MAX_BYTES / 2;

/// One pool of equal reservations: `slots` of `slot_bytes` from `base`.
struct Slots {
    base: u64,
    slot_bytes: u64,
    slots: u64,
    /// Reservations never handed out start at this index.
    next: u64,
    /// Indices given back, most recent last. Its capacity is kept at
    /// least `next`, so giving a reservation back never allocates.
    free: Vec<u32>,
}

impl Slots {
    const fn new(base: u64, slot_bytes: u64) -> Self {
        Self {
            base,
            slot_bytes,
            slots: DATA_MAX_BYTES / 2 / slot_bytes,
            next: 0,
            free: Vec::new(),
        }
    }

    /// A reservation's start, or `None` when the pool is used up (or the
    /// heap cannot hold its free list).
    fn take(&mut self) -> Option<u64> {
        let index = match self.free.pop() {
            Some(index) => u64::from(index),
            None => {
                if self.next >= self.slots {
                    return None;
                }
                // Room to give back every reservation ever handed out.
                let total = usize::try_from(self.next + 1).ok()?;
                self.free.try_reserve(total).ok()?;
                self.next += 1;
                self.next - 1
            }
        };
        Some(self.base + index * self.slot_bytes)
    }

    fn give_back(&mut self, start: u64) {
        let index = (start - self.base) / self.slot_bytes;
        debug_assert!(self.free.len() < self.free.capacity(), "room reserved");
        if let Ok(index) = u32::try_from(index) {
            self.free.push(index);
        }
    }
}

/// The data region's reservations.
struct Pools {
    small: Slots,
    large: Slots,
}

impl Pools {
    fn of(&mut self, reserved_bytes: u64) -> &mut Slots {
        if reserved_bytes == SMALL_RESERVATION_BYTES {
            &mut self.small
        } else {
            &mut self.large
        }
    }
}

static POOLS: Mutex<Pools> = Mutex::new(Pools {
    small: Slots::new(SMALL_POOL_BASE, SMALL_RESERVATION_BYTES),
    large: Slots::new(LARGE_POOL_BASE, LARGE_RESERVATION_BYTES),
});

/// Frames mapped for file data right now.
static MAPPED_PAGES: AtomicU64 = AtomicU64::new(0);

/// A zeroed, page-granular buffer of file data at a fixed kernel address,
/// growing in place up to its reservation.
#[derive(Debug)]
pub struct DataBuffer {
    start: u64,
    /// Bytes of its virtual reservation.
    reserved: u64,
    /// Pages mapped from `start` on (all of `len`'s, rounded up).
    pages: u64,
    len: usize,
}

impl DataBuffer {
    /// A zeroed buffer of `len` bytes (rounded up to whole pages) that can
    /// grow in place to `reach` bytes (at most
    /// [`LARGE_RESERVATION_BYTES`]); `None` if `len` is 0 or more than
    /// that, when its pages would leave fewer than the kernel's reserved
    /// frames free, or when the region's reservations are used up.
    pub fn allocate(len: usize, reach: usize) -> Option<Self> {
        let len_bytes = len as u64;
        if len == 0 || len_bytes > LARGE_RESERVATION_BYTES {
            return None;
        }
        let pages = len_bytes.div_ceil(PAGE_SIZE);
        if !frames_to_spare(pages) {
            return None;
        }
        let reach = (reach as u64).max(len_bytes);
        let (start, reserved) = crate::cpu::without_interrupts(|| {
            let mut pools = POOLS.lock();
            if reach <= SMALL_RESERVATION_BYTES {
                if let Some(start) = pools.small.take() {
                    return Some((start, SMALL_RESERVATION_BYTES));
                }
            }
            Some((pools.large.take()?, LARGE_RESERVATION_BYTES))
        })?;
        let mut buffer = DataBuffer {
            start,
            reserved,
            pages: 0,
            len: 0,
        };
        if !buffer.map_up_to(pages) {
            return None; // `buffer` drops: what was mapped is freed.
        }
        buffer.len = len;
        Some(buffer)
    }

    /// Grows the buffer in place to `new_len` bytes: maps zeroed pages at
    /// its end; the address stays. Returns false, and changes nothing, if
    /// `new_len` is below the length or past the reservation, or when the
    /// new pages would leave fewer than the kernel's reserved frames free.
    pub fn grow(&mut self, new_len: usize) -> bool {
        let new_bytes = new_len as u64;
        if new_len < self.len || new_bytes > self.reserved {
            return false;
        }
        let before = self.pages;
        let pages = new_bytes.div_ceil(PAGE_SIZE);
        if !frames_to_spare(pages.saturating_sub(before)) || !self.map_up_to(pages) {
            self.unmap_down_to(before);
            return false;
        }
        // Bytes past `len` in its last page are zero already: nothing
        // writes past `len` (`bytes_mut` ends there, and so do routines).
        self.len = new_len;
        true
    }

    /// Address of the first byte.
    pub fn address(&self) -> u64 {
        self.start
    }

    /// The length it can grow to in place, in bytes.
    pub fn reserved_bytes(&self) -> u64 {
        self.reserved
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `start..start + len` lies in pages this buffer mapped RW
        // (`pages` covers `len`, rounded up) and owns alone; the shared
        // borrow of `self` excludes a concurrent `bytes_mut` or `grow`.
        unsafe { core::slice::from_raw_parts(self.start as *const u8, self.len) }
    }

    /// The bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only borrow.
        unsafe { core::slice::from_raw_parts_mut(self.start as *mut u8, self.len) }
    }

    /// Maps zeroed pages until `pages` are mapped (all inside the
    /// reservation); false when frames run short (the pages mapped so far
    /// stay, counted in `self.pages`).
    fn map_up_to(&mut self, pages: u64) -> bool {
        debug_assert!(pages * PAGE_SIZE <= self.reserved);
        let frames = paging::frames();
        while self.pages < pages {
            if frames.free_frames() <= KERNEL_RESERVE_FRAMES {
                return false;
            }
            let Some(frame) = frames.allocate_frame() else {
                return false;
            };
            // SAFETY: the frame is fresh from the allocator and reached
            // through the direct map; nothing else refers to it.
            unsafe {
                core::ptr::write_bytes(phys_to_virt(frame) as *mut u8, 0, PAGE_SIZE as usize)
            };
            let virt = self.start + self.pages * PAGE_SIZE;
            // SAFETY: `virt` lies in the reservation taken from POOLS for
            // this buffer alone (the data region is mapped only here) and
            // past its mapped pages; the frame is fresh and owned by the
            // buffer until `unmap_down_to` or Drop unmaps it.
            let mapped = unsafe { paging::map_kernel_page(virt, frame, Access::ReadWrite) };
            if mapped.is_err() {
                // SAFETY: fresh from the source, never mapped.
                unsafe { frames.free_frame(frame) };
                return false;
            }
            self.pages += 1;
            MAPPED_PAGES.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Unmaps and frees pages from the end until `pages` are left.
    /// Callers pass no fewer than `len` needs (`grow` rolling back), or 0
    /// (Drop).
    fn unmap_down_to(&mut self, pages: u64) {
        while self.pages > pages {
            self.pages -= 1;
            // SAFETY: the buffer mapped this page in `map_up_to`. No borrow
            // of it is live: `grow` unmaps only pages past `len` (beyond
            // every slice it handed out and every routine's capacity), and
            // Drop runs when nothing borrows the buffer and the kernel has
            // replanned the routines that held its address before any of
            // them can run again (docs/unsafe-inventory.md).
            let unmapped =
                unsafe { paging::unmap_kernel_page(self.start + self.pages * PAGE_SIZE) };
            if let Ok(frame) = unmapped {
                // SAFETY: the frame was this buffer's and is unmapped now.
                unsafe { paging::frames().free_frame(frame) };
                MAPPED_PAGES.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for DataBuffer {
    fn drop(&mut self) {
        self.unmap_down_to(0);
        let (start, reserved) = (self.start, self.reserved);
        crate::cpu::without_interrupts(|| POOLS.lock().of(reserved).give_back(start));
    }
}

/// Whether `pages` more frames leave more than the kernel's reserve free.
fn frames_to_spare(pages: u64) -> bool {
    let free = paging::frames().free_frames() as u64;
    free >= pages.saturating_add(KERNEL_RESERVE_FRAMES as u64)
}

/// Frames holding file data right now (for leak checks and reports).
pub fn mapped_pages() -> u64 {
    MAPPED_PAGES.load(Ordering::Relaxed)
}
