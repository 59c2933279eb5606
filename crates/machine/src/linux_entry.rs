//! The Linux generic entry: where every slot of a Linux thread's routine
//! table starts (docs/unix.md).
//!
//! Owns `linux_generic_entry`, the door the `linux_entry_stub` template
//! calls through the table with the user's call number in `rax` and its
//! six arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`. It takes the
//! kernel GS, pushes the callee-saved registers, calls the kernel's
//! handler ([`set_handler`]) with every user register as a
//! [`SyscallFrame`] (the stub's pushes and its own, [`EntryFrame`]), pops
//! the callee-saved registers, zeroes every caller-saved register but
//! `rax` (the result) and returns to the stub, which restores the user's
//! argument registers, `rcx`, `r11` and `rsp` itself. A handler may
//! change any register of the frame (`fork`'s child, `execve`'s new
//! image): the return address is checked to be a user address and RFLAGS
//! reduced to user flags, as the generic `syscall` entry does. Like the
//! native doors it is a private naked function: only its address is
//! exported, as a table value.

use crate::syscall::SyscallFrame;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The kernel's Linux handler: the user registers at the call, `rax` the
/// call number on entry and the result (a value, or `-errno`) on return.
pub type LinuxHandler = fn(&mut SyscallFrame);

/// The kernel stack at the handler's call, lowest address first: the
/// generic entry's pushes, its return address into the stub, the stub's
/// pushes (`linux_entry_stub`'s order reversed).
#[repr(C)]
struct EntryFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    rbp: u64,
    rbx: u64,
    return_to_stub: u64,
    r9: u64,
    r8: u64,
    r10: u64,
    rdx: u64,
    rsi: u64,
    rdi: u64,
    r11: u64,
    rcx: u64,
    rsp: u64,
}

static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// `-ENOSYS`, the answer without a handler.
const MINUS_ENOSYS: i64 = -38;

/// Installs the handler the Linux generic entry calls.
pub fn set_handler(handler: LinuxHandler) {
    HANDLER.store(handler as *const () as usize, Ordering::Release);
}

extern "C" fn call_handler(number: u64, frame: &mut EntryFrame) -> i64 {
    let raw = HANDLER.load(Ordering::Acquire);
    if raw == 0 {
        return MINUS_ENOSYS;
    }
    // SAFETY: HANDLER holds 0 or a LinuxHandler stored by `set_handler`.
    let handler = unsafe { core::mem::transmute::<usize, LinuxHandler>(raw) };
    let mut regs = SyscallFrame {
        r9: frame.r9,
        r8: frame.r8,
        r10: frame.r10,
        rdx: frame.rdx,
        rsi: frame.rsi,
        rdi: frame.rdi,
        rax: number,
        rbx: frame.rbx,
        rbp: frame.rbp,
        r12: frame.r12,
        r13: frame.r13,
        r14: frame.r14,
        r15: frame.r15,
        rip: frame.rcx,
        rflags: frame.r11,
        rsp: frame.rsp,
    };
    handler(&mut regs);
    crate::syscall::check_return(&mut regs);
    frame.r9 = regs.r9;
    frame.r8 = regs.r8;
    frame.r10 = regs.r10;
    frame.rdx = regs.rdx;
    frame.rsi = regs.rsi;
    frame.rdi = regs.rdi;
    frame.rbx = regs.rbx;
    frame.rbp = regs.rbp;
    frame.r12 = regs.r12;
    frame.r13 = regs.r13;
    frame.r14 = regs.r14;
    frame.r15 = regs.r15;
    frame.rcx = regs.rip;
    frame.r11 = regs.rflags;
    frame.rsp = regs.rsp;
    regs.rax as i64
}

/// Entered by `call` from a Linux entry stub, `rsp` 16-byte aligned,
/// user GS, interrupts off: the six callee-saved registers pushed here
/// below the stub's pushes make the [`EntryFrame`] the handler gets; they
/// are popped back afterwards (a handler may have changed them).
// SAFETY: naked, so no prologue touches the stack before the protocol
// above holds; entered only from a Linux entry stub (its `table` slots),
// which switched to the thread's kernel stack; `swapgs` is paired on the
// one way out.
#[unsafe(naked)]
extern "C" fn linux_generic_entry() {
    core::arch::naked_asm!(
        "swapgs",
        "push rbx",
        "push rbp",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "mov rsi, rsp",
        "mov rdi, rax",
        // Six pushes keep rsp 16-byte aligned: the System V call below.
        "cld",
        "call {handler}",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbp",
        "pop rbx",
        // The handler may leave kernel addresses in any caller-saved
        // register: none may reach the stub (which restores the argument
        // registers, rcx and r11 anyway).
        "xor edi, edi",
        "xor esi, esi",
        "xor edx, edx",
        "xor ecx, ecx",
        "xor r8d, r8d",
        "xor r9d, r9d",
        "xor r10d, r10d",
        "xor r11d, r11d",
        "swapgs",
        "ret",
        handler = sym call_handler,
    );
}

/// Address of the Linux generic entry (every slot of a new Linux table).
pub fn generic_entry_address() -> u64 {
    linux_generic_entry as *const () as u64
}
