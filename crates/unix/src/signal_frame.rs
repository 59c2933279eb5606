//! The x86-64 signal frame: what a handler finds on its stack, and what
//! `rt_sigreturn` reads back.
//!
//! Owns [`UserRegs`] (the user register snapshot), [`place_frame`] (where
//! the frame goes: below the red zone or on the alternate stack, with room
//! for the FPU state; Linux's `get_sigframe`), [`encode_frame`] (Linux's
//! `struct rt_sigframe`: `pretcode`, `ucontext` with `uc_flags`,
//! `uc_link`, `uc_stack`, `uc_mcontext` = `struct sigcontext`, `uc_sigmask`,
//! then `siginfo`), [`handler_entry`] (the registers the handler starts
//! with) and [`decode_frame`], which checks and sanitizes what user space
//! may have changed: the selectors are forced to the kernel's user ones,
//! `rflags` keeps only the bits a user may set (`FIX_EFLAGS`) with `IF` on,
//! and a `rip` or `rsp` at or above [`USER_END`] is refused. The FPU state
//! itself is the kernel's business; the frame only carries its address.

use crate::sigaltstack::{AltStack, StackT, STACK_T_SIZE};
use crate::siginfo::{SigInfo, SIGINFO_SIZE};
use crate::signal_actions::{put_word, sa, word, SigAction};
use crate::signal_set::SignalSet;
use sk_abi::USER_END;

/// The user registers a signal frame saves and restores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)] // Register names.
pub struct UserRegs {
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rsp: u64,
    pub rip: u64,
    pub rflags: u64,
    pub cs: u16,
    pub ss: u16,
}

/// The kernel's user code and stack selectors (both with RPL 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSelectors {
    cs: u16,
    ss: u16,
}

impl UserSelectors {
    /// The selectors, if both have RPL 3 (user privilege).
    #[must_use]
    pub fn new(cs: u16, ss: u16) -> Option<Self> {
        (cs & 3 == 3 && ss & 3 == 3).then_some(Self { cs, ss })
    }

    /// The code selector.
    #[must_use]
    pub fn cs(self) -> u16 {
        self.cs
    }

    /// The stack selector.
    #[must_use]
    pub fn ss(self) -> u16 {
        self.ss
    }
}

/// `rflags` bits.
pub mod rflags {
    /// Carry.
    pub const CF: u64 = 1 << 0;
    /// Always 1.
    pub const RESERVED1: u64 = 1 << 1;
    /// Parity.
    pub const PF: u64 = 1 << 2;
    /// Adjust.
    pub const AF: u64 = 1 << 4;
    /// Zero.
    pub const ZF: u64 = 1 << 6;
    /// Sign.
    pub const SF: u64 = 1 << 7;
    /// Trap (single step).
    pub const TF: u64 = 1 << 8;
    /// Interrupts enabled.
    pub const IF: u64 = 1 << 9;
    /// Direction.
    pub const DF: u64 = 1 << 10;
    /// Overflow.
    pub const OF: u64 = 1 << 11;
    /// I/O privilege level (two bits).
    pub const IOPL: u64 = 3 << 12;
    /// Nested task.
    pub const NT: u64 = 1 << 14;
    /// Resume.
    pub const RF: u64 = 1 << 16;
    /// Virtual-8086 mode.
    pub const VM: u64 = 1 << 17;
    /// Alignment check.
    pub const AC: u64 = 1 << 18;
    /// Virtual interrupt flag.
    pub const VIF: u64 = 1 << 19;
    /// Virtual interrupt pending.
    pub const VIP: u64 = 1 << 20;
    /// CPUID available.
    pub const ID: u64 = 1 << 21;
    /// What `rt_sigreturn` takes from the frame (Linux's `FIX_EFLAGS`).
    pub const USER_SETTABLE: u64 = AC | OF | DF | TF | SF | ZF | AF | PF | CF | RF;
}

/// Size of `struct rt_sigframe` (without the FPU state).
pub const FRAME_SIZE: usize = 440;
/// Offset of `uc` in the frame.
pub const UC_OFFSET: u64 = 8;
/// Offset of `uc.uc_stack`.
const UC_STACK: usize = 24;
/// Offset of `uc.uc_mcontext`.
const MCONTEXT: usize = 48;
/// Offset of `uc.uc_sigmask`.
const UC_SIGMASK: usize = 304;
/// Offset of `info` in the frame.
const INFO: usize = 312;
/// Offset of `info` in the frame, as an address offset.
pub const INFO_OFFSET: u64 = INFO as u64;
/// The x86-64 red zone below `rsp` that a frame must skip.
pub const RED_ZONE: u64 = 128;
/// `uc_flags`: the frame's `ss` is meaningful, restore it strictly.
pub const UC_FLAGS: u64 = 0x2 | 0x4; // UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS

