//! The x87/SSE/AVX unit: enabling it, per-thread save areas, the save and
//! restore instructions, and CR0.TS (the `#NM` trap that makes FP state
//! lazy).
//!
//! Owns [`FpConfig`] (what [`init`] chose from CPUID: the XCR0 mask, the
//! save-area size, the save instruction), [`FpArea`] (one thread's save
//! area: 64-byte aligned kernel-heap memory, freed on drop) and the
//! mechanism: [`save`], [`restore`], [`set_ts`], [`clear_ts`],
//! [`live_status`]. *Who* owns FP state and *when* it is saved or restored
//! is policy, in `sk-scpu`'s `fp` module, driven by the kernel's scheduler
//! and `#NM` hook (`traps::Hooks::fp_unavailable`).
//!
//! The kernel itself is built soft-float (`x86_64-unknown-none` has no SSE
//! and no x87 code generation), so the FP registers only ever hold user
//! state and the kernel never needs to save them on entry. With CR0.TS
//! set, any FP/SSE/AVX instruction raises `#NM`; one raised in ring 0 is
//! a kernel bug and fatal (traps.rs).
//!
//! What a synthesized switch routine bakes in (docs/fp-state.md): the
//! area's address ([`FpArea::address`]), the instruction
//! ([`FpConfig::save_instruction`], with `xrstor64`/`fxrstor64` to match)
//! and, for the XSAVE family, the requested-feature bitmap in EDX:EAX
//! ([`FpConfig::xcr0`]).
//!
//! SDM vol. 1 ch. 13 (XSAVE), vol. 3A §2.5 (CR0/CR4), §13.4 (XSAVEOPT).

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Once;

/// XCR0 bit: x87 state.
pub const XCR0_X87: u64 = 1 << 0;
/// XCR0 bit: SSE state (XMM0-15, MXCSR).
pub const XCR0_SSE: u64 = 1 << 1;
/// XCR0 bit: AVX state (upper halves of YMM0-15).
pub const XCR0_AVX: u64 = 1 << 2;
/// XCR0 bit: AVX-512 opmask registers k0-k7.
pub const XCR0_OPMASK: u64 = 1 << 5;
/// XCR0 bit: upper halves of ZMM0-15.
pub const XCR0_ZMM_HI256: u64 = 1 << 6;
/// XCR0 bit: ZMM16-31.
pub const XCR0_HI16_ZMM: u64 = 1 << 7;
/// The three AVX-512 components, which XCR0 takes all or none of.
pub const XCR0_AVX512: u64 = XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM;

/// The default MXCSR: all SIMD exceptions masked, round to nearest.
pub const MXCSR_DEFAULT: u32 = 0x1f80;
/// The x87 control word after `fninit`: all exceptions masked, 64-bit
/// precision, round to nearest.
pub const FCW_DEFAULT: u16 = 0x037f;

/// The legacy (FXSAVE) region's size, and the whole area without XSAVE.
const LEGACY_BYTES: usize = 512;
/// Alignment of a save area (XSAVE needs 64, FXSAVE 16).
pub const AREA_ALIGN: usize = 64;
/// Offset of MXCSR in the legacy region.
const MXCSR_OFFSET: usize = 24;

/// The instruction that saves a thread's state (restore is `xrstor64` for
/// the XSAVE family, `fxrstor64` for FXSAVE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveInstruction {
    /// `xsaveopt64`: skips components in their initial state or unchanged
    /// since the last `xrstor64` from the same area (CPUID.(0xD,1):EAX[0]).
    Xsaveopt,
    /// `xsave64`: XSAVE without the optimisation.
    Xsave,
    /// `fxsave64`: x87 and SSE only (no XSAVE on this CPU).
    Fxsave,
}

/// What [`init`] chose for this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpConfig {
    /// The enabled state components (XCR0); `XCR0_X87 | XCR0_SSE` without
    /// XSAVE (what FXSAVE covers).
    pub xcr0: u64,
    /// Components the CPU could enable (CPUID.(0xD,0):EDX:EAX), 0 without
    /// XSAVE.
    pub xcr0_supported: u64,
    /// Bytes of a save area for `xcr0` (CPUID.(0xD,0):EBX; 512 for FXSAVE).
    pub area_bytes: usize,
    /// The save instruction.
    pub save_instruction: SaveInstruction,
    /// MXCSR bits the CPU implements (the FXSAVE image's MXCSR_MASK):
    /// `ldmxcsr` of any other bit raises `#GP`.
    pub mxcsr_mask: u32,
}

