//! One `syscall` with every general register set by us and captured after.
//!
//! Owns [`syscall_capture`]: loads all 15 general registers but `rsp` from
//! [`Regs`] (the call word in `rax`), executes `syscall`, stores all 16
//! general registers as they came back, plus RFLAGS as they were at the
//! `syscall`, `rsp` before it and the address of the instruction after it
//! (what `rcx` and `r11` must hold). `rbx`, `rbp` and `r12`–`r15` cannot be
//! `asm!` operands, so the whole sequence is one naked function that saves
//! the caller's callee-saved registers itself and reaches its data by
//! RIP-relative addressing (no register is needed to find it after the
//! call, so a kernel that breaks any register cannot make us write through
//! it). With `traced`, RFLAGS.TF is set just before the `syscall`, as the
//! kernel's single-step counter needs (crates/core/src/trace.rs).
//!
//! The data lives in one static: the program calls this from one thread
//! only (its other SCPUs never make a captured call).

use core::cell::UnsafeCell;

/// Register order in [`Regs`]: the index of each register.
pub(crate) const RAX: usize = 0;
pub(crate) const RBX: usize = 1;
pub(crate) const RCX: usize = 2;
pub(crate) const RDX: usize = 3;
pub(crate) const RSI: usize = 4;
pub(crate) const RDI: usize = 5;
pub(crate) const RBP: usize = 6;
pub(crate) const RSP: usize = 7;
pub(crate) const R8: usize = 8;
pub(crate) const R9: usize = 9;
pub(crate) const R10: usize = 10;
pub(crate) const R11: usize = 11;
pub(crate) const R12: usize = 12;
pub(crate) const R13: usize = 13;
pub(crate) const R14: usize = 14;
pub(crate) const R15: usize = 15;

/// Register names, by index.
pub(crate) const NAMES: [&str; 16] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

/// The 16 general registers, in the order of the constants above.
pub(crate) type Regs = [u64; 16];

/// RFLAGS.TF.
#[allow(dead_code)]
pub(crate) const TRAP_FLAG: u64 = 1 << 8;

/// What one captured call saw.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)]
pub(crate) struct Capture {
    /// Every register after the `syscall`.
    pub(crate) after: Regs,
    /// RFLAGS at the `syscall` (TF included when traced).
    pub(crate) flags: u64,
    /// `rsp` at the `syscall`.
    pub(crate) rsp: u64,
    /// Address of the instruction after the `syscall`.
    pub(crate) return_address: u64,
}

/// The static the naked functions read and write. Byte offsets are
/// spelled out in the assembly: keep [`State`]'s layout in step.
#[repr(C)]
struct State {
    /// Offset 0: the values loaded before the `syscall` (`rsp` ignored).
    before: Regs,
    /// Offset 128: the values after it.
    after: Regs,
    /// Offset 256: RFLAGS as `pushfq` saw them just before the loads.
    flags: u64,
    /// Offset 264: the address after the `syscall`.
    return_address: u64,
    /// Offset 272: our `rsp` (also the `rsp` at the `syscall`).
    rsp: u64,
}

struct Shared(UnsafeCell<State>);

// SAFETY: only the program's main thread calls `syscall_capture` (module
// docs), so the cell is never accessed concurrently.
unsafe impl Sync for Shared {}

static STATE: Shared = Shared(UnsafeCell::new(State {
    before: [0; 16],
    after: [0; 16],
    flags: 0,
    return_address: 0,
    rsp: 0,
}));

