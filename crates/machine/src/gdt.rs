//! Segments and the task-state segment: the GDT, the TSS and its IST
//! stacks, and the (null) LDT.
//!
//! Owns the descriptor layout that `syscall`/`sysret` depend on (STAR):
//! kernel code 0x08, kernel data 0x10, a *null* descriptor at 0x18 (the
//! base `sysretq` counts from; only a 32-bit `sysret` would load it), user
//! data 0x20, user code 0x28 (64-bit), TSS 0x30 (two slots). The table's
//! limit ends right after the TSS, and the LDT register holds the null
//! selector, so the only code segment ring 3 can name is 0x2b: a far
//! `jmp`/`call`/`retf`/`iret` through any other selector raises #GP, and no
//! compatibility-mode (32-bit) code can run (docs/ring0-entries.md).
//!
//! IST 1..4 give the double fault, NMI, machine check and `#DB` handlers
//! stacks of their own, so they run even when the current stack is
//! exhausted or (for `#DB`/NMI on an entry's first instruction) still the
//! user's.

use crate::stack::KernelStack;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::{lgdt, load_tss};
use x86_64::structures::gdt::SegmentSelector;
use x86_64::structures::tss::TaskStateSegment;
use x86_64::structures::DescriptorTablePointer;
use x86_64::{PrivilegeLevel, VirtAddr};

/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DS: u16 = 0x10;
/// Base selector for `sysret` (user SS = base + 8, user CS = base + 16).
/// The descriptor at the base itself is null.
pub const SYSRET_BASE: u16 = 0x18;
/// User data selector (RPL 3).
pub const USER_DS: u16 = 0x20 | 3;
/// User code selector (RPL 3).
pub const USER_CS: u16 = 0x28 | 3;
/// TSS selector.
pub const TSS_SELECTOR: u16 = 0x30;

/// IST slot (0-based, as the IDT entry takes it) for the double fault.
pub const IST_DOUBLE_FAULT: u16 = 0;
/// IST slot for NMI.
pub const IST_NMI: u16 = 1;
/// IST slot for machine check.
pub const IST_MACHINE_CHECK: u16 = 2;
/// IST slot for `#DB`: a single-step trap can hit the first instruction of
/// a `syscall` entry, while RSP is still the user's stack.
pub const IST_DEBUG: u16 = 3;
/// IST slot for `#PF`: a stackless synthesized routine's user access can
/// fault in ring 0 while RSP is still the user's (attacker-chosen) stack
/// (`page_fault_entry.rs` moves the frame where it belongs).
pub const IST_PAGE_FAULT: u16 = 4;

const IST_STACK_PAGES: u64 = 4;

/// Descriptors in use: null, kernel code, kernel data, null (sysret
/// base), user data, user code, TSS (two slots).
pub const ENTRIES: usize = 8;

/// 64-bit kernel code: P, DPL 0, code exec/read, accessed, L.
const KERNEL_CODE: u64 = 0x00af_9b00_0000_ffff;
/// Kernel data: P, DPL 0, data read/write, accessed.
const KERNEL_DATA: u64 = 0x00cf_9300_0000_ffff;
/// User data: P, DPL 3, data read/write, accessed.
const USER_DATA: u64 = 0x00cf_f300_0000_ffff;
/// 64-bit user code: P, DPL 3, code exec/read, accessed, L.
const USER_CODE: u64 = 0x00af_fb00_0000_ffff;
/// 32-bit user code (test builds only, never in the table otherwise).
#[cfg(feature = "ktest")]
const USER_CODE_32: u64 = 0x00cf_fb00_0000_ffff;

/// One spare slot past the limit, used only by test builds
/// ([`set_test_compat_segment`]).
const SLOTS: usize = ENTRIES + 1;

/// Tops of the IST stacks (0 before `init`), for [`on_ist_stack`].
static IST_TOPS: [core::sync::atomic::AtomicU64; 5] =
    [const { core::sync::atomic::AtomicU64::new(0) }; 5];

/// True if `addr` lies in one of the IST stacks: code there runs for a
/// double fault, NMI, machine check, `#DB` or (briefly, `page_fault_entry.rs`)
/// `#PF`, and the next such trap
/// reuses the stack from its top (see `context::switch`).
pub(crate) fn on_ist_stack(addr: u64) -> bool {
    IST_TOPS.iter().any(|top| {
        let top = top.load(core::sync::atomic::Ordering::Relaxed);
        top != 0 && (top - IST_STACK_PAGES * 4096..top).contains(&addr)
    })
}

static mut TSS: TaskStateSegment = TaskStateSegment::new();
static mut GDT: [u64; SLOTS] = [0; SLOTS];

/// The two descriptor words of the 64-bit available TSS at `base`.
fn tss_descriptor(base: u64) -> (u64, u64) {
    let limit = (core::mem::size_of::<TaskStateSegment>() - 1) as u64;
    let low = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x89 << 40) // P, DPL 0, type 9 (64-bit TSS, available)
        | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    (low, base >> 32)
}

fn load_gdt(entries: usize) {
    let gdt = &raw const GDT;
    let pointer = DescriptorTablePointer {
        limit: (entries * 8 - 1) as u16,
        base: VirtAddr::new(gdt as u64),
    };
    // SAFETY: the table is a static that lives forever; its first
    // `entries` slots hold valid descriptors (null, flat segments, the TSS),
    // and the selectors in use (0x08, 0x10, 0x23, 0x2b, 0x30) keep their
    // meaning across reloads.
    unsafe { lgdt(&pointer) };
}

