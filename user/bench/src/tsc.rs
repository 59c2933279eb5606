//! The time-stamp counter and the compute-only calibration loop.
//!
//! Owns [`read`] (`lfence; rdtsc`: the TSC once every earlier instruction
//! has completed, ARCHITECTURE.md §8) and [`compute_loop`], a fixed integer
//! loop in `asm!` so both systems run exactly the same instructions: five
//! per iteration. Under TCG with `-icount shift=0` a tick is one guest
//! instruction, so it reads 5.00 ticks per iteration plus whatever the
//! system's timer interrupts cost (PLATFORM.md).

use core::arch::asm;

/// Instructions per [`compute_loop`] iteration.
pub(crate) const COMPUTE_LOOP_INSTRUCTIONS: u64 = 5;

/// Reads the TSC after all earlier instructions have completed.
#[inline(always)]
pub(crate) fn read() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: `lfence` and `rdtsc` touch no memory; both systems let user
    // mode read the TSC (CR4.TSD clear).
    unsafe {
        asm!(
            "lfence",
            "rdtsc",
            out("eax") low, out("edx") high,
            options(nomem, nostack, preserves_flags),
        );
    }
    (u64::from(high) << 32) | u64::from(low)
}

/// Runs `iterations` (at least 1) rounds of `imul; add; xor; dec; jnz` on
/// `seed`; returns the result (so the loop is not dead code).
#[inline(never)]
pub(crate) fn compute_loop(iterations: u64, seed: u64) -> u64 {
    let mut value = seed;
    // SAFETY: register-only arithmetic: no memory, no stack; `rcx` counts
    // down from `iterations.max(1)` to 0, so the loop ends.
    unsafe {
        asm!(
            "2:",
            "imul {value}, {value}, 0x5851f42d",
            "add {value}, rcx",
            "xor {value}, {mix}",
            "dec rcx",
            "jnz 2b",
            value = inout(reg) value,
            mix = in(reg) 0x9e37_79b9_u64,
            inout("rcx") iterations.max(1) => _,
            options(nomem, nostack),
        );
    }
    value
}
