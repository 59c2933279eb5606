//! The doors between synthesized code and the generic path.
//!
//! Owns `generic_entry`: the address a synthesized generic trampoline
//! jumps to (with `eax` = handle, `r9d` = op and the user's arguments), and
//! `slow_path_entry`, where a per-thread entry stub sends call words it
//! cannot index (out of range, or flagged to force the generic path). Both
//! switch to the kernel GS (the stub does not), call the kernel's handler
//! with the System V ABI, zero the argument registers the handler may have
//! left kernel values in, and return to the stub, which returns to user
//! mode. Also owns `LSTAR` switching for per-thread stubs.
//!
//! The doors are private naked functions: only their addresses are
//! exported ([`generic_entry_address`], [`slow_path_address`]), as hole
//! values for generated code; calling one from Rust would run an entry
//! protocol on a Rust stack. Pointing the CPU at a stub is `unsafe`
//! ([`set_entry_stub_lstar`], [`set_entry_stub_slot`]): it is where the
//! kernel vouches for generated code and everything it trusts.

use core::sync::atomic::{AtomicUsize, Ordering};

/// The kernel's handler for calls arriving from synthesized code:
/// `(call word, rdi, rsi, rdx, r10, r8) -> rax`.
pub type GenericHandler = extern "C" fn(u64, u64, u64, u64, u64, u64) -> i64;

static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler both doors call.
pub fn set_handler(handler: GenericHandler) {
    HANDLER.store(handler as *const () as usize, Ordering::Release);
}

extern "C" fn call_handler(word: u64, a0: u64, a1: u64, a2: u64, a3: u64, a4: u64) -> i64 {
    let raw = HANDLER.load(Ordering::Acquire);
    if raw == 0 {
        return -1;
    }
    // SAFETY: HANDLER holds 0 or a GenericHandler stored by `set_handler`.
    let handler = unsafe { core::mem::transmute::<usize, GenericHandler>(raw) };
    handler(word, a0, a1, a2, a3, a4)
}

/// Entry of generic trampolines: `eax` = handle, `r9d` = op.
#[unsafe(naked)]
extern "C" fn generic_entry() {
    core::arch::naked_asm!(
        "shl rax, 3",
        "or rax, r9",
        "jmp {common}",
        common = sym slow_path_entry,
    );
}

/// Entry for a full call word in `rax` (stub's out-of-range path).
///
/// Returns like a synthesized routine: the result in `rax`, `rdi`, `rsi`,
/// `rdx`, `r8` and `r10` zero, anything in `rcx`, `r9` and `r11` (the stub
/// restores or zeroes those), callee-saved registers preserved.
#[unsafe(naked)]
extern "C" fn slow_path_entry() {
    core::arch::naked_asm!(
        "swapgs",
        "mov r9, r8",
        "mov r8, r10",
        "mov rcx, rdx",
        "mov rdx, rsi",
        "mov rsi, rdi",
        "mov rdi, rax",
        // The stub enters routines with rsp 16-byte aligned, so this call
        // leaves it as the System V ABI expects.
        "call {handler}",
        // The handler may leave kernel stack and heap addresses in every
        // caller-saved register. rcx and r11 are restored by the stub (it
        // pops them) and the stub zeroes r9 after every call: zero the rest,
        // so no kernel value reaches user mode (the routine contract of
        // crates/synth/templates/taint.rs; user/regcheck checks it).
        "xor edi, edi",
        "xor esi, esi",
        "xor edx, edx",
        "xor r8d, r8d",
        "xor r10d, r10d",
        "swapgs",
        "ret",
        handler = sym call_handler,
    );
}

/// The door of stackless routines' long calls (their `slow_path` hole):
/// reached by `jmp` on the user's stack with the call word in `rax`, the
/// arguments, `rcx` (user `rip`) and `r11` (user `rflags`) as the entry
/// stub left them. Switches to the thread's kernel stack (the per-CPU
/// `syscall_stack_top`, which the switch keeps equal to the running
/// thread's, the value its stub bakes in), pushes the user `rsp`, `rcx`
/// and `r11` as the stub's door does, calls [`slow_path_entry`], zeroes
/// `r9`, pops and `sysretq`s. The kernel GS is borrowed (two `swapgs`)
/// only to reach the per-CPU block; interrupts stay masked throughout.
// SAFETY: reached only by `jmp` from installed stackless routines, in the
// syscall entry state (interrupts masked, user GS); the kernel stack it
// switches to is the running thread's, unused while it is in a call.
#[unsafe(naked)]
extern "C" fn leaf_door() {
    core::arch::naked_asm!(
        "swapgs",
        "mov gs:[{user_rsp}], rsp",
        "mov rsp, gs:[{stack_top}]",
        "push qword ptr gs:[{user_rsp}]",
        "swapgs",
        "push rcx",
        "push r11",
        "call {slow}",
        "xor r9d, r9d",
        "pop r11",
        "pop rcx",
        "pop rsp",
        "sysretq",
        user_rsp = const crate::percpu::USER_RSP_OFFSET,
        stack_top = const crate::percpu::SYSCALL_STACK_TOP_OFFSET,
        slow = sym slow_path_entry,
    );
}

