//! The panic handler's backtrace: a scan of the current kernel stack for
//! words that point into kernel text (return addresses, and the odd stale
//! one: a scan, not an unwind, because the kernel is built without frame
//! pointers). `cargo xtask` turns the addresses into function names.
//!
//! Owns only the reading: which stack the stack pointer is on (a thread's
//! kernel stack, whose slot top ends it, or the boot stack) and that every
//! word read lies inside that mapped stack. On any other stack (the double
//! fault's IST stack) it reads nothing.

use crate::layout::kernel_image;

/// Calls `found` with each word between the stack pointer and the top of
/// its stack that points into kernel text, nearest the stack pointer first,
/// at most `limit` of them.
pub fn text_addresses_on_stack(limit: usize, mut found: impl FnMut(u64)) {
    let rsp: u64;
    // SAFETY: reads the stack pointer into a register; no memory touched.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags))
    };
    let top = match crate::stack::slot_top(rsp) {
        Some(top) => top,
        None => {
            let (bottom, top) = crate::boot::boot_stack();
            if !(bottom..top).contains(&rsp) {
                return;
            }
            top
        }
    };
    let (text_start, text_end) = kernel_image().text;
    let mut shown = 0;
    let mut at = rsp & !7;
    while at + 8 <= top && shown < limit {
        // SAFETY: `at` is 8-aligned and in `[rsp, top)`: between the live
        // stack pointer and the top of the stack it points into, all of it
        // mapped (a kernel stack is mapped from its bottom to its slot's
        // top; the boot stack is in the image's bss). A volatile read,
        // because the words are other frames' and the compiler must not
        // reason about them.
        let word = unsafe { core::ptr::read_volatile(at as *const u64) };
        if (text_start..text_end).contains(&word) {
            found(word);
            shown += 1;
        }
        at += 8;
    }
}
