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
    /// Non-zero while `probe::call` runs on this CPU (offset 40; test
    /// builds only ever set it).
    pub probe_active: u64,
    /// The RSP `probe::call` expects a fetch fault at: just after its
    /// `call` pushed the return address (offset 48).
    pub probe_rsp: u64,
    /// The thread running on this CPU (offset 56): written by the
    /// scheduler, and by every synthesized switch-in.
    pub current_thread: u64,
    /// Timer ticks left in the running thread's quantum (offset 64): the
    /// synthesized switch-in stores the thread's quantum, the timer hook
    /// counts it down.
    pub ticks_left: u64,
    /// What `IA32_LSTAR` holds (offset 72), so the synthesized switch-in
    /// skips a redundant `wrmsr`.
    pub lstar: u64,
    /// The running thread's synthesized switch-out (offset 80): stored by
    /// every switch-in, called by the synthesized yield.
    pub switch_out: u64,
    /// Switch-ins run on this CPU so far (offset 88), counted by the
    /// switch-ins themselves: how far the ring moved since the kernel last
    /// looked.
    pub switch_count: u64,
    /// Address of this CPU's TSS.RSP0 field (offset 96), where the
    /// switch-in stores the thread's kernel stack top.
    pub tss_rsp0_field: u64,
    /// FP saves the synthesized switch-outs made (offset 104): each `_fp`
    /// switch-out increments it after its save.
    pub fp_saves: u64,
    /// FP restores the synthesized switch-ins made (offset 112).
    pub fp_restores: u64,
    /// The user FS base `IA32_FS_BASE` holds for the running thread
    /// (offset 120): 0 except while a thread that set one runs
    /// (`user_fs.rs`).
    pub user_fs_base: u64,
}

/// Offset of [`PerCpu::syscall_stack_top`] for assembly.
pub const SYSCALL_STACK_TOP_OFFSET: usize = 16;
/// Offset of [`PerCpu::user_rsp`] for assembly.
pub const USER_RSP_OFFSET: usize = 24;
/// Offset of [`PerCpu::entry_stub`] for assembly.
pub const ENTRY_STUB_OFFSET: usize = 32;
/// Offset of [`PerCpu::probe_active`] for assembly.
pub const PROBE_ACTIVE_OFFSET: usize = 40;
/// Offset of [`PerCpu::probe_rsp`] for assembly.
pub const PROBE_RSP_OFFSET: usize = 48;
/// Offset of [`PerCpu::current_thread`] for generated code.
pub const CURRENT_THREAD_OFFSET: usize = 56;
/// Offset of [`PerCpu::ticks_left`] for generated code.
pub const TICKS_LEFT_OFFSET: usize = 64;
/// Offset of [`PerCpu::lstar`] for generated code.
pub const LSTAR_OFFSET: usize = 72;
/// Offset of [`PerCpu::switch_out`] for generated code.
pub const SWITCH_OUT_OFFSET: usize = 80;
/// Offset of [`PerCpu::switch_count`] for generated code.
pub const SWITCH_COUNT_OFFSET: usize = 88;
/// Offset of [`PerCpu::tss_rsp0_field`] for generated code.
pub const TSS_RSP0_FIELD_OFFSET: usize = 96;
/// Offset of [`PerCpu::fp_saves`] for generated code.
pub const FP_SAVES_OFFSET: usize = 104;
/// Offset of [`PerCpu::fp_restores`] for generated code.
pub const FP_RESTORES_OFFSET: usize = 112;
/// Offset of [`PerCpu::user_fs_base`].
pub const USER_FS_BASE_OFFSET: usize = 120;

const _: () = {
    assert!(core::mem::offset_of!(PerCpu, syscall_stack_top) == SYSCALL_STACK_TOP_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, user_rsp) == USER_RSP_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, entry_stub) == ENTRY_STUB_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, probe_active) == PROBE_ACTIVE_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, probe_rsp) == PROBE_RSP_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, current_thread) == CURRENT_THREAD_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, ticks_left) == TICKS_LEFT_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, lstar) == LSTAR_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, switch_out) == SWITCH_OUT_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, switch_count) == SWITCH_COUNT_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, tss_rsp0_field) == TSS_RSP0_FIELD_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, fp_saves) == FP_SAVES_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, fp_restores) == FP_RESTORES_OFFSET);
    assert!(core::mem::offset_of!(PerCpu, user_fs_base) == USER_FS_BASE_OFFSET);
};