/// Why no frame could be pushed or popped (the kernel then forces
/// `SIGSEGV`, as Linux does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The action has no `SA_RESTORER` (x86-64 needs one to return).
    #[error("handler without SA_RESTORER")]
    NoRestorer,
    /// The frame would run off the alternate stack, or wrap the address space.
    #[error("no room for the signal frame")]
    NoRoom,
    /// `rt_sigreturn` found a `rip` or `rsp` outside user space.
    #[error("bad signal frame")]
    BadFrame,
}

/// Where a handler's frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FramePlacement {
    /// The frame's address (`rsp` at handler entry; `frame + 8` is 16-byte
    /// aligned, as after a `call`).
    pub frame: u64,
    /// Where the FPU state goes (64-byte aligned, above the frame), or 0 if
    /// `fpstate_size` was 0.
    pub fpstate: u64,
    /// The `uc_stack` to save in the frame.
    pub uc_stack: StackT,
    /// The alternate stack has `SS_AUTODISARM`: disable it
    /// ([`AltStack::disarm`]) once the frame is written.
    pub disarm: bool,
}

/// Chooses the frame's place for a handler with `action`, the thread at
/// `rsp` with alternate stack `altstack`, leaving `fpstate_size` bytes for
/// the FPU state.
///
/// # Errors
/// [`FrameError::NoRestorer`]; [`FrameError::NoRoom`] if the frame would
/// leave the alternate stack or wrap.
pub fn place_frame(
    rsp: u64,
    action: &SigAction,
    altstack: &AltStack,
    fpstate_size: u64,
) -> Result<FramePlacement, FrameError> {
    if action.flags & sa::RESTORER == 0 {
        return Err(FrameError::NoRestorer);
    }
    let nested = altstack.on_stack(rsp);
    let mut sp = rsp.checked_sub(RED_ZONE).ok_or(FrameError::NoRoom)?;
    let mut entering = false;
    if action.flags & sa::ONSTACK != 0 && altstack.current(sp).flags & 3 == 0 {
        let (base, size) = altstack.range().ok_or(FrameError::NoRoom)?;
        sp = base.checked_add(size).ok_or(FrameError::NoRoom)?;
        entering = true;
    }
    let mut fpstate = 0;
    if fpstate_size != 0 {
        sp = sp.checked_sub(fpstate_size).ok_or(FrameError::NoRoom)? & !63;
        fpstate = sp;
    }
    let frame = (sp
        .checked_sub(FRAME_SIZE as u64)
        .and_then(|s| s.checked_add(8))
        .ok_or(FrameError::NoRoom)?
        & !15)
        .checked_sub(8)
        .ok_or(FrameError::NoRoom)?;
    if (nested || entering) && !altstack.contains(frame) {
        return Err(FrameError::NoRoom);
    }
    let uc_stack = altstack.current(rsp);
    Ok(FramePlacement {
        frame,
        fpstate,
        uc_stack,
        disarm: uc_stack.flags & crate::sigaltstack::SS_AUTODISARM != 0,
    })
}

/// Fault details the frame's `sigcontext` reports (0 for other signals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapDetails {
    /// The CPU's error code.
    pub err: u64,
    /// The exception vector.
    pub trapno: u64,
    /// The faulting address (page faults).
    pub cr2: u64,
}

/// Everything that goes into a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameContents {
    /// The interrupted registers.
    pub regs: UserRegs,
    /// The mask to restore (the thread's mask before the handler).
    pub mask: SignalSet,
    /// From [`FramePlacement::uc_stack`].
    pub uc_stack: StackT,
    /// From [`FramePlacement::fpstate`].
    pub fpstate: u64,
    /// Fault details.
    pub trap: TrapDetails,
    /// The signal instance.
    pub info: SigInfo,
    /// The return address (`sa_restorer`).
    pub restorer: u64,
}

/// The 16 general registers in `sigcontext` order.
fn gprs(regs: &UserRegs) -> [u64; 16] {
    [
        regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15, regs.rdi,
        regs.rsi, regs.rbp, regs.rbx, regs.rdx, regs.rax, regs.rcx, regs.rsp,
    ]
}

/// The frame's bytes, to be written at [`FramePlacement::frame`].
#[must_use]
pub fn encode_frame(contents: &FrameContents) -> [u8; FRAME_SIZE] {
    let mut f = [0u8; FRAME_SIZE];
    put_word(&mut f, 0, contents.restorer);
    put_word(&mut f, 8, UC_FLAGS);
    put_word(&mut f, 16, 0); // uc_link
    if let Some(dst) = f.get_mut(UC_STACK..UC_STACK + STACK_T_SIZE) {
        dst.copy_from_slice(&contents.uc_stack.to_wire());
    }
    let regs = &contents.regs;
    let mut at = MCONTEXT;
    for value in gprs(regs).into_iter().chain([regs.rip, regs.rflags]) {
        put_word(&mut f, at, value);
        at += 8;
    }
    // cs, gs, fs, ss as u16s (gs and fs 0: the bases are what count).
    let selectors = u64::from(regs.cs) | (u64::from(regs.ss) << 48);
    put_word(&mut f, MCONTEXT + 144, selectors);
    put_word(&mut f, MCONTEXT + 152, contents.trap.err);
    put_word(&mut f, MCONTEXT + 160, contents.trap.trapno);
    put_word(&mut f, MCONTEXT + 168, contents.mask.bits()); // oldmask
    put_word(&mut f, MCONTEXT + 176, contents.trap.cr2);
    put_word(&mut f, MCONTEXT + 184, contents.fpstate);
    put_word(&mut f, UC_SIGMASK, contents.mask.bits());
    if let Some(dst) = f.get_mut(INFO..INFO + SIGINFO_SIZE) {
        dst.copy_from_slice(&contents.info.to_wire());
    }
    f
}

