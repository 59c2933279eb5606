//! Modes 2-7: one FP fault each, which must kill this program alone (the
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
        7 => misaligned_fxrstor(),
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
    let mut after: u32 = 0;
    // SAFETY: stores MXCSR into a local.
    unsafe { asm!("stmxcsr [{m}]", m = in(reg) &raw mut after, options(nostack)) };
    println!(
        "fpstress: divps by zero with ZE unmasked did not fault (MXCSR now {after:#x}{})",
        if after & 4 != 0 {
            ": ZE flagged, so this CPU does not deliver #XM"
        } else {
            ""
        }
    );
    if after & 4 != 0 {
        NO_SIMD_EXCEPTIONS
    } else {
        NO_FAULT
    }
}

/// Exit status when the SIMD exception was flagged in MXCSR but not
/// delivered (QEMU's TCG does not raise `#XM`).
const NO_SIMD_EXCEPTIONS: i32 = 4;

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
    let mut after: u32 = 0;
    // SAFETY: faults (`#GP`), ending the program; else stores MXCSR into
    // a local.
    unsafe {
        asm!(
            "ldmxcsr [{m}]",
            "stmxcsr [{a}]",
            m = in(reg) &raw const mxcsr,
            a = in(reg) &raw mut after,
            options(nostack),
        );
    }
    println!("fpstress: ldmxcsr of a reserved bit did not fault (MXCSR now {after:#x}): this CPU does not check MXCSR's reserved bits");
    // Stay on the CPU across switches, so the kernel saves and restores
    // this MXCSR (its `xrstor64` must neither fault in ring 0 nor give
    // the bit back).
    let mut previous = sk_user::rdtsc();
    let mut gaps = 0;
    while gaps < 50 {
        let now = sk_user::rdtsc();
        gaps += u32::from(now.wrapping_sub(previous) > crate::GAP_TICKS);
        previous = now;
    }
    // SAFETY: stores MXCSR into a local.
    unsafe { asm!("stmxcsr [{a}]", a = in(reg) &raw mut after, options(nostack)) };
    println!("fpstress: after {gaps} switches MXCSR is {after:#x}");
    RESERVED_BITS_ACCEPTED
}

/// Exit status when `ldmxcsr` accepted a reserved bit (QEMU's TCG).
const RESERVED_BITS_ACCEPTED: i32 = 5;

/// `fxrstor64` from an address 8 bytes past a 16-byte boundary: `#GP`.
fn misaligned_fxrstor() -> i32 {
    let image = XsaveImage([0; 4096]);
    // SAFETY: reads 512 bytes inside the local image; faults (`#GP`,
    // misaligned operand), ending the program.
    unsafe {
        asm!(
            "fxrstor64 [{p}]",
            p = in(reg) image.0.as_ptr().wrapping_add(8),
            options(nostack, readonly),
        );
    }
    println!("fpstress: fxrstor64 from a misaligned address did not fault");
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

/// `xrstor` of an image whose XSTATE_BV has bit 8 set (a supervisor
/// component, never in XCR0): `#GP` (SDM vol. 1 §13.8).
fn bad_xrstor() -> i32 {
    if crate::regs::xcr0() == 0 {
        println!("fpstress: no XSAVE: nothing to test");
        return 0;
    }
    let mut image = XsaveImage([0; 4096]);
    // MXCSR valid; header (offset 512): XSTATE_BV = 1 << 8.
    image.0[24..28].copy_from_slice(&0x1f80_u32.to_le_bytes());
    image.0[512 + 1] = 1;
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