static CONFIG: Once<FpConfig> = Once::new();

/// CR0.MP: `wait`/`fwait` honour TS too.
const CR0_MP: u64 = 1 << 1;
/// CR0.EM: emulate x87 (must be clear, or every x87/SSE instruction faults).
const CR0_EM: u64 = 1 << 2;
/// CR0.TS: the next FP/SSE/AVX instruction raises `#NM`.
const CR0_TS: u64 = 1 << 3;
/// CR0.NE: x87 errors raise `#MF` (not the legacy FERR# interrupt).
const CR0_NE: u64 = 1 << 5;
/// CR4.OSFXSR: FXSAVE/FXRSTOR and SSE are enabled.
const CR4_OSFXSR: u64 = 1 << 9;
/// CR4.OSXMMEXCPT: unmasked SIMD exceptions raise `#XM` (else `#UD`).
const CR4_OSXMMEXCPT: u64 = 1 << 10;
/// CR4.OSXSAVE: XSAVE family and XCR0 are enabled.
const CR4_OSXSAVE: u64 = 1 << 18;

fn read_cr0() -> u64 {
    x86_64::registers::control::Cr0::read_raw()
}

/// What the CPU offers for saving FP state (CPUID; no state changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaveSupport {
    /// CPUID.1:ECX[26]: XSAVE/XRSTOR and XCR0.
    pub xsave: bool,
    /// CPUID.(EAX=0Dh,ECX=1):EAX[0]: XSAVEOPT (false without XSAVE).
    pub xsaveopt: bool,
}

/// Reads [`SaveSupport`] from CPUID: the facts the portable policy
/// (`sk_scpu::fp::choose_save`) decides the save instruction from.
pub fn save_support() -> SaveSupport {
    let xsave = crate::cpu::cpuid(1, 0).ecx & (1 << 26) != 0;
    let xsaveopt = xsave && crate::cpu::cpuid(0xd, 1).eax & 1 != 0;
    SaveSupport { xsave, xsaveopt }
}

/// Enables x87, SSE and, for a `save` of the XSAVE family, XSAVE with the
/// AVX (and AVX-512) components; leaves CR0.TS set (nobody owns the FPU
/// yet). `save` is the policy's choice (`sk_scpu::fp::choose_save` over
/// [`save_support`]); [`SaveInstruction::Fxsave`] on a CPU with XSAVE
/// leaves CR4.OSXSAVE off, so the machine looks like one without XSAVE
/// (AVX raises `#UD`). Boot CPU, once, interrupts off (from `init_cpu`).
///
/// # Panics
/// If `save` names an instruction CPUID does not report (a policy bug:
/// executing it would raise `#UD` in ring 0).
pub(crate) fn init(save: SaveInstruction) -> FpConfig {
    *CONFIG.call_once(|| {
        let support = save_support();
        assert!(
            match save {
                SaveInstruction::Xsaveopt => support.xsaveopt,
                SaveInstruction::Xsave => support.xsave,
                SaveInstruction::Fxsave => true,
            },
            "fpu: {save:?} asked for, CPUID reports {support:?}"
        );
        let l1 = crate::cpu::cpuid(1, 0);
        let has_xsave = save != SaveInstruction::Fxsave;
        let has_avx = l1.ecx & (1 << 28) != 0;
        // SAFETY: MP set, EM clear, NE set and TS set change only how FP
        // instructions behave (the kernel executes none: it is soft-float;
        // with TS set one would trap). Paging, protection and caching bits
        // are kept as they are.
        unsafe {
            let cr0 = read_cr0();
            x86_64::registers::control::Cr0::write_raw((cr0 | CR0_MP | CR0_NE | CR0_TS) & !CR0_EM);
        }
        let mut cr4 = x86_64::registers::control::Cr4::read_raw() | CR4_OSFXSR | CR4_OSXMMEXCPT;
        if has_xsave {
            cr4 |= CR4_OSXSAVE;
        }
        // SAFETY: OSFXSR and OSXMMEXCPT (every x86-64 CPU has FXSR and
        // SSE) and OSXSAVE (only where CPUID reports XSAVE) enable
        // instructions and exception reporting; other bits are kept.
        unsafe { x86_64::registers::control::Cr4::write_raw(cr4) };
        let config = if has_xsave {
            let leaf = crate::cpu::cpuid(0xd, 0);
            let supported = u64::from(leaf.eax) | (u64::from(leaf.edx) << 32);
            let mut xcr0 = XCR0_X87 | XCR0_SSE;
            if has_avx && supported & XCR0_AVX != 0 {
                xcr0 |= XCR0_AVX;
                if supported & XCR0_AVX512 == XCR0_AVX512 {
                    xcr0 |= XCR0_AVX512;
                }
            }
            // SAFETY: CR4.OSXSAVE is set; `xcr0` has x87 (required), SSE
            // (required by AVX), AVX only with SSE and AVX-512 only whole
            // and with AVX, every bit supported (SDM vol. 1 §13.3), so
            // `xsetbv` cannot fault. No FP state is live yet.
            unsafe {
                core::arch::asm!(
                    "xsetbv",
                    in("ecx") 0,
                    in("eax") xcr0 as u32,
                    in("edx") (xcr0 >> 32) as u32,
                    options(nomem, nostack, preserves_flags)
                );
            }
            // EBX of leaf 0xD now gives the size for the XCR0 just set.
            let area_bytes = (crate::cpu::cpuid(0xd, 0).ebx as usize).max(LEGACY_BYTES + 64);
            FpConfig {
                xcr0,
                xcr0_supported: supported,
                area_bytes,
                save_instruction: save,
                mxcsr_mask: 0,
            }
        } else {
            FpConfig {
                xcr0: XCR0_X87 | XCR0_SSE,
                xcr0_supported: 0,
                area_bytes: LEGACY_BYTES,
                save_instruction: SaveInstruction::Fxsave,
                mxcsr_mask: 0,
            }
        };
        FpConfig {
            mxcsr_mask: probe_mxcsr_mask(),
            ..config
        }
    })
}

