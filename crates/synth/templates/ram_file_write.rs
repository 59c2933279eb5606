//! Template source: RAM-file write within the current capacity.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::user_range::check_user_range;
use iced_x86::code_asm::{eax, edi, qword_ptr, r11, r9, rax, rcx, rdi, rsi};
use iced_x86::{Code, IcedError};

/// `size = max(size, rax)` through the size cell (clobbers `r9`, `rcx`).
fn raise_size(
    a: &mut TemplateAsm,
    size_cell: super::builder::HoleRef,
) -> super::builder::AsmResult {
    a.mov_imm64(r9, size_cell)?;
    a.mov(rcx, qword_ptr(r9))?;
    a.cmp(rcx, rax)?;
    a.cmovb(rcx, rax)?;
    a.mov(qword_ptr(r9), rcx)
}

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let data = a.hole(
        "data",
        Kind::Imm64,
        "Kernel address of the file's contiguous data.",
    );
    let capacity = a.hole(
        "capacity",
        Kind::Imm64,
        "Bytes allocated at `data`; writes past it go generic.",
    );
    let position_cell = a.hole(
        "position_cell",
        Kind::Imm64,
        "Address of the handle's `u64` position cell.",
    );
    let size_cell = a.hole(
        "size_cell",
        Kind::Imm64,
        "Address of the file's `u64` size cell.",
    );
    let generic_fallback = a.hole(
        "generic_fallback",
        Kind::Rel32,
        "Where a write past the capacity goes with the arguments intact: this slot's generic \
         trampoline instance (kept in the same arena, so always within ±2 GiB).",
    );
    let bad_address = a.hole(
        "bad_address",
        Kind::Imm32,
        "Result for a bad user range or a fault: `-(BadAddress code)`.",
    );
    let max_len = a.hole(
        "max_len",
        Kind::Imm32,
        "Longest call done here (the kernel's transfer piece, `sk_sio::CHUNK_BYTES`); longer \
         ones go to `generic_fallback`, and the generic path splits them with preemption points.",
    );
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    let mut empty = a.create_label();
    a.cmp_imm32(rsi, max_len)?;
    a.branch_rel32(Code::Ja_rel32_64, generic_fallback)?;
    check_user_range(&mut a, rdi, rsi, bad)?;
    // An empty write changes nothing (as on the generic path).
    a.test(rsi, rsi)?;
    a.jz(empty)?;
    a.mov_imm64(r9, position_cell)?;
    a.mov(rax, qword_ptr(r9))?;
    a.add(rax, rsi)?;
    a.branch_rel32(Code::Jb_rel32_64, generic_fallback)?;
    a.mov_imm64(rcx, capacity)?;
    a.cmp(rax, rcx)?;
    a.branch_rel32(Code::Ja_rel32_64, generic_fallback)?;
    // Guards passed. The length waits in r11 and the position cell sits in
    // r9: the entry stub restores r11 and zeroes r9, so neither needs a
    // scrub; rsi ends inside the user's buffer.
    a.mov(r11, rsi)?;
    a.mov(rcx, rsi)?;
    a.mov(rsi, rdi)?;
    a.mov_imm64(rdi, data)?;
    a.add(rdi, qword_ptr(r9))?;
    a.stac()?;
    a.user_access(fixup, |a| a.rep().movsb())?;
    a.clac()?;
    a.mov(qword_ptr(r9), rax)?;
    raise_size(&mut a, size_cell)?;
    // rdi points into the file's data.
    a.xor(edi, edi)?;
    a.mov(rax, r11)?;
    a.ret()?;
    a.set_label(&mut empty)?;
    a.xor(eax, eax)?;
    a.ret()?;
    // A fault in the user buffer: the bytes before it were copied (`rcx`
    // = bytes left); they count as written, like on the generic path,
    // which keeps the tail past the size zero. Then `bad_address`.
    a.set_label(&mut fixup)?;
    a.clac()?;
    a.xor(edi, edi)?;
    a.mov(rax, r11)?;
    a.sub(rax, rcx)?;
    a.jz(bad)?;
    a.add(rax, qword_ptr(r9))?;
    a.mov(qword_ptr(r9), rax)?;
    raise_size(&mut a, size_cell)?;
    a.set_label(&mut bad)?;
    a.mov_imm32_sign_extended(rax, bad_address)?;
    a.ret()?;
    Ok(TemplateSource {
        name: "ram_file_write",
        doc: "RAM-file write: copy the user buffer into the file's data at the position.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length. Copies to `data + pos`; \
              `pos += len`; `size = max(size, pos)`; returns `len`.\n\n\
              Guards, in order: `len <= max_len`, else `generic_fallback`; user range, else \
              `bad_address`; `pos + len` neither wraps nor \
              exceeds `capacity`, else `jmp generic_fallback` with `rdi`, `rsi`, `rdx`, `r10`, `r8` \
              intact (the generic path grows the file, then replugs this slot: \
              `guard-then-generic`). An empty write returns 0 and changes nothing. Fault point: \
              the `rep movsb` reading the user buffer; the fixup counts the bytes copied before \
              the fault as written (position and size advance by them, as on the generic path), \
              then returns `bad_address`.\n\n\
              Technique: Factoring Invariants (Synthesis §2.1) with a guard for the one fact that \
              changes often (capacity).",
        invariants: &["FileData", "FileCapacity", "OpenForWrite", "SingleOwner", "NotShared"],
        reads: &["Rdi", "Rsi", "Rdx", "R10", "R8"],
        clobbers: &["Rax", "Rcx", "Rsi", "Rdi", "R9", "R11"],
        asm: a,
    })
}