/// The body of both naked functions; `$trace` are the instructions
/// between the register loads and the `syscall`.
macro_rules! capture_body {
    ($($trace:literal),*) => {
        core::arch::naked_asm!(
            "push rbx",
            "push rbp",
            "push r12",
            "push r13",
            "push r14",
            "push r15",
            "mov qword ptr [rip + {state} + 272], rsp",
            "pushfq",
            "pop rax",
            "mov qword ptr [rip + {state} + 256], rax",
            // From here to the `syscall` nothing changes RFLAGS (but
            // `$trace`, which restores them with TF added).
            "mov rbx, qword ptr [rip + {state} + 8]",
            "mov rcx, qword ptr [rip + {state} + 16]",
            "mov rdx, qword ptr [rip + {state} + 24]",
            "mov rsi, qword ptr [rip + {state} + 32]",
            "mov rdi, qword ptr [rip + {state} + 40]",
            "mov rbp, qword ptr [rip + {state} + 48]",
            "mov r8, qword ptr [rip + {state} + 64]",
            "mov r9, qword ptr [rip + {state} + 72]",
            "mov r10, qword ptr [rip + {state} + 80]",
            "mov r11, qword ptr [rip + {state} + 88]",
            "mov r12, qword ptr [rip + {state} + 96]",
            "mov r13, qword ptr [rip + {state} + 104]",
            "mov r14, qword ptr [rip + {state} + 112]",
            "mov r15, qword ptr [rip + {state} + 120]",
            "mov rax, qword ptr [rip + {state} + 0]",
            $($trace,)*
            "syscall",
            "2:",
            "mov qword ptr [rip + {state} + 128], rax",
            "mov qword ptr [rip + {state} + 136], rbx",
            "mov qword ptr [rip + {state} + 144], rcx",
            "mov qword ptr [rip + {state} + 152], rdx",
            "mov qword ptr [rip + {state} + 160], rsi",
            "mov qword ptr [rip + {state} + 168], rdi",
            "mov qword ptr [rip + {state} + 176], rbp",
            "mov qword ptr [rip + {state} + 184], rsp",
            "mov qword ptr [rip + {state} + 192], r8",
            "mov qword ptr [rip + {state} + 200], r9",
            "mov qword ptr [rip + {state} + 208], r10",
            "mov qword ptr [rip + {state} + 216], r11",
            "mov qword ptr [rip + {state} + 224], r12",
            "mov qword ptr [rip + {state} + 232], r13",
            "mov qword ptr [rip + {state} + 240], r14",
            "mov qword ptr [rip + {state} + 248], r15",
            "mov rsp, qword ptr [rip + {state} + 272]",
            "lea rax, [rip + 2b]",
            "mov qword ptr [rip + {state} + 264], rax",
            "pop r15",
            "pop r14",
            "pop r13",
            "pop r12",
            "pop rbp",
            "pop rbx",
            "ret",
            state = sym STATE,
        )
    };
}

/// The captured `syscall`, RFLAGS as they are.
///
/// # Safety
/// Only through [`syscall_capture`], which fills the state first.
#[unsafe(naked)]
unsafe extern "C" fn capture_plain() {
    capture_body!()
}

/// The captured `syscall` with RFLAGS.TF set on it (and only on it: TF
/// takes effect after the instruction following `popfq`, the `syscall`).
///
/// # Safety
/// As for [`capture_plain`].
#[unsafe(naked)]
unsafe extern "C" fn capture_traced() {
    capture_body!("pushfq", "or qword ptr [rsp], 0x100", "popfq")
}

/// Makes one `syscall` with every register from `before` (`rax` = call
/// word, `rsp` ignored) and returns what came back.
///
/// # Safety
/// Whatever the kernel does with these registers must not break Rust's
/// rules: pointer arguments must be live buffers of the caller (for the
/// kernel to read or write as the call says) or addresses where no Rust
/// object lies; the call must not unmap or re-protect memory Rust uses,
/// nor start code other than an `extern "C" fn(u64) -> !`.
pub(crate) unsafe fn syscall_capture(before: &Regs, traced: bool) -> Capture {
    let state = STATE.0.get();
    // SAFETY: single-threaded use (module docs); the pointer is the
    // static's own; volatile so the store is not moved past the call.
    unsafe { core::ptr::addr_of_mut!((*state).before).write_volatile(*before) };
    // SAFETY: the state holds the registers to load; the caller vouches
    // for the call's effects; the naked functions restore our callee-saved
    // registers and `rsp` from their own saves, whatever the kernel left.
    unsafe {
        if traced {
            capture_traced();
        } else {
            capture_plain();
        }
    }
    // SAFETY: as above; the naked function has returned, so it no longer
    // writes the state.
    unsafe {
        Capture {
            after: core::ptr::addr_of!((*state).after).read_volatile(),
            flags: core::ptr::addr_of!((*state).flags).read_volatile(),
            rsp: core::ptr::addr_of!((*state).rsp).read_volatile(),
            return_address: core::ptr::addr_of!((*state).return_address).read_volatile(),
        }
    }
}
