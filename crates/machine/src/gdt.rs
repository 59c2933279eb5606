//! Segments and the task-state segment: the GDT, the TSS and its IST stacks.
//!
//! Owns the descriptor layout that `syscall`/`sysret` depend on (STAR):
//! kernel code 0x08, kernel data 0x10, a 32-bit user code placeholder 0x18,
//! user data 0x20, user code 0x28, TSS 0x30. IST 1..3 give the double fault,
//! NMI and machine check handlers stacks of their own, so they run even when
//! the current stack is exhausted.

use crate::stack::KernelStack;
use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::{PrivilegeLevel, VirtAddr};

/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DS: u16 = 0x10;
/// Base selector for `sysret` (user SS = base + 8, user CS = base + 16).
pub const SYSRET_BASE: u16 = 0x18;
/// User data selector (RPL 3).
pub const USER_DS: u16 = 0x20 | 3;
/// User code selector (RPL 3).
pub const USER_CS: u16 = 0x28 | 3;

/// IST slot (0-based, as the IDT entry takes it) for the double fault.
pub const IST_DOUBLE_FAULT: u16 = 0;
/// IST slot for NMI.
pub const IST_NMI: u16 = 1;
/// IST slot for machine check.
pub const IST_MACHINE_CHECK: u16 = 2;
/// IST slot for `#DB`: a single-step trap can hit the first instruction of
/// a `syscall` entry, while RSP is still the user's stack.
pub const IST_DEBUG: u16 = 3;

const IST_STACK_PAGES: u64 = 4;

static mut TSS: TaskStateSegment = TaskStateSegment::new();
static GDT: Once<GlobalDescriptorTable<8>> = Once::new();

/// Builds and loads the GDT and TSS, with IST stacks. Boot CPU, interrupts off.
pub(crate) fn init() -> Result<(), crate::paging::MapError> {
    let tss = &raw mut TSS;
    for ist in [IST_DOUBLE_FAULT, IST_NMI, IST_MACHINE_CHECK, IST_DEBUG] {
        let top = KernelStack::allocate(IST_STACK_PAGES)?.leak();
        // SAFETY: the TSS is not loaded yet, so the CPU does not read it
        // while we write; only this boot path writes these slots.
        unsafe { (*tss).interrupt_stack_table[usize::from(ist)] = VirtAddr::new(top) };
    }
    let gdt = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let kcs = gdt.append(Descriptor::kernel_code_segment());
        let kds = gdt.append(Descriptor::kernel_data_segment());
        // 32-bit user code (never used; keeps sysret's layout: base+8 = SS, base+16 = CS).
        let _ = gdt.append(Descriptor::UserSegment(0x00cf_fa00_0000_ffff));
        let uds = gdt.append(Descriptor::user_data_segment());
        let ucs = gdt.append(Descriptor::user_code_segment());
        // SAFETY: the TSS is a static that lives forever; from here on it is
        // only changed through `set_kernel_stack`, field by field.
        let tss_desc = Descriptor::tss_segment(unsafe { &*tss });
        let _ = gdt.append(tss_desc);
        debug_assert_eq!(
            (kcs.0, kds.0, uds.0, ucs.0),
            (KERNEL_CS, KERNEL_DS, USER_DS, USER_CS)
        );
        gdt
    });
    gdt.load();
    // SAFETY: the selectors name the descriptors just loaded; reloading
    // segment registers with them keeps the flat kernel segments.
    unsafe {
        CS::set_reg(SegmentSelector(KERNEL_CS));
        DS::set_reg(SegmentSelector(KERNEL_DS));
        ES::set_reg(SegmentSelector(KERNEL_DS));
        SS::set_reg(SegmentSelector(KERNEL_DS));
        load_tss(SegmentSelector::new(6, PrivilegeLevel::Ring0));
    }
    Ok(())
}

/// Sets RSP0: the stack the CPU switches to on an interrupt from user mode.
pub fn set_kernel_stack(top: u64) {
    let tss = &raw mut TSS;
    // SAFETY: an aligned 8-byte store; the CPU reads RSP0 only when an
    // interrupt arrives from ring 3, never concurrently with ring-0 code on
    // this CPU (one TSS per CPU).
    unsafe { (*tss).privilege_stack_table[0] = VirtAddr::new(top) };
}

/// The task register's selector (`str`), to check the TSS is loaded.
pub fn task_register() -> u16 {
    let selector: u16;
    // SAFETY: `str` only reads the task register.
    unsafe {
        core::arch::asm!("str {0:x}", out(reg) selector, options(nomem, nostack, preserves_flags))
    };
    selector
}
