//! Kernel context switching: saving one thread's callee-saved registers and
//! stack pointer and resuming another's.
//!
//! Owns the switch primitive and the layout of a new thread's first stack
//! frame. Everything else a thread needs on switch (its address space, its
//! kernel stack for traps and `syscall`) is set by [`prepare_switch`]; the
//! scheduling policy lives in the portable crates.

use crate::layout::USER_END;
use crate::stack::KernelStack;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Mutex;

/// A suspended or running kernel context: its saved stack pointer and the
/// kernel stack it runs on (owned, freed with the context).
///
/// Contexts are shared as `Arc<Context>`; [`switch`] keeps both sides alive
/// across the switch and the resumed side drops them afterwards
/// (`finish_switch`), so no reference lives on a stack that may never run
/// again, and a dead thread's stack is freed only once nobody runs on it.
pub struct Context {
    rsp: UnsafeCell<u64>,
    stack: Option<KernelStack>,
    running: AtomicBool,
}

// SAFETY: `rsp` is written only by `switch` on the CPU that runs this
// context, with interrupts off, and read only to resume a context that is
// not running (checked through `running`).
unsafe impl Sync for Context {}
// SAFETY: as above; the stack is plain owned memory.
unsafe impl Send for Context {}

impl core::fmt::Debug for Context {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Context")
            .field("stack_top", &self.stack_top())
            .finish()
    }
}

impl Context {
    /// The context already running on this CPU (the boot thread), whose
    /// stack the kernel does not own.
    pub fn current_boot() -> Arc<Context> {
        Arc::new(Context {
            rsp: UnsafeCell::new(0),
            stack: None,
            running: AtomicBool::new(true),
        })
    }

    /// A new context on `stack` that will call `entry(arg)` with interrupts
    /// on when first switched to. `entry` must never return.
    pub fn new(stack: KernelStack, entry: extern "C" fn(u64) -> !, arg: u64) -> Arc<Context> {
        let rsp = new_kernel_context(stack.top(), entry, arg);
        Arc::new(Context {
            rsp: UnsafeCell::new(rsp),
            stack: Some(stack),
            running: AtomicBool::new(false),
        })
    }

    /// Top of this context's kernel stack (0 for the boot context).
    pub fn stack_top(&self) -> u64 {
        self.stack.as_ref().map_or(0, KernelStack::top)
    }

    /// True while a CPU runs this context.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // The last reference goes only after the context stopped running
        // for good (`finish_switch` runs on the next context's stack).
        if let Some(stack) = self.stack.take() {
            stack.free();
        }
    }
}

static PENDING: Mutex<Option<(Arc<Context>, Arc<Context>)>> = Mutex::new(None);

/// Drops the references the previous switch kept alive. Runs first thing
/// in every context after it is resumed or started.
extern "C" fn finish_switch() {
    let pending = PENDING.lock().take();
    if let Some((from, _to)) = pending {
        from.running.store(false, Ordering::Release);
    }
}

/// Switches from the running context `from` to the suspended `to`.
/// Returns when something switches back to `from`. Interrupts must be off;
/// `to` must not be running (else this panics: a scheduler bug).
pub fn switch(from: Arc<Context>, to: Arc<Context>) {
    assert!(
        !crate::cpu::interrupts_enabled(),
        "context switch with interrupts on"
    );
    assert!(!to.is_running(), "switch to a running context");
    if Arc::ptr_eq(&from, &to) {
        return;
    }
    to.running.store(true, Ordering::Release);
    let save = from.rsp.get();
    // SAFETY: `to` is not running, so its saved rsp is stable.
    let resume = unsafe { *to.rsp.get() };
    *PENDING.lock() = Some((from, to));
    // SAFETY: `save` points into `from`, kept alive by PENDING until the
    // next context runs `finish_switch`; `resume` was saved by `switch` or
    // built by `new_kernel_context`, and is not running; interrupts are off.
    unsafe { switch_raw(save, resume) };
    finish_switch();
}

/// Saves the current context's stack pointer into `*save_rsp` and resumes
/// the context whose saved stack pointer is `resume_rsp`.
///
/// # Safety
/// `save_rsp` must be valid for a write and stay valid until the saved
/// context is resumed; `resume_rsp` must have been saved by this function
/// or built by [`new_kernel_context`], and not resumed since. Interrupts
/// must be off.
#[unsafe(naked)]
unsafe extern "C" fn switch_raw(save_rsp: *mut u64, resume_rsp: u64) {
    core::arch::naked_asm!(
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "mov [rdi], rsp",
        "mov rsp, rsi",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
    );
}

/// First code of a new context: finishes the switch that started it, then
/// calls `entry(arg)` with interrupts on.
#[unsafe(naked)]
extern "C" fn context_start() {
    core::arch::naked_asm!(
        "call {finish}",
        "mov rdi, r13",
        "sti",
        "call r12",
        "ud2",
        finish = sym finish_switch,
    );
}

/// Builds the first frame of a new kernel context on the stack ending at
/// `stack_top`, so that switching to the returned stack pointer calls
/// `entry(arg)`. `entry` must never return.
fn new_kernel_context(stack_top: u64, entry: extern "C" fn(u64) -> !, arg: u64) -> u64 {
    let frame: [u64; 7] = [
        0,                                 // r15
        0,                                 // r14
        arg,                               // r13
        entry as *const () as u64,         // r12
        0,                                 // rbx
        0,                                 // rbp
        context_start as *const () as u64, // return address of `switch_raw`
    ];
    // After `switch_raw` returns here, rsp == stack_top (16-byte aligned),
    // so the calls in `context_start` enter their callees with rsp % 16 == 8
    // as the System V ABI requires.
    let rsp = stack_top - core::mem::size_of_val(&frame) as u64;
    // SAFETY: `stack_top` is the top of a mapped kernel stack owned by the
    // new context, large enough for this 56-byte frame, not in use yet.
    unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), rsp as *mut u64, frame.len()) };
    rsp
}
/// Sets what the CPU needs before running a thread: the kernel stack for
/// traps from ring 3 and for `syscall` entry.
pub fn prepare_switch(kernel_stack_top: u64) {
    crate::gdt::set_kernel_stack(kernel_stack_top);
    crate::percpu::set_syscall_stack_top(kernel_stack_top);
}

/// Enters user mode at `rip` with stack `rsp` and `rdi = arg`, on the
/// current thread's kernel stack. Returns an error only if the addresses
/// are not in the user half (the thread must then be terminated).
pub fn enter_user(
    rip: u64,
    rsp: u64,
    arg: u64,
) -> Result<core::convert::Infallible, crate::usercopy::UserFault> {
    if rip >= USER_END || rsp > USER_END {
        return Err(crate::usercopy::UserFault::OutOfRange);
    }
    // SAFETY: both addresses are in the user half of the active space;
    // a bad mapping there faults in ring 3, which kills only the thread.
    unsafe { crate::usermode::enter_user_with_arg(rip, rsp, arg) }
}
