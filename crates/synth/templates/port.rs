//! Template sources: a port's send and receive of one 64-byte message
//! (`sk_sio::PortEnd` on `sk_queue::MessageQueue`), with the queue's
//! addresses and shape baked in.
//!
//! Memory (`sk_queue::message_queue`): the cells (`enqueue` at +0,
//! `dequeue` at +64, the wait word at +128) and the slots (each a `u64`
//! sequence at +0 and the message at +8, `slot_stride` bytes apart). Slot
//! `p & mask` serves position `p`: sequence `p` — free for the sender of
//! `p`; `p + 1` — holds the message of `p`; `p + capacity` — freed.
//!
//! Fast path (both): the length is the message size, the buffer is a user
//! range, the wait word is 0 (no sleeper is owed a wake, no end is
//! closed) and the slot at the counter is ready; then the 64 bytes are
//! copied inline (`rep movsb` under `stac`/`clac`, the one fault point)
//! and the counter and the slot's sequence are published. Anything else
//! (wrong length, a full or empty queue, a sleeper, a closed end) goes to
//! the slow path with the call word: the generic port send or receive does
//! everything (blocking, waking, end of stream, broken port, the errors).
//! A fault in the copy publishes nothing (the message stays, or is not
//! sent) and returns `bad_address`, as the generic path does.
//!
//! Why no `lock` and no fence: the kernel runs routines with interrupts
//! masked on one CPU, so nothing else touches the queue between the look
//! at the wait word and the publication. On SMP the send would need the
//! generic path's claim (`lock cmpxchg` on the counter) and, after
//! publishing, `mfence` and a second look at the wait word with a way to
//! deliver the wake it finds (`docs/caveats.md`).

use super::builder::{HoleRef, Kind, TemplateAsm, TemplateSource};
use super::user_range::{check_user_range, fault_and_bad_address_exits};
use iced_x86::code_asm::{eax, ecx, edi, esi, qword_ptr, r11, r9, rax, rcx, rdi, rsi, CodeLabel};
use iced_x86::IcedError;

/// Bytes in a message (`sk_abi::PORT_MESSAGE_BYTES`, checked below).
const MESSAGE: i32 = 64;
const _: () = assert!(sk_abi::PORT_MESSAGE_BYTES == 64);
/// Offsets in the queue's cells (`sk_queue::QueueCells`).
const ENQUEUE: i32 = 0;
const DEQUEUE: i32 = 64;
const WAIT: i32 = 128;
/// Offset of the message in a slot (`MessageQueue::MESSAGE_OFFSET`).
const MESSAGE_OFFSET: i32 = 8;

struct Holes {
    cells: HoleRef,
    slots: HoleRef,
    mask: HoleRef,
    slot_stride: HoleRef,
    call_word: HoleRef,
    bad_address: HoleRef,
    slow_path: HoleRef,
}

fn holes(a: &mut TemplateAsm) -> Holes {
    Holes {
        cells: a.hole(
            "cells",
            Kind::Imm64,
            "Address of the queue's cells (`enqueue` +0, `dequeue` +64, wait word +128); fixed \
             while either end is open.",
        ),
        slots: a.hole("slots", Kind::Imm64, "Address of the queue's slot 0."),
        mask: a.hole("mask", Kind::Imm32, "Slots − 1 (a power of two − 1)."),
        slot_stride: a.hole(
            "slot_stride",
            Kind::Imm32,
            "Bytes from one slot to the next (`MessageQueue::<64>::SLOT_STRIDE`).",
        ),
        call_word: a.hole(
            "call_word",
            Kind::Imm32,
            "This slot's call word, `(handle << 3) | op`: what the generic path decodes when the \
             fast path does not apply.",
        ),
        bad_address: a.hole(
            "bad_address",
            Kind::Imm32,
            "Result for a bad user range or a fault: `-(BadAddress code)`.",
        ),
        slow_path: a.hole(
            "slow_path",
            Kind::Imm64,
            "The stub's slow path (the generic decoder), entered with `rax` = the call word and \
             the arguments intact.",
        ),
    }
}

/// The guards both routines share: length, user range, wait word; then
/// `rax` = the counter at `counter`, `r9` = its slot, `r11` = the cells.
fn guards_and_slot(
    a: &mut TemplateAsm,
    h: &Holes,
    counter: i32,
    slow: CodeLabel,
    bad: CodeLabel,
) -> Result<(), IcedError> {
    a.cmp(rsi, MESSAGE)?;
    a.jne(slow)?;
    check_user_range(a, rdi, rsi, bad)?;
    a.mov_imm64(r11, h.cells)?;
    a.cmp(qword_ptr(r11 + WAIT), 0)?;
    a.jne(slow)?;
    a.mov(rax, qword_ptr(r11 + counter))?;
    a.mov(rcx, rax)?;
    a.and_imm32(rcx, h.mask)?;
    a.imul_imm32(rcx, rcx, h.slot_stride)?;
    a.mov_imm64(r9, h.slots)?;
    a.add(r9, rcx)
}

