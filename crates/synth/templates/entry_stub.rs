//! Template source: the per-thread `syscall` entry stub.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use iced_x86::code_asm::{qword_ptr, r11, r9, r9d, rax, rcx, rsp};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let table_len = a.hole(
        "table_len",
        Kind::Imm32,
        "Number of slots in the thread's routine table.",
    );
    let index_mask = a.hole(
        "index_mask",
        Kind::Imm32,
        "`table_len - 1`; `table_len` is a power of two (`Env::table_slots`): masks the index \
         against speculation past the bounds check.",
    );
    let table = a.hole(
        "table",
        Kind::Imm64,
        "Address of the thread's routine table (`u64` code addresses: a stackless routine, \
         or this stub's door).",
    );
    let kernel_stack_top = a.hole(
        "kernel_stack_top",
        Kind::Imm64,
        "Top of the thread's kernel stack (16-byte aligned).",
    );
    let stackful_table = a.hole(
        "stackful_table",
        Kind::Imm64,
        "Address of the thread's stackful table: for a slot whose table entry is the door, \
         the routine the door calls (same index).",
    );
    let slow_path = a.hole(
        "slow_path",
        Kind::Imm64,
        "The kernel's slow-path entry for call words past the table (bad calls, \
         handles beyond the table, calls flagged to force the generic path).",
    );
    let mut out_of_range = a.create_label();
    let mut back = a.create_label();
    // Dispatch: no stack, no store. A stackless routine ends in sysretq;
    // anything else is reached through the door below.
    a.cmp_imm32(rax, table_len)?;
    a.jae(out_of_range)?;
    // Spectre v1: were the `jae` mispredicted, the index would still be
    // a slot of the table (its length is a power of two, the mask that
    // minus one); architecturally `rax < table_len` and the mask keeps it.
    a.and_imm32(rax, index_mask)?;
    a.mov_imm64(r9, table)?;
    a.jmp(qword_ptr(r9 + rax * 8))?;
    // The door (ENTRY_STUB_DOOR_OFFSET): a stackful routine's table entry.
    a.mov(r9, rsp)?;
    a.mov_imm64(rsp, kernel_stack_top)?;
    a.push(r9)?;
    a.push(rcx)?;
    a.push(r11)?;
    a.mov_imm64(r9, stackful_table)?;
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
    a.mov(r9, rsp)?;
    a.mov_imm64(rsp, kernel_stack_top)?;
    a.push(r9)?;
    a.push(rcx)?;
    a.push(r11)?;
    a.mov_imm64(r9, slow_path)?;
    a.call(r9)?;
    a.jmp(back)?;
    Ok(TemplateSource {
        name: "entry_stub",
        doc: "Per-thread `syscall` entry stub (reached from `LSTAR`).\n\n\
              Bounds-checks `rax` = `(handle << 3) | op` against `table_len` (unsigned) and \
              `jmp [table + rax*8]` with the index masked against speculation past the check \
              (`and rax, index_mask`, Spectre v1): five instructions, no stack. A *stackless* routine \
              (`templates/leaf.rs`: error stubs, `/dev/null`, `/dev/zero`, `/dev/mem` and \
              RAM-file reads) is entered that way on the user's stack with `r9` = `table`, and \
              returns to user mode itself. Every other slot holds the address of this stub's \
              *door* (`ENTRY_STUB_DOOR_OFFSET`): it switches to the thread's kernel stack, pushes \
              the user `rsp` (through `r9`), `rcx` (user `rip`) and `r11` (user `rflags`) and \
              `call [stackful_table + rax*8]`: the routine runs with the user's `rdi`, `rsi`, \
              `rdx`, `r10`, `r8` intact and returns in `rax`. Then zeroes `r9`, pops `r11`, \
              `rcx` and the user `rsp`, and `sysretq`. A call word past the table takes the same \
              sequence with `call slow_path` (the generic decoder, which answers exactly as the \
              generic path would, `BadCall` included). Routines are entered with `rsp` 16-byte \
              aligned.\n\n\
              Assumes `IA32_FMASK` clears IF, DF, TF and AC (no interrupts on the user stack, \
              string instructions forward, SMAP armed), that `#PF` runs on its own IST stack \
              (a stackless routine's user access may fault with the user's `rsp`), and that \
              `rcx` is canonical (it is the `rip` `syscall` saved; nothing changes it). Uses \
              `r9` as scratch: the native ABI declares `r9` clobbered; the door returns 0 in it. \
              No user access.\n\n\
              Technique: Factoring Invariants (Synthesis §2.4, ARCHITECTURE §4): kernel stack and \
              table bases are immediates, so dispatch reads no per-CPU or per-thread structure.",
        invariants: &["SingleOwner"],
        reads: &["Rax", "Rcx", "R11", "Rsp"],
        clobbers: &["Rax", "Rcx", "R9", "R11", "Rsp"],
        asm: a,
    })
}
