//! Instructions ring 3 may not execute, or that trap into the kernel by a
//! way other than `syscall` (`sysenter`, `int-n`, `icebp`, `priv`): every
//! one must kill the program alone.
//!
//! Owns [`PRIV_NAMES`] and the two tables of code stubs they run from:
//! 256 `int n; ret` stubs and one 16-byte slot per privileged instruction.

use core::arch::{asm, global_asm};

/// Names of the `priv` mode's instructions (index = param).
pub(crate) const PRIV_NAMES: [&str; 45] = [
    "hlt",
    "cli",
    "sti",
    "in al, 0x80",
    "out 0x80, al",
    "rdmsr",
    "wrmsr",
    "mov rax, cr0",
    "mov cr3, rax",
    "lgdt",
    "lidt",
    "ltr",
    "lldt",
    "sgdt (UMIP)",
    "sidt (UMIP)",
    "sldt (UMIP)",
    "str (UMIP)",
    "smsw (UMIP)",
    "invlpg",
    "wbinvd",
    "invd",
    "clts",
    "rdpmc",
    "xsetbv",
    "clac",
    "stac",
    "mov dr7, rax",
    "swapgs",
    "sysretq",
    "sysexit",
    "wrgsbase",
    "wrfsbase",
    "int3 (0xcc)",
    "into (0xce)",
    "ud2",
    "lmsw",
    "rdgsbase",
    "mov rax, dr6",
    "invpcid",
    "mwait",
    "vmcall",
    "mov ss, kernel data 0x10",
    "mov gs, kernel code 0x08",
    "mov ds, tss 0x30",
    "popfq IOPL=3 then cli",
];

// 256 `int n; ret` stubs, 8 bytes apart, and one 16-byte slot per
// privileged instruction, each followed by `ret` (reached only if the
// instruction did not trap).
global_asm!(
    ".pushsection .text.hostile_tables, \"ax\"",
    ".balign 16",
    ".global hostile_int_table",
    "hostile_int_table:",
    ".set hostile_n, 0",
    ".rept 256",
    ".balign 8",
    ".byte 0xcd, hostile_n",
    "ret",
    ".set hostile_n, hostile_n + 1",
    ".endr",
    ".balign 16",
    ".global hostile_priv_table",
    "hostile_priv_table:",
    ".balign 16",
    "hlt",
    "ret",
    ".balign 16",
    "cli",
    "ret",
    ".balign 16",
    "sti",
    "ret",
    ".balign 16",
    "in al, 0x80",
    "ret",
    ".balign 16",
    "out 0x80, al",
    "ret",
    ".balign 16",
    "rdmsr",
    "ret",
    ".balign 16",
    "wrmsr",
    "ret",
    ".balign 16",
    "mov rax, cr0",
    "ret",
    ".balign 16",
    "mov cr3, rax",
    "ret",
    ".balign 16",
    "lgdt [rsp]",
    "ret",
    ".balign 16",
    "lidt [rsp]",
    "ret",
    ".balign 16",
    "ltr ax",
    "ret",
    ".balign 16",
    "lldt ax",
    "ret",
    ".balign 16",
    "sgdt [rsp - 16]",
    "ret",
    ".balign 16",
    "sidt [rsp - 16]",
    "ret",
    ".balign 16",
    "sldt ax",
    "ret",
    ".balign 16",
    "str ax",
    "ret",
    ".balign 16",
    "smsw ax",
    "ret",
    ".balign 16",
    "invlpg [rsp]",
    "ret",
    ".balign 16",
    "wbinvd",
    "ret",
    ".balign 16",
    "invd",
    "ret",
    ".balign 16",
    "clts",
    "ret",
    ".balign 16",
    "rdpmc",
    "ret",
    ".balign 16",
    "xsetbv",
    "ret",
    ".balign 16",
    "clac",
    "ret",
    ".balign 16",
    "stac",
    "ret",
    ".balign 16",
    "mov dr7, rax",
    "ret",
    ".balign 16",
    "swapgs",
    "ret",
    ".balign 16",
    "sysretq",
    "ret",
    ".balign 16",
    ".byte 0x0f, 0x35",
    "ret",
    ".balign 16",
    "wrgsbase rax",
    "ret",
    ".balign 16",
    "wrfsbase rax",
    "ret",
    ".balign 16",
    "int3",
    "ret",
    ".balign 16",
    ".byte 0xce",
    "ret",
    ".balign 16",
    "ud2",
    "ret",
    ".balign 16",
    "lmsw ax",
    "ret",
    ".balign 16",
    "rdgsbase rax",
    "ret",
    ".balign 16",
    "mov rax, dr6",
    "ret",
    ".balign 16",
    "invpcid rax, [rsp]",
    "ret",
    ".balign 16",
    "mwait",
    "ret",
    ".balign 16",
    "vmcall",
    "ret",
    ".balign 16",
    "mov eax, 0x10",
    "mov ss, ax",
    "ret",
    ".balign 16",
    "mov eax, 0x08",
    "mov gs, ax",
    "ret",
    ".balign 16",
    "mov eax, 0x30",
    "mov ds, ax",
    "ret",
    ".balign 16",
    "pushfq",
    "or qword ptr [rsp], 0x3000",
    "popfq",
    "cli",
    "ret",
    ".balign 16",
    ".popsection",
);

// SAFETY: labels defined by the `global_asm!` above (the `int n` and
// privileged-instruction tables); only their addresses are taken.
unsafe extern "C" {
    static hostile_int_table: u8;
    static hostile_priv_table: u8;
}

pub(crate) fn sysenter() {
    // SAFETY: `sysenter` from ring 3 with IA32_SYSENTER_CS = 0 raises #GP
    // (#UD on AMD in long mode); were it to enter the kernel, the kernel
    // kills the caller. The C clobbers cover registers sysenter changes.
    unsafe {
        asm!(".byte 0x0f, 0x34", clobber_abi("C"), out("rcx") _, out("r11") _);
    }
}

pub(crate) fn int_n(vector: u64) {
    let vector = vector & 0xff;
    // SAFETY: calls the table's `int n; ret` stub: the interrupt either
    // traps (the program dies) or returns, then `ret` comes back here; the
    // C clobbers cover the call.
    unsafe {
        let table = &raw const hostile_int_table as u64;
        asm!("call {t}", t = in(reg) table + vector * 8, clobber_abi("C"));
    }
}

pub(crate) fn privileged(index: u64) {
    // SAFETY: as in `int_n`: one privileged instruction and `ret`. The ones
    // that take memory operands use the stack slots at or below rsp (no red
    // zone on this target; nothing of ours lives there).
    unsafe {
        let table = &raw const hostile_priv_table as u64;
        asm!("call {t}", t = in(reg) table + index * 16, clobber_abi("C"));
    }
}

pub(crate) fn icebp() {
    // SAFETY: `int1` raises #DB; it changes nothing else.
    unsafe {
        asm!(".byte 0xf1", options(nomem, nostack));
    }
}
