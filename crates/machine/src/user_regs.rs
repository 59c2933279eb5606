//! The user-mode register state a return to ring 3 resumes, as one value
//! every entry path can hand to the kernel and take back (Linux signal
//! delivery and `rt_sigreturn`, docs/unix.md).
//!
//! Owns [`UserRegisters`], the one rule for what a return to user mode may
//! load ([`UserRegisters::checked`]: `rip` and `rsp` in the user half, only
//! user RFLAGS bits, the user selectors), and the user-return hook
//! ([`set_user_return_hook`]) that the trap path calls on every timer
//! interrupt and user exception that returns to ring 3. The Linux entry's
//! frame (`linux_entry::LinuxCallFrame`), the generic entry's
//! `SyscallFrame` and the trap path's `TrapFrame` convert to and from it,
//! so the kernel never writes a frame field by itself.

use crate::gdt::{USER_CS, USER_DS};
use crate::layout::USER_END;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Every general register, `rip` and `rflags` of a thread in user mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct UserRegisters {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub rsp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rip: u64,
    pub rflags: u64,
}

/// A register state no return to user mode may load (`rip` or `rsp` outside
/// the user half).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotUserState;

impl UserRegisters {
    /// The state as a return to user mode may load it: `rflags` reduced to
    /// the bits ring 3 can set itself plus IF and the reserved bit.
    ///
    /// # Errors
    /// [`NotUserState`] if `rip` or `rsp` is at or above `USER_END` (a
    /// kernel or non-canonical address: `sysretq` would fault in ring 0,
    /// `iretq` would leave a kernel address on a user stack).
    pub fn checked(&self) -> Result<Self, NotUserState> {
        if self.rip >= USER_END || self.rsp >= USER_END {
            return Err(NotUserState);
        }
        Ok(Self {
            rflags: crate::syscall::user_rflags(self.rflags),
            ..*self
        })
    }
}

/// The user registers of a frame whose fields have the registers' names
/// (the trap, `syscall` and Linux entry frames): read as a
/// [`UserRegisters`], or every one stored from one.
macro_rules! frame_user_registers {
    (load $frame:expr) => {
        $crate::user_regs::UserRegisters {
            rax: $frame.rax,
            rbx: $frame.rbx,
            rcx: $frame.rcx,
            rdx: $frame.rdx,
            rsi: $frame.rsi,
            rdi: $frame.rdi,
            rbp: $frame.rbp,
            rsp: $frame.rsp,
            r8: $frame.r8,
            r9: $frame.r9,
            r10: $frame.r10,
            r11: $frame.r11,
            r12: $frame.r12,
            r13: $frame.r13,
            r14: $frame.r14,
            r15: $frame.r15,
            rip: $frame.rip,
            rflags: $frame.rflags,
        }
    };
    (store $frame:expr, $r:expr) => {{
        let r = $r;
        $frame.rax = r.rax;
        $frame.rbx = r.rbx;
        $frame.rcx = r.rcx;
        $frame.rdx = r.rdx;
        $frame.rsi = r.rsi;
        $frame.rdi = r.rdi;
        $frame.rbp = r.rbp;
        $frame.rsp = r.rsp;
        $frame.r8 = r.r8;
        $frame.r9 = r.r9;
        $frame.r10 = r.r10;
        $frame.r11 = r.r11;
        $frame.r12 = r.r12;
        $frame.r13 = r.r13;
        $frame.r14 = r.r14;
        $frame.r15 = r.r15;
        $frame.rip = r.rip;
        $frame.rflags = r.rflags;
    }};
}
pub(crate) use frame_user_registers;

/// The user code and stack selectors (`cs`, `ss`) every return loads.
pub fn user_selectors() -> (u16, u16) {
    (USER_CS, USER_DS)
}

impl crate::traps::TrapFrame {
    /// The interrupted user state (meaningful when `from_user()`).
    pub fn user_registers(&self) -> UserRegisters {
        frame_user_registers!(load self)
    }

    /// Makes the trap return to `regs` in ring 3 (user selectors, checked
    /// as [`UserRegisters::checked`]); a frame that did not come from user
    /// mode is left alone.
    ///
    /// # Errors
    /// [`NotUserState`]; the frame is then unchanged.
    pub fn set_user_registers(&mut self, regs: &UserRegisters) -> Result<(), NotUserState> {
        if !self.from_user() {
            return Err(NotUserState);
        }
        let r = regs.checked()?;
        frame_user_registers!(store self, r);
        self.cs = u64::from(USER_CS);
        self.ss = u64::from(USER_DS);
        Ok(())
    }
}

impl crate::syscall::SyscallFrame {
    /// The caller's user state; `rcx` and `r11` are what `syscall` left
    /// there (the return `rip` and `rflags`).
    pub fn user_registers(&self) -> UserRegisters {
        frame_user_registers!(load self)
    }

    /// Makes the call return to `regs` (through `iretq` when `rcx` or
    /// `r11` differ from `rip` or `rflags`).
    ///
    /// # Errors
    /// [`NotUserState`]; the frame is then unchanged.
    pub fn set_user_registers(&mut self, regs: &UserRegisters) -> Result<(), NotUserState> {
        let r = regs.checked()?;
        frame_user_registers!(store self, r);
        Ok(())
    }
}

/// What the kernel does before a trap returns to user mode: may replace
/// the registers (a signal handler's entry); they are applied only if
/// [`UserRegisters::checked`] accepts them.
pub type UserReturnHook = fn(&mut UserRegisters, &TrapCause);

/// Why the trap path is returning to user mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrapCause {
    /// The vector (32: the timer; < 32: the user exception just handled).
    pub vector: u64,
    /// The CPU's error code (0 if none).
    pub error_code: u64,
}

static USER_RETURN: AtomicUsize = AtomicUsize::new(0);

/// Installs the user-return hook (see [`UserReturnHook`]).
pub fn set_user_return_hook(hook: UserReturnHook) {
    USER_RETURN.store(hook as *const () as usize, Ordering::Release);
}

/// Runs the user-return hook on a frame about to return to ring 3 (the
/// timer, a user exception the kernel survived). NMIs, machine checks and
/// the debug traps never come here (docs/caveats.md). Never inlined: a
/// timer interrupt of deep kernel code runs `trap_dispatch` on that
/// code's stack, whose frame must stay small.
#[inline(never)]
pub(crate) fn on_trap_return(frame: &mut crate::traps::TrapFrame) {
    let raw = USER_RETURN.load(Ordering::Acquire);
    if raw == 0 || !frame.from_user() {
        return;
    }
    // SAFETY: USER_RETURN holds 0 or a UserReturnHook stored by the setter.
    let hook = unsafe { core::mem::transmute::<usize, UserReturnHook>(raw) };
    let before = frame.user_registers();
    let mut regs = before;
    let cause = TrapCause {
        vector: frame.vector,
        error_code: frame.error_code,
    };
    hook(&mut regs, &cause);
    if regs != before {
        // A refused state leaves the frame as it was (the kernel checks
        // first; this is the mechanism's own guard).
        let _ = frame.set_user_registers(&regs);
    }
}
