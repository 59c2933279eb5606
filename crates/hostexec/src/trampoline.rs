//! The naked trampoline that enters generated code with the routine convention.
//!
//! Owns [`Frame`] and [`enter`]. Kernel routines are entered by the entry
//! stub's `call` with arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8` (and the
//! index in `rax`), return in `rax`, and must preserve `rbx`, `rbp`,
//! `r12`–`r15` — not the System V convention, hence this shim. Used only by
//! the fork child in [`crate::Sandbox::call`].

/// Register image loaded before the call and stored back after it.
///
/// Offsets are part of the trampoline below; keep them in sync.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) rax: u64, // 0
    pub(crate) rdi: u64, // 8
    pub(crate) rsi: u64, // 16
    pub(crate) rdx: u64, // 24
    pub(crate) r10: u64, // 32
    pub(crate) r8: u64,  // 40
    pub(crate) r9: u64,  // 48
    pub(crate) rbx: u64, // 56
    pub(crate) rbp: u64, // 64
    pub(crate) r12: u64, // 72
    pub(crate) r13: u64, // 80
    pub(crate) r14: u64, // 88
    pub(crate) r15: u64, // 96
}

/// Loads `frame` into the registers, `call`s `entry`, stores `rax` and the
/// callee-saved registers back into `frame`, and returns (System V).
///
/// # Safety
///
/// `frame` must be valid for reads and writes. `entry` must be code that
/// follows the routine convention (returns with `ret`, balanced stack,
/// `DF` clear) and whose every memory access is valid; anything else is
/// undefined behaviour in the calling process (so only a fork child calls this).
#[unsafe(naked)]
pub(crate) unsafe extern "sysv64" fn enter(frame: *mut Frame, entry: u64) {
    core::arch::naked_asm!(
        // Save the System V callee-saved registers and the frame pointer.
        // 7 pushes after the return address leave rsp 16-byte aligned, so the
        // routine sees the usual `rsp % 16 == 8` at its first instruction.
        "push rbx",
        "push rbp",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "push rdi",
        "mov r11, rsi",
        "mov rbx, [rdi + 56]",
        "mov rbp, [rdi + 64]",
        "mov r12, [rdi + 72]",
        "mov r13, [rdi + 80]",
        "mov r14, [rdi + 88]",
        "mov r15, [rdi + 96]",
        "mov rax, [rdi + 0]",
        "mov rsi, [rdi + 16]",
        "mov rdx, [rdi + 24]",
        "mov r10, [rdi + 32]",
        "mov r8, [rdi + 40]",
        "mov r9, [rdi + 48]",
        "mov rdi, [rdi + 8]",
        "call r11",
        "mov r11, [rsp]",
        "mov [r11 + 0], rax",
        "mov [r11 + 56], rbx",
        "mov [r11 + 64], rbp",
        "mov [r11 + 72], r12",
        "mov [r11 + 80], r13",
        "mov [r11 + 88], r14",
        "mov [r11 + 96], r15",
        "pop r11",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbp",
        "pop rbx",
        "ret",
    )
}
