//! CPU identification, model-specific registers, control registers, halting.
//!
//! Owns the list of CPU features the kernel cares about ([`Features`]),
//! read once from CPUID, and thin safe wrappers for instructions whose
//! safety does not depend on the caller.

use core::arch::x86_64::{__cpuid, __cpuid_count, CpuidResult};
use spin::Once;

/// `cpuid` with a leaf and sub-leaf.
pub fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    // `cpuid` is available on every x86-64 CPU and has no side effects
    // beyond its outputs. (Safe since Rust 1.87 on x86-64.)
    if subleaf == 0 {
        __cpuid(leaf)
    } else {
        __cpuid_count(leaf, subleaf)
    }
}

/// The CPU features the kernel checks before using them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// Highest standard CPUID leaf.
    pub max_leaf: u32,
    /// x2APIC mode is available (CPUID.1:ECX[21]).
    pub x2apic: bool,
    /// Running under a hypervisor (CPUID.1:ECX[31]).
    pub hypervisor: bool,
    /// Supervisor-mode execution prevention (CPUID.7:EBX[7]).
    pub smep: bool,
    /// Supervisor-mode access prevention (CPUID.7:EBX[20]).
    pub smap: bool,
    /// User-mode instruction prevention (CPUID.7:ECX[2]).
    pub umip: bool,
    /// `rdtscp` (CPUID.80000001:EDX[27]).
    pub rdtscp: bool,
    /// Invariant TSC (CPUID.80000007:EDX[8]).
    pub invariant_tsc: bool,
    /// Global pages (CPUID.1:EDX[13]).
    pub pge: bool,
    /// `fsgsbase` instructions (CPUID.7:EBX[0]).
    pub fsgsbase: bool,
    /// Hypervisor vendor signature (e.g. "KVMKVMKVM\0\0\0"), if any.
    pub hypervisor_vendor: [u8; 12],
}

static FEATURES: Once<Features> = Once::new();

/// The features of this CPU (read on first use).
pub fn features() -> &'static Features {
    FEATURES.call_once(|| {
        let max_leaf = cpuid(0, 0).eax;
        let l1 = cpuid(1, 0);
        let l7 = if max_leaf >= 7 {
            cpuid(7, 0)
        } else {
            CpuidResult {
                eax: 0,
                ebx: 0,
                ecx: 0,
                edx: 0,
            }
        };
        let max_ext = cpuid(0x8000_0000, 0).eax;
        let e1 = if max_ext >= 0x8000_0001 {
            cpuid(0x8000_0001, 0).edx
        } else {
            0
        };
        let e7 = if max_ext >= 0x8000_0007 {
            cpuid(0x8000_0007, 0).edx
        } else {
            0
        };
        let hypervisor = l1.ecx & (1 << 31) != 0;
        let mut hypervisor_vendor = [0u8; 12];
        if hypervisor {
            let h = cpuid(0x4000_0000, 0);
            hypervisor_vendor[0..4].copy_from_slice(&h.ebx.to_le_bytes());
            hypervisor_vendor[4..8].copy_from_slice(&h.ecx.to_le_bytes());
            hypervisor_vendor[8..12].copy_from_slice(&h.edx.to_le_bytes());
        }
        Features {
            max_leaf,
            x2apic: l1.ecx & (1 << 21) != 0,
            hypervisor,
            smep: l7.ebx & (1 << 7) != 0,
            smap: l7.ebx & (1 << 20) != 0,
            umip: l7.ecx & (1 << 2) != 0,
            rdtscp: e1 & (1 << 27) != 0,
            invariant_tsc: e7 & (1 << 8) != 0,
            pge: l1.edx & (1 << 13) != 0,
            fsgsbase: l7.ebx & 1 != 0,
            hypervisor_vendor,
        }
    })
}

/// The CPU's brand string (CPUID 0x80000002..4), trimmed.
pub fn brand_string(buf: &mut [u8; 48]) -> &str {
    for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
        let r = cpuid(leaf, 0);
        for (j, word) in [r.eax, r.ebx, r.ecx, r.edx].iter().enumerate() {
            let off = i * 16 + j * 4;
            buf[off..off + 4].copy_from_slice(&word.to_le_bytes());
        }
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(48);
    core::str::from_utf8(&buf[..end]).unwrap_or("?").trim()
}

/// Reads the time-stamp counter (not serialized).
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` only reads the TSC; CR4.TSD is never set by this
    // kernel, so it cannot fault in ring 0.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Reads the TSC after all earlier instructions have completed
/// (`lfence; rdtsc`), for measurements.
#[inline(always)]
pub fn rdtsc_fenced() -> u64 {
    // SAFETY: `lfence` has no effect but ordering.
    unsafe { core::arch::x86_64::_mm_lfence() };
    rdtsc()
}

/// Reads a model-specific register.
///
/// # Safety
/// `msr` must exist on this CPU (else `#GP`), and reading it must have no
/// side effect the caller is not prepared for.
pub unsafe fn rdmsr(msr: u32) -> u64 {
    // SAFETY: the caller guarantees the MSR exists and is side-effect free.
    unsafe { x86_64::registers::model_specific::Msr::new(msr).read() }
}

/// Writes a model-specific register.
///
/// # Safety
/// `msr` must exist and the value must not break memory safety (e.g. by
/// moving the GS base under code that relies on it).
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the caller guarantees the write is valid and safe.
    unsafe { x86_64::registers::model_specific::Msr::new(msr).write(value) }
}

/// Enables maskable interrupts.
pub fn enable_interrupts() {
    x86_64::instructions::interrupts::enable();
}

/// Disables maskable interrupts.
pub fn disable_interrupts() {
    x86_64::instructions::interrupts::disable();
}

/// Waits for the next interrupt (`sti; hlt` so a pending one is not lost).
pub fn wait_for_interrupt() {
    x86_64::instructions::interrupts::enable_and_hlt();
}

/// Stops this CPU for good.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Reads CR2 (the faulting address of the last page fault).
pub fn cr2() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}

/// The current RFLAGS.
pub fn rflags() -> u64 {
    x86_64::registers::rflags::read_raw()
}

/// True if maskable interrupts are enabled (RFLAGS.IF).
pub fn interrupts_enabled() -> bool {
    x86_64::instructions::interrupts::are_enabled()
}

/// Runs `f` with maskable interrupts off, restoring the previous state.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    x86_64::instructions::interrupts::without_interrupts(f)
}
