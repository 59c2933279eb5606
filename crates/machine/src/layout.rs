//! The kernel's virtual address-space plan (shared by every SMACH).
//!
//! ```text
//! 0x0000_0000_0000_0000 .. USER_END            user half (per SMACH)
//! DIRECT_MAP_BASE (0xffff_8000_0000_0000)      all RAM, RW+NX, 2 MiB pages
//! HEAP_BASE       (0xffff_9000_0000_0000)      kernel heap, RW+NX, grows on demand
//! STACKS_BASE     (0xffff_a000_0000_0000)      kernel stacks, each below an unmapped guard page
//! CODE_ARENA_BASE (0xffff_b000_0000_0000)      synthesized code, supervisor RX only;
//!                                               written through the direct map (RW+NX alias)
//! MMIO_BASE       (0xffff_c000_0000_0000)      device registers (local APIC), uncached
//! DATA_BASE       (0xffff_d000_0000_0000)      file data buffers, RW+NX, frames from the user pool;
//!                                               32 TiB of reservations (64 PML4 entries)
//! KERNEL_VMA      (0xffff_ffff_8000_0000)      kernel image: text RX, rodata R, data/bss RW+NX
//! ```
//!
//! No virtual page is ever writable and executable at once: the code arena's
//! only writable view is the direct map, which is never executable.

/// First address above the user half (canonical lower half).
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// Every physical frame of RAM is mapped here at `DIRECT_MAP_BASE + phys`.
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
/// Start of the kernel heap's virtual range.
pub const HEAP_BASE: u64 = 0xffff_9000_0000_0000;
/// Largest the kernel heap may grow to.
pub const HEAP_MAX_BYTES: u64 = 16 << 30;
/// Start of the kernel stack region (each stack has a guard page below it).
pub const STACKS_BASE: u64 = 0xffff_a000_0000_0000;
/// Start of the code arena's executable view.
pub const CODE_ARENA_BASE: u64 = 0xffff_b000_0000_0000;
/// Size of the code arena's virtual range.
pub const CODE_ARENA_MAX_BYTES: u64 = 1 << 30;
/// Start of the MMIO window.
pub const MMIO_BASE: u64 = 0xffff_c000_0000_0000;
/// Start of the file-data region (`data_memory.rs`).
pub const DATA_BASE: u64 = 0xffff_d000_0000_0000;
/// Size of the file-data region's virtual range: room for a virtual
/// reservation per buffer, each grown in place (`data_memory.rs`). Ends
/// at `0xffff_f000_0000_0000`, far below [`KERNEL_VMA`].
pub const DATA_MAX_BYTES: u64 = 32 << 40;
/// Where the kernel image is linked (physical address + this).
pub const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;
/// The boot page tables map physical `0..BOOT_WINDOW_BYTES` at `KERNEL_VMA`.
pub const BOOT_WINDOW_BYTES: u64 = 1 << 30;
/// Size of a small page.
pub const PAGE_SIZE: u64 = 4096;

/// Virtual address of physical `phys` in the direct map.
pub const fn phys_to_virt(phys: u64) -> u64 {
    DIRECT_MAP_BASE + phys
}

/// Address ranges of the kernel image, from the linker script.
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    /// Boot code and boot page tables (physical = virtual), `start..end`.
    pub boot: (u64, u64),
    /// Text (virtual), read+execute.
    pub text: (u64, u64),
    /// Read-only data (virtual), includes the exception table and ktests.
    pub rodata: (u64, u64),
    /// Data and bss (virtual), read+write, no execute.
    pub data: (u64, u64),
}

impl KernelImage {
    /// Physical range occupied by the whole image (boot part included).
    pub fn phys_range(&self) -> (u64, u64) {
        (self.boot.0, self.data.1 - KERNEL_VMA)
    }
}

unsafe extern "C" {
    static __boot_start: u8;
    static __boot_end: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __data_end: u8;
}

/// The kernel image's section boundaries.
pub fn kernel_image() -> KernelImage {
    // Only the addresses of these linker symbols are taken, never their
    // contents, so `&raw const` needs no unsafe block.
    let a = |p: *const u8| p as u64;
    KernelImage {
        boot: (a(&raw const __boot_start), a(&raw const __boot_end)),
        text: (a(&raw const __text_start), a(&raw const __text_end)),
        rodata: (a(&raw const __rodata_start), a(&raw const __rodata_end)),
        data: (a(&raw const __data_start), a(&raw const __data_end)),
    }
}
