//! Template source: `/dev/zero` read.

use super::builder::{TemplateAsm, TemplateSource};
use super::user_range::{
    check_user_range, fault_and_bad_address_exits, generic_exit, long_calls_go_generic,
    transfer_holes, SlowPath, TransferHoles, USER_END,
};
use iced_x86::code_asm::{byte_ptr, eax, rax, rcx, rdi, rsi};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let TransferHoles {
        bad_address,
        max_len,
        slow_path,
    } = transfer_holes(&mut a, SlowPath::Stub);
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    let mut general = a.create_label();
    let mut too_long = a.create_label();
    // Fast path, len == 1: range check, one store to the user, return 1.
    a.cmp(rsi, 1)?;
    a.jne(general)?;
    a.mov(rcx, USER_END)?;
    a.cmp(rdi, rcx)?;
    a.jae(bad)?;
    a.stac()?;
    a.user_access(fixup, |a| a.mov(byte_ptr(rdi), 0))?;
    a.clac()?;
    a.mov(eax, 1)?;
    a.ret()?;
    // General path: range check, `rep stosb`.
    a.set_label(&mut general)?;
    long_calls_go_generic(&mut a, rsi, max_len, too_long)?;
    check_user_range(&mut a, rdi, rsi, bad)?;
    a.mov(rcx, rsi)?;
    a.xor(eax, eax)?;
    a.stac()?;
    a.user_access(fixup, |a| a.rep().stosb())?;
    a.clac()?;
    a.mov(rax, rsi)?;
    a.ret()?;
    fault_and_bad_address_exits(&mut a, &mut fixup, &mut bad, bad_address, &[])?;
    generic_exit(&mut a, &mut too_long, slow_path)?;
    Ok(TemplateSource {
        name: "dev_zero_read",
        doc: "`/dev/zero` read: zero-fill the user buffer, return `len`.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length.\n\n\
              Fast path for `len == 1` (one byte store, 10 instructions executed). Guards: user \
              range, else returns `bad_address`. The byte store and the `rep stosb` are fault points; \
              their fixup does `clac` and returns `bad_address`. SMAP: `stac`/`clac` bracket the store.\n\n\
              Technique: Factoring Invariants (Synthesis §2.1).",
        invariants: &["DeviceKind", "OpenForRead"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rdi", "R11"],
        asm: a,
    })
}