/// The boot CPU's block. Trap entries compare `IA32_GS_BASE` with its
/// address to tell the kernel's GS from a user's (traps.rs).
pub(crate) static mut BSP: PerCpu = PerCpu {
    self_ptr: 0,
    cpu_id: 0,
    syscall_stack_top: 0,
    user_rsp: 0,
    entry_stub: 0,
    probe_active: 0,
    probe_rsp: 0,
    current_thread: 0,
    ticks_left: 0,
    lstar: 0,
    switch_out: 0,
    switch_count: 0,
    tss_rsp0_field: 0,
    fp_saves: 0,
    fp_restores: 0,
    user_fs_base: 0,
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
        // The per-CPU-slot door jumps here: never to address 0.
        (*block).entry_stub = crate::syscall::syscall_entry_address();
        (*block).tss_rsp0_field = crate::gdt::kernel_stack_slot_address();
    }
    // SAFETY: GS_BASE/KERNEL_GS_BASE exist on every x86-64 CPU; nothing
    // reads GS-relative data before READY is set below.
    unsafe {
        crate::cpu::wrmsr(IA32_GS_BASE, block as u64);
        crate::cpu::wrmsr(IA32_KERNEL_GS_BASE, 0);
    }
    READY.store(true, Ordering::Release);
}

/// True once the boot CPU's GS points at its block.
pub(crate) fn is_ready() -> bool {
    READY.load(Ordering::Acquire)
}

