//! Template source: the trampoline from a table slot into the generic path.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use iced_x86::code_asm::{eax, r11, r9d};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let handle = a.hole(
        "handle",
        Kind::Imm32,
        "The handle this slot belongs to (zero-extended into `eax`).",
    );
    let op = a.hole(
        "op",
        Kind::Imm32,
        "The operation number, 0..8 (zero-extended into `r9d`).",
    );
    let generic_entry = a.hole(
        "generic_entry",
        Kind::Imm64,
        "Address of the generic-path entry shim.",
    );
    a.mov_imm32(eax, handle)?;
    a.mov_imm32(r9d, op)?;
    a.mov_imm64(r11, generic_entry)?;
    a.jmp(r11)?;
    Ok(TemplateSource {
        name: "generic_trampoline",
        doc: "Generic trampoline: `eax = handle`, `r9d = op`, tail-jump to the generic path.\n\n\
              The generic entry is reached with the entry stub's return address on the stack, the \
              user's `rdi`, `rsi`, `rdx`, `r10`, `r8` intact, `rax` = handle and `r9` = op; it \
              returns with `ret` like any routine. Also the target of synthesized routines' failed \
              guards (`guard-then-generic`). No guards, no user access.",
        invariants: &[],
        reads: &[],
        clobbers: &["Rax", "R9", "R11"],
        asm: a,
    })
}
