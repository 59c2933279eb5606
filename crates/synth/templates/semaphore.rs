//! Template sources: the uncontended semaphore P and V (Synthesis §3.3).
//!
//! Both work on the semaphore's one `u64` cell (`sk_sio::Semaphore`:
//! count in bits 31..0, waiters in bits 63..32; `count > 0` implies no
//! waiter) with one `lock cmpxchg`, and leave everything else (a P that
//! must block, a V that must wake someone or would overflow) to the generic
//! path, entered with the call word rebuilt from an `Imm32` hole.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use iced_x86::code_asm::{eax, ecx, qword_ptr, r11, rax, rcx};
use iced_x86::IcedError;

fn holes(
    a: &mut TemplateAsm,
) -> (
    super::builder::HoleRef,
    super::builder::HoleRef,
    super::builder::HoleRef,
) {
    let cell = a.hole(
        "cell",
        Kind::Imm64,
        "Address of the semaphore's `u64` cell (count low, waiters high); fixed while it is open.",
    );
    let call_word = a.hole(
        "call_word",
        Kind::Imm32,
        "This slot's call word, `(handle << 3) | op`: what the generic path decodes when the \
         fast path does not apply.",
    );
    let slow_path = a.hole(
        "slow_path",
        Kind::Imm64,
        "The stub's slow path (the generic decoder), entered with `rax` = the call word.",
    );
    (cell, call_word, slow_path)
}

pub fn p_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let (cell, call_word, slow_path) = holes(&mut a);
    let mut retry = a.create_label();
    let mut slow = a.create_label();
    a.mov_imm64(r11, cell)?;
    a.mov(rax, qword_ptr(r11))?;
    a.set_label(&mut retry)?;
    a.test(eax, eax)?;
    a.jz(slow)?;
    a.lea(rcx, qword_ptr(rax - 1))?;
    a.lock().cmpxchg(qword_ptr(r11), rcx)?;
    a.jne(retry)?;
    a.xor(eax, eax)?;
    a.ret()?;
    a.set_label(&mut slow)?;
    a.mov_imm32(eax, call_word)?;
    a.mov_imm64(r11, slow_path)?;
    a.jmp(r11)?;
    Ok(TemplateSource {
        name: "semaphore_p",
        doc: "Semaphore P (`read` on `/dev/semaphore`), uncontended: if the count is above 0, \
              decrement it with `lock cmpxchg` (retrying if the cell changed) and return 0.\n\n\
              Arguments: none (`rdi`, `rsi` are ignored, as on the generic path).\n\n\
              Guard: count 0 (P must block, or a grant is waiting for this thread): `eax` = the \
              call word, jump to the slow path, whose generic P queues the caller and blocks. \
              The decrement never races the slow path: the waiters share the word, and on one \
              CPU both run with interrupts masked. No user access.\n\n\
              Technique: Factoring Invariants and Collapsing Layers (Synthesis §2.1, §3.3): the \
              cell's address is a constant; the uncontended P costs no kernel entry beyond the \
              call itself.",
        invariants: &["DeviceKind", "OpenForRead"],
        reads: &[],
        clobbers: &["Rax", "Rcx", "R11"],
        asm: a,
    })
}

pub fn v_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let (cell, call_word, slow_path) = holes(&mut a);
    let mut retry = a.create_label();
    let mut slow = a.create_label();
    a.mov_imm64(r11, cell)?;
    a.mov(rax, qword_ptr(r11))?;
    a.set_label(&mut retry)?;
    // ecx = low half + 1 (mod 2^32), zero-extended: above rax exactly when
    // the word is below u32::MAX, i.e. no waiter and no overflow.
    a.lea(ecx, qword_ptr(rax + 1))?;
    a.cmp(rcx, rax)?;
    a.jbe(slow)?;
    a.lock().cmpxchg(qword_ptr(r11), rcx)?;
    a.jne(retry)?;
    a.xor(eax, eax)?;
    a.ret()?;
    a.set_label(&mut slow)?;
    a.mov_imm32(eax, call_word)?;
    a.mov_imm64(r11, slow_path)?;
    a.jmp(r11)?;
    Ok(TemplateSource {
        name: "semaphore_v",
        doc: "Semaphore V (`write` on `/dev/semaphore`), uncontended: if nobody waits and the \
              count is below `u32::MAX` (the whole cell below `u32::MAX`), increment it with \
              `lock cmpxchg` (retrying if the cell changed) and return 0.\n\n\
              Arguments: none (`rdi`, `rsi` are ignored, as on the generic path).\n\n\
              Guard: a waiter (V must hand the unit over and wake it) or a full count (the \
              generic path's `BadValue`): `eax` = the call word, jump to the slow path. A waiter \
              registered by a slow P makes the compare-exchange fail, so the reload sees it. No \
              user access.\n\n\
              Technique: Factoring Invariants and Collapsing Layers (Synthesis §2.1, §3.3).",
        invariants: &["DeviceKind", "OpenForWrite"],
        reads: &[],
        clobbers: &["Rax", "Rcx", "R11"],
        asm: a,
    })
}
