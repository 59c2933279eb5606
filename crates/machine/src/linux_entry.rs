//! The Linux generic entry: where every slot of a Linux thread's routine
//! table starts (docs/unix.md).
//!
//! Owns `linux_generic_entry`, the door the `linux_entry_stub` template
//! calls through the table with the user's call number in `rax` and its
//! six arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`. It takes the
//! kernel GS, calls the kernel's handler ([`set_handler`]) with the System
//! V ABI, zeroes every caller-saved register but `rax` (the result) and
//! returns to the stub, which restores the user's argument registers,
//! `rcx`, `r11` and `rsp` itself. Like the native doors it is a private
//! naked function: only its address is exported, as a table value.

use core::sync::atomic::{AtomicUsize, Ordering};

/// The kernel's Linux handler: `(call number, [rdi, rsi, rdx, r10, r8,
/// r9]) -> rax` (a value, or `-errno`).
pub type LinuxHandler = fn(u64, [u64; 6]) -> i64;

static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// `-ENOSYS`, the answer without a handler.
const MINUS_ENOSYS: i64 = -38;

/// Installs the handler the Linux generic entry calls.
pub fn set_handler(handler: LinuxHandler) {
    HANDLER.store(handler as *const () as usize, Ordering::Release);
}

extern "C" fn call_handler(number: u64, args: &[u64; 6]) -> i64 {
    let raw = HANDLER.load(Ordering::Acquire);
    if raw == 0 {
        return MINUS_ENOSYS;
    }
    // SAFETY: HANDLER holds 0 or a LinuxHandler stored by `set_handler`.
    let handler = unsafe { core::mem::transmute::<usize, LinuxHandler>(raw) };
    handler(number, *args)
}

/// Entered by `call` from a Linux entry stub, `rsp` 16-byte aligned,
/// user GS, interrupts off: the six argument registers pushed in order
/// make the `[u64; 6]` the handler gets.
// SAFETY: naked, so no prologue touches the stack before the protocol
// above holds; entered only from a Linux entry stub (its `table` slots),
// which switched to the thread's kernel stack; `swapgs` is paired on the
// one way out.
#[unsafe(naked)]
extern "C" fn linux_generic_entry() {
    core::arch::naked_asm!(
        "swapgs",
        "push r9",
        "push r8",
        "push r10",
        "push rdx",
        "push rsi",
        "push rdi",
        "mov rsi, rsp",
        "mov rdi, rax",
        // Six pushes keep rsp 16-byte aligned: the System V call below.
        "cld",
        "call {handler}",
        "add rsp, 48",
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
