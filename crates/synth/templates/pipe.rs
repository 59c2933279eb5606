//! Template sources: the synthesized pipe write and read (issue 11), on one
//! end of an `sk-queue` byte ring.
//!
//! Both bake in the ring's buffer address, its mask (`capacity - 1`) and
//! the addresses of its `produced`, `consumed` and wait cells
//! (`sk_queue::RingCells`), and do the one case that needs no other party:
//! the transfer fits, nobody is owed a wake and neither end is closed (the
//! wait word is 0). Everything else — a write that would block or is
//! longer than the atomic size, an empty ring, a waiting bit (a wake is
//! owed), a closed end, a 0-byte call — jumps to the slow path with the
//! call word still in `rax` and the arguments intact, before anything is
//! written, so the generic path (`sk_sio::PipeEnd`) does the whole call.
//!
//! Register use: `r9`, `r11` and `rcx` hold kernel values freely (the
//! entry stub zeroes or restores them); `rdx`, `rsi` and `rdi` are zeroed
//! at every exit that put a kernel value in them; `rax` is the result.

use super::builder::{HoleRef, Kind, TemplateAsm, TemplateSource};
use super::user_range::USER_END;
use iced_x86::code_asm::{
    al, byte_ptr, eax, ecx, edi, edx, esi, qword_ptr, r11, r9, rax, rcx, rdi, rdx, rsi, CodeLabel,
};
use iced_x86::IcedError;

/// The holes both routines share.
struct Holes {
    buffer: HoleRef,
    mask: HoleRef,
    produced: HoleRef,
    consumed: HoleRef,
    wait: HoleRef,
    max_len: HoleRef,
    bad_address: HoleRef,
    slow_path: HoleRef,
}

fn holes(a: &mut TemplateAsm, max_len_doc: &'static str) -> Holes {
    Holes {
        buffer: a.hole(
            "buffer",
            Kind::Imm64,
            "Address of the ring's first buffer byte (the bytes are plain memory in order).",
        ),
        mask: a.hole(
            "mask",
            Kind::Imm32,
            "`capacity - 1` (the capacity a power of two of at most 2^31): counter to buffer offset.",
        ),
        produced: a.hole(
            "produced",
            Kind::Imm64,
            "Address of the ring's `produced` counter (`u64`, free-running).",
        ),
        consumed: a.hole(
            "consumed",
            Kind::Imm64,
            "Address of the ring's `consumed` counter (`u64`, free-running).",
        ),
        wait: a.hole(
            "wait",
            Kind::Imm64,
            "Address of the ring's wait word (waiting and closed bits; 0: nobody waits, both \
             ends open).",
        ),
        max_len: a.hole("max_len", Kind::Imm32, max_len_doc),
        bad_address: a.hole(
            "bad_address",
            Kind::Imm32,
            "Result for a bad user range or a fault: `-(BadAddress code)`.",
        ),
        slow_path: a.hole(
            "slow_path",
            Kind::Imm64,
            "The stub's slow path (the generic decoder), entered with `rax` = the call word and \
             the arguments intact when the fast path does not apply.",
        ),
    }
}

/// Guard of the 1-byte case: `buf < USER_END`, else `bad`. Clobbers `rcx`.
fn check_one_byte(a: &mut TemplateAsm, bad: CodeLabel) -> Result<(), IcedError> {
    a.mov(rcx, USER_END)?;
    a.cmp(rdi, rcx)?;
    a.jae(bad)
}

/// Guard of the general case: `buf + len` neither wraps nor passes
/// `USER_END`, else `bad`. Clobbers `rcx`, `r11` (not `rax`: the call word).
fn check_range(a: &mut TemplateAsm, bad: CodeLabel) -> Result<(), IcedError> {
    a.mov(rcx, rdi)?;
    a.add(rcx, rsi)?;
    a.jc(bad)?;
    a.mov(r11, USER_END)?;
    a.cmp(rcx, r11)?;
    a.ja(bad)
}

