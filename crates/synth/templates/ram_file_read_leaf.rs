//! Template source: RAM-file read, stackless (`templates/leaf.rs`), with
//! a 1-byte fast path like `/dev/mem`'s.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::leaf::{
    leaf_bad_exit, leaf_check_user_range, leaf_copy_fixup, leaf_copy_out, leaf_generic_exit,
    leaf_return_scrubbed, LeafLimit,
};
use super::user_range::{long_calls_go_generic, transfer_holes, SlowPath, TransferHoles, USER_END};
use iced_x86::code_asm::{al, byte_ptr, eax, edx, qword_ptr, r9, rax, rdi, rdx, rsi};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let data = a.hole(
        "data",
        Kind::Imm64,
        "Kernel address of the file's contiguous data.",
    );
    let position_cell = a.hole(
        "position_cell",
        Kind::Imm64,
        "Address of the handle's `u64` position cell.",
    );
    let size_cell = a.hole(
        "size_cell",
        Kind::Imm64,
        "Address of the file's `u64` size cell (writes change it).",
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

    // Fast path, len == 1.
    a.cmp(rsi, 1)?;
    a.jne(general)?;
    a.mov(r9, USER_END)?;
    a.cmp(rdi, r9)?;
    a.jae(bad)?;
    a.mov_imm64(r9, position_cell)?;
    a.mov(rax, qword_ptr(r9))?;
    a.mov_imm64(rdx, size_cell)?;
    a.cmp(rax, qword_ptr(rdx))?;
    a.jae(end_of_data)?;
    a.inc(qword_ptr(r9))?;
    a.mov_imm64(r9, data)?;
    a.movzx(eax, byte_ptr(r9 + rax))?;
    a.stac()?;
    a.user_access(fast_fixup, |a| a.mov(byte_ptr(rdi), al))?;
    a.clac()?;
    a.mov(eax, 1)?;
    a.xor(edx, edx)?;
    leaf_return_scrubbed(&mut a)?;

    // General path.
    a.set_label(&mut general)?;
    long_calls_go_generic(&mut a, rsi, max_len, too_long)?;
    leaf_check_user_range(&mut a, rdi, rsi, bad)?;
    leaf_copy_out(
        &mut a,
        LeafLimit::Cell(size_cell),
        position_cell,
        data,
        fixup,
        end_of_data,
    )?;
    a.set_label(&mut end_of_data)?;
    a.xor(eax, eax)?;
    a.xor(edx, edx)?;
    leaf_return_scrubbed(&mut a)?;
    leaf_copy_fixup(&mut a, &mut fixup, bad)?;
    a.set_label(&mut fast_fixup)?;
    a.clac()?;
    a.mov_imm64(r9, position_cell)?;
    a.dec(qword_ptr(r9))?;
    a.xor(edx, edx)?;
    leaf_bad_exit(&mut a, &mut bad, bad_address)?;
    leaf_generic_exit(&mut a, &mut too_long, slow_path)?;
    Ok(TemplateSource {
        name: "ram_file_read_leaf",
        doc: "RAM-file read, stackless: copy from the file's data at the handle's position.\n\n\
              The native twin of `ram_file_read` (same holes; `slow_path` is the leaf door): \
              entered by the entry stub's `jmp` on the user's stack, returns with `sysretq` \
              (`templates/leaf.rs`). Arguments: `rdi` = user buffer, `rsi` = length. \
              `n = min(len, size - pos)` with the size read from its cell, 0 at EOF; copies; \
              `pos += n`; returns `n`.\n\n\
              Fast path for `len == 1`: user range, `pos < size`, position bump, load, store, \
              return — 21 instructions executed, 25 with the stub. A fault on the store undoes \
              the bump. Other lengths: longer than `max_len` go to the door; else user range, \
              then `rep movsb` with the user `rip` parked in `r8`.\n\n\
              Guards: user range, else `bad_address`. Fault points: the byte store and the \
              `rep movsb`; fixups `clac` + `bad_address`, position unchanged.\n\n\
              Technique: Factoring Invariants + Collapsing Layers (Synthesis §2.1–2.2).",
        invariants: &["FileData", "OpenForRead", "SingleOwner", "NotShared"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rdx", "Rsi", "Rdi", "R8", "R9"],
        asm: a,
    })
}