/// The exits both share: fault fixup (scrubbing `scrub`), bad address,
/// and the slow path with the call word.
fn exits(
    a: &mut TemplateAsm,
    h: &Holes,
    labels: (&mut CodeLabel, &mut CodeLabel, &mut CodeLabel),
    scrub: iced_x86::code_asm::AsmRegister32,
) -> Result<(), IcedError> {
    let (fixup, bad, slow) = labels;
    fault_and_bad_address_exits(a, fixup, bad, h.bad_address, &[scrub])?;
    a.set_label(slow)?;
    a.mov_imm32(eax, h.call_word)?;
    a.mov_imm64(r11, h.slow_path)?;
    a.jmp(r11)
}

pub fn send_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let h = holes(&mut a);
    let mut slow = a.create_label();
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    guards_and_slot(&mut a, &h, ENQUEUE, slow, bad)?;
    // Slot free for position p: sequence == p.
    a.cmp(qword_ptr(r9), rax)?;
    a.jne(slow)?;
    a.mov(rsi, rdi)?;
    a.lea(rdi, qword_ptr(r9 + MESSAGE_OFFSET))?;
    a.mov(ecx, MESSAGE as u32)?;
    a.stac()?;
    a.user_access(fixup, |a| a.rep().movsb())?;
    a.clac()?;
    // Publish: enqueue = p + 1, then the slot's sequence = p + 1.
    a.inc(rax)?;
    a.mov(qword_ptr(r11 + ENQUEUE), rax)?;
    a.mov(qword_ptr(r9), rax)?;
    a.xor(edi, edi)?;
    a.mov(eax, MESSAGE as u32)?;
    a.ret()?;
    exits(&mut a, &h, (&mut fixup, &mut bad, &mut slow), edi)?;
    Ok(TemplateSource {
        name: "port_send",
        doc: "Port send (`write` on a port's send end) of one 64-byte message.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length. Returns 64.\n\n\
              Guards, each to the slow path (`eax` = the call word, arguments intact): length \
              not 64 (the generic `MessageSize`); wait word not 0 (a receiver sleeps and is \
              owed a wake, a sender sleeps, or an end closed: the generic path wakes, or \
              reports the broken port); the slot at `enqueue` not free (full: the generic path \
              blocks). A bad user range returns `bad_address`.\n\n\
              Body: copy the 64 bytes from the user buffer into the slot (`rep movsb`, the \
              fault point: fixup `clac`, scrub `rdi`, `bad_address`, nothing published), then \
              `enqueue = p + 1` and the slot's sequence `= p + 1`. Single CPU with interrupts \
              masked: no claim by `lock cmpxchg` and no fence (see the module doc for SMP).\n\n\
              Technique: Factoring Invariants + Collapsing Layers (Synthesis §2.1, §3.3): the \
              queue's addresses and shape are constants; SIO, port and queue layers fold into \
              one routine with the copy inline.",
        invariants: &["DeviceKind", "OpenForWrite"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rsi", "Rdi", "R9", "R11"],
        asm: a,
    })
}

pub fn receive_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let h = holes(&mut a);
    let capacity = a.hole(
        "capacity",
        Kind::Imm32,
        "Slots (`mask + 1`): a freed slot's sequence is `p + capacity`.",
    );
    let mut slow = a.create_label();
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    guards_and_slot(&mut a, &h, DEQUEUE, slow, bad)?;
    // Message ready for position p: sequence == p + 1.
    a.lea(rcx, qword_ptr(rax + 1))?;
    a.cmp(qword_ptr(r9), rcx)?;
    a.jne(slow)?;
    a.lea(rsi, qword_ptr(r9 + MESSAGE_OFFSET))?;
    a.mov(ecx, MESSAGE as u32)?;
    a.stac()?;
    a.user_access(fixup, |a| a.rep().movsb())?;
    a.clac()?;
    // Publish: dequeue = p + 1, then the slot's sequence = p + capacity.
    a.lea(rcx, qword_ptr(rax + 1))?;
    a.mov(qword_ptr(r11 + DEQUEUE), rcx)?;
    a.add_imm32(rax, capacity)?;
    a.mov(qword_ptr(r9), rax)?;
    a.xor(esi, esi)?;
    a.mov(eax, MESSAGE as u32)?;
    a.ret()?;
    exits(&mut a, &h, (&mut fixup, &mut bad, &mut slow), esi)?;
    Ok(TemplateSource {
        name: "port_receive",
        doc: "Port receive (`read` on a port's receive end) of one 64-byte message.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length. Returns 64.\n\n\
              Guards, each to the slow path (`eax` = the call word, arguments intact): length \
              not 64 (the generic `MessageSize`); wait word not 0 (a sender sleeps and is owed \
              a wake, a receiver sleeps, or an end closed: the generic path wakes, or ends the \
              stream); no message at `dequeue` (empty: the generic path blocks, or returns 0 \
              at the end of the stream). A bad user range returns `bad_address`.\n\n\
              Body: copy the 64 bytes from the slot to the user buffer (`rep movsb`, the fault \
              point: fixup `clac`, scrub `rsi`, `bad_address`, the message stays), then \
              `dequeue = p + 1` and the slot's sequence `= p + capacity`. Single CPU with \
              interrupts masked (see the module doc for SMP).\n\n\
              Technique: Factoring Invariants + Collapsing Layers (Synthesis §2.1, §3.3).",
        invariants: &["DeviceKind", "OpenForRead"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rsi", "Rdi", "R9", "R11"],
        asm: a,
    })
}
