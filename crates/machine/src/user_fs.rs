//! The user FS base (Linux TLS, `arch_prctl(ARCH_SET_FS)`), per thread.
//!
//! Owns `IA32_FS_BASE`. The kernel never uses FS itself, and CR4.FSGSBASE
//! stays off, so ring 3 cannot set the base (`wrfsbase` is `#UD`); loading
//! a selector into FS (`mov fs, ...`) can only zero it (every data
//! descriptor's base is 0), which no switch path relies on. Otherwise the
//! value in the MSR is one this module wrote, and the per-CPU copy
//! (`percpu::user_fs_base`) names it. The invariant that keeps one
//! thread's base from reaching another: **whenever switch code runs, FS
//! base is 0.** Every way Rust enters a switch ([`crate::context::switch`],
//! [`crate::switch_code::enter_switch_out`], [`crate::switch_code::leave_to`])
//! calls [`park`] before (the running thread's base goes to its kernel
//! stack, the MSR to 0) and [`resume`] after it is resumed (its base back).
//! A thread resumed elsewhere (the synthesized yield of a native thread)
//! has no base and finds 0; a new thread starts with 0.

use crate::layout::USER_END;

const IA32_FS_BASE: u32 = 0xC000_0100;

/// Why a base was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotUserAddress;

/// Sets the running thread's user FS base: refused unless it is a
/// canonical user-half address (the kernel half and non-canonical values
/// never reach the MSR).
///
/// # Errors
/// [`NotUserAddress`] for `base >= USER_END`.
pub fn set(base: u64) -> Result<(), NotUserAddress> {
    if base >= USER_END {
        return Err(NotUserAddress);
    }
    load(base);
    Ok(())
}

/// The running thread's user FS base (0 if it never set one).
pub fn get() -> u64 {
    crate::percpu::user_fs_base()
}

fn load(base: u64) {
    // SAFETY: IA32_FS_BASE exists on every x86-64 CPU; `base` is a user
    // address or 0 (checked by every caller); the kernel never addresses
    // memory through FS, so no kernel access changes meaning.
    unsafe { crate::cpu::wrmsr(IA32_FS_BASE, base) };
    crate::percpu::set_user_fs_base(base);
}

/// Before a switch away from the running thread: returns its base (kept
/// on its kernel stack) and leaves 0 in the MSR.
pub(crate) fn park() -> u64 {
    let base = get();
    if base != 0 {
        load(0);
    }
    base
}

/// After the thread that [`park`]ed `base` is resumed: its base back.
pub(crate) fn resume(base: u64) {
    if base != 0 {
        load(base);
    }
}

/// What the CPU's `IA32_FS_BASE` holds now (tests: the invariant above).
pub fn msr_value() -> u64 {
    // SAFETY: reading IA32_FS_BASE has no side effect.
    unsafe { crate::cpu::rdmsr(IA32_FS_BASE) }
}