/// Guard: the wait word is 0, else `slow`. Clobbers `r11`.
fn nobody_waits(a: &mut TemplateAsm, h: &Holes, slow: CodeLabel) -> Result<(), IcedError> {
    a.mov_imm64(r11, h.wait)?;
    a.cmp(qword_ptr(r11), 0)?;
    a.jne(slow)
}

/// Copies `rax` bytes between the ring at counter `r9` and the user buffer,
/// in at most two `rep movsb` pieces around the end of the buffer. Writes
/// (`into_ring`) copy from `rdi` (the user buffer) into the ring; reads from
/// the ring to `rdi`. Clobbers `rcx`, `rdx`, `rsi`, `rdi` (the caller
/// scrubs them); both `rep movsb` are fault points resuming at `fixup`.
fn copy_two_pieces(
    a: &mut TemplateAsm,
    h: &Holes,
    into_ring: bool,
    fixup: CodeLabel,
) -> Result<(), IcedError> {
    let ring = if into_ring { rdi } else { rsi };
    if into_ring {
        a.mov(rsi, rdi)?;
    }
    a.mov_imm32(edx, h.mask)?;
    a.and(rdx, r9)?;
    a.mov_imm64(ring, h.buffer)?;
    a.add(ring, rdx)?;
    // First piece: min(len, capacity - offset) (at least 1).
    a.mov_imm32(ecx, h.mask)?;
    a.sub(rcx, rdx)?;
    a.inc(rcx)?;
    a.cmp(rcx, rax)?;
    a.cmova(rcx, rax)?;
    a.mov(rdx, rax)?;
    a.sub(rdx, rcx)?;
    a.stac()?;
    a.user_access(fixup, |a| a.rep().movsb())?;
    // Second piece (maybe empty) from the start of the buffer.
    a.mov(rcx, rdx)?;
    a.mov_imm64(ring, h.buffer)?;
    a.user_access(fixup, |a| a.rep().movsb())?;
    a.clac()
}

/// The common exits: `fixup:` (`clac`, scrub, `bad_address`), `bad:`, and
/// `slow:` (tail jump to the slow path with `rax` = the call word).
fn exits(
    a: &mut TemplateAsm,
    h: &Holes,
    fixup: &mut CodeLabel,
    bad: &mut CodeLabel,
    slow: &mut CodeLabel,
) -> Result<(), IcedError> {
    a.set_label(fixup)?;
    a.clac()?;
    a.xor(edx, edx)?;
    a.xor(esi, esi)?;
    a.xor(edi, edi)?;
    a.set_label(bad)?;
    a.mov_imm32_sign_extended(rax, h.bad_address)?;
    a.ret()?;
    a.set_label(slow)?;
    a.mov_imm64(r11, h.slow_path)?;
    a.jmp(r11)
}