/// Reads MXCSR_MASK with one `fxsave64` of the (initial) state into a
/// scratch buffer; 0xffbf if the CPU leaves it 0 (SDM vol. 1 §11.6.6).
fn probe_mxcsr_mask() -> u32 {
    #[repr(C, align(64))]
    struct Scratch([u8; LEGACY_BYTES]);
    let mut scratch = Scratch([0; LEGACY_BYTES]);
    // SAFETY: clears TS for the one `fxsave64`, which writes 512 bytes of
    // this 64-byte aligned local buffer, and sets it again; boot, nothing
    // owns the FP registers, interrupts are off.
    unsafe {
        core::arch::asm!("clts", options(nomem, nostack, preserves_flags));
        core::arch::asm!("fxsave64 [{}]", in(reg) scratch.0.as_mut_ptr(), options(nostack, preserves_flags));
    }
    set_ts();
    let mask = u32::from_le_bytes([scratch.0[28], scratch.0[29], scratch.0[30], scratch.0[31]]);
    if mask == 0 {
        0xffbf
    } else {
        mask
    }
}

/// This CPU's configuration (after `init_cpu`).
pub fn config() -> FpConfig {
    *CONFIG.get().expect("fpu::init ran in init_cpu")
}

static AREAS_LIVE: AtomicU64 = AtomicU64::new(0);

/// Save areas allocated and not yet freed.
pub fn areas_live() -> u64 {
    AREAS_LIVE.load(Ordering::Relaxed)
}

/// One thread's FP/SSE/AVX save area: [`FpConfig::area_bytes`] of kernel
/// heap, 64-byte aligned, holding the architectural initial state when
/// made. Only the save instructions write it after that, so every
/// [`restore`] loads a valid image (a bad header or MXCSR would `#GP` in
/// ring 0). Freed on drop.
pub struct FpArea {
    base: NonNull<u8>,
    layout: Layout,
    /// Restored since it was made: only then may `xsaveopt64` write it
    /// (its "modified" optimisation trusts that the area still holds what
    /// the last `xrstor64` from this address loaded, SDM vol. 1 §13.9).
    loaded: bool,
}

// SAFETY: an FpArea is plain owned memory; moving it between CPUs is fine.
unsafe impl Send for FpArea {}

impl core::fmt::Debug for FpArea {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FpArea")
            .field("address", &self.address())
            .field("bytes", &self.layout.size())
            .finish()
    }
}

/// The kernel heap had no room for a save area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AreaAllocError;