/// True if the active GS base (`IA32_GS_BASE`) is this kernel's per-CPU
/// block, i.e. GS-relative per-CPU data may be used right now (false
/// before per-CPU data is set up, and in ring 0 code that still runs with
/// the user's GS: entry stubs and synthesized routines).
pub fn gs_is_kernel() -> bool {
    if !READY.load(Ordering::Acquire) {
        return false;
    }
    // SAFETY: reading IA32_GS_BASE has no side effect; it exists on every
    // x86-64 CPU.
    let base = unsafe { crate::cpu::rdmsr(IA32_GS_BASE) };
    base == &raw const BSP as u64
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
/// Crate-private: `syscall` from ring 3 pushes the user's registers at
/// `top`, so only [`crate::context::switch`] (the next context's own stack)
/// and the probe program's setup choose it.
pub(crate) fn set_syscall_stack_top(top: u64) {
    // SAFETY: offset 16 is `syscall_stack_top` of this CPU's live block;
    // interrupts cannot observe a torn 8-byte aligned store.
    unsafe { core::arch::asm!("mov gs:[16], {}", in(reg) top, options(nostack, preserves_flags)) };
}

/// The RSP an active `probe::call` on this CPU expects its fetch fault at,
/// or `None` when no probe runs. Only meaningful with the kernel's GS (the
/// trap entry guarantees it).
#[cfg(feature = "ktest")]
pub(crate) fn active_probe_rsp() -> Option<u64> {
    let (active, rsp): (u64, u64);
    // SAFETY: GS points at this CPU's live block (kernel GS); the offsets
    // are those of `probe_active` and `probe_rsp`.
    unsafe {
        core::arch::asm!(
            "mov {a}, gs:[{active}]",
            "mov {r}, gs:[{rsp}]",
            a = out(reg) active,
            r = out(reg) rsp,
            active = const PROBE_ACTIVE_OFFSET,
            rsp = const PROBE_RSP_OFFSET,
            options(nostack, readonly, preserves_flags),
        )
    };
    (active != 0).then_some(rsp)
}

/// Test builds only: marks a probe active with expected RSP `rsp`
/// (`Some`), or none (`None`), so tests can check the fixup rule's
/// conditions with made-up frames.
#[cfg(feature = "ktest")]
pub fn set_probe_for_test(rsp: Option<u64>) {
    let (active, value) = (u64::from(rsp.is_some()), rsp.unwrap_or(0));
    // SAFETY: offsets of `probe_active`/`probe_rsp` in this CPU's live
    // block; aligned 8-byte stores.
    unsafe {
        core::arch::asm!(
            "mov gs:[{r}], {v}",
            "mov gs:[{a}], {f}",
            v = in(reg) value,
            f = in(reg) active,
            r = const PROBE_RSP_OFFSET,
            a = const PROBE_ACTIVE_OFFSET,
            options(nostack, preserves_flags),
        )
    };
}

/// Reads the per-CPU qword at `offset` (0 before per-CPU data is set up).
fn read_slot<const OFFSET: usize>() -> u64 {
    if !READY.load(Ordering::Acquire) {
        return 0;
    }
    let value: u64;
    // SAFETY: GS points at this CPU's live block once READY is set (kernel
    // code runs with the kernel GS); OFFSET is one of the qword fields.
    unsafe {
        core::arch::asm!("mov {}, gs:[{off}]", out(reg) value, off = const OFFSET, options(nostack, readonly, preserves_flags))
    };
    value
}

/// The running thread's user FS base as `user_fs.rs` last loaded it.
pub(crate) fn user_fs_base() -> u64 {
    read_slot::<USER_FS_BASE_OFFSET>()
}

/// Records the FS base `user_fs.rs` just loaded.
pub(crate) fn set_user_fs_base(base: u64) {
    write_slot::<USER_FS_BASE_OFFSET>(base);
}

/// Writes the per-CPU qword at `offset` (nothing before per-CPU setup).
fn write_slot<const OFFSET: usize>(value: u64) {
    if !READY.load(Ordering::Acquire) {
        return;
    }
    // SAFETY: as in `read_slot`; an aligned 8-byte store to plain data
    // (no address the CPU uses: the thread id, a countdown, a copy).
    unsafe {
        core::arch::asm!("mov gs:[{off}], {}", in(reg) value, off = const OFFSET, options(nostack, preserves_flags))
    };
}

/// The running thread's switch-out, as its switch-in stored it (0 before
/// the ring runs).
pub fn switch_out() -> u64 {
    read_slot::<SWITCH_OUT_OFFSET>()
}

/// Points the synthesized yield at the running thread's rebuilt
/// switch-out (the kernel rebuilt its code while it runs).
pub fn set_switch_out(address: u64) {
    write_slot::<SWITCH_OUT_OFFSET>(address);
}

/// Switch-ins run on this CPU so far (wrapping).
pub fn switch_count() -> u64 {
    read_slot::<SWITCH_COUNT_OFFSET>()
}

/// The thread running on this CPU, as the scheduler (either one) last
/// made it current.
pub fn current_thread() -> u64 {
    read_slot::<CURRENT_THREAD_OFFSET>()
}

/// Records the running thread (the generic scheduler; synthesized
/// switch-ins store it themselves).
pub fn set_current_thread(id: u64) {
    write_slot::<CURRENT_THREAD_OFFSET>(id);
}

/// `(saves, restores)` of FP state the synthesized switch code made on
/// this CPU since boot.
pub fn fp_switch_counts() -> (u64, u64) {
    (
        read_slot::<FP_SAVES_OFFSET>(),
        read_slot::<FP_RESTORES_OFFSET>(),
    )
}

/// Ticks left in the running thread's quantum.
pub fn ticks_left() -> u64 {
    read_slot::<TICKS_LEFT_OFFSET>()
}

/// Sets the ticks left in the running thread's quantum.
pub fn set_ticks_left(ticks: u64) {
    write_slot::<TICKS_LEFT_OFFSET>(ticks);
}

/// Syncs the per-CPU copy of `IA32_LSTAR` with the register (before
/// synthesized switch-ins start relying on it).
pub fn sync_lstar_copy() {
    // SAFETY: reading IA32_LSTAR has no side effect.
    let lstar = unsafe { crate::cpu::rdmsr(0xC000_0082) };
    write_slot::<LSTAR_OFFSET>(lstar);
}
