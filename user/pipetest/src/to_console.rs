//! Mode 13: `program | tty`, a pipe whose reader is the console.
//!
//! Bytes written before the switch stay for the read end; after
//! `pipe_to_console` the write end's routine is the console's collapsed
//! write (`tty_write_cooked`, or `tty_write` while the console is raw:
//! the console's mode change replans it), every write reaches the console
//! on both paths with its full length, a bad buffer is `BadAddress`; the
//! read end cannot be switched and sees end of file once the write end
//! closes.

use sk_user::abi::{SysError, TtyMode};
use sk_user::{routine_of, Routine, Sio};

use crate::fail;

/// The write routine's template name, as the routines text says.
fn write_template(w: &Sio, text: &mut [u8; 512]) -> Option<&'static str> {
    let len = w.routines(text).unwrap_or(0).min(text.len());
    match routine_of(text.get(..len).unwrap_or_default(), "write") {
        Some(Routine::Synthesized("tty_write_cooked")) => Some("tty_write_cooked"),
        Some(Routine::Synthesized("tty_write")) => Some("tty_write"),
        Some(Routine::Synthesized(_)) => Some("another routine"),
        _ => None,
    }
}

pub(crate) fn to_console() {
    let Ok((r, w)) = Sio::pipe() else {
        fail(format_args!("pipe"));
        return;
    };
    if w.write(b"before\n") != Ok(7) {
        fail(format_args!("write before the switch"));
    }
    if r.pipe_to_console() != Err(SysError::WrongKind) {
        fail(format_args!("the read end switched"));
    }
    let mut text = [0u8; 512];
    if w.pipe_to_console() != Ok(()) {
        fail(format_args!("pipe_to_console"));
        return;
    }
    let console = Sio::console();
    let template = write_template(&w, &mut text);
    if template != Some("tty_write_cooked") {
        fail(format_args!(
            "after the switch the write is {template:?}, not tty_write_cooked"
        ));
    }
    let line = b"pipetest: program | tty, synthesized write\n";
    if w.write(line) != Ok(line.len()) {
        fail(format_args!("synthesized write to the console"));
    }
    let generic = Sio::from_handle(w.handle()).generic();
    let line = b"pipetest: program | tty, generic write\n";
    if generic.write(line) != Ok(line.len()) {
        fail(format_args!("generic write to the console"));
    }
    let long = [b'='; 5000];
    if generic.write(&long) != Ok(long.len()) || w.write(b"\n") != Ok(1) {
        fail(format_args!("a long generic write"));
    }
    for bad in [0x10u64, 0xffff_8000_0000_0000] {
        let got = crate::raw_write(&w, bad, 4);
        if got != Err(SysError::BadAddress) {
            fail(format_args!("write from {bad:#x}: {got:?}"));
        }
    }
    // The console's mode is a fact of this routine too.
    if console.set_tty_mode(TtyMode::RAW | TtyMode::ECHO) != Ok(()) {
        fail(format_args!("console raw"));
    }
    let template = write_template(&w, &mut text);
    let restored = console.set_tty_mode(TtyMode::DEFAULT);
    if template != Some("tty_write") || restored != Ok(()) {
        fail(format_args!(
            "with the console raw the write is {template:?}"
        ));
    }
    if write_template(&w, &mut text) != Some("tty_write_cooked") {
        fail(format_args!("not replanned back to cooked"));
    }
    // The read end: what was written before, then end of file.
    let mut buf = [0u8; 16];
    if r.read(&mut buf) != Ok(7) || &buf[..7] != b"before\n" {
        fail(format_args!("the bytes written before the switch"));
    }
    if w.close() != Ok(()) || r.read(&mut buf) != Ok(0) {
        fail(format_args!("end of file after the write end closed"));
    }
    let _ = r.close();
}
