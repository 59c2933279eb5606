//! Shared guard snippet: the user-range check inlined into every routine
//! that touches user memory (Collapsing Layers: the check is spliced in,
//! not called), and the holes every bounded transfer routine declares.

use super::builder::{AsmResult, HoleRef, Kind, TemplateAsm};
use iced_x86::code_asm::{rax, rcx, AsmRegister32, AsmRegister64, CodeLabel};

/// First address above the lower canonical half: user ranges end at or below it.
pub const USER_END: u64 = sk_abi::USER_END;

/// Guard: `buf + len` must not wrap and must be `<= USER_END`, else jump to
/// `bad`. Clobbers `rax`, `rcx` and the flags. 6 instructions.
pub fn check_user_range(
    a: &mut TemplateAsm,
    buf: AsmRegister64,
    len: AsmRegister64,
    bad: CodeLabel,
) -> AsmResult {
    a.mov(rax, buf)?;
    a.add(rax, len)?;
    a.jc(bad)?;
    a.mov(rcx, USER_END)?;
    a.cmp(rax, rcx)?;
    a.ja(bad)
}

/// Emits the common tail of user-memory routines: `fixup:` undoes `stac`,
/// zeroes `scrub` (the registers holding kernel values when the user access
/// faults) and falls into `bad:`, which returns the `bad_address` error.
pub fn fault_and_bad_address_exits(
    a: &mut TemplateAsm,
    fixup: &mut CodeLabel,
    bad: &mut CodeLabel,
    bad_address: HoleRef,
    scrub: &[AsmRegister32],
) -> AsmResult {
    a.set_label(fixup)?;
    a.clac()?;
    for &register in scrub {
        a.xor(register, register)?;
    }
    a.set_label(bad)?;
    a.mov_imm32_sign_extended(rax, bad_address)?;
    a.ret()
}

/// Sends a call longer than the `max_len` hole (an `Imm32`) to the generic
/// path: `cmp len, max_len; ja too_long`. Must come before anything writes
/// `rax` (the call word) or an argument register, so the generic path gets
/// the call exactly as the stub made it. This bounds the work a routine
/// does with interrupts masked (`docs/caveats.md`).
pub fn long_calls_go_generic(
    a: &mut TemplateAsm,
    len: AsmRegister64,
    max_len: HoleRef,
    too_long: CodeLabel,
) -> AsmResult {
    a.cmp_imm32(len, max_len)?;
    a.ja(too_long)
}

/// The exit `long_calls_go_generic` jumps to: a tail jump to the stub's
/// slow path (the `slow_path` hole, an `Imm64`), which decodes the call word
/// in `rax` and runs the call on the generic path, then returns to the stub.
/// Uses `r11`, which the stub restores.
pub fn generic_exit(
    a: &mut TemplateAsm,
    too_long: &mut CodeLabel,
    slow_path: HoleRef,
) -> AsmResult {
    a.set_label(too_long)?;
    a.mov_imm64(iced_x86::code_asm::r11, slow_path)?;
    a.jmp(iced_x86::code_asm::r11)
}

/// Where a transfer routine sends a call too long for it.
#[derive(Clone, Copy)]
pub enum SlowPath {
    /// The entry stub's slow path (the generic decoder): routines entered
    /// on the kernel stack.
    Stub,
    /// The stackful door of stackless routines (`leaf_door`).
    LeafDoor,
}

/// The holes every bounded transfer routine declares after its own: the
/// error for a bad range or a fault, the longest call it does, and where
/// longer calls go. One declaration, so a routine and its stackless twin
/// have the same holes in the same order.
pub struct TransferHoles {
    /// `-(BadAddress code)`.
    pub bad_address: HoleRef,
    /// `sk_sio::CHUNK_BYTES`.
    pub max_len: HoleRef,
    /// [`SlowPath`]'s address.
    pub slow_path: HoleRef,
}

/// Declares the [`TransferHoles`] of a routine whose long calls go to `slow`.
pub fn transfer_holes(a: &mut TemplateAsm, slow: SlowPath) -> TransferHoles {
    let bad_address = a.hole(
        "bad_address",
        Kind::Imm32,
        "Result for a bad user range or a fault: `-(BadAddress code)`.",
    );
    let max_len = a.hole(
        "max_len",
        Kind::Imm32,
        "Longest call done here (the kernel's transfer piece, `sk_sio::CHUNK_BYTES`); longer \
         ones go to the generic path, which splits them with preemption points between pieces.",
    );
    let slow_doc = match slow {
        SlowPath::Stub => {
            "The stub's slow path (the generic decoder), where a call too long for this routine goes \
             with the call word and arguments intact."
        }
        SlowPath::LeafDoor => {
            "The kernel's stackful door for leaves (`leaf_door`), where a call too long for this \
             routine goes with the call word and arguments intact."
        }
    };
    let slow_path = a.hole("slow_path", Kind::Imm64, slow_doc);
    TransferHoles {
        bad_address,
        max_len,
        slow_path,
    }
}
