//! The FP registers of one thread: loading a pattern into every one and
//! reading them all back without changing any.
//!
//! Owns [`Pattern`] (x87 ST0-7 and FCW, YMM0-15 or XMM0-15, MXCSR),
//! [`Snapshot`] (`fxsave64` of x87/SSE plus the 16 upper YMM halves by
//! `vextractf128`), [`load`], [`capture`] and [`compare`], which names
//! the first register that differs.
//!
//! The program is built soft-float (`x86_64-unknown-none`): the compiler
//! never keeps a value in an x87, XMM or YMM register, so the `asm!`
//! blocks below need not (and, without the `sse` feature, cannot) declare
//! those registers as clobbered: nothing but this module touches them.

use core::arch::asm;

/// Whether the CPU and the kernel give user mode AVX: CPUID.1:ECX OSXSAVE
/// and AVX, and XCR0 enabling SSE and AVX state.
pub(crate) fn avx_enabled() -> bool {
    let ecx = core::arch::x86_64::__cpuid(1).ecx;
    if ecx & (1 << 27) == 0 || ecx & (1 << 28) == 0 {
        return false;
    }
    xcr0() & 6 == 6
}

/// XCR0 (`xgetbv` is legal in ring 3 once the kernel set CR4.OSXSAVE);
/// 0 without OSXSAVE.
pub(crate) fn xcr0() -> u64 {
    if core::arch::x86_64::__cpuid(1).ecx & (1 << 27) == 0 {
        return 0;
    }
    let (low, high): (u32, u32);
    // SAFETY: `xgetbv` with ECX = 0 reads XCR0; CPUID says OSXSAVE is on,
    // so it cannot fault. No memory access.
    unsafe {
        asm!("xgetbv", in("ecx") 0, out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags));
    }
    (u64::from(high) << 32) | u64::from(low)
}

/// A thread's register values. `st[i]` is the i-th value pushed (so it
/// ends up in ST(7 - i)); bytes 10..16 of each slot are padding.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub(crate) struct Pattern {
    /// 80-bit x87 values, one per 16-byte slot (offset 0).
    pub(crate) st: [[u8; 16]; 8],
    /// YMM0-15 (the low 16 bytes are XMM0-15) (offset 128).
    pub(crate) ymm: [[u8; 32]; 16],
    /// MXCSR (offset 640).
    pub(crate) mxcsr: u32,
    /// x87 control word (offset 644).
    pub(crate) fcw: u16,
}

/// xorshift64*.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl Pattern {
    /// Random values: normal x87 numbers (integer bit set, exponent
    /// neither 0 nor all ones, so loading and saving them is exact),
    /// random YMM bits, an MXCSR with random flags, rounding, FZ and
    /// (where `mxcsr_mask` allows) DAZ but every exception masked, an FCW
    /// with random precision and rounding and every exception masked.
    pub(crate) fn random(rng: &mut Rng, mxcsr_mask: u32) -> Self {
        let mut st = [[0_u8; 16]; 8];
        for slot in &mut st {
            let mantissa = rng.next() | (1 << 63);
            let exponent = (rng.next() % 0x7ffe + 1) as u16 | (rng.next() as u16 & 0x8000);
            slot[..8].copy_from_slice(&mantissa.to_le_bytes());
            slot[8..10].copy_from_slice(&exponent.to_le_bytes());
        }
        let mut ymm = [[0_u8; 32]; 16];
        for reg in &mut ymm {
            for chunk in reg.chunks_exact_mut(8) {
                chunk.copy_from_slice(&rng.next().to_le_bytes());
            }
        }
        let bits = rng.next();
        // Flags 0-5, DAZ 6, RC 13-14, FZ 15 random; masks 7-12 set.
        let mxcsr = ((bits as u32 & 0xe07f) | 0x1f80) & mxcsr_mask;
        // Masks 0-5 set, bit 6 reads as 1, PC 8-9 and RC 10-11 random.
        let fcw = 0x7f | ((bits >> 32) as u16 & 0x0f00);
        Self {
            st,
            ymm,
            mxcsr,
            fcw,
        }
    }
}

