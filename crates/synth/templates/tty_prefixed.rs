//! Template fragment: the upper layer of a prefix view's write (a tty
//! stream prefixed with a child's name), the chain of prefix levels
//! folded into one prefix and spliced above the cooked line discipline.
//!
//! [`line_source`] is one fragment with three splice points where "put
//! the byte in `r8b`" belongs (a prefix byte, `'\r'`, the byte); the lower
//! layer is the tty's own put (`tty_cooked::uart_put_source`, or the
//! memory sink for host tests), spliced in by `collapse.rs`: one routine,
//! no calls, for a chain of any depth up to [`LINE_STATE_CELLS`].
//!
//! What the policy folds into holes (`sk_synth::policy::prefix_chain`):
//! the chain's prefixes, the tty's nearest first, as one string of up to
//! 64 bytes (`prefix_0` .. `prefix_7`, eight bytes each, little-endian:
//! the bytes are code constants, not data the routine reads), its length,
//! and each level's line-state cell (its position cell: 0 = at a line's
//! start). The routine handles the case where every level is in the same
//! line state (each write through the chain leaves them so); a chain
//! whose levels disagree (a lower level's own stream stopped mid-line)
//! goes to the generic path, which walks the levels one by one.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::user_range::{fault_and_bad_address_exits, USER_END};
use iced_x86::code_asm::{
    byte_ptr, ecx, edx, qword_ptr, r10, r10b, r10d, r11, r11d, r8, r8d, r9, r9d, rax, rcx, rdi,
    rdx, rsi,
};
use iced_x86::IcedError;

// The range check shifts by USER_END's bit.
const _: () = assert!(USER_END.is_power_of_two());

/// Line-state cells the routine compares and stores (levels of a chain it
/// handles at most; a shorter chain repeats its first cell).
pub const LINE_STATE_CELLS: usize = 4;

/// `'\n'`.
const LINE_FEED: u32 = 0x0a;
/// `'\r'`.
const CARRIAGE_RETURN: u32 = 0x0d;

