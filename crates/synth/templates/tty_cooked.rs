//! Template fragments of the cooked `/dev/tty` write, one per layer.
//!
//! The upper layer, [`line_source`], is the line discipline's output
//! processing (`ONLCR`: each `'\n'` goes out as `"\r\n"`) with two splice
//! points where "put the byte in `r8b`" belongs. The lower layers put that
//! byte: [`uart_put_source`] (the 16550 driver: poll the line status
//! register, `out`) and [`memory_sink_put_source`] (append to a buffer in
//! memory, for host tests where `in`/`out` cannot run). `collapse.rs`
//! splices a lower fragment into the upper one: one routine, no calls.
//!
//! Lower fragment contract: the byte in `r8b` (`r8` zero-extended), may
//! clobber `rax` and `rdx` only, no user access, branches only inside
//! itself, falls through at its end.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::user_range::{
    check_user_range, fault_and_bad_address_exits, generic_exit, long_calls_go_generic,
};
use iced_x86::code_asm::{
    al, byte_ptr, dx, eax, edx, qword_ptr, r8b, r8d, r9, rax, rcx, rdi, rdx, rsi,
};
use iced_x86::IcedError;

/// 16550 line status register bit 5: transmitter holding register empty.
const LSR_THR_EMPTY: u32 = 0x20;
/// `'\n'`.
const LINE_FEED: u32 = 0x0a;
/// `'\r'`.
const CARRIAGE_RETURN: u32 = 0x0d;

/// The upper layer: cooked output processing around two splice points.
pub fn line_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    // Near branches, kept near: the splice moves targets by whole lower
    // fragments, so a short branch across a site could fall out of rel8
    // range (the splice refuses that; the memory sink's fragment is long
    // enough to make it happen).
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
        "Longest call done here (the kernel's transfer piece, `sk_sio::TTY_CHUNK_BYTES`); longer \
         ones go to the generic path. A cooked call sends up to twice as many bytes (every byte \
         a newline).",
    );
    let slow_path = a.hole(
        "slow_path",
        Kind::Imm64,
        "The stub's slow path (the generic decoder), where a call too long for this routine goes \
         with the call word and arguments intact.",
    );
    let mut bad = a.create_label();
    let mut fixup = a.create_label();
    let mut next_byte = a.create_label();
    let mut put = a.create_label();
    let mut done = a.create_label();
    let mut too_long = a.create_label();
    long_calls_go_generic(&mut a, rsi, max_len, too_long)?;
    check_user_range(&mut a, rdi, rsi, bad)?;
    a.mov(r9, rsi)?;
    a.mov(rcx, rsi)?;
    a.test(rcx, rcx)?;
    a.jz(done)?;
    a.set_label(&mut next_byte)?;
    a.stac()?;
    a.user_access(fixup, |a| a.movzx(r8d, byte_ptr(rdi)))?;
    a.clac()?;
    a.cmp(r8d, LINE_FEED)?;
    a.jne(put)?;
    a.mov(r8d, CARRIAGE_RETURN)?;
    a.splice_point(); // put '\r'
    a.mov(r8d, LINE_FEED)?;
    a.set_label(&mut put)?;
    a.splice_point(); // put the byte
    a.inc(rdi)?;
    a.dec(rcx)?;
    a.jnz(next_byte)?;
    a.set_label(&mut done)?;
    // rdx holds a port number or a lower layer's value: scrub it. A fault
    // leaves the faulting user address in rdx instead (the trap handler's
    // fixup convention). r8 holds the last user byte: no kernel value, but
    // not one the caller passed either (regcheck's rule), so scrub it too,
    // on both exits.
    a.xor(edx, edx)?;
    a.xor(r8d, r8d)?;
    a.mov(rax, r9)?;
    a.ret()?;
    fault_and_bad_address_exits(&mut a, &mut fixup, &mut bad, bad_address, &[r8d])?;
    generic_exit(&mut a, &mut too_long, slow_path)?;
    Ok(TemplateSource {
        name: "tty_cooked_line",
        doc: "Upper-layer fragment of the cooked `/dev/tty` write (not a routine by itself: \
              `tty_write_cooked` is this with a lower layer spliced in). For each user byte: \
              load it into `r8`; a `'\\n'` first puts `'\\r'`; then puts the byte. Each put is a \
              splice point (`tty_write_cooked`'s collapse table lists them).\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length. Guards as `tty_write`.",
        invariants: &["DeviceKind", "OpenForWrite"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rdx", "Rdi", "R8", "R9", "R11"],
        asm: a,
    })
}

/// The lower layer on real hardware: the 16550 driver's put.
pub fn uart_put_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let data_port = a.hole(
        "data_port",
        Kind::Imm32,
        "The UART's transmit register port (COM1: 0x3f8).",
    );
    let line_status_port = a.hole(
        "line_status_port",
        Kind::Imm32,
        "The UART's line status register port (data port + 5).",
    );
    let mut poll = a.create_label();
    a.mov_imm32(edx, line_status_port)?;
    a.set_label(&mut poll)?;
    a.in_(al, dx)?;
    a.test(al, LSR_THR_EMPTY)?;
    a.jz(poll)?;
    a.mov(eax, r8d)?;
    a.mov_imm32(edx, data_port)?;
    a.out(dx, al)?;
    Ok(TemplateSource {
        name: "uart_put",
        doc: "Lower-layer fragment: the 16550 driver's put of the byte in `r8b`: poll the line \
              status register until the transmitter is empty, then `out` the byte. Falls \
              through; clobbers `rax`, `rdx`. Not a routine: spliced into an upper fragment.",
        invariants: &[],
        reads: &["R8"],
        clobbers: &["Rax", "Rdx"],
        asm: a,
    })
}

/// The lower layer for host tests: append the byte to a memory buffer.
pub fn memory_sink_put_source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let cursor_cell = a.hole(
        "cursor_cell",
        Kind::Imm64,
        "Address of a cell holding the address of the next free byte of the sink buffer.",
    );
    a.mov_imm64(rdx, cursor_cell)?;
    a.mov(rax, qword_ptr(rdx))?;
    a.mov(byte_ptr(rax), r8b)?;
    a.inc(rax)?;
    a.mov(qword_ptr(rdx), rax)?;
    Ok(TemplateSource {
        name: "memory_sink_put",
        doc: "Lower-layer fragment for host tests: append the byte in `r8b` to the buffer whose \
              cursor is at `cursor_cell`, advance the cursor. Falls through; clobbers `rax`, \
              `rdx`. Not a routine: spliced into an upper fragment in place of `uart_put`.",
        invariants: &[],
        reads: &["R8"],
        clobbers: &["Rax", "Rdx"],
        asm: a,
    })
}
