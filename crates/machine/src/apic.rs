//! The local APIC: x2APIC (MSRs) where the CPU has it, else xAPIC (MMIO),
//! with a periodic timer calibrated against the TSC.
//!
//! Owns the timer's rate and the tick counter. Vectors come from `traps.rs`.
//! Intel SDM vol. 3A ch. 11 (APIC), 11.5.4 (timer).

use crate::layout::MMIO_BASE;
use crate::paging::{self, Access};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const IA32_APIC_BASE: u32 = 0x1b;
const APIC_ENABLE: u64 = 1 << 11;
const X2APIC_ENABLE: u64 = 1 << 10;

const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_LVT_TIMER: u32 = 0x320;
const REG_LVT_LINT0: u32 = 0x350;
/// LVT delivery mode ExtINT: the 8259's interrupt, its vector from the PIC.
const LVT_EXTINT: u32 = 0b111 << 8;
const REG_INITIAL_COUNT: u32 = 0x380;
const REG_CURRENT_COUNT: u32 = 0x390;
const REG_DIVIDE: u32 = 0x3e0;

const LVT_MASKED: u32 = 1 << 16;
const LVT_PERIODIC: u32 = 1 << 17;
const DIVIDE_BY_16: u32 = 0b0011;

static X2APIC: AtomicBool = AtomicBool::new(false);
static TICKS: AtomicU64 = AtomicU64::new(0);
static TIMER_HZ: AtomicU64 = AtomicU64::new(0);
static BUS_HZ: AtomicU64 = AtomicU64::new(0);

fn write(reg: u32, value: u32) {
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: x2APIC mode is enabled, so MSR 0x800 + reg/16 is the
        // architectural register for `reg` (SDM 11.12.1.2).
        unsafe { crate::cpu::wrmsr(0x800 + reg / 16, u64::from(value)) };
    } else {
        // SAFETY: the APIC page is mapped uncached at MMIO_BASE by `init`;
        // `reg` is one of the register offsets above, 16-byte aligned.
        unsafe { core::ptr::write_volatile((MMIO_BASE + u64::from(reg)) as *mut u32, value) };
    }
}

fn read(reg: u32) -> u32 {
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: as in `write`; reading these registers has no side effect.
        (unsafe { crate::cpu::rdmsr(0x800 + reg / 16) } & 0xffff_ffff) as u32
    } else {
        // SAFETY: as in `write`.
        unsafe { core::ptr::read_volatile((MMIO_BASE + u64::from(reg)) as *const u32) }
    }
}

/// Which APIC mode is in use.
pub fn is_x2apic() -> bool {
    X2APIC.load(Ordering::Relaxed)
}

/// Enables the local APIC and starts the periodic timer at `hz`.
/// Boot CPU, interrupts off, after the TSC is calibrated.
pub(crate) fn init(hz: u64) -> Result<(), paging::MapError> {
    crate::pit::mask_legacy_pic();
    // SAFETY: IA32_APIC_BASE exists on every x86-64 CPU with an APIC.
    let base = unsafe { crate::cpu::rdmsr(IA32_APIC_BASE) };
    if crate::cpu::features().x2apic {
        // SAFETY: the CPU supports x2APIC; enabling it (xAPIC enable first,
        // then EXTD) is the sequence of SDM 11.12.5.
        unsafe { crate::cpu::wrmsr(IA32_APIC_BASE, base | APIC_ENABLE | X2APIC_ENABLE) };
        X2APIC.store(true, Ordering::Relaxed);
    } else {
        // SAFETY: enabling the xAPIC at its current base.
        unsafe { crate::cpu::wrmsr(IA32_APIC_BASE, base | APIC_ENABLE) };
        // SAFETY: MMIO_BASE's first page is the local APIC's, mapped only
        // here (once: a second `init` gets AlreadyMapped); the frame is the
        // APIC's register page (device memory, no RAM frame involved).
        unsafe { paging::map_kernel_page(MMIO_BASE, base & 0xf_ffff_f000, Access::Mmio)? };
    }
    write(REG_SVR, 0x100 | u32::from(crate::traps::SPURIOUS_VECTOR));

    // Calibrate: count down from the maximum for 10 ms of TSC time.
    write(REG_DIVIDE, DIVIDE_BY_16);
    write(
        REG_LVT_TIMER,
        LVT_MASKED | u32::from(crate::traps::TIMER_VECTOR),
    );
    write(REG_INITIAL_COUNT, u32::MAX);
    crate::tsc::spin_ns(10_000_000);
    let elapsed = u64::from(u32::MAX - read(REG_CURRENT_COUNT));
    write(REG_INITIAL_COUNT, 0);
    let bus_hz = elapsed * 100;
    BUS_HZ.store(bus_hz, Ordering::Relaxed);

    let initial = u32::try_from((bus_hz / hz.max(1)).max(1)).unwrap_or(u32::MAX);
    write(
        REG_LVT_TIMER,
        LVT_PERIODIC | u32::from(crate::traps::TIMER_VECTOR),
    );
    write(REG_INITIAL_COUNT, initial);
    TIMER_HZ.store(hz, Ordering::Relaxed);
    Ok(())
}

