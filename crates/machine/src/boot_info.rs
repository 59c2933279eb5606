//! Boot information from the PVH `hvm_start_info` structure.
//!
//! Owns [`BootInfo`]: the command line, the memory map and the modules
//! (the initrd), copied out of low memory into machine-owned statics during
//! the trampoline phase, so nothing later depends on the boot window.
//! Layout per Xen's `arch-x86/hvm/start_info.h` (version 1 adds the memory map).

use crate::layout::{BOOT_WINDOW_BYTES, KERNEL_VMA};
use spin::Once;

const START_INFO_MAGIC: u32 = 0x336e_c578;
const MAX_REGIONS: usize = 128;
const MAX_MODULES: usize = 16;
const MAX_CMDLINE: usize = 1024;

/// What a memory-map entry holds (E820 types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// RAM the kernel may use.
    Usable,
    /// Reserved by firmware or devices.
    Reserved,
    /// ACPI tables, reclaimable after reading them.
    AcpiReclaimable,
    /// ACPI non-volatile storage.
    AcpiNvs,
    /// Defective RAM.
    Unusable,
    /// Any other type number.
    Other(u32),
}

impl MemoryKind {
    fn from_e820(kind: u32) -> Self {
        match kind {
            1 => Self::Usable,
            2 => Self::Reserved,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Unusable,
            other => Self::Other(other),
        }
    }
}

/// One entry of the firmware memory map.
#[derive(Clone, Copy, Debug)]
pub struct MemoryRegion {
    /// Physical start address.
    pub start: u64,
    /// Length in bytes.
    pub len_bytes: u64,
    /// What the range holds.
    pub kind: MemoryKind,
}

/// A boot module (the initrd), still in place in physical memory.
///
/// Fields are private and only the boot path (`read`) makes one: [`Module::bytes`] lends
/// the range out as `'static`, which is sound only for a range the boot
/// loader really gave (and the frame source keeps reserved).
#[derive(Clone, Copy, Debug)]
pub struct Module {
    phys: u64,
    len_bytes: u64,
}

/// Everything the kernel learns from the boot loader.
#[derive(Debug)]
pub struct BootInfo {
    /// TSC value read by the first instruction of the trampoline.
    pub entry_tsc: u64,
    /// Physical address of the `hvm_start_info` structure.
    pub start_info_phys: u64,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    regions: [MemoryRegion; MAX_REGIONS],
    region_count: usize,
    modules: [Module; MAX_MODULES],
    module_count: usize,
}

impl BootInfo {
    /// The kernel command line (empty if none or not UTF-8).
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(self.cmdline.get(..self.cmdline_len).unwrap_or(&[])).unwrap_or("")
    }
    /// The firmware memory map.
    pub fn memory_map(&self) -> &[MemoryRegion] {
        self.regions.get(..self.region_count).unwrap_or(&[])
    }
    /// Boot modules in the order given.
    pub fn modules(&self) -> &[Module] {
        self.modules.get(..self.module_count).unwrap_or(&[])
    }
}

static BOOT_INFO: Once<BootInfo> = Once::new();

/// Reads `len` bytes of physical memory below 1 GiB through the boot window.
fn boot_window_bytes(phys: u64, len: usize) -> &'static [u8] {
    let end = phys.saturating_add(len as u64);
    if phys == 0 || end > BOOT_WINDOW_BYTES {
        return &[];
    }
    // SAFETY: the boot page tables map physical 0..1 GiB at KERNEL_VMA
    // (boot.rs), the range was checked to lie inside, and firmware data is
    // not modified while the kernel reads it during boot.
    unsafe { core::slice::from_raw_parts((KERNEL_VMA + phys) as *const u8, len) }
}

fn u32_at(bytes: &[u8], off: usize) -> u32 {
    bytes
        .get(off..off + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(bytes: &[u8], off: usize) -> u64 {
    u64::from(u32_at(bytes, off)) | (u64::from(u32_at(bytes, off + 4)) << 32)
}

/// Copies the start info into a static; called once by the trampoline.
pub(crate) fn read(start_info_phys: u64, entry_tsc: u64) -> &'static BootInfo {
    BOOT_INFO.call_once(|| {
        let mut info = BootInfo {
            entry_tsc,
            start_info_phys,
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            regions: [MemoryRegion {
                start: 0,
                len_bytes: 0,
                kind: MemoryKind::Reserved,
            }; MAX_REGIONS],
            region_count: 0,
            modules: [Module {
                phys: 0,
                len_bytes: 0,
            }; MAX_MODULES],
            module_count: 0,
        };
        let si = boot_window_bytes(start_info_phys, 56);
        if u32_at(si, 0) != START_INFO_MAGIC {
            return info;
        }
        let version = u32_at(si, 4);
        let nr_modules = u32_at(si, 12) as usize;
        let modlist = u64_at(si, 16);
        let cmdline = u64_at(si, 24);
        let memmap = u64_at(si, 40);
        let memmap_entries = u32_at(si, 48) as usize;

        let line = boot_window_bytes(cmdline, MAX_CMDLINE);
        let len = line.iter().position(|&b| b == 0).unwrap_or(line.len());
        info.cmdline[..len].copy_from_slice(&line[..len]);
        info.cmdline_len = len;

        if version >= 1 {
            let n = memmap_entries.min(MAX_REGIONS);
            let table = boot_window_bytes(memmap, n * 24);
            let mut count = 0;
            for i in 0..if table.is_empty() { 0 } else { n } {
                let region = MemoryRegion {
                    start: u64_at(table, i * 24),
                    len_bytes: u64_at(table, i * 24 + 8),
                    kind: MemoryKind::from_e820(u32_at(table, i * 24 + 16)),
                };
                // Firmware may count an empty trailing entry.
                if region.len_bytes != 0 {
                    info.regions[count] = region;
                    count += 1;
                }
            }
            info.region_count = count;
        }

        let n = nr_modules.min(MAX_MODULES);
        let table = boot_window_bytes(modlist, n * 32);
        if !table.is_empty() {
            for (i, slot) in info.modules.iter_mut().take(n).enumerate() {
                *slot = Module {
                    phys: u64_at(table, i * 32),
                    len_bytes: u64_at(table, i * 32 + 8),
                };
            }
            info.module_count = n;
        }
        info
    })
}

impl Module {
    /// Physical start address.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// Length in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// The module's bytes, read through the direct map. The frame source
    /// never hands out module frames ([`crate::paging::FrameSource`]'s
    /// contract) and nothing writes them, so the slice is 'static.
    pub fn bytes(&self) -> &'static [u8] {
        let len = usize::try_from(self.len_bytes).unwrap_or(0);
        if self.phys == 0 || len == 0 {
            return &[];
        }
        // SAFETY: `self` describes a module the boot loader gave (only
        // `read` makes a Module); its frames are never handed out by the
        // frame source (FrameSource's contract, point 1) and nothing writes
        // them, and the direct map covers all RAM (paging::init).
        unsafe {
            core::slice::from_raw_parts(crate::layout::phys_to_virt(self.phys) as *const u8, len)
        }
    }
}
