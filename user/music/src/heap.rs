//! The program's heap: a bump allocator over one static arena, for the
//! score's parse (`sk_music::Score`) and its note list, made once before
//! the pipeline starts. Nothing is ever freed (the program is short-lived
//! and allocates a bounded amount up front); an allocation past the arena
//! fails (null), which Rust's `alloc` reports as an allocation error.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of the arena.
const ARENA_BYTES: usize = 256 * 1024;

/// The arena and how much of it is handed out.
pub(crate) struct Bump {
    arena: UnsafeCell<[u8; ARENA_BYTES]>,
    used: AtomicUsize,
}

// SAFETY: every allocation is a disjoint range of the arena, claimed by a
// compare-exchange on `used`; no two callers ever get overlapping bytes.
unsafe impl Sync for Bump {}

impl Bump {
    /// An empty arena.
    pub(crate) const fn new() -> Self {
        Self {
            arena: UnsafeCell::new([0; ARENA_BYTES]),
            used: AtomicUsize::new(0),
        }
    }
}

// SAFETY: `alloc` returns a range of the static arena aligned as asked and
// never handed out before (see `Sync` above), or null when none is left;
// `dealloc` does nothing, which is allowed (the memory is simply never
// reused).
unsafe impl GlobalAlloc for Bump {
    // SAFETY: as for the impl: a fresh, aligned range of the arena or null.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.arena.get() as usize;
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let Some(start) = base
                .checked_add(used)
                .and_then(|at| at.checked_next_multiple_of(layout.align()))
            else {
                return core::ptr::null_mut();
            };
            let Some(end) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if end > base + ARENA_BYTES {
                return core::ptr::null_mut();
            }
            match self
                .used
                .compare_exchange(used, end - base, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return start as *mut u8,
                Err(now) => used = now,
            }
        }
    }

    // SAFETY: nothing is freed, so no range is ever handed out twice.
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}
