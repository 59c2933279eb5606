//! Modes 2-6: one FP fault each, which must kill this program alone (the
//! kernel says why on the console). Reaching the end of a mode means the
//! fault did not happen: exit 3 (mode 5 exits 0 when XCR0 enables
//! AVX-512, where its instruction is legal).

use core::arch::asm;
use sk_user::println;

/// Exit status when the expected fault did not come.
const NO_FAULT: i32 = 3;

pub(crate) fn run(mode: u64) -> i32 {
    match mode {
        2 => simd_divide_by_zero(),
        3 => x87_divide_by_zero(),
        4 => reserved_mxcsr_bit(),
        5 => avx512(),
        6 => bad_xrstor(),
        _ => {
            println!("fpstress: unknown mode {mode}");
            2
        }
    }
}

/// MXCSR with divide-by-zero unmasked, then `divps` by zero: `#XM`.
fn simd_divide_by_zero() -> i32 {
    let mxcsr: u32 = 0x1f80 & !(1 << 9);
    let one: [f32; 4] = [1.0; 4];
    // SAFETY: loads MXCSR (a valid value) and xmm0/xmm1 from locals; the
    // FP registers are this program's alone (regs.rs docs). The division
    // faults, which ends the program.
    unsafe {
        asm!(
            "ldmxcsr [{m}]",
            "movups xmm0, [{one}]",
            "xorps xmm1, xmm1",
            "divps xmm0, xmm1",
            m = in(reg) &raw const mxcsr,
            one = in(reg) one.as_ptr(),
            options(nostack, readonly),
        );
    }
    println!("fpstress: divps by zero with ZE unmasked did not fault");
    NO_FAULT
}

/// FCW with divide-by-zero unmasked, `fld1 / fldz`, then `fwait`: `#MF`
/// (reported at the next waiting x87 instruction).
fn x87_divide_by_zero() -> i32 {
    let fcw: u16 = 0x037f & !(1 << 2);
    // SAFETY: x87 registers only; the `fwait` faults, ending the program.
    unsafe {
        asm!(
            "fninit",
            "fldcw [{c}]",
            "fld1",
            "fldz",
            "fdivp st(1), st",
            "fwait",
            c = in(reg) &raw const fcw,
            options(nostack, readonly),
        );
    }
    println!("fpstress: fdiv by zero with ZM unmasked did not fault");
    NO_FAULT
}

/// `ldmxcsr` with bit 31 (reserved) set: `#GP`.
fn reserved_mxcsr_bit() -> i32 {
    let mxcsr: u32 = 0x8000_1f80;
    // SAFETY: faults (`#GP`), ending the program; no memory written.
    unsafe {
        asm!("ldmxcsr [{m}]", m = in(reg) &raw const mxcsr, options(nostack, readonly));
    }
    println!("fpstress: ldmxcsr of a reserved bit did not fault");
    NO_FAULT
}

/// An AVX-512 instruction: `#UD` unless XCR0 enables opmask and ZMM state.
fn avx512() -> i32 {
    let enabled = crate::regs::xcr0() & 0xe0 == 0xe0;
    // SAFETY: zmm0 only (this program's); faults with `#UD` where
    // AVX-512 is not enabled, ending the program.
    unsafe {
        asm!("vpaddd zmm0, zmm0, zmm0", options(nomem, nostack));
    }
    if enabled {
        println!(
            "fpstress: AVX-512 is enabled (XCR0 {:#x}): vpaddd ran",
            crate::regs::xcr0()
        );
        0
    } else {
        println!(
            "fpstress: AVX-512 ran although XCR0 {:#x} lacks it",
            crate::regs::xcr0()
        );
        NO_FAULT
    }
}

/// An XSAVE image (standard form) with a reserved header byte set.
#[repr(C, align(64))]
struct XsaveImage([u8; 4096]);

/// `xrstor` of an image with a non-zero reserved header byte: `#GP`.
fn bad_xrstor() -> i32 {
    if crate::regs::xcr0() == 0 {
        println!("fpstress: no XSAVE: nothing to test");
        return 0;
    }
    let mut image = XsaveImage([0; 4096]);
    // MXCSR valid; header (offset 512): XSTATE_BV 0, XCOMP_BV 0, byte 24
    // (reserved, must be 0) set.
    image.0[24..28].copy_from_slice(&0x1f80_u32.to_le_bytes());
    image.0[512 + 24] = 1;
    // SAFETY: reads the local image; faults (`#GP`), ending the program.
    unsafe {
        asm!(
            "xrstor [{p}]",
            p = in(reg) image.0.as_ptr(),
            in("eax") 7,
            in("edx") 0,
            options(nostack, readonly),
        );
    }
    println!("fpstress: xrstor of a bad header did not fault");
    NO_FAULT
}
