//! Template source: the error stub a revoked or closed slot points at.

use super::builder::{Kind, TemplateAsm, TemplateSource};
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
    a.ret()?;
    Ok(TemplateSource {
        name: "error_stub",
        doc: "Error stub: `mov rax, result; ret`.\n\n\
              A slot whose object was closed or whose rights were revoked is replugged to an \
              instance of this (one atomic store), so stale code never runs and the caller gets \
              the error without any lookup. No guards, no user access.\n\n\
              Technique: replugging (Synthesis §2.4: the jump table is the capability list).",
        invariants: &[],
        reads: &[],
        clobbers: &["Rax"],
        asm: a,
    })
}
