//! Template source: the per-thread `syscall` entry stub of a Linux thread.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::switch::PERCPU_USER_RSP;
use iced_x86::code_asm::{qword_ptr, r10, r11, r8, r9, rax, rcx, rdi, rdx, rsi, rsp};
use iced_x86::IcedError;

/// `-ENOSYS`: what a call number past the table returns.
const MINUS_ENOSYS: i32 = -38;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let kernel_stack_top = a.hole(
        "kernel_stack_top",
        Kind::Imm64,
        "Top of the thread's kernel stack (16-byte aligned).",
    );
    let table_len = a.hole(
        "table_len",
        Kind::Imm32,
        "Number of slots in the thread's Linux routine table.",
    );
    let table = a.hole(
        "table",
        Kind::Imm64,
        "Address of the thread's Linux routine table (`u64` code addresses).",
    );
    let mut out_of_range = a.create_label();
    let mut back = a.create_label();
    // No register is free on a Linux `syscall` (r9 is the sixth argument):
    // park the call number in the per-CPU scratch slot, use rax to carry
    // the user rsp across the stack switch, and load the number back.
    a.swapgs()?;
    a.mov(qword_ptr(PERCPU_USER_RSP).gs(), rax)?;
    a.mov(rax, rsp)?;
    a.mov_imm64(rsp, kernel_stack_top)?;
    a.push(rax)?;
    a.mov(rax, qword_ptr(PERCPU_USER_RSP).gs())?;
    a.swapgs()?;
    a.push(rcx)?;
    a.push(r11)?;
    a.push(rdi)?;
    a.push(rsi)?;
    a.push(rdx)?;
    a.push(r10)?;
    a.push(r8)?;
    a.push(r9)?;
    a.cmp_imm32(rax, table_len)?;
    a.jae(out_of_range)?;
    // Spectre v1: a mispredicted `jae` still indexes in range (see
    // `entry_stub`): rax & (rax < table_len ? !0 : 0).
    a.sbb(r11, r11)?;
    a.and(rax, r11)?;
    a.mov_imm64(r11, table)?;
    a.call(qword_ptr(r11 + rax * 8))?;
    a.set_label(&mut back)?;
    a.pop(r9)?;
    a.pop(r8)?;
    a.pop(r10)?;
    a.pop(rdx)?;
    a.pop(rsi)?;
    a.pop(rdi)?;
    a.pop(r11)?;
    a.pop(rcx)?;
    a.pop(rsp)?;
    a.sysretq()?;
    a.set_label(&mut out_of_range)?;
    a.mov(rax, i64::from(MINUS_ENOSYS))?;
    a.jmp(back)?;
    Ok(TemplateSource {
        name: "linux_entry_stub",
        doc: "Per-thread `syscall` entry stub of a Linux thread (reached from `LSTAR`; docs/unix.md).\n\n\
              The Linux ABI preserves every register but `rax`, `rcx` and `r11`, and `r9` is the \
              sixth argument, so unlike `entry_stub` this has no scratch register: it `swapgs`es, \
              parks the call number in the per-CPU scratch slot, carries the user `rsp` in `rax` \
              across the switch to the thread's kernel stack, pushes it, loads the number back and \
              `swapgs`es again. Then pushes `rcx` (user `rip`), `r11` (user `rflags`) and the six \
              argument registers, bounds-checks `rax` (the Linux call number, unsigned) against \
              `table_len` (out of range: `rax = -ENOSYS` without entering the kernel) and \
              `call [table + rax*8]` with every argument register still the user's. Afterwards \
              pops the argument registers, `r11`, `rcx` and the user `rsp`, and `sysretq`: every \
              register but `rax` (the result) holds what the user had, whatever the routine left. \
              Routines are entered with `rsp` 16-byte aligned.\n\n\
              Assumes `IA32_FMASK` clears IF, DF and AC, and that `rcx` is canonical (the `rip` \
              `syscall` saved). No user access.",
        invariants: &["SingleOwner"],
        reads: &["Rax", "Rcx", "R11", "Rsp", "Rdi", "Rsi", "Rdx", "R10", "R8", "R9"],
        clobbers: &["Rax", "Rcx", "Rdi", "Rsi", "Rdx", "R8", "R9", "R10", "R11", "Rsp"],
        asm: a,
    })
}
