//! The kernel heap: `linked_list_allocator` over a virtual range that grows
//! on demand by mapping fresh frames (RW + NX) at its end.
//!
//! Owns the one kernel heap and [`KernelAllocator`], the type the kernel
//! declares as its `#[global_allocator]`. The heap maps its first pages on
//! first use if [`init`] has not run yet, so an allocation can never reach
//! an uninitialized heap. Growth maps whole pages from the
//! registered frame source; memory is never returned to the frame allocator
//! (the heap's high-water mark is reported instead), which is why file data
//! does not live here (`data_memory.rs`). [`used_bytes`] is what leak checks
//! compare.

use crate::layout::{HEAP_BASE, HEAP_MAX_BYTES, PAGE_SIZE};
use crate::paging::{self, Access};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use linked_list_allocator::Heap;
use spin::Mutex;

const INITIAL_BYTES: usize = 4 << 20;
const MIN_GROWTH_BYTES: u64 = 1 << 20;

/// The kernel heap (one per kernel, private: reached through
/// [`KernelAllocator`]; a second one would manage the same virtual range).
struct KernelHeap {
    inner: Mutex<HeapState>,
}

struct HeapState {
    heap: Heap,
    mapped_bytes: u64,
}

impl KernelHeap {
    /// An empty heap; [`KernelHeap::init`] maps its first pages.
    const fn new() -> Self {
        Self {
            inner: Mutex::new(HeapState {
                heap: Heap::empty(),
                mapped_bytes: 0,
            }),
        }
    }

    /// Maps the initial heap pages (once; later calls find them mapped).
    fn init(&self) -> Result<(), paging::MapError> {
        x86_64::instructions::interrupts::without_interrupts(|| self.inner.lock().init())
    }

    /// Bytes of virtual memory mapped for the heap so far.
    fn mapped_bytes(&self) -> u64 {
        x86_64::instructions::interrupts::without_interrupts(|| self.inner.lock().mapped_bytes)
    }

    /// Bytes currently allocated.
    fn used_bytes(&self) -> u64 {
        x86_64::instructions::interrupts::without_interrupts(|| {
            self.inner.lock().heap.used() as u64
        })
    }
}

static HEAP: KernelHeap = KernelHeap::new();

/// The kernel's `#[global_allocator]`: forwards to the one kernel heap.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelAllocator;

/// Maps the initial heap pages. Call once, after `paging::init`.
pub fn init() -> Result<(), paging::MapError> {
    HEAP.init()
}

/// Bytes of virtual memory mapped for the heap so far (its high-water mark).
pub fn mapped_bytes() -> u64 {
    HEAP.mapped_bytes()
}

/// Bytes currently allocated: what leak checks compare against a baseline.
pub fn used_bytes() -> u64 {
    HEAP.used_bytes()
}

// SAFETY: forwards to the one `KernelHeap`, whose `GlobalAlloc` impl
// upholds the contract (see there).
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract, same layout.
        unsafe { HEAP.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above, i.e. by HEAP.
        unsafe { HEAP.dealloc(ptr, layout) }
    }
}

/// Maps `start..start+len` with fresh frames; on failure unmaps what it
/// mapped, so a failed growth leaves the heap as it was (and can be retried).
fn map_range(start: u64, len: u64) -> Result<(), paging::MapError> {
    let mut virt = start;
    while virt < start + len {
        let mapped = paging::frames()
            .allocate_frame()
            .ok_or(paging::MapError::OutOfFrames)
            .and_then(|frame| {
                // SAFETY: `virt` is past the heap's mapped top, in the heap
                // range that only this module maps (under the heap lock);
                // the frame is fresh and becomes the heap's.
                unsafe { paging::map_kernel_page(virt, frame, Access::ReadWrite) }.inspect_err(
                    // SAFETY: fresh from the source, not mapped.
                    |_| unsafe { paging::frames().free_frame(frame) },
                )
            });
        if let Err(e) = mapped {
            let mut undo = start;
            while undo < virt {
                // SAFETY: mapped just above by this call, not yet given to
                // the allocator (`extend` runs only on success).
                if let Ok(frame) = unsafe { paging::unmap_kernel_page(undo) } {
                    // SAFETY: the frame is unmapped and nobody refers to it.
                    unsafe { paging::frames().free_frame(frame) };
                }
                undo += PAGE_SIZE;
            }
            return Err(e);
        }
        virt += PAGE_SIZE;
    }
    Ok(())
}

impl HeapState {
    /// Maps the initial pages and hands them to the allocator, unless that
    /// happened already.
    fn init(&mut self) -> Result<(), paging::MapError> {
        if self.mapped_bytes != 0 {
            return Ok(());
        }
        map_range(HEAP_BASE, INITIAL_BYTES as u64)?;
        // SAFETY: HEAP_BASE..+INITIAL_BYTES was just mapped RW, belongs to
        // the heap alone, and the heap was empty (`mapped_bytes` was 0, and
        // only this function and `grow`, which requires it, add memory).
        unsafe { self.heap.init(HEAP_BASE as *mut u8, INITIAL_BYTES) };
        self.mapped_bytes = INITIAL_BYTES as u64;
        Ok(())
    }

    fn grow(&mut self, layout: Layout) -> bool {
        if self.mapped_bytes == 0 {
            // First use before `init`: initialize instead (extending an
            // empty heap would write its hole list at address 0).
            return self.init().is_ok();
        }
        let want = (layout.size() as u64 + layout.align() as u64 + PAGE_SIZE).max(MIN_GROWTH_BYTES);
        let want = (want + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        if self.mapped_bytes + want > HEAP_MAX_BYTES {
            return false;
        }
        if map_range(HEAP_BASE + self.mapped_bytes, want).is_err() {
            return false;
        }
        // SAFETY: the pages right after the heap's top were just mapped RW
        // and belong to the heap alone.
        unsafe { self.heap.extend(usize::try_from(want).unwrap_or(0)) };
        self.mapped_bytes += want;
        true
    }
}

// SAFETY: allocation and deallocation go through one spin lock taken with
// interrupts masked, so the heap is never used re-entrantly; returned
// blocks come from linked_list_allocator, which honours the layout.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        x86_64::instructions::interrupts::without_interrupts(|| {
            let mut state = self.inner.lock();
            loop {
                if let Ok(p) = state.heap.allocate_first_fit(layout) {
                    return p.as_ptr();
                }
                if !state.grow(layout) {
                    return core::ptr::null_mut();
                }
            }
        })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            x86_64::instructions::interrupts::without_interrupts(|| {
                // SAFETY: the caller passes a block this heap allocated with
                // the same layout (GlobalAlloc contract).
                unsafe { self.inner.lock().heap.deallocate(p, layout) }
            });
        }
    }
}
