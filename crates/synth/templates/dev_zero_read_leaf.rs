//! Template source: `/dev/zero` read, stackless (`templates/leaf.rs`).

use super::builder::{TemplateAsm, TemplateSource};
use super::leaf::{leaf_bad_exit, leaf_check_user_range, leaf_generic_exit, leaf_return_scrubbed};
use super::user_range::{long_calls_go_generic, transfer_holes, SlowPath, TransferHoles};
use iced_x86::code_asm::{byte_ptr, eax, r9, rax, rcx, rdi, rsi};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let TransferHoles {
        bad_address,
        max_len,
        slow_path,
    } = transfer_holes(&mut a, SlowPath::LeafDoor);
    let mut bad = a.create_label();
    let mut fast_fixup = a.create_label();
    let mut fixup = a.create_label();
    let mut general = a.create_label();
    let mut too_long = a.create_label();
    // Fast path, len == 1: range check, one store to the user, return 1.
    a.cmp(rsi, 1)?;
    a.jne(general)?;
    // rdi < USER_END (2^47) iff rdi >> 47 == 0: r9 ends 0 on the way on.
    a.mov(r9, rdi)?;
    a.shr(r9, 47)?;
    a.jnz(bad)?;
    a.stac()?;
    a.user_access(fast_fixup, |a| a.mov(byte_ptr(rdi), 0))?;
    a.clac()?;
    a.mov(eax, 1)?;
    a.sysretq()?;
    // General path: range check, `rep stosb` with rcx parked in r9.
    a.set_label(&mut general)?;
    long_calls_go_generic(&mut a, rsi, max_len, too_long)?;
    leaf_check_user_range(&mut a, rdi, rsi, bad)?;
    a.mov(r9, rcx)?;
    a.mov(rcx, rsi)?;
    a.xor(eax, eax)?;
    a.stac()?;
    a.user_access(fixup, |a| a.rep().stosb())?;
    a.clac()?;
    a.mov(rcx, r9)?;
    a.mov(rax, rsi)?;
    leaf_return_scrubbed(&mut a)?;
    a.set_label(&mut fixup)?;
    a.clac()?;
    a.mov(rcx, r9)?;
    a.jmp(bad)?;
    a.set_label(&mut fast_fixup)?;
    a.clac()?;
    leaf_bad_exit(&mut a, &mut bad, bad_address)?;
    leaf_generic_exit(&mut a, &mut too_long, slow_path)?;
    Ok(TemplateSource {
        name: "dev_zero_read_leaf",
        doc: "`/dev/zero` read, stackless: zero-fill the user buffer, return `len`.\n\n\
              The native twin of `dev_zero_read` (same holes; `slow_path` is the leaf door): \
              entered by the entry stub's `jmp` on the user's stack, returns with `sysretq` \
              (`templates/leaf.rs`). Arguments: `rdi` = user buffer, `rsi` = length.\n\n\
              Fast path for `len == 1`: one byte store (10 instructions, 14 with the stub; the range check leaves `r9` = 0). \
              General path: longer than `max_len` goes to the door; user range; `rep stosb` \
              with the user `rip` parked in `r9`. Guards: user range, else `bad_address`. \
              Fault points: the byte store and the `rep stosb`; their fixups `clac`, put `rcx` \
              back and return `bad_address`.\n\n\
              Technique: Factoring Invariants (Synthesis §2.1).",
        invariants: &["DeviceKind", "OpenForRead"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rdi", "R9"],
        asm: a,
    })
}