/// Loads `p` into every register: `fninit`, FCW, eight `fld tbyte`,
/// sixteen YMM (or XMM without AVX), MXCSR.
pub(crate) fn load(p: &Pattern, avx: bool) {
    let base = core::ptr::from_ref(p);
    if avx {
        // SAFETY: reads the 648 bytes of `*p` only; writes no memory; the
        // FP registers are this module's alone (module docs).
        unsafe {
            asm!(
                "fninit",
                "fldcw [{p} + 644]",
                "fld tbyte ptr [{p} + 0]", "fld tbyte ptr [{p} + 16]",
                "fld tbyte ptr [{p} + 32]", "fld tbyte ptr [{p} + 48]",
                "fld tbyte ptr [{p} + 64]", "fld tbyte ptr [{p} + 80]",
                "fld tbyte ptr [{p} + 96]", "fld tbyte ptr [{p} + 112]",
                "vmovdqu ymm0, [{p} + 128]", "vmovdqu ymm1, [{p} + 160]",
                "vmovdqu ymm2, [{p} + 192]", "vmovdqu ymm3, [{p} + 224]",
                "vmovdqu ymm4, [{p} + 256]", "vmovdqu ymm5, [{p} + 288]",
                "vmovdqu ymm6, [{p} + 320]", "vmovdqu ymm7, [{p} + 352]",
                "vmovdqu ymm8, [{p} + 384]", "vmovdqu ymm9, [{p} + 416]",
                "vmovdqu ymm10, [{p} + 448]", "vmovdqu ymm11, [{p} + 480]",
                "vmovdqu ymm12, [{p} + 512]", "vmovdqu ymm13, [{p} + 544]",
                "vmovdqu ymm14, [{p} + 576]", "vmovdqu ymm15, [{p} + 608]",
                "ldmxcsr [{p} + 640]",
                p = in(reg) base,
                options(nostack, readonly),
            );
        }
    } else {
        // SAFETY: as above, XMM only.
        unsafe {
            asm!(
                "fninit",
                "fldcw [{p} + 644]",
                "fld tbyte ptr [{p} + 0]", "fld tbyte ptr [{p} + 16]",
                "fld tbyte ptr [{p} + 32]", "fld tbyte ptr [{p} + 48]",
                "fld tbyte ptr [{p} + 64]", "fld tbyte ptr [{p} + 80]",
                "fld tbyte ptr [{p} + 96]", "fld tbyte ptr [{p} + 112]",
                "movdqu xmm0, [{p} + 128]", "movdqu xmm1, [{p} + 160]",
                "movdqu xmm2, [{p} + 192]", "movdqu xmm3, [{p} + 224]",
                "movdqu xmm4, [{p} + 256]", "movdqu xmm5, [{p} + 288]",
                "movdqu xmm6, [{p} + 320]", "movdqu xmm7, [{p} + 352]",
                "movdqu xmm8, [{p} + 384]", "movdqu xmm9, [{p} + 416]",
                "movdqu xmm10, [{p} + 448]", "movdqu xmm11, [{p} + 480]",
                "movdqu xmm12, [{p} + 512]", "movdqu xmm13, [{p} + 544]",
                "movdqu xmm14, [{p} + 576]", "movdqu xmm15, [{p} + 608]",
                "ldmxcsr [{p} + 640]",
                p = in(reg) base,
                options(nostack, readonly),
            );
        }
    }
}

/// Every register as read back: the `fxsave64` image (FCW 0, FSW 2,
/// abridged FTW 4, MXCSR 24, ST0-7 at 32 + 16i, XMM0-15 at 160 + 16i)
/// and the upper YMM halves.
#[repr(C, align(64))]
pub(crate) struct Snapshot {
    pub(crate) fx: [u8; 512],
    pub(crate) ymm_high: [[u8; 16]; 16],
}

impl Snapshot {
    pub(crate) const fn new() -> Self {
        Self {
            fx: [0; 512],
            ymm_high: [[0; 16]; 16],
        }
    }
}

