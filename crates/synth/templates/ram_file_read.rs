//! Template source: RAM-file read.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::copy_out::{bounded_copy_out, Limit};
use super::user_range::{
    check_user_range, fault_and_bad_address_exits, generic_exit, long_calls_go_generic,
    transfer_holes, SlowPath, TransferHoles,
};
use iced_x86::code_asm::{edi, esi, r11, rdi, rsi};
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
    } = transfer_holes(&mut a, SlowPath::Stub);
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    let mut too_long = a.create_label();
    long_calls_go_generic(&mut a, rsi, max_len, too_long)?;
    check_user_range(&mut a, rdi, rsi, bad)?;
    a.mov_imm64(r11, position_cell)?;
    bounded_copy_out(&mut a, Limit::Cell(size_cell), data, fixup)?;
    fault_and_bad_address_exits(&mut a, &mut fixup, &mut bad, bad_address, &[esi, edi])?;
    generic_exit(&mut a, &mut too_long, slow_path)?;
    Ok(TemplateSource {
        name: "ram_file_read",
        doc: "RAM-file read: copy from the file's data at the handle's position.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length. `n = min(len, size - pos)` with the \
              size read from its cell (writers change it), 0 at EOF; copies; `pos += n`; returns `n`.\n\n\
              Guards: longer than `max_len` goes to the generic path (`slow_path`); user range, \
              else `bad_address`. Fault point: the `rep movsb`; fixup `clac` + \
              `bad_address`, position unchanged.\n\n\
              Technique: Factoring Invariants + Collapsing Layers (Synthesis §2.1–2.2): file table, \
              inode and block layers fold into one data address; the copy is spliced in.",
        invariants: &["FileData", "OpenForRead", "SingleOwner", "NotShared"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rsi", "Rdi", "R11"],
        asm: a,
    })
}
