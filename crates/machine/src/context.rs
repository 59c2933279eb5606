//! Kernel context switching: saving one thread's callee-saved registers and
//! stack pointer and resuming another's.
//!
//! Owns the switch primitive and the layout of a new thread's first stack
//! frame. The switch also points the CPU's ring-3 entries (TSS RSP0 and the
//! `syscall` stack) at the next context's kernel stack and marks a code
//! arena quiescent point, so neither can be forgotten or pointed at the
//! wrong stack. The address space and the entry stub are the kernel's to
//! set (the stub through the `unsafe` [`crate::synth_entry`] setters); the
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
    /// Suspended on an IST stack (a hook of a `#DB`, say, switched away):
    /// its saved state is overwritten by the next trap on that stack, so
    /// it must never be resumed.
    abandoned: AtomicBool,
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

/// The context running on this CPU (one CPU today): set by the first
/// [`Context::current_boot`] and by every [`switch`]. [`switch`] saves the
/// running code's state only into this context, so a saved state always
/// lives on its own context's stack.
static CURRENT: Mutex<Option<Arc<Context>>> = Mutex::new(None);

impl Context {
    /// The context already running on this CPU. The first call makes it
    /// (the boot thread, whose stack the kernel does not own); later calls
    /// return the context running at that time.
    pub fn current_boot() -> Arc<Context> {
        crate::cpu::without_interrupts(|| {
            CURRENT
                .lock()
                .get_or_insert_with(|| {
                    Arc::new(Context {
                        rsp: UnsafeCell::new(0),
                        stack: None,
                        running: AtomicBool::new(true),
                        abandoned: AtomicBool::new(false),
                    })
                })
                .clone()
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
            abandoned: AtomicBool::new(false),
        })
    }

    /// Top of this context's kernel stack (0 for the boot context).
    pub fn stack_top(&self) -> u64 {
        self.stack.as_ref().map_or(0, KernelStack::top)
    }

    /// Address of the saved-RSP cell (a hole value of synthesized switch
    /// code, which saves and loads the stack pointer there). Valid as long
    /// as this context lives.
    pub fn rsp_slot(&self) -> u64 {
        self.rsp.get() as u64
    }

    /// True while a CPU runs this context.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // The last reference normally goes only after the context stopped
        // running for good (`finish_switch` runs on the next context's
        // stack). If a caller drops the last reference of the context that
        // is running, its stack is leaked instead: freeing it would pull
        // the stack from under the CPU.
        if let Some(stack) = self.stack.take() {
            if self.running.load(Ordering::Acquire) {
                stack.leak();
            } else {
                stack.free();
            }
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
///
/// Before it resumes `to`, it points TSS RSP0 and the `syscall` entry
/// stack at `to`'s kernel stack (traps and calls from ring 3 land there
/// from now on; 0 for the boot context, which never enters ring 3), and
/// records a quiescent point for the code arena.
///
/// `from` must be the context running on this CPU (the one
/// [`Context::current_boot`] or the last switch made current), else this
/// panics: saving the running code's state into another context would let
/// two contexts resume on one stack. So a context is resumed only while it
/// is not running, and then holds the state this function saved into it
/// (or its first frame), on its own stack, which it frees only when it is
/// dropped while not running.
///
/// Called on an IST stack (from a `#DB` hook, or a double-fault hook), it
/// still switches, but `from` can never be resumed (that stack is reused
/// by the next such trap): switching to it later panics. The kernel does
/// this only for a thread that dies (a user `#DB` it does not claim).
pub fn switch(from: Arc<Context>, to: Arc<Context>) {
    assert!(
        !crate::cpu::interrupts_enabled(),
        "context switch with interrupts on"
    );
    assert!(!to.is_running(), "switch to a running context");
    assert!(
        !to.abandoned.load(Ordering::Acquire),
        "switch to a context suspended on an interrupt stack"
    );
    if Arc::ptr_eq(&from, &to) {
        return;
    }
    if crate::gdt::on_ist_stack(current_rsp()) {
        from.abandoned.store(true, Ordering::Release);
    }
    {
        let mut current = CURRENT.lock();
        assert!(
            current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &from)),
            "switch from a context that is not running"
        );
        *current = Some(to.clone());
    }
    let top = to.stack_top();
    crate::gdt::set_kernel_stack(top);
    crate::percpu::set_syscall_stack_top(top);
    crate::code_arena::quiescent_point();
    to.running.store(true, Ordering::Release);
    let save = from.rsp.get();
    // SAFETY: `to` is not running, so its saved rsp is stable.
    let resume = unsafe { *to.rsp.get() };
    *PENDING.lock() = Some((from, to));
    // No thread's FS base survives into another (user_fs.rs).
    let fs_base = crate::user_fs::park();
    // SAFETY: `save` points into `from`, kept alive by PENDING until the
    // next context runs `finish_switch`, and `from` is the running context
    // (checked against CURRENT), so the state saved lives on `from`'s own
    // stack; `resume` was saved by `switch` or built by
    // `new_kernel_context` on `to`'s stack (kept alive by PENDING and then
    // by CURRENT), and has not been resumed since (`to` was not running);
    // interrupts are off.
    unsafe { switch_raw(save, resume) };
    finish_switch();
    crate::user_fs::resume(fs_base);
}

/// The stack pointer of the caller (approximately: this function's frame).
#[inline(always)]
fn current_rsp() -> u64 {
    let rsp: u64;
    // SAFETY: reads RSP into a register; no memory access, no flags.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags))
    };
    rsp
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
/// Enters user mode at `rip` with stack `rsp` and `rdi = arg`, on the
/// current thread's kernel stack. Returns an error only if the addresses
/// are not in the user half (the thread must then be terminated).
///
/// Never returns on success: the frames of the current stack are
/// abandoned (never unwound) and the next trap or call from ring 3 reuses
/// the stack from its top (RSP0 and the `syscall` stack name the current
/// context's stack since [`switch`] resumed it). Nothing on a kernel stack
/// may be referenced from elsewhere (docs/unsafe-inventory.md).
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

/// As [`enter_user`], with every register from `regs` (checked as
/// [`UserRegisters::checked`](crate::user_regs::UserRegisters::checked)):
/// a forked or cloned Linux thread's first entry to user mode.
///
/// # Errors
/// [`UserFault::OutOfRange`](crate::usercopy::UserFault) if `regs` is not
/// a user state.
pub fn enter_user_frame(
    regs: &crate::user_regs::UserRegisters,
) -> Result<core::convert::Infallible, crate::usercopy::UserFault> {
    let r = regs
        .checked()
        .map_err(|_| crate::usercopy::UserFault::OutOfRange)?;
    // SAFETY: `checked` put `rip` and `rsp` in the user half of the active
    // space; a bad mapping there faults in ring 3, which kills only the
    // thread.
    unsafe { crate::usermode::enter_user_regs(&r) }
}
