//! Template source: raw `/dev/tty` write to a 16550 UART by polling.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::user_range::{
    check_user_range, fault_and_bad_address_exits, generic_exit, long_calls_go_generic,
};
use iced_x86::code_asm::{al, byte_ptr, dx, edx, r9, rax, rcx, rdi, rsi};
use iced_x86::IcedError;

/// 16550 line status register bit 5: transmitter holding register empty.
const LSR_THR_EMPTY: u32 = 0x20;

pub fn source() -> Result<TemplateSource, IcedError> {
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
    let bad_address = a.hole(
        "bad_address",
        Kind::Imm32,
        "Result for a bad user range or a fault: `-(BadAddress code)`.",
    );
    let max_len = a.hole(
        "max_len",
        Kind::Imm32,
        "Longest call done here (the kernel's transfer piece, `sk_sio::TTY_CHUNK_BYTES`); longer \
         ones go to the generic path, which splits them with preemption points between pieces.",
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
    let mut poll = a.create_label();
    let mut done = a.create_label();
    let mut too_long = a.create_label();
    long_calls_go_generic(&mut a, rsi, max_len, too_long)?;
    check_user_range(&mut a, rdi, rsi, bad)?;
    a.mov(r9, rsi)?;
    a.mov(rcx, rsi)?;
    a.test(rcx, rcx)?;
    a.jz(done)?;
    a.set_label(&mut next_byte)?;
    a.mov_imm32(edx, line_status_port)?;
    a.set_label(&mut poll)?;
    a.in_(al, dx)?;
    a.test(al, LSR_THR_EMPTY)?;
    a.jz(poll)?;
    a.stac()?;
    a.user_access(fixup, |a| a.mov(al, byte_ptr(rdi)))?;
    a.clac()?;
    a.mov_imm32(edx, data_port)?;
    a.out(dx, al)?;
    a.inc(rdi)?;
    a.dec(rcx)?;
    a.jnz(next_byte)?;
    a.set_label(&mut done)?;
    // edx holds a port number: not a kernel address (the taint check lets
    // it pass), but no value of ours the caller did not pass either. A
    // fault leaves the faulting user address in rdx instead (the trap
    // handler's fixup convention).
    a.xor(edx, edx)?;
    a.mov(rax, r9)?;
    a.ret()?;
    fault_and_bad_address_exits(&mut a, &mut fixup, &mut bad, bad_address, &[])?;
    generic_exit(&mut a, &mut too_long, slow_path)?;
    Ok(TemplateSource {
        name: "tty_write",
        doc: "Raw `/dev/tty` write: for each byte, poll the 16550 line status register until the \
              transmitter is empty, then `out` the byte. Returns `len`.\n\n\
              Arguments: `rdi` = user buffer, `rsi` = length.\n\n\
              Guards: longer than `max_len` (each byte is polled with interrupts masked) goes to \
              the generic path (`slow_path`); user range, else `bad_address`. Fault point: the byte load from the user \
              buffer (`stac`/`clac` around each load only, never around the polling); fixup `clac` \
              + `bad_address` (bytes already sent stay sent).\n\n\
              Technique: Collapsing Layers (Synthesis §2.2): tty, line discipline (raw) and UART \
              driver collapse into one loop with the port numbers as immediates.",
        invariants: &["DeviceKind", "OpenForWrite"],
        reads: &["Rdi", "Rsi"],
        clobbers: &["Rax", "Rcx", "Rdx", "Rdi", "R9", "R11"],
        asm: a,
    })
}
