//! Template source: the per-thread `syscall` entry stub.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use iced_x86::code_asm::{qword_ptr, r11, r9, r9d, rax, rcx, rsp};
use iced_x86::IcedError;

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
        "Number of slots in the thread's routine table.",
    );
    let table = a.hole(
        "table",
        Kind::Imm64,
        "Address of the thread's routine table (`u64` code addresses).",
    );
    let slow_path = a.hole(
        "slow_path",
        Kind::Imm64,
        "The kernel's slow-path entry for call words past the table (bad calls, \
         handles beyond the table, calls flagged to force the generic path).",
    );
    let mut out_of_range = a.create_label();
    let mut back = a.create_label();
    a.mov(r9, rsp)?;
    a.mov_imm64(rsp, kernel_stack_top)?;
    a.push(r9)?;
    a.push(rcx)?;
    a.push(r11)?;
    a.cmp_imm32(rax, table_len)?;
    a.jae(out_of_range)?;
    a.mov_imm64(r9, table)?;
    a.call(qword_ptr(r9 + rax * 8))?;
    a.set_label(&mut back)?;
    // r9 holds the table or slow-path address (or what the routine left):
    // a kernel value must not reach user mode (templates/taint.rs).
    a.xor(r9d, r9d)?;
    a.pop(r11)?;
    a.pop(rcx)?;
    a.pop(rsp)?;
    a.sysretq()?;
    a.set_label(&mut out_of_range)?;
    a.mov_imm64(r9, slow_path)?;
    a.call(r9)?;
    a.jmp(back)?;
    Ok(TemplateSource {
        name: "entry_stub",
        doc: "Per-thread `syscall` entry stub (reached from `LSTAR`).\n\n\
              Switches to the thread's kernel stack and pushes the user `rsp` (through `r9`), \
              `rcx` (user `rip`) and `r11` (user `rflags`), bounds-checks `rax` = \
              `(handle << 3) | op` against `table_len` (unsigned; out of range calls `slow_path`, the generic decoder, which answers \
              exactly as the generic path would, `BadCall` included), \
              then `call [table + rax*8]`: the routine runs with the user's `rdi`, `rsi`, `rdx`, \
              `r10`, `r8` intact and returns in `rax`. Then zeroes `r9` (the table address, or what \
              the routine left there), pops `r11`, `rcx` and the user `rsp`, and `sysretq`: no \
              register but `rax` reaches user mode with a kernel value (routines leave only `rax`, \
              `rcx`, `r9`, `r11` unscrubbed, and this stub restores or zeroes those). Routines are entered with `rsp` 16-byte aligned.\n\n\
              Assumes `IA32_FMASK` clears IF, DF and AC (no interrupts on the user stack, string \
              instructions forward, SMAP armed), and that `rcx` is canonical (it is the `rip` \
              `syscall` saved; nothing changes it). Uses `r9` as scratch: the native ABI declares \
              `r9` clobbered; it returns 0 in it. No user access.\n\n\
              Technique: Factoring Invariants (Synthesis §2.4, ARCHITECTURE §4): kernel stack and \
              table base are immediates, so dispatch reads no per-CPU or per-thread structure.",
        invariants: &["SingleOwner"],
        reads: &["Rax", "Rcx", "R11", "Rsp"],
        clobbers: &["Rax", "Rcx", "R9", "R11", "Rsp"],
        asm: a,
    })
}
