//! `sk-machine`: all of Synthesis's hardware `unsafe`, in one crate.
//!
//! Owns the PVH boot trampoline, paging and the kernel address-space plan,
//! GDT/TSS/IDT and trap entry, the exception fixup table, the local APIC and
//! TSC clock, the serial console, `syscall` entry and the move to user mode.
//! It depends on no crate of ours; the kernel reaches it through safe types
//! and hands it upcalls ([`paging::FrameSource`], [`traps::Hooks`],
//! [`syscall::set_handler`]). Policy (what to allocate, schedule or
//! synthesize) lives in the portable crates.
//!
//! Unsafe policy: every `unsafe` block carries a `// SAFETY:` comment naming
//! the invariant it relies on; `unsafe fn`s document the caller's duty.
//! Every other `pub` item is safe for any caller and any arguments (no
//! undefined behaviour, no corruption of kernel state); where that needs a
//! contract, it is carried by types (owned, non-`Copy` handles with
//! private fields) or the function is `unsafe`. docs/unsafe-inventory.md
//! lists the invariants, including what generated code imposes.
#![no_std]
#![allow(
    clippy::cast_possible_truncation,
    reason = "x86-64 only: usize is 64 bits, and every narrowing to u32/u16/u8 is of a value masked or bounded just before"
)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod ac97;
pub mod address_space;
pub mod apic;
pub mod boot;
pub mod boot_info;
pub mod code_arena;
pub mod context;
pub mod cpu;
pub mod data_memory;
mod dynamic_extable;
pub mod extable;
pub mod fpu;
pub mod gdt;
pub mod heap;
pub mod layout;
pub mod legacy_irq;
pub mod linux_entry;
pub mod logger;
pub mod page_fault_entry;
pub mod paging;
pub mod pci;
pub mod percpu;
pub mod pit;
pub mod probe;
pub mod qemu;
pub mod serial;
pub mod stack;
pub mod stack_scan;
pub mod switch_code;
pub mod synth_entry;
pub mod syscall;
mod trap_hooks;
pub mod traps;
pub mod tsc;
pub mod user_frame;
pub mod user_fs;
pub mod user_regs;
pub mod usercopy;
pub mod usermode;

/// Sets up this CPU's tables: per-CPU data (GS), GDT with TSS and IST
/// stacks, the IDT, `syscall` MSRs, protections and the FP unit (x87,
/// SSE, XSAVE/XCR0; CR0.TS set, see [`fpu`]; `fp_save` is the save
/// instruction the FP policy chose from [`fpu::save_support`]). Interrupts
/// stay off. Runs once: a later call changes nothing (it would reset LSTAR
/// and the per-CPU block under running threads).
pub fn init_cpu(fp_save: fpu::SaveInstruction) -> Result<(), paging::MapError> {
    static STARTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    if STARTED.swap(true, core::sync::atomic::Ordering::AcqRel) {
        return Ok(());
    }
    percpu::init_boot_cpu();
    gdt::init()?;
    page_fault_entry::init();
    traps::init();
    syscall::init();
    let (smep, smap, umip) = usercopy::enable_protections();
    log::info!("protections: smep={smep} smap={smap} umip={umip} nx=true");
    let fp = fpu::init(fp_save);
    log::info!(
        "fpu: xcr0 {:#x} (supported {:#x}), {:?}, save area {} bytes, mxcsr mask {:#x}; lazy (CR0.TS set)",
        fp.xcr0,
        fp.xcr0_supported,
        fp.save_instruction,
        fp.area_bytes,
        fp.mxcsr_mask
    );
    Ok(())
}

/// Calibrates the TSC, then starts the local APIC timer at `timer_hz`.
pub fn init_time(timer_hz: u64) -> Result<(), paging::MapError> {
    tsc::init();
    apic::init(timer_hz)
}
