//! Template source: `/dev/mem` read, stackless (`templates/leaf.rs`), with
//! the paper's 1-byte fast path (Figure 2).

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::leaf::{
    leaf_bad_exit, leaf_check_user_range, leaf_copy_fixup, leaf_copy_out, leaf_generic_exit,
    leaf_return_scrubbed, LeafLimit,
};
use super::user_range::{long_calls_go_generic, transfer_holes, SlowPath, TransferHoles, USER_END};
use iced_x86::code_asm::{al, byte_ptr, eax, qword_ptr, r9, rax, rdi, rsi};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let base = a.hole(
        "base",
        Kind::Imm64,
        "Kernel address of the window's first byte.",
    );
    let window_size = a.hole(
        "window_size",
        Kind::Imm32,
        "Window length in bytes (below 2 GiB); reads stop there (EOF).",
    );
    let position_cell = a.hole(
        "position_cell",
        Kind::Imm64,
        "Address of the handle's `u64` position cell (shared with the generic path).",
    );
    let TransferHoles {
        bad_address,
        max_len,
        slow_path,
    } = transfer_holes(&mut a, SlowPath::LeafDoor);
    let mut bad = a.create_label();
    let mut fast_fixup = a.create_label();
    let mut fixup = a.create_label();
    let mut general = a.create_label();
    let mut end_of_data = a.create_label();
    let mut too_long = a.create_label();

    // Fast path, len == 1: user range, bounds, bump the position, load,
    // store to the user (a fault undoes the bump), return 1.
    a.cmp(rsi, 1)?;
    a.jne(general)?;
    a.mov(r9, USER_END)?;
    a.cmp(rdi, r9)?;
    a.jae(bad)?;
    a.mov_imm64(r9, position_cell)?;
    a.mov(rax, qword_ptr(r9))?;
    a.cmp_imm32(rax, window_size)?;
    a.jae(end_of_data)?;
    a.inc(qword_ptr(r9))?;
    a.mov_imm64(r9, base)?;
    a.movzx(eax, byte_ptr(r9 + rax))?;
    a.stac()?;
    a.user_access(fast_fixup, |a| a.mov(byte_ptr(rdi), al))?;
    a.clac()?;
    a.mov(eax, 1)?;
    leaf_return_scrubbed(&mut a)?;

    // General path.
    a.set_label(&mut general)?;
    long_calls_go_generic(&mut a, rsi, max_len, too_long)?;
    leaf_check_user_range(&mut a, rdi, rsi, bad)?;
    leaf_copy_out(
        &mut a,
        LeafLimit::Constant32(window_size),
        position_cell,
        base,
        fixup,
        end_of_data,
    )?;
    a.set_label(&mut end_of_data)?;
    a.xor(eax, eax)?;
    leaf_return_scrubbed(&mut a)?;
    leaf_copy_fixup(&mut a, &mut fixup, bad)?;
    a.set_label(&mut fast_fixup)?;
    a.clac()?;
    a.mov_imm64(r9, position_cell)?;
    a.dec(qword_ptr(r9))?;
    leaf_bad_exit(&mut a, &mut bad, bad_address)?;
    leaf_generic_exit(&mut a, &mut too_long, slow_path)?;
    Ok(TemplateSource {
        name: "dev_mem_read_leaf",
        doc: "`/dev/mem` read, stackless: copy from a fixed kernel window at the handle's position.\n\n\
              The native twin of `dev_mem_read` (same holes; `slow_path` is the leaf door): \
              entered by the entry stub's `jmp` on the user's stack, returns with `sysretq` \
              (`templates/leaf.rs`). Arguments: `rdi` = user buffer, `rsi` = length. \
              `n = min(len, window_size - pos)` (0 at EOF); copies `base + pos ..+ n`; \
              `pos += n`; returns `n`.\n\n\
              Fast path for `len == 1`, after the paper's Figure 2: user-range check, bounds \
              check, position bump, load, store to the user buffer, return — 18 instructions \
              executed, 22 with the stub. A fault on the store undoes the bump. Other \
              lengths: longer than `max_len` go to the door; else user range, then `rep movsb` \
              with the user `rip` parked in `r8`.\n\n\
              Guards: user range, else `bad_address`. Fault points: the byte store and the \
              `rep movsb`; both fix up to `clac` + `bad_address`, position unchanged.\n\n\
              Technique: Factoring Invariants (Synthesis §2.1, Appendix A).",
        invariants: &["DeviceKind", "OpenForRead", "SingleOwner", "NotShared"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rdx", "Rsi", "Rdi", "R8", "R9"],
        asm: a,
    })
}