impl FpArea {
    /// A new area in the initial state (x87 after `fninit`, MXCSR 0x1f80,
    /// every register zero; for XSAVE an all-zero header, XSTATE_BV = 0,
    /// so `xrstor64` initialises every component). Fallible: never
    /// panics when the heap is full.
    pub fn new() -> Result<Self, AreaAllocError> {
        let bytes = config().area_bytes;
        let layout = Layout::from_size_align(bytes, AREA_ALIGN).map_err(|_| AreaAllocError)?;
        // SAFETY: `layout` has a non-zero size (≥ 512).
        let base = NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or(AreaAllocError)?;
        // SAFETY: `base` points to `bytes` ≥ 512 writable bytes we own;
        // FCW at offset 0 (u16), MXCSR at offset 24 (u32, 4-aligned).
        unsafe {
            base.as_ptr().cast::<u16>().write(FCW_DEFAULT);
            base.as_ptr()
                .add(MXCSR_OFFSET)
                .cast::<u32>()
                .write(MXCSR_DEFAULT);
        }
        AREAS_LIVE.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            base,
            layout,
            loaded: false,
        })
    }

    /// The area's kernel address (what a synthesized switch bakes in).
    pub fn address(&self) -> u64 {
        self.base.as_ptr() as u64
    }

    /// True once it was restored (`xrstor64`/`fxrstor64`) since it was
    /// made: the precondition of `xsaveopt64` (`sk_scpu::fp::save_for`).
    pub fn restored(&self) -> bool {
        self.loaded
    }

    /// Its size in bytes.
    pub fn bytes(&self) -> usize {
        self.layout.size()
    }

    /// The MXCSR saved in it.
    pub fn saved_mxcsr(&self) -> u32 {
        // SAFETY: offset 24..28 lies inside the area (≥ 512 bytes), 4-aligned.
        unsafe { self.base.as_ptr().add(MXCSR_OFFSET).cast::<u32>().read() }
    }
}

impl Drop for FpArea {
    fn drop(&mut self) {
        AREAS_LIVE.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { dealloc(self.base.as_ptr(), self.layout) };
    }
}

/// True if CR0.TS is set (FP instructions trap).
pub fn ts_is_set() -> bool {
    read_cr0() & CR0_TS != 0
}

/// Sets CR0.TS: the next FP/SSE/AVX instruction raises `#NM`. Writes CR0
/// only if TS is clear (a CR0 write serializes the CPU).
pub fn set_ts() {
    let cr0 = read_cr0();
    if cr0 & CR0_TS == 0 {
        // SAFETY: only TS changes; it makes FP instructions trap, which
        // the kernel (soft-float) never executes outside this module.
        unsafe { x86_64::registers::control::Cr0::write_raw(cr0 | CR0_TS) };
    }
}

/// Clears CR0.TS (`clts`): FP instructions run.
pub fn clear_ts() {
    // SAFETY: `clts` changes only CR0.TS; which state the FP registers
    // hold is the caller's policy, not memory safety.
    unsafe { core::arch::asm!("clts", options(nomem, nostack, preserves_flags)) };
}

/// Runs `f` with TS clear, then puts TS back as it was.
fn with_fpu_enabled<R>(f: impl FnOnce() -> R) -> R {
    let was_set = ts_is_set();
    if was_set {
        clear_ts();
    }
    let r = f();
    if was_set {
        set_ts();
    }
    r
}

static SAVES: AtomicU64 = AtomicU64::new(0);
static RESTORES: AtomicU64 = AtomicU64::new(0);

/// `(saves, restores)` since boot.
pub fn counts() -> (u64, u64) {
    (
        SAVES.load(Ordering::Relaxed),
        RESTORES.load(Ordering::Relaxed),
    )
}

/// Saves the FP registers into `area` with `instruction` (the policy's,
/// `sk_scpu::fp::save_for`: `xsaveopt64` only into an area restored since
/// it was made). TS is left as it was. The caller's policy guarantees the
/// registers hold the state of `area`'s owner.
///
/// # Panics
/// If `instruction` is not of the boot's family ([`FpConfig::save_instruction`]:
/// XSAVE or FXSAVE), which would leave an image its restore cannot read.
pub fn save(area: &mut FpArea, instruction: SaveInstruction) {
    let c = config();
    assert_eq!(
        instruction == SaveInstruction::Fxsave,
        c.save_instruction == SaveInstruction::Fxsave,
        "fpu: {instruction:?} on a {:?} boot",
        c.save_instruction
    );
    let (low, high) = (c.xcr0 as u32, (c.xcr0 >> 32) as u32);
    let p = area.base.as_ptr();
    // For all three: `p` is a 64-byte aligned area of `area_bytes`
    // (CPUID's size for this XCR0; 512 for FXSAVE) that we own; the
    // instruction writes only inside it; TS is clear inside the closure;
    // the instruction is of the family CR4 enables (checked above).
    with_fpu_enabled(|| match instruction {
        // SAFETY: as above. (Whether `xsaveopt64` may skip a component
        // is correctness, not memory safety: the policy's `save_for`.)
        SaveInstruction::Xsaveopt => unsafe {
            core::arch::asm!("xsaveopt64 [{}]", in(reg) p, in("eax") low, in("edx") high, options(nostack, preserves_flags));
        },
        // SAFETY: as above.
        SaveInstruction::Xsave => unsafe {
            core::arch::asm!("xsave64 [{}]", in(reg) p, in("eax") low, in("edx") high, options(nostack, preserves_flags));
        },
        // SAFETY: as above.
        SaveInstruction::Fxsave => unsafe {
            core::arch::asm!("fxsave64 [{}]", in(reg) p, options(nostack, preserves_flags));
        },
    });
    SAVES.fetch_add(1, Ordering::Relaxed);
}

