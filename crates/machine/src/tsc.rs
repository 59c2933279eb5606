//! The TSC as the kernel's clock: frequency discovery and nanoseconds.
//!
//! Sources, in order: CPUID leaf 0x15 (crystal ratio) when complete, the
//! hypervisor timing leaf 0x40000010 under KVM, else calibration against the
//! PIT. Under TCG with `-icount shift=0,sleep=off` the TSC counts guest
//! instructions and virtual time advances 1 ns per instruction, so PIT
//! calibration yields 1 GHz and the clock stays consistent with the timers.

use core::sync::atomic::{AtomicU64, Ordering};

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static SOURCE: AtomicU64 = AtomicU64::new(0);

/// Where the TSC frequency came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrequencySource {
    /// Not yet determined.
    Unknown,
    /// CPUID leaf 0x15 (TSC/crystal ratio and crystal frequency).
    CpuidCrystal,
    /// The hypervisor's timing leaf 0x40000010.
    Hypervisor,
    /// Measured against the PIT.
    PitCalibration,
}

/// Determines the TSC frequency. Called once at boot, interrupts off.
pub(crate) fn init() {
    let (hz, source) = from_cpuid()
        .or_else(from_hypervisor)
        .unwrap_or_else(|| (calibrate_with_pit(), FrequencySource::PitCalibration));
    TSC_HZ.store(hz, Ordering::Release);
    SOURCE.store(source as u64, Ordering::Release);
}

fn from_cpuid() -> Option<(u64, FrequencySource)> {
    if crate::cpu::features().max_leaf < 0x15 {
        return None;
    }
    let r = crate::cpu::cpuid(0x15, 0);
    if r.eax == 0 || r.ebx == 0 || r.ecx == 0 {
        return None;
    }
    Some((
        u64::from(r.ecx) * u64::from(r.ebx) / u64::from(r.eax),
        FrequencySource::CpuidCrystal,
    ))
}

fn from_hypervisor() -> Option<(u64, FrequencySource)> {
    let f = crate::cpu::features();
    if !f.hypervisor || &f.hypervisor_vendor != b"KVMKVMKVM\0\0\0" {
        return None;
    }
    if crate::cpu::cpuid(0x4000_0000, 0).eax < 0x4000_0010 {
        return None;
    }
    let khz = crate::cpu::cpuid(0x4000_0010, 0).eax;
    (khz != 0).then(|| (u64::from(khz) * 1000, FrequencySource::Hypervisor))
}

fn calibrate_with_pit() -> u64 {
    // 50 ms: long enough for 0.01% resolution, short enough for boot time.
    const TICKS: u16 = 59_659;
    let start = crate::cpu::rdtsc_fenced();
    if !crate::pit::wait_ticks(TICKS) {
        log::error!("no PIT: assuming a 1 GHz TSC");
        return 1_000_000_000;
    }
    let elapsed = crate::cpu::rdtsc_fenced() - start;
    elapsed * crate::pit::PIT_HZ / u64::from(TICKS)
}

/// TSC ticks per second (0 before [`init`]).
pub fn frequency_hz() -> u64 {
    TSC_HZ.load(Ordering::Acquire)
}

/// Where the frequency came from.
pub fn frequency_source() -> FrequencySource {
    match SOURCE.load(Ordering::Acquire) {
        1 => FrequencySource::CpuidCrystal,
        2 => FrequencySource::Hypervisor,
        3 => FrequencySource::PitCalibration,
        _ => FrequencySource::Unknown,
    }
}

/// Converts TSC ticks to nanoseconds (0 before calibration).
pub fn ticks_to_ns(ticks: u64) -> u64 {
    let hz = frequency_hz();
    if hz == 0 {
        return 0;
    }
    u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(hz)).unwrap_or(u64::MAX)
}

/// Converts nanoseconds to TSC ticks.
pub fn ns_to_ticks(ns: u64) -> u64 {
    u64::try_from(u128::from(ns) * u128::from(frequency_hz()) / 1_000_000_000).unwrap_or(u64::MAX)
}

/// Monotonic time since the TSC was reset (power-on), in nanoseconds.
pub fn now_ns() -> u64 {
    ticks_to_ns(crate::cpu::rdtsc())
}

/// Busy-waits for `ns` nanoseconds.
pub fn spin_ns(ns: u64) {
    let end = crate::cpu::rdtsc().saturating_add(ns_to_ticks(ns));
    while crate::cpu::rdtsc() < end {
        core::hint::spin_loop();
    }
}