pub fn write_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let h = holes(
        &mut a,
        "The ring's atomic size (`PIPE_BUF`): longer writes go to the generic path, which \
         splits them.",
    );
    let mut general = a.create_label();
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    let mut slow = a.create_label();

    // 1 byte: range, wait word, room, load the user's byte, store, publish.
    a.cmp(rsi, 1)?;
    a.jne(general)?;
    check_one_byte(&mut a, bad)?;
    nobody_waits(&mut a, &h, slow)?;
    a.mov_imm64(r11, h.produced)?;
    a.mov(r9, qword_ptr(r11))?;
    // used = produced - consumed; full when used > mask.
    a.mov_imm64(rcx, h.consumed)?;
    a.mov(rcx, qword_ptr(rcx))?;
    a.neg(rcx)?;
    a.add(rcx, r9)?;
    a.cmp_imm32(rcx, h.mask)?;
    a.ja(slow)?;
    a.stac()?;
    a.user_access(fixup, |a| a.movzx(eax, byte_ptr(rdi)))?;
    a.clac()?;
    a.mov_imm32(ecx, h.mask)?;
    a.and(rcx, r9)?;
    a.mov_imm64(r9, h.buffer)?;
    a.mov(byte_ptr(r9 + rcx), al)?;
    a.inc(qword_ptr(r11))?;
    a.mov(eax, 1)?;
    a.ret()?;

    // 2 ..= max_len bytes (0 and longer: generic).
    a.set_label(&mut general)?;
    a.test(rsi, rsi)?;
    a.jz(slow)?;
    a.cmp_imm32(rsi, h.max_len)?;
    a.ja(slow)?;
    check_range(&mut a, bad)?;
    nobody_waits(&mut a, &h, slow)?;
    a.mov_imm64(r11, h.produced)?;
    a.mov(r9, qword_ptr(r11))?;
    // used + len - 1 > mask: not enough room.
    a.mov_imm64(rcx, h.consumed)?;
    a.mov(rcx, qword_ptr(rcx))?;
    a.neg(rcx)?;
    a.add(rcx, r9)?;
    a.lea(rcx, qword_ptr(rcx + rsi - 1))?;
    a.cmp_imm32(rcx, h.mask)?;
    a.ja(slow)?;
    // Committed: rax (the call word) is free.
    a.mov(rax, rsi)?;
    copy_two_pieces(&mut a, &h, true, fixup)?;
    a.add(r9, rax)?;
    a.mov(qword_ptr(r11), r9)?;
    a.xor(edx, edx)?;
    a.xor(esi, esi)?;
    a.xor(edi, edi)?;
    a.ret()?;
    exits(&mut a, &h, &mut fixup, &mut bad, &mut slow)?;
    Ok(TemplateSource {
        name: "pipe_write",
        doc: "Pipe write (`write` on a pipe's write end), the case that needs nobody else: \
              copy the user's bytes into the ring at `produced`, publish `produced + len`, \
              return `len`.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length; `rax` = the call word (kept for \
              the slow path).\n\n\
              Guards, in order: `len == 1` takes a 1-byte path (`buf < USER_END`; one `movzx` \
              from the user, one byte store, `inc [produced]`). Otherwise `len == 0` or \
              `len > max_len` (the atomic size) → slow path; user range, else `bad_address`. \
              Then the wait word must be 0 (a reader asleep is owed a wake, a closed read end \
              is a broken pipe, a stale writer bit is the generic path's), and the free room \
              `capacity - (produced - consumed)` at least `len` (a write that would block), \
              else the slow path: `jmp slow_path` with `rax` = the call word and `rdi`, `rsi` \
              untouched, nothing written, so the generic path does the whole write. The copy \
              is `rep movsb` in at most two pieces around the buffer's end.\n\n\
              Fault points: the user byte load and both `rep movsb`; the fixup returns \
              `bad_address` with `produced` unchanged (bytes past `produced` are not in the \
              ring: it is unchanged, as on the generic path, which writes nothing on a fault).\n\n\
              Invalidation: none needed when the read end closes: the closed bit is in the wait \
              word this routine reads on every call.\n\n\
              SMP caveat: the check-then-act (wait word, then copy and publish) is atomic only \
              because the kernel runs calls with interrupts masked on one CPU. With a reader on \
              another CPU, a reader announcing itself between the wait-word check and the \
              publish would sleep with nobody owing it a wake (the generic path's \
              publish-fence-look order, `sk_queue::wait_word`, is what SMP needs: an `mfence` \
              and a second look after the publish).\n\n\
              Technique: Factoring Invariants and Collapsing Layers (Synthesis §2.1, §3.2): the \
              buffer, mask and cells are constants, the queue's put is inline.",
        invariants: &["DeviceKind", "OpenForWrite", "SingleOwner", "NotShared"],
        reads: &["Rax", "Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rdx", "Rsi", "Rdi", "R9", "R11"],
        asm: a,
    })
}