/// Address of [`leaf_door`] (the `slow_path` hole of stackless routines).
pub fn leaf_door_address() -> u64 {
    leaf_door as *const () as u64
}

/// The fixed `LSTAR` target in per-CPU-slot mode: jumps to the current
/// thread's stub, read from the per-CPU block (`percpu::ENTRY_STUB_OFFSET`,
/// the generic entry until a stub is set). Clobbers r9 (the native ABI
/// declares it clobbered).
#[unsafe(naked)]
extern "C" fn per_cpu_slot_door() {
    core::arch::naked_asm!(
        "swapgs",
        "mov r9, gs:[{slot}]",
        "swapgs",
        "jmp r9",
        slot = const crate::percpu::ENTRY_STUB_OFFSET,
    );
}

/// Per-CPU-slot mode: `LSTAR` points at `per_cpu_slot_door` for good.
/// Safe: the slot holds the generic entry from boot
/// (`percpu::init_boot_cpu`) until [`set_entry_stub_slot`] changes it.
pub fn use_per_cpu_slot() {
    // SAFETY: the door follows the syscall entry protocol: it touches only
    // GS-relative per-CPU data, then jumps to the slot's entry, which is
    // the generic entry or a stub vouched for by `set_entry_stub_slot`.
    unsafe { crate::syscall::set_lstar(per_cpu_slot_door as *const () as u64) };
}

/// LSTAR mode: the next `syscall` enters the stub at `stub` (an arena
/// address, or the generic entry; anything else is refused).
///
/// # Safety
/// `stub` is the generic entry ([`crate::syscall::syscall_entry_address`]),
/// or the first byte of an installed entry stub that, until the entry
/// changes again:
/// 1. belongs to the thread that runs next in ring 3 on this CPU: the
///    kernel stack top baked into it is that thread's (its context's)
///    stack, which nothing else uses while the thread is in user mode;
/// 2. stays installed (its `InstalledBlock` is not dropped), and so does
///    its routine table, whose every slot, whenever a `syscall` can read
///    it, holds the entry of an installed routine that follows the routine
///    contract of `crates/synth/templates` (or the slow path, or an error
///    stub), never an address inside a retired or reserved block;
/// 3. every address baked into those routines (position and size cells,
///    file data, the `/dev/mem` window, counters) stays valid while the
///    routine is published (docs/unsafe-inventory.md, "What generated code
///    imposes").
pub unsafe fn set_entry_stub_lstar(stub: u64) {
    if !is_entry(stub) {
        return;
    }
    // SAFETY: `stub` is the generic entry or an installed entry stub of the
    // next thread (the caller's duty above), both of which follow the
    // syscall entry protocol.
    unsafe { crate::syscall::set_lstar(stub) };
}

fn is_entry(address: u64) -> bool {
    crate::code_arena::contains(address) || address == crate::syscall::syscall_entry_address()
}

/// Per-CPU-slot mode: the door jumps to `stub` from now on (an arena
/// address, or the generic entry; anything else is refused).
///
/// # Safety
/// As for [`set_entry_stub_lstar`].
pub unsafe fn set_entry_stub_slot(stub: u64) {
    if !is_entry(stub) {
        return;
    }
    // SAFETY: offset ENTRY_STUB_OFFSET of this CPU's live per-CPU block; an
    // aligned 8-byte store (the door reads it with interrupts off, on this
    // CPU only); what it names is the caller's duty above.
    unsafe {
        core::arch::asm!("mov gs:[{off}], {v}", off = const crate::percpu::ENTRY_STUB_OFFSET, v = in(reg) stub, options(nostack, preserves_flags))
    };
}

/// Address of [`generic_entry`] (a hole value of generic trampolines).
pub fn generic_entry_address() -> u64 {
    generic_entry as *const () as u64
}

/// Address of [`slow_path_entry`] (a hole value of entry stubs).
pub fn slow_path_address() -> u64 {
    slow_path_entry as *const () as u64
}
