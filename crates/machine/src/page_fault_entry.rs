//! The `#PF` entry, on its own IST stack.
//!
//! Owns [`page_fault_ist_entry`] (the IDT's `#PF` gate, `gdt::IST_PAGE_FAULT`)
//! and [`init`]. Why an IST stack: a stackless synthesized routine
//! (`crates/synth/templates/leaf.rs`) runs in ring 0 on the *user's* stack
//! (RSP is whatever user code put there: a kernel address, a
//! non-canonical value, its own kernel stack's top), and its user accesses
//! can fault. Without a stack switch the CPU would push the exception frame
//! at that RSP. On the IST stack the entry sorts the fault in three:
//!
//! - **from ring 3**: the frame is copied to the top of the thread's
//!   kernel stack (TSS.RSP0, where the CPU would have put it) and the
//!   ordinary handler (`traps::vec14`) runs there, as before;
//! - **from ring 0 at a fault point of generated code** (the code arena's
//!   entries in the dynamic extable, stackless routines' and stackful ones'
//!   alike): resolved right here, as `traps::try_fixup` would (RIP = the
//!   fixup, RAX = the error code, RDX = CR2), and `iretq`; the interrupted
//!   RSP is never written;
//! - **any other ring-0 fault** (ordinary kernel code, whose RSP is a
//!   kernel stack): the frame is copied below the interrupted RSP (16-byte
//!   aligned, as the CPU does) and the ordinary handler runs there — only
//!   if that RSP is in the kernel stacks region or the boot stack; any
//!   other RSP is a user's (generated code faulted off its fault points, a
//!   kernel bug), and the fault goes to the double-fault handler rather
//!   than write a frame where the user pointed.
//!
//! The copy runs with IF = 0 (an interrupt gate) and touches only kernel
//! memory (the IST stack, the TSS, a kernel stack), so no second `#PF` can
//! reuse the IST stack while this one still needs it, but one: a kernel
//! stack overflow, whose frame would land in the stack's guard page. The
//! CPU would raise `#DF` there; so does this entry: a `#PF` whose RIP is in
//! its own copy goes to the double-fault handler (the first frame is lost
//! under the second, as it would be). The in-place fixup's
//! lookup (`dynamic_extable::find`) reads only the extable. The only ring-0
//! faults at a user RSP are at fault points (every other instruction of a
//! stackless routine or of the stub reads kernel memory the kernel mapped:
//! the table, cells, windows), so the third case always has a kernel stack.

use core::sync::atomic::{AtomicU64, Ordering};

/// Address of the TSS's RSP0 field (set by [`init`]).
static RSP0_FIELD: AtomicU64 = AtomicU64::new(0);

/// Address of the ordinary `#PF` handler entry (`traps::vec14`), set by [`init`].
static ORDINARY: AtomicU64 = AtomicU64::new(0);

/// Address of the double-fault handler entry (`traps::vec8`), set by [`init`].
static DOUBLE_FAULT: AtomicU64 = AtomicU64::new(0);

/// Faults resolved in place, on the IST stack (tests).
static IN_PLACE: AtomicU64 = AtomicU64::new(0);

/// Records where the TSS's RSP0 lives. Boot CPU, before the IDT is loaded.
pub(crate) fn init() {
    RSP0_FIELD.store(crate::gdt::kernel_stack_slot_address(), Ordering::Relaxed);
    ORDINARY.store(
        crate::traps::page_fault_ordinary_address(),
        Ordering::Relaxed,
    );
    DOUBLE_FAULT.store(crate::traps::double_fault_address(), Ordering::Relaxed);
}

/// Page faults of generated code resolved on the IST stack so far.
pub fn in_place_fixups() -> u64 {
    IN_PLACE.load(Ordering::Relaxed)
}

/// What [`ring0_action`] answers when the fault is fatal where it is.
const FATAL: u64 = 1;

/// What to do with a ring-0 fault at `rip` with the interrupted `rsp`:
/// the fixup of a generated-code fault point (dynamic extable; the
/// kernel's own usercopy fixups are the ordinary handler's, on its kernel
/// stack), or 0 to copy the frame below `rsp` for the ordinary handler —
/// only when `rsp` is a kernel stack (the stacks region, or the boot
/// stack) — or [`FATAL`]: any other RSP is one a user chose (a stackless
/// routine or the stub faulted off a fault point, a kernel bug), and
/// copying a frame there would write user-chosen values at a
/// user-chosen address; it goes to the double-fault handler instead.
extern "C" fn ring0_action(rip: u64, rsp: u64) -> u64 {
    if let Some(fixup) = crate::dynamic_extable::find(rip, crate::extable::FixupKind::Instruction) {
        IN_PLACE.fetch_add(1, Ordering::Relaxed);
        return fixup;
    }
    if crate::stack::in_stack_region(rsp) || crate::boot::in_boot_stack(rsp) {
        0
    } else {
        FATAL
    }
}

