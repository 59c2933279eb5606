//! Shared body snippet: bounded copy from a kernel window to the user buffer
//! at a position kept in a cell (used by `/dev/mem` and RAM-file reads).

use super::builder::{AsmResult, HoleRef, TemplateAsm};
use iced_x86::code_asm::{eax, ecx, edi, esi, qword_ptr, r11, rax, rcx, rsi, CodeLabel};

/// Where the end of the readable data comes from.
pub enum Limit {
    /// A constant below 2^31 baked into the code (`mov ecx, imm32`).
    Constant32(HoleRef),
    /// A `u64` cell the generic path updates (`mov rcx, imm64; mov rcx, [rcx]`).
    Cell(HoleRef),
}

/// Expects `r11` = position cell, `rdi` = user buffer, `rsi` = length (range
/// already checked). Emits: `n = min(len, limit - pos)` (0 and return at or
/// past the end), copy `n` bytes from `source + pos` to the buffer under
/// `stac`/`clac` (one fault point, resuming at `fixup`), `pos += n`, zero
/// `rsi` (the source address) and `rdi` (advanced by a count read from
/// kernel memory: tainted, templates/taint.rs), return `n`.
/// Clobbers `rax`, `rcx`, `rsi`, `rdi` (the position cell is in `r11`, which
/// the entry stub restores: no scrub needed). The fixup must zero `rsi` and
/// `rdi` too ([`super::user_range::fault_and_bad_address_exits`]).
pub fn bounded_copy_out(
    a: &mut TemplateAsm,
    limit: Limit,
    source: HoleRef,
    fixup: CodeLabel,
) -> AsmResult {
    let mut end_of_data = a.create_label();
    match limit {
        Limit::Constant32(size) => a.mov_imm32(ecx, size)?,
        Limit::Cell(size_cell) => {
            a.mov_imm64(rcx, size_cell)?;
            a.mov(rcx, qword_ptr(rcx))?;
        }
    }
    a.sub(rcx, qword_ptr(r11))?;
    a.jbe(end_of_data)?;
    a.cmp(rsi, rcx)?;
    a.cmovb(rcx, rsi)?;
    a.mov(rax, rcx)?;
    a.mov_imm64(rsi, source)?;
    a.add(rsi, qword_ptr(r11))?;
    a.stac()?;
    a.user_access(fixup, |a| a.rep().movsb())?;
    a.clac()?;
    a.add(qword_ptr(r11), rax)?;
    a.xor(esi, esi)?;
    a.xor(edi, edi)?;
    a.ret()?;
    a.set_label(&mut end_of_data)?;
    a.xor(eax, eax)?;
    a.ret()
}
