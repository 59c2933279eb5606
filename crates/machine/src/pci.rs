//! PCI configuration space, through the legacy mechanism #1 ports
//! (`0xCF8` address, `0xCFC` data), and bus 0 enumeration.
//!
//! Owns [`PciFunction`] (a bus/device/function address with its config
//! reads and writes), [`find`] (the first function with a vendor and
//! device id on bus 0, which is where QEMU's `pc` machine puts every
//! device) and [`PciFunction::io_bar`] (an I/O-space BAR's base). Only the
//! kernel's drivers use it, on one CPU, with the config-space lock held
//! across each address/data pair.

use spin::Mutex;
use x86_64::instructions::port::Port;

/// The configuration address port.
const CONFIG_ADDRESS: u16 = 0xcf8;
/// The configuration data port.
const CONFIG_DATA: u16 = 0xcfc;
/// Config-space offset of the command register.
const COMMAND: u8 = 0x04;
/// Command bit: respond to I/O space accesses.
pub const COMMAND_IO_SPACE: u16 = 1 << 0;
/// Command bit: may master the bus (DMA).
pub const COMMAND_BUS_MASTER: u16 = 1 << 2;
/// Config-space offset of BAR 0.
const BAR0: u8 = 0x10;
/// Config-space offset of the interrupt line (the legacy IRQ the firmware
/// routed the function's INTx pin to).
const INTERRUPT_LINE: u8 = 0x3c;

/// One address/data pair at a time.
static CONFIG: Mutex<()> = Mutex::new(());

/// Where the kernel places I/O BARs the firmware left unassigned (qboot,
/// which this project boots with, assigns none): above the legacy ports,
/// growing up.
static NEXT_IO: Mutex<u32> = Mutex::new(0xc000);

/// A function on a PCI bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciFunction {
    /// Bus number.
    pub bus: u8,
    /// Device number (0..32).
    pub device: u8,
    /// Function number (0..8).
    pub function: u8,
}

impl PciFunction {
    fn address(self, offset: u8) -> u32 {
        0x8000_0000
            | u32::from(self.bus) << 16
            | u32::from(self.device & 0x1f) << 11
            | u32::from(self.function & 0x7) << 8
            | u32::from(offset & 0xfc)
    }

    /// The config dword at `offset` (rounded down to 4).
    pub fn read32(self, offset: u8) -> u32 {
        let address = self.address(offset);
        crate::cpu::without_interrupts(|| {
            let _held = CONFIG.lock();
            // SAFETY: 0xCF8/0xCFC are the PC's PCI configuration ports;
            // writing an enabled config address and reading the data port
            // reads config space, with no effect on memory. The lock keeps
            // the pair together.
            unsafe {
                Port::<u32>::new(CONFIG_ADDRESS).write(address);
                Port::<u32>::new(CONFIG_DATA).read()
            }
        })
    }

    /// Writes the config dword at `offset` of a PCI function a driver of
    /// this crate owns, or of the PIIX3's interrupt routing
    /// (`legacy_irq.rs`).
    pub(crate) fn write_config32(self, offset: u8, value: u32) {
        self.write32(offset, value);
    }

    /// Writes the config dword at `offset` (rounded down to 4).
    fn write32(self, offset: u8, value: u32) {
        let address = self.address(offset);
        crate::cpu::without_interrupts(|| {
            let _held = CONFIG.lock();
            // SAFETY: as in `read32`; the callers write only the command
            // register's I/O-space and bus-master bits, unassigned I/O
            // BARs (to a range no other device was given) and the
            // interrupt line of a device a driver of this crate owns, and
            // the PIIX3's PIRQ route for that device's pin.
            unsafe {
                Port::<u32>::new(CONFIG_ADDRESS).write(address);
                Port::<u32>::new(CONFIG_DATA).write(value);
            }
        });
    }

    /// Vendor id (`0xffff`: no function here).
    pub fn vendor(self) -> u16 {
        self.read32(0) as u16
    }

    /// Device id.
    pub fn device_id(self) -> u16 {
        (self.read32(0) >> 16) as u16
    }

    /// The base of BAR `index` if it is an I/O-space BAR; one the
    /// firmware left at 0 is given a free range first ([`NEXT_IO`]).
    pub fn io_bar(self, index: u8) -> Option<u16> {
        if index > 5 {
            return None;
        }
        let offset = BAR0 + index * 4;
        let bar = self.read32(offset);
        if bar & 1 != 1 {
            return None;
        }
        if bar & 0xfffc != 0 {
            return Some((bar & 0xfffc) as u16);
        }
        // Unassigned: size it (all ones, read back the mask) with I/O
        // decoding off, then place it above every range on bus 0 and the
        // ranges given before, aligned to its size.
        // The floor first: while sizing, this BAR reads as all ones.
        let floor = highest_io_end();
        let command = self.read32(COMMAND) as u16;
        self.write32(COMMAND, u32::from(command & !COMMAND_IO_SPACE));
        self.write32(offset, 0xffff_ffff);
        let mask = self.read32(offset) & 0xfffc;
        self.write32(COMMAND, u32::from(command));
        let size = (!mask & 0xffff).wrapping_add(1).max(4);
        let base = crate::cpu::without_interrupts(|| {
            let mut next = NEXT_IO.lock();
            let base = (*next).max(floor).div_ceil(size) * size;
            if base + size > 0x1_0000 {
                return None;
            }
            *next = base + size;
            Some(base)
        });
        let Some(base) = base else {
            self.write32(offset, 0);
            return None;
        };
        self.write32(offset, base | 1);
        Some(base as u16)
    }

    /// The legacy IRQ its interrupt pin is routed to (0xff: none).
    pub fn interrupt_line(self) -> u8 {
        self.read32(INTERRUPT_LINE) as u8
    }

    /// Sets `bits` in the command register (I/O space, bus master).
    pub(crate) fn enable(self, bits: u16) {
        let dword = self.read32(COMMAND);
        // The status half (upper 16 bits) is write-one-to-clear: write 0s.
        let command = (dword as u16) | bits;
        self.write32(COMMAND, u32::from(command));
    }
}

/// One past the highest I/O port any BAR on bus 0 decodes (the
/// firmware's assignments), at least [`NEXT_IO`]'s start.
fn highest_io_end() -> u32 {
    let mut end = 0xc000;
    for_each_function(|f| {
        for index in 0..6u8 {
            let bar = f.read32(BAR0 + index * 4);
            if bar & 1 == 1 && bar & 0xfffc != 0 {
                // Without sizing (which would disturb a live device): a
                // 4 KiB span past the base covers every I/O BAR size
                // QEMU's devices use (PCI caps I/O BARs at 256 ports;
                // QEMU's AC'97 mixer takes 1 KiB).
                end = end.max((bar & 0xfffc) + 0x1000);
            }
        }
    });
    end
}

/// Calls `f` for every function present on bus 0.
fn for_each_function(mut f: impl FnMut(PciFunction)) {
    for slot in 0..32 {
        for function in 0..8 {
            let at = PciFunction {
                bus: 0,
                device: slot,
                function,
            };
            if at.read32(0) as u16 == 0xffff {
                if function == 0 {
                    break;
                }
                continue;
            }
            f(at);
        }
    }
}

/// The first function on bus 0 with `vendor` and `device`.
pub fn find(vendor: u16, device: u16) -> Option<PciFunction> {
    let mut found = None;
    for_each_function(|f| {
        let id = f.read32(0);
        if found.is_none() && id as u16 == vendor && (id >> 16) as u16 == device {
            found = Some(f);
        }
    });
    found
}
