//! Kernel stacks, each with an unmapped guard page below it.
//!
//! Owns the stack region's slots: every slot is `SLOT_BYTES` of virtual
//! space whose lowest page stays unmapped, so an overflow faults instead of
//! corrupting a neighbour. A fault on a guard page cannot push its own
//! frame, so it escalates to a double fault, which runs on its own IST
//! stack (see `gdt.rs`).

use crate::layout::{PAGE_SIZE, STACKS_BASE};
use crate::paging::{self, Access, MapError};
use spin::Mutex;

/// Virtual bytes per stack slot (guard page included).
const SLOT_BYTES: u64 = 256 * 1024;
const MAX_SLOTS: usize = 4096;

/// True if `addr` lies in the kernel stacks region (a stack, a guard page
/// or an unused slot; no other kind of memory is mapped there).
pub(crate) fn in_stack_region(addr: u64) -> bool {
    (STACKS_BASE..STACKS_BASE + MAX_SLOTS as u64 * SLOT_BYTES).contains(&addr)
}

/// One past the highest byte of the stack slot holding `addr`, if `addr`
/// is in the stack region: a stack's top (stacks sit at the top of their
/// slot, see [`KernelStack::top`]).
pub(crate) fn slot_top(addr: u64) -> Option<u64> {
    in_stack_region(addr)
        .then(|| STACKS_BASE + ((addr - STACKS_BASE) / SLOT_BYTES + 1) * SLOT_BYTES)
}

/// A mapped kernel stack; unmapped and freed on [`KernelStack::free`].
#[derive(Debug)]
pub struct KernelStack {
    slot: usize,
    pages: u64,
}

struct Slots {
    next_unused: usize,
    free: [u16; MAX_SLOTS],
    free_count: usize,
}

static SLOTS: Mutex<Slots> = Mutex::new(Slots {
    next_unused: 0,
    free: [0; MAX_SLOTS],
    free_count: 0,
});

impl KernelStack {
    /// Maps a stack of `pages` pages (at most 63) below a guard page.
    pub fn allocate(pages: u64) -> Result<Self, MapError> {
        if pages == 0 || (pages + 1) * PAGE_SIZE > SLOT_BYTES {
            return Err(MapError::BadAddress);
        }
        let slot = x86_64::instructions::interrupts::without_interrupts(|| {
            let mut s = SLOTS.lock();
            if s.free_count > 0 {
                s.free_count -= 1;
                Some(usize::from(s.free[s.free_count]))
            } else if s.next_unused < MAX_SLOTS {
                s.next_unused += 1;
                Some(s.next_unused - 1)
            } else {
                None
            }
        })
        .ok_or(MapError::OutOfFrames)?;
        let stack = KernelStack { slot, pages };
        let top = stack.top();
        for i in 1..=pages {
            let frame = match paging::frames().allocate_frame() {
                Some(f) => f,
                None => {
                    stack.release_pages(i - 1);
                    return Err(MapError::OutOfFrames);
                }
            };
            // SAFETY: the slot was taken from SLOTS for this stack alone
            // (the stack region is mapped only here); its lowest page, the
            // guard, is never mapped (`i <= pages < SLOT_BYTES / PAGE_SIZE`);
            // the frame is fresh and owned by the stack.
            let mapped =
                unsafe { paging::map_kernel_page(top - i * PAGE_SIZE, frame, Access::ReadWrite) };
            if let Err(e) = mapped {
                // SAFETY: fresh from the source, not mapped.
                unsafe { paging::frames().free_frame(frame) };
                stack.release_pages(i - 1);
                return Err(e);
            }
        }
        Ok(stack)
    }

    /// The address just above the stack (initial RSP).
    pub fn top(&self) -> u64 {
        STACKS_BASE + (self.slot as u64 + 1) * SLOT_BYTES
    }

    /// The lowest mapped address.
    pub fn bottom(&self) -> u64 {
        self.top() - self.pages * PAGE_SIZE
    }

    /// The guard page's address (unmapped).
    pub fn guard_page(&self) -> u64 {
        self.bottom() - PAGE_SIZE
    }

    /// Unmaps the top `mapped` pages, frees their frames and the slot.
    /// Nothing may run on the stack (see [`KernelStack::free`]).
    fn release_pages(&self, mapped: u64) {
        for i in 1..=mapped {
            // SAFETY: these pages were mapped by `allocate` for this stack,
            // and no CPU runs on it (the caller's duty, upheld by the
            // types: see `free`).
            if let Ok(frame) = unsafe { paging::unmap_kernel_page(self.top() - i * PAGE_SIZE) } {
                // SAFETY: the stack's own frame, unmapped just now.
                unsafe { paging::frames().free_frame(frame) };
            }
        }
        x86_64::instructions::interrupts::without_interrupts(|| {
            let mut s = SLOTS.lock();
            let n = s.free_count;
            s.free[n] = u16::try_from(self.slot).expect("slots < 4096");
            s.free_count += 1;
        });
    }

    /// Unmaps the stack and returns its frames and its slot.
    ///
    /// Safe because no CPU can be running on a stack that is still held as
    /// a `KernelStack` value: the only ways to run on one consume it
    /// ([`switch_to`] leaks it, [`Context::new`](crate::context::Context::new)
    /// owns it and frees it only once the context stopped running for good),
    /// and the type is neither `Copy` nor `Clone`, so it is freed once.
    pub fn free(self) {
        self.release_pages(self.pages);
    }

    /// Keeps the stack mapped forever (boot and IST stacks).
    pub fn leak(self) -> u64 {
        self.top()
    }
}

/// Calls `f` on `stack`, which stays mapped for good (it is leaked: the
/// CPU runs on it from now on); never returns. The frames of the current
/// stack are abandoned, never unwound.
pub fn switch_to(stack: KernelStack, f: extern "C" fn() -> !) -> ! {
    let top = stack.leak();
    // SAFETY: `top` is the top of a mapped kernel stack that nothing else
    // uses (the KernelStack was owned here and is leaked, so it is never
    // freed or handed out again); `f` never returns, so abandoning the
    // current stack is fine.
    unsafe {
        core::arch::asm!(
            "mov rsp, {top}",
            "xor ebp, ebp",
            "call {f}",
            "ud2",
            top = in(reg) top,
            f = in(reg) f,
            options(noreturn)
        )
    }
}
