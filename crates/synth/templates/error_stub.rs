//! Template source: the error stub a revoked or closed slot points at.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::leaf::leaf_return_scrubbed;
use iced_x86::code_asm::rax;
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let result = a.hole(
        "result",
        Kind::Imm32,
        "The value returned, normally `-(error code)`.",
    );
    a.mov_imm32_sign_extended(rax, result)?;
    leaf_return_scrubbed(&mut a)?;
    Ok(TemplateSource {
        name: "error_stub",
        doc: "Error stub (stackless): `mov rax, result; xor r9d, r9d; sysretq`.\n\n\
              A slot whose object was closed or whose rights were revoked is replugged to an \
              instance of this (one atomic store), so stale code never runs and the caller gets \
              the error without any lookup; the null call's slot holds the one returning 0. \
              Entered by the entry stub's `jmp` on the user's stack (`templates/leaf.rs`): \
              zeroes `r9` (the table address) and returns to user mode itself. No guards, no \
              user access.\n\n\
              Technique: replugging (Synthesis §2.4: the jump table is the capability list).",
        invariants: &[],
        reads: &[],
        clobbers: &["Rax", "R9"],
        asm: a,
    })
}
