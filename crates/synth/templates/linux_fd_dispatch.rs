//! Template source: a Linux process's `read`/`write` dispatcher (the slot
//! of call 0 or 1 of its Linux table): the fd picks that fd's routine.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use iced_x86::code_asm::{edi, qword_ptr, r10, r10d, r11, rdi, rdx, rsi};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let fd_limit = a.hole(
        "fd_limit",
        Kind::Imm32,
        "Entries in the per-fd routine array (descriptors at or past it go generic).",
    );
    let routines = a.hole(
        "routines",
        Kind::Imm64,
        "Address of the process's per-fd routine array for this op (`u64` code addresses, one \
         per descriptor: the fd's synthesized routine, or the op's `linux_slow_path`).",
    );
    let generic_entry = a.hole(
        "generic_entry",
        Kind::Imm64,
        "The Linux generic entry (`sk_machine::linux_entry`), for descriptors past the array.",
    );
    let mut generic = a.create_label();
    // Linux's fd is an `unsigned int`: the low 32 bits, zero-extended. It
    // stays in r10 (no SIO routine writes r10: their slow path reads it).
    a.mov(r10d, edi)?;
    a.cmp_imm32(r10, fd_limit)?;
    a.jae(generic)?;
    // Spectre v1: a mispredicted `jae` still indexes in range (see
    // `entry_stub`); architecturally r10 keeps the fd.
    a.sbb(r11, r11)?;
    a.and(r10, r11)?;
    a.mov_imm64(r11, routines)?;
    a.mov(rdi, rsi)?;
    a.mov(rsi, rdx)?;
    a.jmp(qword_ptr(r11 + r10 * 8))?;
    a.set_label(&mut generic)?;
    a.mov_imm64(r11, generic_entry)?;
    a.jmp(r11)?;
    Ok(TemplateSource {
        name: "linux_fd_dispatch",
        doc: "Linux `read`/`write` dispatcher: one instance per op per Linux thread, in slot 0 \
              (`read`) or 1 (`write`) of its Linux routine table (docs/unix.md).\n\n\
              Entered by the `linux_entry_stub`'s `call` with `rax` = the Linux call number, \
              `rdi` = fd, `rsi` = buffer, `rdx` = count. Zero-extends `edi` (Linux's fd is an \
              `unsigned int`) into `r10`, bounds-checks it against `fd_limit` (past it: tail-jump \
              to the Linux generic entry with every argument intact), moves `rsi`/`rdx` into the \
              SIO routine convention's `rdi`/`rsi` and tail-jumps to `routines[fd]`: the fd's \
              SIO routine (instantiated with Linux's `-EFAULT` and `linux_slow_path`), or the \
              op's `linux_slow_path` for an fd with none (closed, never opened, generic kind). \
              `r10` keeps the fd for that slow path; no SIO routine writes `r10`. The stub \
              restores every argument register afterwards, so the Linux ABI holds whatever the \
              routine clobbers. No user access.\n\n\
              Technique: replugging (Synthesis §2.4): an fd's entry is one atomic store, made \
              whenever what the fd names or that SIO's routine changes.",
        invariants: &["SingleOwner"],
        reads: &["Rdi", "Rsi", "Rdx"],
        clobbers: &["Rdi", "Rsi", "R10", "R11"],
        asm: a,
    })
}