pub fn read_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let h = holes(
        &mut a,
        "Most bytes one read returns (the generic read's piece, the atomic size): a longer \
         read returns at most this many, as on the generic path.",
    );
    let mut general = a.create_label();
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    let mut slow = a.create_label();

    // 1 byte: range, wait word, not empty, load, store to the user, publish.
    a.cmp(rsi, 1)?;
    a.jne(general)?;
    check_one_byte(&mut a, bad)?;
    nobody_waits(&mut a, &h, slow)?;
    a.mov_imm64(r11, h.consumed)?;
    a.mov(r9, qword_ptr(r11))?;
    a.mov_imm64(rcx, h.produced)?;
    a.cmp(qword_ptr(rcx), r9)?;
    a.je(slow)?;
    a.mov_imm32(ecx, h.mask)?;
    a.and(rcx, r9)?;
    a.mov_imm64(r9, h.buffer)?;
    a.movzx(eax, byte_ptr(r9 + rcx))?;
    a.stac()?;
    a.user_access(fixup, |a| a.mov(byte_ptr(rdi), al))?;
    a.clac()?;
    a.inc(qword_ptr(r11))?;
    a.mov(eax, 1)?;
    a.ret()?;

    // Other lengths: min(len, available, max_len) bytes (0: generic).
    a.set_label(&mut general)?;
    a.test(rsi, rsi)?;
    a.jz(slow)?;
    check_range(&mut a, bad)?;
    nobody_waits(&mut a, &h, slow)?;
    a.mov_imm64(r11, h.consumed)?;
    a.mov(r9, qword_ptr(r11))?;
    a.mov_imm64(rcx, h.produced)?;
    a.mov(rcx, qword_ptr(rcx))?;
    a.sub(rcx, r9)?;
    a.jz(slow)?;
    // Committed: rax (the call word) is free.
    a.cmp(rcx, rsi)?;
    a.cmova(rcx, rsi)?;
    a.mov_imm32(eax, h.max_len)?;
    a.cmp(rcx, rax)?;
    a.cmova(rcx, rax)?;
    a.mov(rax, rcx)?;
    copy_two_pieces(&mut a, &h, false, fixup)?;
    // Consumed only once the bytes reached the user.
    a.add(r9, rax)?;
    a.mov(qword_ptr(r11), r9)?;
    a.xor(edx, edx)?;
    a.xor(esi, esi)?;
    a.xor(edi, edi)?;
    a.ret()?;
    exits(&mut a, &h, &mut fixup, &mut bad, &mut slow)?;
    Ok(TemplateSource {
        name: "pipe_read",
        doc: "Pipe read (`read` on a pipe's read end), the case that needs nobody else: copy \
              `n = min(len, produced - consumed, max_len)` bytes from the ring at `consumed` to \
              the user, then publish `consumed + n`, return `n`.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length; `rax` = the call word (kept for \
              the slow path).\n\n\
              Guards, in order: `len == 1` takes a 1-byte path (`buf < USER_END`; one byte \
              load, one store to the user, `inc [consumed]`). Otherwise `len == 0` → slow \
              path; user range, else `bad_address`. Then the wait word must be 0 (a writer \
              asleep is owed a wake; a closed write end means end of file is near, and a stale \
              reader bit is the generic path's) and the ring not empty (a read that would \
              block), else `jmp slow_path` with `rax` = the call word and `rdi`, `rsi` \
              untouched, nothing consumed. The copy is `rep movsb` in at most two pieces \
              around the buffer's end.\n\n\
              Fault points: the byte store and both `rep movsb`; the copy comes before the \
              publish, so the fixup returns `bad_address` with `consumed` unchanged: a \
              faulting buffer loses no byte (as on the generic path).\n\n\
              Invalidation: none needed when the write end closes: the closed bit is in the \
              wait word this routine reads on every call.\n\n\
              SMP caveat: as for `pipe_write`, the check-then-act is atomic only on one CPU \
              with interrupts masked; on SMP a writer announcing itself after the check would \
              miss its wake (the generic path publishes, fences, then looks).\n\n\
              Technique: Factoring Invariants and Collapsing Layers (Synthesis §2.1, §3.2).",
        invariants: &["DeviceKind", "OpenForRead", "SingleOwner", "NotShared"],
        reads: &["Rax", "Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rdx", "Rsi", "Rdi", "R9", "R11"],
        asm: a,
    })
}
