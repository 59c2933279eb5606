//! The Linux generic entry: where every slot of a Linux thread's routine
//! table starts (docs/unix.md).
//!
//! Owns `linux_generic_entry`, the door the `linux_entry_stub` template
//! calls through the table with the user's call number in `rax` and its
//! six arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`. It takes the
//! kernel GS, saves the callee-saved registers so that with the stub's
//! pushes they make a [`LinuxCallFrame`], calls the kernel's handler
//! ([`set_handler`]) with the System V ABI, zeroes every caller-saved
//! register but `rax` (the result) and returns to the stub, which restores
//! the user's argument registers, `rcx`, `r11` and `rsp` itself. A handler
//! that replaced the caller's state (a signal handler's entry,
//! `rt_sigreturn`) gets the other way out: every register from the frame
//! and `iretq`, bypassing the stub's `sysretq` (which could not give `rcx`
//! and `r11` their values). Like the native doors it is a private naked
//! function: only its address is exported, as a table value.

use crate::gdt::{USER_CS, USER_DS};
use crate::user_regs::{NotUserState, UserRegisters};
use core::sync::atomic::{AtomicUsize, Ordering};

/// The kernel's Linux handler: `(call number, the caller's frame) -> rax`
/// (a value, or `-errno`). The frame's arguments are `rdi`, `rsi`, `rdx`,
/// `r10`, `r8`, `r9`; a handler that calls
/// [`LinuxCallFrame::set_user_registers`] makes the call return to that
/// state instead (every register, `rax` included: the result is then
/// ignored).
pub type LinuxHandler = fn(u64, &mut LinuxCallFrame) -> i64;

/// The caller's state as the `linux_entry_stub` and the generic entry
/// saved it on the thread's kernel stack (lowest address first). Layout
/// shared with the assembly below and the stub template.
#[repr(C)]
#[derive(Debug)]
pub struct LinuxCallFrame {
    /// Nonzero: return with `iretq`, every register from this frame.
    full_return: u64,
    rax: u64,
    rcx: u64,
    r11: u64,
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    rbp: u64,
    rbx: u64,
    #[allow(dead_code)] // The stub's return address: layout only.
    stub_return: u64,
    r9: u64,
    r8: u64,
    r10: u64,
    rdx: u64,
    rsi: u64,
    rdi: u64,
    /// `r11` at `syscall`.
    rflags: u64,
    /// `rcx` at `syscall`.
    rip: u64,
    rsp: u64,
}

impl LinuxCallFrame {
    /// The six argument registers.
    pub fn args(&self) -> [u64; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9]
    }

    /// The caller's registers as a return with `rax` would leave them
    /// (`rcx` and `r11` are what `syscall` put there).
    pub fn user_registers(&self, rax: u64) -> UserRegisters {
        UserRegisters {
            rax,
            // `syscall` left the return `rip` and `rflags` in them.
            rcx: self.rip,
            r11: self.rflags,
            ..crate::user_regs::frame_user_registers!(load self)
        }
    }

    /// Makes the call return to `regs` (checked as
    /// [`UserRegisters::checked`]) through `iretq`, so `rcx` and `r11` too
    /// are `regs`'s.
    ///
    /// # Errors
    /// [`NotUserState`]; the frame is then unchanged.
    pub fn set_user_registers(&mut self, regs: &UserRegisters) -> Result<(), NotUserState> {
        let r = regs.checked()?;
        self.full_return = 1;
        crate::user_regs::frame_user_registers!(store self, r);
        Ok(())
    }
}

static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// `-ENOSYS`, the answer without a handler.
const MINUS_ENOSYS: i64 = -38;

/// Installs the handler the Linux generic entry calls.
pub fn set_handler(handler: LinuxHandler) {
    HANDLER.store(handler as *const () as usize, Ordering::Release);
}

extern "C" fn call_handler(number: u64, frame: *mut LinuxCallFrame) -> i64 {
    let raw = HANDLER.load(Ordering::Acquire);
    if raw == 0 {
        return MINUS_ENOSYS;
    }
    // SAFETY: HANDLER holds 0 or a LinuxHandler stored by `set_handler`.
    let handler = unsafe { core::mem::transmute::<usize, LinuxHandler>(raw) };
    // SAFETY: `frame` is the generic entry's `rsp`: a LinuxCallFrame it and
    // the stub pushed on this thread's kernel stack, live and aligned until
    // this returns, and nothing else refers to it meanwhile.
    let frame = unsafe { &mut *frame };
    handler(number, frame)
}

/// Entered by `call` from a Linux entry stub, `rsp` 16-byte aligned,
/// user GS, interrupts off: with the stub's pushes above the return
/// address, the pushes here complete a [`LinuxCallFrame`].
// SAFETY: naked, so no prologue touches the stack before the protocol
// above holds; entered only from a Linux entry stub (its `table` slots),
// which switched to the thread's kernel stack; `swapgs` is paired on both
// ways out. The full return's `iretq` frame takes the stub's five top
// slots (kernel_stack_top - 40 ..): their values are in registers first.
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
        "push 0", // r11
        "push 0", // rcx
        "push 0", // rax
        "push 0", // full_return
        // Ten pushes keep rsp 16-byte aligned: the System V call below.
        "mov rsi, rsp",
        "mov rdi, rax",
        "cld",
        "call {handler}",
        "cmp qword ptr [rsp], 0",
        "jne 2f",
        "add rsp, 32",
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
        // Full return (set_user_registers: checked there).
        "2:",
        "mov rax, [rsp + 8]",
        "mov r15, [rsp + 32]",
        "mov r14, [rsp + 40]",
        "mov r13, [rsp + 48]",
        "mov r12, [rsp + 56]",
        "mov rbp, [rsp + 64]",
        "mov rbx, [rsp + 72]",
        "mov r9, [rsp + 88]",
        "mov r8, [rsp + 96]",
        "mov r10, [rsp + 104]",
        "mov rdx, [rsp + 112]",
        "mov rsi, [rsp + 120]",
        "mov rdi, [rsp + 128]",
        "mov rcx, [rsp + 144]", // rip
        "mov r11, [rsp + 152]", // rsp
        "mov [rsp + 120], rcx",
        "mov qword ptr [rsp + 128], {user_cs}",
        // [rsp + 136]: rflags, in place.
        "mov [rsp + 144], r11",
        "mov qword ptr [rsp + 152], {user_ss}",
        "mov rcx, [rsp + 16]",
        "mov r11, [rsp + 24]",
        "add rsp, 120",
        "swapgs",
        "iretq",
        handler = sym call_handler,
        user_cs = const USER_CS as i32,
        user_ss = const USER_DS as i32,
    );
}

/// Address of the Linux generic entry (every slot of a new Linux table).
pub fn generic_entry_address() -> u64 {
    linux_generic_entry as *const () as u64
}
