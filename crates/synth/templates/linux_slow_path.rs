//! Template source: the slow path of a Linux process's SIO routines (and
//! of an fd without one): back to the Linux generic entry.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use iced_x86::code_asm::{eax, edi, r10d, r11, rdi, rdx, rsi};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let number = a.hole(
        "number",
        Kind::Imm32,
        "The Linux call number this slow path serves (0 `read`, 1 `write`).",
    );
    let generic_entry = a.hole(
        "generic_entry",
        Kind::Imm64,
        "The Linux generic entry (`sk_machine::linux_entry`).",
    );
    // Undo the dispatcher's moves: Linux's (fd, buf, count) again.
    a.mov(rdx, rsi)?;
    a.mov(rsi, rdi)?;
    a.mov(edi, r10d)?;
    a.mov_imm32(eax, number)?;
    a.mov_imm64(r11, generic_entry)?;
    a.jmp(r11)?;
    Ok(TemplateSource {
        name: "linux_slow_path",
        doc: "Slow path of the Linux personality's SIO routines: `rdx = rsi`, `rsi = rdi`, \
              `edi = r10d` (the fd the `linux_fd_dispatch` left there), `eax = number`, \
              tail-jump to the Linux generic entry, which runs the call and returns to the \
              `linux_entry_stub` like any routine.\n\n\
              Reached with the SIO routine convention's arguments intact (`rdi` = buffer, `rsi` = \
              length: every routine's slow path and fallback keep them) from a routine's \
              `slow_path` (its long calls, a pipe with a closed end, ...), from the \
              `generic_trampoline` of a RAM-file write's capacity guard, or straight from the \
              dispatcher for an fd with no routine. One instance per call number, kernel-wide. \
              No guards, no user access.",
        invariants: &[],
        reads: &["Rdi", "Rsi", "R10"],
        clobbers: &["Rax", "Rdi", "Rsi", "Rdx", "R11"],
        asm: a,
    })
}