/// The `#PF` gate's entry, on `gdt::IST_PAGE_FAULT` (module docs).
///
/// On entry: `[rsp]` error code, `+8` RIP, `+16` CS, `+24` RFLAGS, `+32`
/// RSP, `+40` SS.
// SAFETY: reached only through the IDT's `#PF` gate on its own IST stack
// (interrupts off); it touches the IST stack, the TSS's RSP0, a kernel
// stack (checked by `ring0_action`) and the extable, and leaves by
// `iretq` or by jumping to a handler entry with the CPU's frame in place.
#[unsafe(naked)]
pub(crate) extern "C" fn page_fault_ist_entry() {
    core::arch::naked_asm!(
        "test byte ptr [rsp + 16], 3",
        "jnz 1f",
        // Ring 0, in the copy below (a kernel stack overflowed into its
        // guard page): what the CPU would do, a double fault.
        "push rax",
        "lea rax, [rip + 3f]",
        "cmp [rsp + 16], rax",
        "jb 4f",
        "lea rax, [rip + 5f]",
        "cmp [rsp + 16], rax",
        "jae 4f",
        "pop rax",
        "jmp [rip + {double_fault}]",
        "4:",
        "pop rax",
        // Ring 0: generated code's fault point?
        "push rdi", "push rsi", "push rax", "push rcx", "push rdx",
        "push r8", "push r9", "push r10", "push r11",
        "sub rsp, 8",
        "cld",
        // SMAP back on for the lookup (the routine faulted after stac).
        "pushfq",
        "and qword ptr [rsp], {not_ac}",
        "popfq",
        "mov rdi, [rsp + 88]",
        "mov rsi, [rsp + 112]",
        "call {lookup}",
        "add rsp, 8",
        "test rax, rax",
        "jz 2f",
        "cmp rax, {fatal}",
        "je 6f",
        // In place: RIP = fixup, RAX = error code, RDX = CR2.
        "mov [rsp + 80], rax",
        "pop r11", "pop r10", "pop r9", "pop r8", "pop rdx",
        "pop rcx", "pop rax", "pop rsi", "pop rdi",
        "mov rax, [rsp]",
        "mov rdx, cr2",
        "add rsp, 8",
        "iretq",
        // Not a kernel stack: fatal, as a double fault (ring0_action).
        "6:",
        "pop r11", "pop r10", "pop r9", "pop r8", "pop rdx",
        "pop rcx", "pop rax", "pop rsi", "pop rdi",
        "jmp [rip + {double_fault}]",
        // Ordinary kernel code: below the interrupted RSP, 16-aligned.
        "2:",
        "pop r11", "pop r10", "pop r9", "pop r8", "pop rdx",
        "pop rcx", "pop rax", "pop rsi", "pop rdi",
        "push rax", "push rcx",
        "mov rax, [rsp + 48]",
        "and rax, -16",
        "jmp 3f",
        // Ring 3: the top of the thread's kernel stack (TSS.RSP0).
        "1:",
        "push rax", "push rcx",
        "mov rax, [rip + {rsp0_field}]",
        "mov rax, [rax]",
        // rax = where the frame's top goes; the IST holds rcx, rax, then
        // the frame (error code first).
        "3:",
        "sub rax, 48",
        "mov rcx, [rsp + 16]", "mov [rax], rcx",
        "mov rcx, [rsp + 24]", "mov [rax + 8], rcx",
        "mov rcx, [rsp + 32]", "mov [rax + 16], rcx",
        "mov rcx, [rsp + 40]", "mov [rax + 24], rcx",
        "mov rcx, [rsp + 48]", "mov [rax + 32], rcx",
        "mov rcx, [rsp + 56]", "mov [rax + 40], rcx",
        "mov rcx, [rsp + 8]", "mov [rax - 8], rcx",
        "mov rcx, [rsp]", "mov [rax - 16], rcx",
        "lea rsp, [rax - 16]",
        "5:",
        "pop rcx",
        "pop rax",
        "jmp [rip + {ordinary}]",
        not_ac = const !(1u64 << 18) as i32,
        lookup = sym ring0_action,
        fatal = const FATAL,
        rsp0_field = sym RSP0_FIELD,
        ordinary = sym ORDINARY,
        double_fault = sym DOUBLE_FAULT,
    );
}
