//! Entering synthesized switch code (the executable ready queue,
//! docs/executable-scheduler.md).
//!
//! Owns [`enter_switch_out`] and [`leave_to`]: the only ways Rust code
//! enters a thread's synthesized switch-out or another thread's switch-in.
//! The code itself is `sk-synth`'s templates, installed by the kernel.

/// Calls the running thread's switch-out at `switch_out`; returns when a
/// switch-in resumes this thread. Marks a code-arena quiescent point first
/// (this is Rust code: no synthesized routine runs on this CPU), as
/// [`crate::context::switch`] does.
///
/// # Safety
/// Interrupts are off. `switch_out` is the installed switch-out of the
/// thread running on this CPU (its `rsp_slot` hole is that thread's
/// context's cell, on whose stack this runs), whose jump enters the
/// installed switch-in of a thread that is not running, whose saved RSP
/// holds a `context::switch` frame (saved by a switch-out or the generic
/// switch, or built by `Context::new`) on its own live kernel stack.
pub unsafe fn enter_switch_out(switch_out: u64) {
    debug_assert!(!crate::cpu::interrupts_enabled());
    crate::code_arena::quiescent_point();
    // Switch code runs with FS base 0 (user_fs.rs).
    let fs_base = crate::user_fs::park();
    // SAFETY: the caller's promise above. The switch-out saves rbp, rbx
    // and r12-r15 and the return address on this stack, and the switch-in
    // that resumes this thread restores them and returns here; every other
    // register may hold anything (clobber_abi).
    unsafe {
        core::arch::asm!(
            "call {target}",
            target = in(reg) switch_out,
            clobber_abi("C"),
        )
    };
    crate::user_fs::resume(fs_base);
}

/// Leaves the running thread for good: jumps to the switch-in at
/// `switch_in` without saving anything. The kernel keeps the thread's
/// stack alive until another thread runs.
///
/// # Safety
/// Interrupts are off; `switch_in` is the installed switch-in of a thread
/// that is not running, as for [`enter_switch_out`]; the current stack is
/// never used again.
pub unsafe fn leave_to(switch_in: u64) -> ! {
    debug_assert!(!crate::cpu::interrupts_enabled());
    crate::code_arena::quiescent_point();
    // The leaving thread's FS base dies with it (user_fs.rs).
    crate::user_fs::park();
    // SAFETY: the caller's promise; the switch-in loads its own RSP.
    unsafe { core::arch::asm!("jmp {target}", target = in(reg) switch_in, options(noreturn)) }
}