/// Loads `area` into the FP registers and clears TS (the owner runs
/// next and may use FP without a trap).
pub fn restore(area: &mut FpArea) {
    let c = config();
    let (low, high) = (c.xcr0 as u32, (c.xcr0 >> 32) as u32);
    let p = area.base.as_ptr();
    clear_ts();
    match c.save_instruction {
        // SAFETY: `p` is a 64-byte aligned area we own holding the initial
        // image of `FpArea::new` or what `save` wrote with this XCR0
        // (nothing else writes it), so the header and MXCSR are valid and
        // `xrstor64` cannot fault; TS is clear.
        SaveInstruction::Xsaveopt | SaveInstruction::Xsave => unsafe {
            core::arch::asm!("xrstor64 [{}]", in(reg) p, in("eax") low, in("edx") high, options(nostack, preserves_flags, readonly));
        },
        // SAFETY: as above; the image's MXCSR is 0x1f80 or was saved.
        SaveInstruction::Fxsave => unsafe {
            core::arch::asm!("fxrstor64 [{}]", in(reg) p, options(nostack, preserves_flags, readonly));
        },
    }
    area.loaded = true;
    RESTORES.fetch_add(1, Ordering::Relaxed);
}

/// The live x87 status word and MXCSR, read without changing any state
/// (`fnstsw`, `stmxcsr`): what a `#MF` or `#XM` handler reports. `None`
/// while TS is set (the registers are not the interrupted thread's).
pub fn live_status() -> Option<(u16, u32)> {
    if ts_is_set() {
        return None;
    }
    let fsw: u16;
    let mut mxcsr: u32 = 0;
    // SAFETY: TS is clear (checked above, interrupts are off in trap
    // handlers), so neither instruction traps; `fnstsw` does not wait
    // for pending x87 exceptions (no `#MF`), `stmxcsr` writes 4 bytes of
    // a local.
    unsafe {
        core::arch::asm!("fnstsw ax", out("ax") fsw, options(nomem, nostack, preserves_flags));
        core::arch::asm!("stmxcsr [{}]", in(reg) &raw mut mxcsr, options(nostack, preserves_flags));
    }
    Some((fsw, mxcsr))
}

/// XCR0 as the CPU holds it (`xgetbv`), 0 without CR4.OSXSAVE: what the
/// tests compare with [`FpConfig::xcr0`].
pub fn xcr0_in_force() -> u64 {
    if x86_64::registers::control::Cr4::read_raw() & CR4_OSXSAVE == 0 {
        return 0;
    }
    let (low, high): (u32, u32);
    // SAFETY: CR4.OSXSAVE is set, so `xgetbv` with ECX = 0 reads XCR0
    // and cannot fault; no memory access.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags));
    }
    (u64::from(high) << 32) | u64::from(low)
}

/// The control-register bits this module sets: `(CR0.MP, CR0.EM,
/// CR0.NE, CR4.OSFXSR, CR4.OSXMMEXCPT, CR4.OSXSAVE)` as they are now.
pub fn control_bits() -> [bool; 6] {
    let cr0 = read_cr0();
    let cr4 = x86_64::registers::control::Cr4::read_raw();
    [
        cr0 & CR0_MP != 0,
        cr0 & CR0_EM != 0,
        cr0 & CR0_NE != 0,
        cr4 & CR4_OSFXSR != 0,
        cr4 & CR4_OSXMMEXCPT != 0,
        cr4 & CR4_OSXSAVE != 0,
    ]
}
