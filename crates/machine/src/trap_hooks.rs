//! The kernel's handlers for traps the mechanism does not handle itself:
//! [`Hooks`], installed with [`set_hooks`] or changed in one step with
//! [`update_hooks`], read by the trap dispatcher (`traps.rs`) with
//! [`hooks`].

use crate::traps::{dump, TrapFrame};
use spin::Mutex;

/// Kernel handlers for traps the mechanism does not handle itself.
///
/// A hook gets the interrupted state as a `&mut TrapFrame` but may change
/// only RFLAGS.TF (single-step counting): when it returns, the dispatcher
/// puts every other field back as it was, so no hook can resume ring-0 code
/// with other registers, resume at another address or in another ring, or
/// give ring 3 more privilege (IOPL). Hooks run on the interrupted
/// context's stack (IST stacks for `#DB`, NMI, `#MC` and double faults)
/// and may switch contexts (the timer's preemption does).
#[derive(Clone, Copy)]
pub struct Hooks {
    /// Each timer interrupt (after EOI).
    pub timer: fn(&mut TrapFrame),
    /// An interrupt on a legacy line a driver enabled (`legacy_irq`),
    /// before the PICs' EOI.
    pub legacy_irq: fn(&mut TrapFrame, u8),
    /// An exception raised by user code (the kernel terminates the program,
    /// or posts a Linux signal and returns: `user_regs` then delivers it).
    pub user_exception: fn(&mut TrapFrame, cr2: u64),
    /// `#DB` or `#BP` from any mode (single-step instruction counting);
    /// returns true if it claimed the trap. An unclaimed one from user
    /// mode goes to `user_exception` (the program dies).
    pub debug: fn(&mut TrapFrame) -> bool,
    /// `#NM` (device not available) raised by user code: CR0.TS was set
    /// and the thread executed an FP/SSE/AVX instruction. The kernel gives
    /// the thread its FP state (or kills it) and the instruction runs
    /// again. An `#NM` in ring 0 never gets here: the kernel is
    /// soft-float, so it is a kernel bug and fatal.
    pub fp_unavailable: fn(&mut TrapFrame),
    /// A double fault (kernel stack overflow); never returns.
    pub double_fault: fn(&TrapFrame) -> !,
    /// After a fatal kernel exception was dumped; never returns.
    pub fatal: fn(&TrapFrame) -> !,
}

fn default_timer(_: &mut TrapFrame) {}
fn default_legacy_irq(_: &mut TrapFrame, _: u8) {}
fn default_user(frame: &mut TrapFrame, cr2: u64) {
    dump("user exception", frame, cr2);
    (hooks().fatal)(frame)
}
fn default_debug(_: &mut TrapFrame) -> bool {
    false
}
fn default_fp_unavailable(frame: &mut TrapFrame) {
    (hooks().user_exception)(frame, 0)
}
fn default_fatal(_: &TrapFrame) -> ! {
    crate::qemu::exit(crate::qemu::ExitCode::Failure)
}
fn default_double_fault(frame: &TrapFrame) -> ! {
    (hooks().fatal)(frame)
}

/// RFLAGS.TF: the one frame bit hooks may change.
static HOOKS: Mutex<Hooks> = Mutex::new(Hooks {
    timer: default_timer,
    legacy_irq: default_legacy_irq,
    user_exception: default_user,
    debug: default_debug,
    fp_unavailable: default_fp_unavailable,
    double_fault: default_double_fault,
    fatal: default_fatal,
});

/// Installs the kernel's trap hooks.
pub fn set_hooks(hooks: Hooks) {
    x86_64::instructions::interrupts::without_interrupts(|| *HOOKS.lock() = hooks);
}

/// Changes the hooks in one step (read, change, write under the lock with
/// interrupts off), so a concurrent installer cannot put back a copy
/// without this change.
pub fn update_hooks(change: impl FnOnce(&mut Hooks)) {
    x86_64::instructions::interrupts::without_interrupts(|| change(&mut HOOKS.lock()));
}

/// The current hooks (copied out, so no lock is held while they run).
pub fn hooks() -> Hooks {
    // Writers mask interrupts, so a trap never finds the lock held by the
    // code it interrupted on this CPU.
    *HOOKS.lock()
}
