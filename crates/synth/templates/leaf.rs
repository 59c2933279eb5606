//! Shared snippets of the *stackless* (leaf) routines: the entry stub
//! `jmp`s to them on the user's stack, and they end in `sysretq`
//! themselves (`entry_stub.rs`, `docs/caveats.md`).
//!
//! Leaf contract (checked by `build.rs`: `check_stackless`, and by the
//! taint check, `taint.rs`): entered with `rax` = call word, `r9` = the
//! thread's table address (kernel), `rcx` = user `rip`, `r11` = user
//! `rflags`, `rsp` = the user's (untrusted) stack and the user's GS; never
//! touches `rsp` or the stack (no push, pop, call, ret), never writes
//! `r11`, leaves `rcx` as found at every exit (a `rep` count is parked in
//! `r9` and moved back), and leaves no kernel value in any register but
//! `rax` (the result) at a `sysretq`; and, as the native ABI promises
//! (`docs/caveats.md`, checked end to end by `user/regcheck`), every
//! register it changed comes back as 0, the result or a pointer into the
//! call's buffer: a parked `rcx` or `USER_END` is zeroed too. Scratch: `rax`, `r9`, `rdi`, `rsi`,
//! `rdx`, `r8`, `r10` (what the native ABI declares clobbered). The one
//! other exit is [`leaf_generic_exit`]: a tail jump to the kernel's
//! stackful door (`sk_machine::synth_entry::leaf_door_address`) with the
//! call untouched.

use super::builder::{AsmResult, HoleRef, TemplateAsm};
use super::user_range::USER_END;
use iced_x86::code_asm::{r9, r9d, rax, AsmRegister64, CodeLabel};

/// Names of the stackless templates (`build.rs` checks each against the
/// leaf contract; every other template is entered by `call`).
pub const STACKLESS: &[&str] = &[
    "error_stub",
    "dev_null_write_leaf",
    "dev_zero_read_leaf",
    "dev_mem_read_leaf",
    "ram_file_read_leaf",
];

/// Templates installed in front of a stackless routine and entered the
/// same way (on the user's stack): the call counter (`synth.count`).
/// `build.rs` holds them to the leaf contract, except that they end in a
/// tail jump to the routine instead of `sysretq`.
pub const STACKLESS_PREFIXES: &[&str] = &["call_counter"];

/// Guard: `buf + len` must not wrap and must be `<= USER_END`, else jump to
/// `bad`. Clobbers `rax`, `r9` (left holding `USER_END`: clean) and the
/// flags. 6 instructions.
pub fn leaf_check_user_range(
    a: &mut TemplateAsm,
    buf: AsmRegister64,
    len: AsmRegister64,
    bad: CodeLabel,
) -> AsmResult {
    a.mov(rax, buf)?;
    a.add(rax, len)?;
    a.jc(bad)?;
    a.mov(r9, USER_END)?;
    a.cmp(rax, r9)?;
    a.ja(bad)
}

/// `xor r9d, r9d` (the table address, or a kernel value the routine left
/// there), the result, `sysretq`.
pub fn leaf_return_scrubbed(a: &mut TemplateAsm) -> AsmResult {
    a.xor(r9d, r9d)?;
    a.sysretq()
}

/// The exit `long_calls_go_generic` jumps to in a leaf: `mov r9, door;
/// jmp r9` with `rax` (the call word), the arguments, `rcx`, `r11` and
/// `rsp` as the stub left them. The door switches to the kernel stack,
/// runs the generic path and returns to user mode itself.
pub fn leaf_generic_exit(
    a: &mut TemplateAsm,
    too_long: &mut CodeLabel,
    door: HoleRef,
) -> AsmResult {
    a.set_label(too_long)?;
    a.mov_imm64(r9, door)?;
    a.jmp(r9)
}

/// Where a leaf copy's end of data comes from.
pub enum LeafLimit {
    /// A constant below 2^31 baked into the code (`mov eax, imm32`).
    Constant32(HoleRef),
    /// A `u64` cell the generic path updates.
    Cell(HoleRef),
}

/// The general (`len != 1`) copy of a leaf read: expects `rdi` = user
/// buffer, `rsi` = length (range already checked). `n = min(len, limit -
/// pos)` (0 at or past the end: jumps to `end_of_data`), copies `n` bytes
/// from `source + pos` with `rep movsb` (the user `rip` parked in `r8`
/// while `rcx` counts; one fault point, resuming at `fixup` with `r8` =
/// user `rip`: the trap handler writes `rax` and `rdx`), `pos += n`, puts `rcx` back, zeroes `rsi`, `rdi` and `r9`,
/// returns `n` with `sysretq`.
pub fn leaf_copy_out(
    a: &mut TemplateAsm,
    limit: LeafLimit,
    position_cell: HoleRef,
    source: HoleRef,
    fixup: CodeLabel,
    end_of_data: CodeLabel,
) -> AsmResult {
    use iced_x86::code_asm::{eax, edi, esi, qword_ptr, r8, r8d, rcx, rsi};
    match limit {
        LeafLimit::Constant32(size) => a.mov_imm32(eax, size)?,
        LeafLimit::Cell(size_cell) => {
            a.mov_imm64(r9, size_cell)?;
            a.mov(rax, qword_ptr(r9))?;
        }
    }
    a.mov_imm64(r9, position_cell)?;
    a.sub(rax, qword_ptr(r9))?;
    a.jbe(end_of_data)?;
    a.cmp(rsi, rax)?;
    a.cmovb(rax, rsi)?;
    a.mov(r8, rcx)?;
    a.mov(rcx, rax)?;
    a.mov_imm64(rsi, source)?;
    a.add(rsi, qword_ptr(r9))?;
    a.stac()?;
    a.user_access(fixup, |a| a.rep().movsb())?;
    a.clac()?;
    a.add(qword_ptr(r9), rax)?;
    a.mov(rcx, r8)?;
    a.xor(r8d, r8d)?;
    a.xor(esi, esi)?;
    a.xor(edi, edi)?;
    leaf_return_scrubbed(a)
}

/// The fixup of [`leaf_copy_out`]'s `rep movsb`: `clac`, `rcx` back from
/// `r8`, `rsi`/`rdi` (advanced by a kernel-derived count) zeroed, then
/// `bad` (which returns the error).
pub fn leaf_copy_fixup(a: &mut TemplateAsm, fixup: &mut CodeLabel, bad: CodeLabel) -> AsmResult {
    use iced_x86::code_asm::{edi, edx, esi, r8, r8d, rcx};
    a.set_label(fixup)?;
    a.clac()?;
    a.mov(rcx, r8)?;
    a.xor(r8d, r8d)?;
    a.xor(esi, esi)?;
    a.xor(edi, edi)?;
    // The fault handler put CR2 in rdx: the user's address for a fault on
    // the destination, but a kernel one if the source faulted.
    a.xor(edx, edx)?;
    a.jmp(bad)
}

/// `bad:` `rax = bad_address`, `r9` zeroed, `sysretq`.
pub fn leaf_bad_exit(a: &mut TemplateAsm, bad: &mut CodeLabel, bad_address: HoleRef) -> AsmResult {
    a.set_label(bad)?;
    a.mov_imm32_sign_extended(rax, bad_address)?;
    leaf_return_scrubbed(a)
}
