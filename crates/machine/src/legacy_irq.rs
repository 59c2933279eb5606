//! A PCI device's interrupt on QEMU's `pc` machine, through the 8259s:
//! the PIIX3's PIRQ routing, the PIC's mask and edge/level register, and
//! the local APIC's LINT0 in virtual-wire (ExtINT) mode.
//!
//! Owns [`route_pci_intx`] (which legacy IRQ a function's INTx reaches;
//! programs the PIIX3 route when the firmware left it disabled, as qboot
//! does), [`enable`] (unmask that line, level-triggered) and
//! [`end_of_interrupt`]. Vectors are `traps::LEGACY_PIC_BASE + irq`; the
//! trap dispatcher hands an enabled line's interrupt to the kernel's
//! `legacy_irq` hook, then acknowledges the PICs. No IOAPIC is used: one
//! device line is all the kernel drives.

use crate::pci::{self, PciFunction};
use core::sync::atomic::{AtomicU16, Ordering};
use x86_64::instructions::port::Port;

/// Intel's vendor id and the PIIX3 PCI-to-ISA bridge (function 0).
const VENDOR_INTEL: u16 = 0x8086;
const DEVICE_PIIX3: u16 = 0x7000;
/// The PIIX3's PIRQA..D route control registers (bit 7: disabled).
const PIRQ_ROUTE: u8 = 0x60;
const PIRQ_DISABLED: u32 = 0x80;
/// Config register: interrupt pin (1 = INTA#) in bits 8..16 of 0x3c.
const INTERRUPT_REGISTER: u8 = 0x3c;
/// The IRQ given to a line the firmware left unrouted (free on `pc`).
const DEFAULT_IRQ: u8 = 11;
/// The edge/level control registers (ELCR) of the two PICs.
const ELCR: [u16; 2] = [0x4d0, 0x4d1];

/// Lines [`enable`] unmasked (bit per IRQ).
static ENABLED: AtomicU16 = AtomicU16::new(0);

/// The legacy IRQ `function`'s INTx reaches, routing it to
/// [`DEFAULT_IRQ`] if the PIIX3's route for it is disabled; `None` if the
/// function has no interrupt pin or there is no PIIX3.
pub fn route_pci_intx(function: PciFunction) -> Option<u8> {
    let pin = (function.read32(INTERRUPT_REGISTER) >> 8) as u8;
    if pin == 0 || pin > 4 {
        return None;
    }
    let bridge = pci::find(VENDOR_INTEL, DEVICE_PIIX3)?;
    // QEMU's PIIX3 (`pci_slot_get_pirq`): PIRQ = (INTx + slot - 1) mod 4.
    let pirq = (u32::from(pin - 1) + u32::from(function.device) + 3) % 4;
    let offset = PIRQ_ROUTE + (pirq as u8 & !3);
    let shift = (pirq % 4) * 8;
    let routes = bridge.read32(offset);
    let route = (routes >> shift) & 0xff;
    let irq = if route & PIRQ_DISABLED != 0 || route == 0 || route > 15 {
        let value = (routes & !(0xff << shift)) | (u32::from(DEFAULT_IRQ) << shift);
        bridge.write_config32(offset, value);
        DEFAULT_IRQ
    } else {
        route as u8
    };
    // The interrupt line register says where it goes (for `lspci`-like
    // readers; the hardware routes by PIRQ).
    let line = function.read32(INTERRUPT_REGISTER);
    function.write_config32(INTERRUPT_REGISTER, (line & !0xff) | u32::from(irq));
    Some(irq)
}

/// Unmasks legacy `irq` (and the cascade for the second PIC),
/// level-triggered as PCI lines are, and puts the local APIC's LINT0 in
/// virtual-wire mode so the PICs' interrupts reach the CPU.
pub fn enable(irq: u8) {
    if irq > 15 || irq == 2 {
        return;
    }
    crate::cpu::without_interrupts(|| {
        // SAFETY: ports 0x4d0/0x4d1 (ELCR) and 0x21/0xa1 (the PICs' masks,
        // remapped at boot to vectors the IDT handles) belong to the
        // 8259s; setting one line level-triggered and unmasking it lets
        // only that device's interrupt through.
        unsafe {
            let chip = usize::from(irq / 8);
            let bit = 1u8 << (irq % 8);
            let mut elcr = Port::<u8>::new(ELCR[chip]);
            let level = elcr.read() | bit;
            elcr.write(level);
            let mut master = Port::<u8>::new(0x21);
            let mut slave = Port::<u8>::new(0xa1);
            if chip == 0 {
                let mask = master.read() & !bit;
                master.write(mask);
            } else {
                let mask = slave.read() & !bit;
                slave.write(mask);
                let mask = master.read() & !(1 << 2);
                master.write(mask);
            }
        }
        crate::apic::enable_virtual_wire();
    });
    ENABLED.fetch_or(1 << irq, Ordering::Relaxed);
}

/// True if [`enable`] unmasked `irq`.
pub fn is_enabled(irq: u8) -> bool {
    irq < 16 && ENABLED.load(Ordering::Relaxed) & (1 << irq) != 0
}

/// Acknowledges `irq` at the PICs (a non-specific EOI to the slave for a
/// line on it, then to the master).
pub(crate) fn end_of_interrupt(irq: u8) {
    // SAFETY: writing OCW2 (0x20, non-specific EOI) to the PICs' command
    // ports ends the interrupt in service; no effect on memory.
    unsafe {
        if irq >= 8 {
            Port::<u8>::new(0xa0).write(0x20);
        }
        Port::<u8>::new(0x20).write(0x20);
    }
}
