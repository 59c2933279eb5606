//! `program | tty`: the write of a pipe end whose reader is the console
//! (the console's collapsed routine, `tty_write_cooked` or `tty_write`,
//! on the table path; `pipe_calls::write_to_console` forced generic), in
//! cooked and raw mode: 1 and 1,000 bytes, an unmapped and a kernel
//! buffer, 0 bytes.

use sk_abi::{Call as Op, SysError, TtyMode};
use sk_user::Sio;

use crate::check::{Checker, Path, Want};
use crate::io::{expect_synthesized, io, Buffer, KERNEL_ADDR, LENGTHS, UNMAPPED};

pub(crate) fn all(run: &mut Checker) {
    let (r, w) = match Sio::pipe() {
        Ok(ends) => ends,
        Err(e) => return run.fail("pipe open", format_args!("{e:?}")),
    };
    if let Err(e) = w.pipe_to_console() {
        return run.fail("pipe_to_console", format_args!("{e:?}"));
    }
    let mut dots = Buffer::new(b'.');
    let good = dots.addr();
    let bad = Want::Error(SysError::BadAddress);
    for (mode, name) in [
        (TtyMode::DEFAULT, "pipe | tty (cooked)"),
        (TtyMode::RAW, "pipe | tty (raw)"),
    ] {
        if let Err(e) = Sio::console().set_tty_mode(mode) {
            return run.fail(name, format_args!("set the mode: {e:?}"));
        }
        expect_synthesized(run, name, &w, "write");
        for path in Path::BOTH {
            for len in LENGTHS {
                io(
                    run,
                    name,
                    path,
                    (&w, Op::Write),
                    good,
                    len,
                    Want::Value(len),
                );
            }
            for buffer in [UNMAPPED, KERNEL_ADDR] {
                io(run, name, path, (&w, Op::Write), buffer, 8, bad);
            }
            io(run, name, path, (&w, Op::Write), good, 0, Want::Value(0));
        }
    }
    let restored = Sio::console().set_tty_mode(TtyMode::DEFAULT);
    sk_user::println!();
    if let Err(e) = restored {
        run.fail("tty back to cooked mode", format_args!("{e:?}"));
    }
    let _ = (r.close(), w.close());
}
