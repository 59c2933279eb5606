//! One SSE instruction on a register, so a thread counts as a user of the
//! vector state (the "with FP state in use" switch metrics).
//!
//! Owns [`touch`]. The bench program is built for a target without SSE, so
//! the compiler never keeps a value in an XMM register: the `asm!` may use
//! `xmm0` without declaring it (as `user/fpstress` does).

use core::arch::asm;

/// `paddq xmm0, xmm0` after loading `seed` into `xmm0`; returns `xmm0`'s
/// low quadword, so the work is not dead code and the register's value
/// must survive any switch around the call.
#[inline(always)]
pub(crate) fn touch(seed: u64) -> u64 {
    let mut value = seed;
    // SAFETY: register-only: moves a general register into xmm0, adds
    // xmm0 to itself and moves the low half back. No memory, no stack; no
    // compiled code of this program keeps anything in xmm0 (no SSE target
    // feature), so clobbering it undeclared breaks nothing.
    unsafe {
        asm!(
            "movq xmm0, {v}",
            "paddq xmm0, xmm0",
            "movq {v}, xmm0",
            v = inout(reg) value,
            options(nomem, nostack, preserves_flags),
        );
    }
    value
}
