//! Template source: `/dev/mem` read with a 1-byte fast path (the paper's Figure 2).

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::copy_out::{bounded_copy_out, Limit};
use super::user_range::{
    check_user_range, fault_and_bad_address_exits, generic_exit, long_calls_go_generic,
    transfer_holes, SlowPath, TransferHoles, USER_END,
};
use iced_x86::code_asm::{byte_ptr, cl, eax, ecx, edi, esi, qword_ptr, r11, rax, rcx, rdi, rsi};
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
    } = transfer_holes(&mut a, SlowPath::Stub);
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    let mut general = a.create_label();
    let mut end_of_data = a.create_label();
    let mut too_long = a.create_label();

    // Fast path, len == 1: bounds check, load, store to the user, bump, return.
    // The cell's address goes in r11, which the entry stub restores: it
    // never reaches user mode, so no exit needs to scrub it.
    a.mov_imm64(r11, position_cell)?;
    a.cmp(rsi, 1)?;
    a.jne(general)?;
    a.mov(rcx, USER_END)?;
    a.cmp(rdi, rcx)?;
    a.jae(bad)?;
    a.mov(rax, qword_ptr(r11))?;
    a.cmp_imm32(rax, window_size)?;
    a.jae(end_of_data)?;
    a.mov_imm64(rcx, base)?;
    a.movzx(ecx, byte_ptr(rcx + rax))?;
    a.stac()?;
    a.user_access(fixup, |a| a.mov(byte_ptr(rdi), cl))?;
    a.clac()?;
    a.inc(qword_ptr(r11))?;
    a.mov(eax, 1)?;
    a.ret()?;
    a.set_label(&mut end_of_data)?;
    a.xor(eax, eax)?;
    a.ret()?;

    // General path.
    a.set_label(&mut general)?;
    long_calls_go_generic(&mut a, rsi, max_len, too_long)?;
    check_user_range(&mut a, rdi, rsi, bad)?;
    bounded_copy_out(&mut a, Limit::Constant32(window_size), base, fixup)?;
    fault_and_bad_address_exits(&mut a, &mut fixup, &mut bad, bad_address, &[esi, edi])?;
    generic_exit(&mut a, &mut too_long, slow_path)?;
    Ok(TemplateSource {
        name: "dev_mem_read",
        doc: "`/dev/mem` read: copy from a fixed kernel window at the handle's position.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length. `n = min(len, window_size - pos)` \
              (0 at EOF); copies `base + pos ..+ n` to the buffer; `pos += n`; returns `n`.\n\n\
              Fast path for `len == 1`, after the paper's Figure 2: user-range check (`buf < USER_END`), \
              bounds check, load, store to the user buffer, position update, return — 17 instructions \
              executed. Other lengths: longer than `max_len` go to the generic path (`slow_path`); \
              else user-range guard, then `rep movsb`.\n\n\
              Guards: user range, else `bad_address`. Fault points: the byte store and the \
              `rep movsb`; both fix up to `clac` + `bad_address`, leaving the position unchanged.\n\n\
              Technique: Factoring Invariants (Synthesis §2.1, Appendix A): window base and size are \
              immediates; the position lives in a cell shared with the generic path.",
        invariants: &["DeviceKind", "OpenForRead", "SingleOwner", "NotShared"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rsi", "Rdi", "R11"],
        asm: a,
    })
}