/// The registers a handler starts with, its frame at `frame`: `rdi` = the
/// signal, `rsi` = `&frame.info`, `rdx` = `&frame.uc`, `rax` = 0, `rsp` =
/// `frame`, `rip` = the handler, `DF`, `TF`, `RF` cleared (Linux's
/// `setup_rt_frame` and `handle_signal`); other registers as interrupted.
#[must_use]
pub fn handler_entry(
    interrupted: &UserRegs,
    frame: u64,
    handler: u64,
    info: &SigInfo,
    selectors: UserSelectors,
) -> UserRegs {
    UserRegs {
        rdi: u64::from(info.signal.number()),
        rsi: frame.wrapping_add(INFO_OFFSET),
        rdx: frame.wrapping_add(UC_OFFSET),
        rax: 0,
        rsp: frame,
        rip: handler,
        rflags: (interrupted.rflags & !(rflags::DF | rflags::TF | rflags::RF))
            | rflags::IF
            | rflags::RESERVED1,
        cs: selectors.cs,
        ss: selectors.ss,
        ..*interrupted
    }
}

/// What `rt_sigreturn` restores. The kernel returns to user mode with
/// these registers as they are (`rax` included: `rt_sigreturn`'s own result
/// must not overwrite it, and it is never restarted as a system call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The registers, sanitized ([`sanitize`]).
    pub regs: UserRegs,
    /// The mask (`SIGKILL`/`SIGSTOP` removed); set it with
    /// [`crate::signal_state::ThreadSignals::set_mask`].
    pub mask: SignalSet,
    /// `uc_stack`: apply with [`AltStack::sigaltstack`], ignoring its
    /// errors (Linux's `restore_altstack` reports only `EFAULT`).
    pub uc_stack: StackT,
    /// Where the FPU state was saved (0: none; reset the FPU).
    pub fpstate: u64,
}

/// Makes `regs` safe to return to user mode with: the user selectors, only
/// user-settable `rflags` bits plus `IF` and the reserved bit.
///
/// # Errors
/// [`FrameError::BadFrame`] if `rip` or `rsp` is at or above [`USER_END`].
pub fn sanitize(regs: &UserRegs, selectors: UserSelectors) -> Result<UserRegs, FrameError> {
    if regs.rip >= USER_END || regs.rsp >= USER_END {
        return Err(FrameError::BadFrame);
    }
    Ok(UserRegs {
        cs: selectors.cs,
        ss: selectors.ss,
        rflags: (regs.rflags & rflags::USER_SETTABLE) | rflags::IF | rflags::RESERVED1,
        ..*regs
    })
}

/// Reads back a frame (the `FRAME_SIZE` bytes at `rsp - 8` when
/// `rt_sigreturn` is called, the handler having returned through
/// `pretcode`).
///
/// # Errors
/// [`FrameError::BadFrame`] (see [`sanitize`]).
pub fn decode_frame(
    frame: &[u8; FRAME_SIZE],
    selectors: UserSelectors,
) -> Result<Restored, FrameError> {
    let mut g = [0u64; 18];
    for (i, slot) in g.iter_mut().enumerate() {
        *slot = word(frame, MCONTEXT + 8 * i);
    }
    let [r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, flags] =
        g;
    let raw = UserRegs {
        r8,
        r9,
        r10,
        r11,
        r12,
        r13,
        r14,
        r15,
        rdi,
        rsi,
        rbp,
        rbx,
        rdx,
        rax,
        rcx,
        rsp,
        rip,
        rflags: flags,
        cs: 0,
        ss: 0,
    };
    let mut stack = [0u8; STACK_T_SIZE];
    if let Some(src) = frame.get(UC_STACK..UC_STACK + STACK_T_SIZE) {
        stack.copy_from_slice(src);
    }
    Ok(Restored {
        regs: sanitize(&raw, selectors)?,
        mask: SignalSet::from_bits(word(frame, UC_SIGMASK)).blockable(),
        uc_stack: StackT::from_wire(&stack),
        fpstate: word(frame, MCONTEXT + 184),
    })
}
