//! Template source: `/dev/null` write, stackless (`templates/leaf.rs`).

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::leaf::leaf_check_user_range;
use iced_x86::code_asm::{rax, rdi, rsi};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let bad_address = a.hole(
        "bad_address",
        Kind::Imm32,
        "Result for a bad user range: `-(BadAddress code)`.",
    );
    let mut bad = a.create_label();
    leaf_check_user_range(&mut a, rdi, rsi, bad)?;
    a.mov(rax, rsi)?;
    super::leaf::leaf_return_scrubbed(&mut a)?;
    a.set_label(&mut bad)?;
    a.mov_imm32_sign_extended(rax, bad_address)?;
    super::leaf::leaf_return_scrubbed(&mut a)?;
    Ok(TemplateSource {
        name: "dev_null_write_leaf",
        doc: "`/dev/null` write, stackless: validate the user range, discard, return `len`.\n\n\
              The native twin of `dev_null_write` (same holes): entered by the entry stub's \
              `jmp` on the user's stack, returns with `sysretq` (`templates/leaf.rs`). \
              Arguments: `rdi` = user buffer, `rsi` = length. Guards: user range, else \
              `bad_address`. No user access.\n\n\
              Technique: Factoring Invariants (Synthesis §2.1).",
        invariants: &["DeviceKind", "OpenForWrite"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "R9"],
        asm: a,
    })
}