/// The upper layer: fold check, newline count, prefix and cooked output
/// around three splice points.
pub fn line_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    a.set_prefer_short_branch(false);
    a.keep_near_branches = true;
    let bad_address = a.hole(
        "bad_address",
        Kind::Imm32,
        "Result for a bad user range or a fault: `-(BadAddress code)`.",
    );
    let max_len = a.hole(
        "max_len",
        Kind::Imm32,
        "Longest call done here (`sk_sio::TTY_CHUNK_BYTES`); longer ones go to the generic path.",
    );
    let max_newlines = a.hole(
        "max_newlines",
        Kind::Imm32,
        "Most `'\\n'` a call done here may carry: with the prefix put at most once per line, \
         it bounds the prefix bytes one call puts out with interrupts masked (more: generic).",
    );
    let slow_path = a.hole(
        "slow_path",
        Kind::Imm64,
        "The stub's slow path (the generic decoder), where a call this routine does not do \
         goes with the call word and arguments intact.",
    );
    let prefix_len = a.hole(
        "prefix_len",
        Kind::Imm32,
        "Bytes of the folded prefix (1 to 64): every level's prefix, the tty's nearest first.",
    );
    let prefix = [
        a.hole(
            "prefix_0",
            Kind::Imm64,
            "Folded prefix bytes 0-7, little-endian.",
        ),
        a.hole("prefix_1", Kind::Imm64, "Folded prefix bytes 8-15."),
        a.hole("prefix_2", Kind::Imm64, "Folded prefix bytes 16-23."),
        a.hole("prefix_3", Kind::Imm64, "Folded prefix bytes 24-31."),
        a.hole("prefix_4", Kind::Imm64, "Folded prefix bytes 32-39."),
        a.hole("prefix_5", Kind::Imm64, "Folded prefix bytes 40-47."),
        a.hole("prefix_6", Kind::Imm64, "Folded prefix bytes 48-55."),
        a.hole("prefix_7", Kind::Imm64, "Folded prefix bytes 56-63."),
    ];
    let cells: [_; LINE_STATE_CELLS] = [
        a.hole(
            "line_state_0",
            Kind::Imm64,
            "Line-state cell of the view called (its position cell: 0 = at a line's start).",
        ),
        a.hole(
            "line_state_1",
            Kind::Imm64,
            "Line-state cell of its parent level (a shorter chain: `line_state_0` again).",
        ),
        a.hole(
            "line_state_2",
            Kind::Imm64,
            "Line-state cell of the next level down (or `line_state_0`).",
        ),
        a.hole(
            "line_state_3",
            Kind::Imm64,
            "Line-state cell of the level after that (or `line_state_0`).",
        ),
    ];
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    let mut slow = a.create_label();
    let mut scan_fault = a.create_label();
    let mut scan = a.create_label();
    let mut not_newline = a.create_label();
    let mut next_byte = a.create_label();
    let mut no_prefix = a.create_label();
    let mut prefix_byte = a.create_label();
    let mut prefix_done = a.create_label();
    let mut plain = a.create_label();

    // Guards, before anything writes rax (the call word), rdi or rsi: a
    // call this routine does not do goes generic exactly as made.
    a.cmp_imm32(rsi, max_len)?;
    a.ja(slow)?;
    a.test(rsi, rsi)?;
    a.jz(slow)?;
    // The user range, in rcx alone (no register the caller sees keeps a
    // kernel-half sum): buf + len must not wrap, and its last byte must
    // lie below USER_END (len >= 1 here).
    a.mov(rcx, rdi)?;
    a.add(rcx, rsi)?;
    a.jc(bad)?;
    a.dec(rcx)?;
    a.shr(rcx, USER_END.trailing_zeros())?;
    a.jnz(bad)?;
    // Every level in one line state (r9), else the generic walk.
    a.mov_imm64(r11, cells[0])?;
    a.mov(r9, qword_ptr(r11))?;
    for &cell in &cells[1..] {
        a.mov_imm64(r11, cell)?;
        a.cmp(r9, qword_ptr(r11))?;
        a.jne(slow)?;
    }
    // Count the '\n' (the user's bytes, read once here; nothing is put
    // yet). A fault here sends the call generic (the call word kept in
    // r10), which writes the bytes before the bad one as it always does.
    a.mov(r10, rax)?;
    a.mov(r8, rdi)?;
    a.mov(rcx, rsi)?;
    a.xor(edx, edx)?;
    a.set_label(&mut scan)?;
    a.stac()?;
    a.user_access(scan_fault, |a| a.cmp(byte_ptr(r8), LINE_FEED))?;
    a.clac()?;
    a.jne(not_newline)?;
    a.inc(edx)?;
    a.set_label(&mut not_newline)?;
    a.inc(r8)?;
    a.dec(rcx)?;
    a.jnz(scan)?;
    a.cmp_imm32(rdx, max_newlines)?;
    a.ja(slow)?;

    // Committed: rax is free. rcx counts the bytes left, r9 is the line
    // state (0: the next byte starts a line).
    a.mov(rcx, rsi)?;
    a.set_label(&mut next_byte)?;
    a.test(r9, r9)?;
    a.jnz(no_prefix)?;
    // The folded prefix: r11d = bytes put, r10 = the current 8 bytes.
    a.xor(r11d, r11d)?;
    a.mov_imm64(r10, prefix[0])?;
    a.set_label(&mut prefix_byte)?;
    a.movzx(r8d, r10b)?;
    a.splice_point(); // put a prefix byte
    a.shr(r10, 8)?;
    a.inc(r11d)?;
    a.cmp_imm32(r11, prefix_len)?;
    a.jae(prefix_done)?;
    a.test(r11d, 7)?;
    a.jnz(prefix_byte)?;
    // The next 8 bytes: after 8k bytes put, prefix_k (k = 7 the last).
    for (k, &hole) in prefix.iter().enumerate().skip(1) {
        if k + 1 == prefix.len() {
            a.mov_imm64(r10, hole)?;
            a.jmp(prefix_byte)?;
            break;
        }
        let mut not_this = a.create_label();
        let put = u32::try_from(8 * k).unwrap_or(u32::MAX);
        a.cmp(r11d, put)?;
        a.jne(not_this)?;
        a.mov_imm64(r10, hole)?;
        a.jmp(prefix_byte)?;
        a.set_label(&mut not_this)?;
    }
    a.set_label(&mut prefix_done)?;
    a.mov(r9d, 1)?;
    a.set_label(&mut no_prefix)?;
    a.stac()?;
    a.user_access(fixup, |a| a.movzx(r8d, byte_ptr(rdi)))?;
    a.clac()?;
    a.cmp(r8d, LINE_FEED)?;
    a.jne(plain)?;
    a.mov(r8d, CARRIAGE_RETURN)?;
    a.splice_point(); // put '\r'
    a.xor(r9d, r9d)?; // the next byte starts a line
    a.mov(r8d, LINE_FEED)?;
    a.set_label(&mut plain)?;
    a.splice_point(); // put the byte
    a.inc(rdi)?;
    a.dec(rcx)?;
    a.jnz(next_byte)?;
    // Every level keeps the line state the call ended in.
    for &cell in &cells {
        a.mov_imm64(r11, cell)?;
        a.mov(qword_ptr(r11), r9)?;
    }
    // Scrub what held kernel values (prefix bytes, ports) or user bytes.
    a.xor(edx, edx)?;
    a.xor(r8d, r8d)?;
    a.xor(r10d, r10d)?;
    a.xor(ecx, ecx)?;
    a.mov(rax, rsi)?;
    a.ret()?;
    fault_and_bad_address_exits(&mut a, &mut fixup, &mut bad, bad_address, &[r8d, r10d])?;
    a.set_label(&mut scan_fault)?;
    a.clac()?;
    a.mov(rax, r10)?;
    a.set_label(&mut slow)?;
    a.mov_imm64(r11, slow_path)?;
    a.jmp(r11)?;
    Ok(TemplateSource {
        name: "tty_prefixed_line",
        doc: "Upper-layer fragment of a prefix view's write (not a routine by itself: \
              `tty_write_prefixed` is this with the tty's put spliced in). Guards: longer than \
              `max_len`, empty, levels in different line states, or more than `max_newlines` \
              `'\\n'` → the generic path (`slow_path`, call word and arguments intact); user \
              range, else `bad_address`. Then for each user byte: at a line's start, put the \
              folded prefix (its bytes are the `prefix_*` immediates); a `'\\n'` puts `'\\r'` \
              first and starts a line; put the byte. Stores the final line state in every \
              level's cell. Returns `len`.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length.\n\n\
              Fault points: the '\\n' count's loads (nothing put yet: the call goes generic, \
              the call word kept in `r10`) and the byte loads (bytes already put stay put; \
              fixup `clac` + `bad_address`).",
        invariants: &["DeviceKind", "PrefixChain", "OpenForWrite"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rdx", "Rdi", "R8", "R9", "R10", "R11"],
        asm: a,
    })
}