/// Builds and loads the GDT and TSS, with IST stacks, and loads the null
/// LDT. Boot CPU, interrupts off.
pub(crate) fn init() -> Result<(), crate::paging::MapError> {
    let tss = &raw mut TSS;
    for ist in [
        IST_DOUBLE_FAULT,
        IST_NMI,
        IST_MACHINE_CHECK,
        IST_DEBUG,
        IST_PAGE_FAULT,
    ] {
        let top = KernelStack::allocate(IST_STACK_PAGES)?.leak();
        IST_TOPS[usize::from(ist)].store(top, core::sync::atomic::Ordering::Relaxed);
        // SAFETY: the TSS is not loaded yet, so the CPU does not read it
        // while we write; only this boot path writes these slots.
        unsafe { (*tss).interrupt_stack_table[usize::from(ist)] = VirtAddr::new(top) };
    }
    let (tss_low, tss_high) = tss_descriptor(tss as u64);
    let gdt = &raw mut GDT;
    // SAFETY: the GDT is not loaded yet (the boot trampoline's table is
    // in use), and only this boot path and the test-only helper write it.
    unsafe {
        *gdt = [
            0,
            KERNEL_CODE,
            KERNEL_DATA,
            0, // SYSRET_BASE: null; no 32-bit code segment for ring 3
            USER_DATA,
            USER_CODE,
            tss_low,
            tss_high,
            0, // spare, past the limit
        ];
    }
    load_gdt(ENTRIES);
    // SAFETY: the selectors name the descriptors just loaded; reloading
    // segment registers with them keeps the flat kernel segments. The null
    // LDT selector makes every TI=1 selector raise #GP (the LDT register's
    // reset value is a live table at linear address 0).
    unsafe {
        CS::set_reg(SegmentSelector(KERNEL_CS));
        DS::set_reg(SegmentSelector(KERNEL_DS));
        ES::set_reg(SegmentSelector(KERNEL_DS));
        SS::set_reg(SegmentSelector(KERNEL_DS));
        load_tss(SegmentSelector::new(6, PrivilegeLevel::Ring0));
        core::arch::asm!("lldt {0:x}", in(reg) 0u16, options(nostack, preserves_flags));
    }
    Ok(())
}

/// Sets RSP0: the stack the CPU switches to on an interrupt from user mode.
/// Crate-private: the CPU pushes a trap frame at `top`, so only
/// [`crate::context::switch`] (the next context's own stack) and the probe
/// program's setup choose it.
pub(crate) fn set_kernel_stack(top: u64) {
    let tss = &raw mut TSS;
    // SAFETY: an aligned 8-byte store; the CPU reads RSP0 only when an
    // interrupt arrives from ring 3, never concurrently with ring-0 code on
    // this CPU (one TSS per CPU).
    unsafe { (*tss).privilege_stack_table[0] = VirtAddr::new(top) };
}

/// Address of this CPU's TSS.RSP0 field (a hole value of synthesized
/// switch-ins, which store the next thread's kernel stack top there).
pub fn kernel_stack_slot_address() -> u64 {
    let tss = &raw const TSS;
    // SAFETY: only the field's address is computed; nothing is read.
    unsafe { (&raw const (*tss).privilege_stack_table[0]) as u64 }
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

/// The LDT register's selector (`sldt`): 0 once `init` ran.
pub fn ldt_register() -> u16 {
    let selector: u16;
    // SAFETY: `sldt` only reads the LDT register.
    unsafe {
        core::arch::asm!("sldt {0:x}", out(reg) selector, options(nomem, nostack, preserves_flags))
    };
    selector
}

/// The loaded GDT as the CPU sees it (`sgdt`): its descriptors, up to the
/// limit.
pub fn descriptors() -> alloc::vec::Vec<u64> {
    let pointer = x86_64::instructions::tables::sgdt();
    let count = (usize::from(pointer.limit) + 1) / 8;
    let base = pointer.base.as_u64() as *const u64;
    // SAFETY: `sgdt` names the table the CPU uses: `count` readable,
    // aligned 8-byte descriptors at `base` (our static).
    (0..count)
        .map(|i| unsafe { core::ptr::read_volatile(base.add(i)) })
        .collect()
}

/// Test builds only: with `on`, puts a 32-bit DPL-3 code segment in the
/// spare slot (selector 0x43) and extends the limit over it, so a test can
/// reach compatibility mode and check the `IA32_CSTAR` entry; without,
/// removes it again. Interrupts off inside.
#[cfg(feature = "ktest")]
pub fn set_test_compat_segment(on: bool) {
    crate::cpu::without_interrupts(|| {
        let gdt = &raw mut GDT;
        // SAFETY: the spare slot is past the limit while off, so the CPU
        // never reads it while we write; when turned on, the limit is
        // raised only after the descriptor is complete.
        unsafe {
            if on {
                (*gdt)[ENTRIES] = USER_CODE_32;
                load_gdt(ENTRIES + 1);
            } else {
                load_gdt(ENTRIES);
                (*gdt)[ENTRIES] = 0;
            }
        }
    });
}

/// The selector of the test-only 32-bit user code segment.
#[cfg(feature = "ktest")]
pub const TEST_COMPAT_CS: u16 = (ENTRIES as u16 * 8) | 3;