/// Puts LINT0 in virtual-wire mode (ExtINT, unmasked): the 8259s'
/// interrupts reach this CPU with their own vectors (`legacy_irq.rs`).
pub(crate) fn enable_virtual_wire() {
    write(REG_LVT_LINT0, LVT_EXTINT);
}

/// Sends this CPU an NMI through its own APIC (test builds only: the
/// entry-path tests raise an NMI at chosen instructions).
#[cfg(feature = "ktest")]
pub fn send_nmi_to_self() {
    const REG_ID: u32 = 0x20;
    const REG_ICR_LOW: u32 = 0x300;
    const REG_ICR_HIGH: u32 = 0x310;
    const X2APIC_ID_MSR: u32 = 0x802;
    const X2APIC_ICR_MSR: u32 = 0x830;
    // Delivery mode NMI, level assert, physical destination, no shorthand.
    const NMI: u32 = (0b100 << 8) | (1 << 14);
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: x2APIC mode is on; reading the ID and writing the ICR
        // (one 64-bit MSR) sends one NMI to this CPU only.
        unsafe {
            let id = crate::cpu::rdmsr(X2APIC_ID_MSR) & 0xffff_ffff;
            crate::cpu::wrmsr(X2APIC_ICR_MSR, (id << 32) | u64::from(NMI));
        }
    } else {
        let id = read(REG_ID) >> 24;
        write(REG_ICR_HIGH, id << 24);
        write(REG_ICR_LOW, NMI);
    }
}

/// Reprograms the periodic timer to `hz` (test builds only: the FP
/// register test needs 10^5 switches, which at the kernel's 100 Hz would
/// take 1,000 s of guest time). Quanta are in microseconds, so they scale
/// with it. Restore the old rate after.
#[cfg(feature = "ktest")]
pub fn set_timer_hz(hz: u64) {
    let bus_hz = BUS_HZ.load(Ordering::Relaxed);
    let initial = u32::try_from((bus_hz / hz.max(1)).max(1)).unwrap_or(u32::MAX);
    crate::cpu::without_interrupts(|| {
        write(REG_INITIAL_COUNT, initial);
        TIMER_HZ.store(hz, Ordering::Relaxed);
    });
}

/// Signals end of interrupt (called by the trap dispatcher).
pub(crate) fn end_of_interrupt() {
    write(REG_EOI, 0);
}

pub(crate) fn count_tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Timer interrupts since boot.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The configured timer rate.
pub fn timer_hz() -> u64 {
    TIMER_HZ.load(Ordering::Relaxed)
}

/// The APIC timer's input clock after the divider, as measured.
pub fn timer_input_hz() -> u64 {
    BUS_HZ.load(Ordering::Relaxed)
}
