//! One `syscall` with every general register set by us and captured after,
//! from any SCPU.
//!
//! Owns [`Frame`] and [`syscall`]. The naked function loads all 15 general
//! registers but `rsp` from the frame (the call word in `rax`), ORs the
//! frame's extra RFLAGS bits (AC, DF, NT: the kernel must clear them for
//! itself and give them back) into RFLAGS, executes `syscall`, and stores
//! the 16 registers as they came back, RFLAGS at and after the call, `rsp`
//! and the return address. Then it clears DF and AC again before Rust code
//! runs.
//!
//! Unlike `regcheck`'s capture (one static, one thread) the frame is the
//! caller's: its address is pushed on our stack before the loads and read
//! back from there after the `syscall`. A kernel that moved `rsp` would make
//! that read come from the wrong place and the program fault: a broken
//! rule shows either as a failed check or as a killed fuzzer, never as a
//! silent pass.

use sk_user_sysfuzz::regs::Regs;

/// What one captured call loads and sees. Byte offsets are spelled out in
/// the assembly: keep the layout in step.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    /// Offset 0: the values loaded before the `syscall` (`rsp` ignored).
    pub(crate) before: Regs,
    /// Offset 128: the values after it.
    pub(crate) after: Regs,
    /// Offset 256: RFLAGS at the `syscall`.
    pub(crate) flags: u64,
    /// Offset 264: the address after the `syscall`.
    pub(crate) return_address: u64,
    /// Offset 272: `rsp` at the `syscall`.
    pub(crate) rsp: u64,
    /// Offset 280: RFLAGS bits to set for the `syscall` (AC, DF, NT only).
    pub(crate) set_flags: u64,
    /// Offset 288: RFLAGS right after the `syscall`.
    pub(crate) flags_after: u64,
}

impl Frame {
    /// All zero.
    pub(crate) const fn new() -> Self {
        Self {
            before: [0; 16],
            after: [0; 16],
            flags: 0,
            return_address: 0,
            rsp: 0,
            set_flags: 0,
            flags_after: 0,
        }
    }
}

/// The captured `syscall` (see the module docs).
///
/// # Safety
/// Only through [`syscall`].
#[unsafe(naked)]
unsafe extern "C" fn capture(_frame: *mut Frame) {
    core::arch::naked_asm!(
        "push rbx",
        "push rbp",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "push rdi",
        "mov qword ptr [rdi + 272], rsp",
        // RFLAGS for the call: ours with the frame's extra bits.
        "pushfq",
        "mov rax, qword ptr [rdi + 280]",
        "or qword ptr [rsp], rax",
        "popfq",
        "pushfq",
        "pop rax",
        "mov qword ptr [rdi + 256], rax",
        // From here to the `syscall` nothing changes RFLAGS.
        "mov rbx, qword ptr [rdi + 8]",
        "mov rcx, qword ptr [rdi + 16]",
        "mov rdx, qword ptr [rdi + 24]",
        "mov rsi, qword ptr [rdi + 32]",
        "mov rbp, qword ptr [rdi + 48]",
        "mov r8, qword ptr [rdi + 64]",
        "mov r9, qword ptr [rdi + 72]",
        "mov r10, qword ptr [rdi + 80]",
        "mov r11, qword ptr [rdi + 88]",
        "mov r12, qword ptr [rdi + 96]",
        "mov r13, qword ptr [rdi + 104]",
        "mov r14, qword ptr [rdi + 112]",
        "mov r15, qword ptr [rdi + 120]",
        "mov rax, qword ptr [rdi + 0]",
        "mov rdi, qword ptr [rdi + 40]",
        "syscall",
        "2:",
        "push rdi",
        "mov rdi, qword ptr [rsp + 8]",
        "mov qword ptr [rdi + 128], rax",
        "mov qword ptr [rdi + 136], rbx",
        "mov qword ptr [rdi + 144], rcx",
        "mov qword ptr [rdi + 152], rdx",
        "mov qword ptr [rdi + 160], rsi",
        "mov qword ptr [rdi + 176], rbp",
        "mov qword ptr [rdi + 192], r8",
        "mov qword ptr [rdi + 200], r9",
        "mov qword ptr [rdi + 208], r10",
        "mov qword ptr [rdi + 216], r11",
        "mov qword ptr [rdi + 224], r12",
        "mov qword ptr [rdi + 232], r13",
        "mov qword ptr [rdi + 240], r14",
        "mov qword ptr [rdi + 248], r15",
        "pushfq",
        "pop rax",
        "mov qword ptr [rdi + 288], rax",
        "pop rax",
        "mov qword ptr [rdi + 168], rax",
        "mov qword ptr [rdi + 184], rsp",
        // Back to the flags Rust code expects: DF, AC and NT clear.
        "cld",
        "pushfq",
        "and qword ptr [rsp], {keep}",
        "popfq",
        "lea rax, [rip + 2b]",
        "mov qword ptr [rdi + 264], rax",
        "pop rdi",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbp",
        "pop rbx",
        "ret",
        keep = const !((1_i32 << 18) | (1 << 14)),
    )
}

/// Makes one `syscall` with the registers in `frame.before` and the extra
/// RFLAGS bits in `frame.set_flags`, and fills the rest of the frame.
///
/// # Safety
/// Whatever the kernel does with these registers must not break Rust's
/// rules: pointer arguments must be buffers the caller owns (for the
/// kernel to read or write as the call says) or addresses where no Rust
/// object lies; the call must not unmap or re-protect memory Rust uses,
/// nor start code other than an `extern "C" fn(u64) -> !` on a stack of
/// its own. `set_flags` holds only AC, DF and NT.
pub(crate) unsafe fn syscall(frame: &mut Frame) {
    // SAFETY: the naked function saves and restores our callee-saved
    // registers and `rsp` itself, writes only the frame (through the
    // pointer it pushed), and leaves RFLAGS as Rust expects; the caller
    // vouches for the call's effects.
    unsafe { capture(frame) }
}
