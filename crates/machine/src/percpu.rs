//! Per-CPU data reached through the GS base.
//!
//! Owns [`PerCpu`]: the CPU's id, the kernel stack for system-call entry and
//! the scratch slot for the user stack pointer. Kernel code runs with
//! `IA32_GS_BASE` pointing at its CPU's block; user mode gets its own GS
//! through `swapgs` (`IA32_KERNEL_GS_BASE` holds the kernel value meanwhile).
//! One CPU today; each CPU gets its own block when SMP lands.

use core::sync::atomic::{AtomicBool, Ordering};

/// The per-CPU block. Field offsets are used by assembly: keep `repr(C)`.
#[repr(C)]
#[derive(Debug)]
pub struct PerCpu {
    /// Pointer to this block (so `gs:[0]` yields it).
    pub self_ptr: u64,
    /// This CPU's number.
    pub cpu_id: u64,
    /// Kernel stack top used on system-call entry (offset 16).
    pub syscall_stack_top: u64,
    /// User RSP saved on system-call entry (offset 24).
    pub user_rsp: u64,
    /// Current thread's synthesized entry stub, if any (offset 32).
    pub entry_stub: u64,
}

/// Offset of [`PerCpu::syscall_stack_top`] for assembly.
pub const SYSCALL_STACK_TOP_OFFSET: usize = 16;
/// Offset of [`PerCpu::user_rsp`] for assembly.
pub const USER_RSP_OFFSET: usize = 24;
/// Offset of [`PerCpu::entry_stub`] for assembly.
pub const ENTRY_STUB_OFFSET: usize = 32;

static mut BSP: PerCpu = PerCpu {
    self_ptr: 0,
    cpu_id: 0,
    syscall_stack_top: 0,
    user_rsp: 0,
    entry_stub: 0,
};
static READY: AtomicBool = AtomicBool::new(false);

const IA32_GS_BASE: u32 = 0xC000_0101;
const IA32_KERNEL_GS_BASE: u32 = 0xC000_0102;

/// Points GS at the boot CPU's block.
pub(crate) fn init_boot_cpu() {
    let block = &raw mut BSP;
    // SAFETY: runs once on the boot CPU before interrupts are enabled;
    // nothing else holds a reference to BSP yet.
    unsafe {
        (*block).self_ptr = block as u64;
        (*block).cpu_id = 0;
    }
    // SAFETY: GS_BASE/KERNEL_GS_BASE exist on every x86-64 CPU; nothing
    // reads GS-relative data before READY is set below.
    unsafe {
        crate::cpu::wrmsr(IA32_GS_BASE, block as u64);
        crate::cpu::wrmsr(IA32_KERNEL_GS_BASE, 0);
    }
    READY.store(true, Ordering::Release);
}

/// This CPU's number (0 before per-CPU data is set up).
pub fn cpu_id() -> u64 {
    if !READY.load(Ordering::Acquire) {
        return 0;
    }
    let id: u64;
    // SAFETY: GS points at a live PerCpu once READY is set (kernel mode
    // always runs with the kernel GS); offset 8 is `cpu_id`.
    unsafe {
        core::arch::asm!("mov {}, gs:[8]", out(reg) id, options(nostack, readonly, preserves_flags))
    };
    id
}

/// Sets the kernel stack used for the next system-call entries on this CPU.
pub fn set_syscall_stack_top(top: u64) {
    // SAFETY: offset 16 is `syscall_stack_top` of this CPU's live block;
    // interrupts cannot observe a torn 8-byte aligned store.
    unsafe { core::arch::asm!("mov gs:[16], {}", in(reg) top, options(nostack, preserves_flags)) };
}
