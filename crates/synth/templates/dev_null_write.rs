//! Template source: `/dev/null` write.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::user_range::check_user_range;
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
    check_user_range(&mut a, rdi, rsi, bad)?;
    a.mov(rax, rsi)?;
    a.ret()?;
    a.set_label(&mut bad)?;
    a.mov_imm32_sign_extended(rax, bad_address)?;
    a.ret()?;
    Ok(TemplateSource {
        name: "dev_null_write",
        doc: "`/dev/null` write: validate the user range, discard, return `len`.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length.\n\n\
              Guards: user range (`buf + len` no wrap, `<= USER_END`), else returns `bad_address`.\n\
              No user access (the bytes are never read), so no fault point and no `stac`.\n\n\
              Technique: Factoring Invariants (Synthesis §2.1): the device kind is known at open, \
              so the whole device switch and the copy vanish.",
        invariants: &["DeviceKind", "OpenForWrite"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx"],
        asm: a,
    })
}