/// Reads every register into `s` without changing any.
pub(crate) fn capture(s: &mut Snapshot, avx: bool) {
    let base = core::ptr::from_mut(s);
    // SAFETY: `fxsave64` writes the 512-byte, 64-byte aligned `s.fx`;
    // `vextractf128` writes 16 bytes each of `s.ymm_high` (offset 512);
    // no register changes.
    unsafe {
        asm!("fxsave64 [{s}]", s = in(reg) base, options(nostack));
    }
    if avx {
        // SAFETY: as above.
        unsafe {
            asm!(
                "vextractf128 [{s} + 512], ymm0, 1", "vextractf128 [{s} + 528], ymm1, 1",
                "vextractf128 [{s} + 544], ymm2, 1", "vextractf128 [{s} + 560], ymm3, 1",
                "vextractf128 [{s} + 576], ymm4, 1", "vextractf128 [{s} + 592], ymm5, 1",
                "vextractf128 [{s} + 608], ymm6, 1", "vextractf128 [{s} + 624], ymm7, 1",
                "vextractf128 [{s} + 640], ymm8, 1", "vextractf128 [{s} + 656], ymm9, 1",
                "vextractf128 [{s} + 672], ymm10, 1", "vextractf128 [{s} + 688], ymm11, 1",
                "vextractf128 [{s} + 704], ymm12, 1", "vextractf128 [{s} + 720], ymm13, 1",
                "vextractf128 [{s} + 736], ymm14, 1", "vextractf128 [{s} + 752], ymm15, 1",
                s = in(reg) base,
                options(nostack),
            );
        }
    }
}

/// The first register that differs: its name and index, what was read
/// and what was expected (as up to 32 bytes, little-endian hex).
pub(crate) struct Mismatch {
    pub(crate) register: &'static str,
    pub(crate) index: usize,
    pub(crate) got: u128,
    pub(crate) expected: u128,
}

fn le(bytes: &[u8]) -> u128 {
    let mut b = [0_u8; 16];
    let n = bytes.len().min(16);
    b[..n].copy_from_slice(&bytes[..n]);
    u128::from_le_bytes(b)
}

fn check(
    register: &'static str,
    index: usize,
    got: &[u8],
    expected: &[u8],
) -> Result<(), Mismatch> {
    if got == expected {
        return Ok(());
    }
    Err(Mismatch {
        register,
        index,
        got: le(got),
        expected: le(expected),
    })
}

/// Compares a snapshot with the registers `p` loads (`None`: the initial
/// state: FCW 0x37f, FSW 0, all x87 registers empty, MXCSR 0x1f80, every
/// XMM/YMM zero).
pub(crate) fn compare(s: &Snapshot, p: Option<&Pattern>, avx: bool) -> Result<(), Mismatch> {
    let fx = &s.fx;
    let (fcw, ftw, mxcsr) = match p {
        Some(p) => (p.fcw, 0xff_u8, p.mxcsr),
        None => (0x037f, 0, 0x1f80),
    };
    check("fcw", 0, &fx[0..2], &fcw.to_le_bytes())?;
    // FSW: no exception flags, TOP = 0 (eight pushes from 0, or none).
    check("fsw", 0, &fx[2..4], &[0, 0])?;
    check("ftw", 0, &fx[4..5], &[ftw])?;
    check("mxcsr", 0, &fx[24..28], &mxcsr.to_le_bytes())?;
    for i in 0..8 {
        let got = &fx[32 + 16 * i..32 + 16 * i + 10];
        match p {
            Some(p) => check("st", i, got, &p.st[7 - i][..10])?,
            None => check("st", i, got, &[0; 10])?,
        }
    }
    for i in 0..16 {
        let got = &fx[160 + 16 * i..176 + 16 * i];
        match p {
            Some(p) => check("xmm", i, got, &p.ymm[i][..16])?,
            None => check("xmm", i, got, &[0; 16])?,
        }
        if avx {
            let high = &s.ymm_high[i];
            match p {
                Some(p) => check("ymm(high)", i, high, &p.ymm[i][16..])?,
                None => check("ymm(high)", i, high, &[0; 16])?,
            }
        }
    }
    Ok(())
}

/// MXCSR_MASK from an `fxsave64` image (0xffbf if the CPU leaves it 0).
pub(crate) fn mxcsr_mask(s: &Snapshot) -> u32 {
    let m = u32::from_le_bytes([s.fx[28], s.fx[29], s.fx[30], s.fx[31]]);
    if m == 0 {
        0xffbf
    } else {
        m
    }
}
