//! Pipes: the synthesized `pipe_read`/`pipe_write` and their slow-path
//! jumps (end of file, broken pipe) on both paths, with good, unmapped and
//! kernel buffers.

use sk_abi::{Call as Op, SysError};
use sk_user::Sio;

use crate::check::{Checker, Path, Want};
use crate::io::{expect_synthesized, io, Buffer, KERNEL_ADDR, LENGTHS, UNMAPPED};

/// A new pipe, or the failure recorded.
fn pipe(run: &mut Checker) -> Option<(Sio, Sio)> {
    match Sio::pipe() {
        Ok(ends) => Some(ends),
        Err(error) => {
            run.fail("/dev/pipe", format_args!("create: {error:?}"));
            None
        }
    }
}

/// Transfers on a pipe (fast paths, fault fixups), then a read after the
/// write end closed (0, through the read's slow-path jump) and a write
/// after the read end closed (`BrokenPipe`, through the write's).
pub(crate) fn pipes(run: &mut Checker) {
    let mut buf = Buffer::new(0x3c);
    let good = buf.addr();
    let bad = Want::Error(SysError::BadAddress);
    let Some((r, w)) = pipe(run) else { return };
    expect_synthesized(run, "pipe read end", &r, "read");
    expect_synthesized(run, "pipe write end", &w, "write");
    for path in Path::BOTH {
        for len in LENGTHS {
            let n = Want::Value(len);
            io(run, "pipe write", path, (&w, Op::Write), good, len, n);
            for (name, buffer) in [
                ("pipe read, unmapped buffer", UNMAPPED),
                ("pipe read, kernel buffer", KERNEL_ADDR),
            ] {
                io(run, name, path, (&r, Op::Read), buffer, len, bad);
            }
            io(run, "pipe read", path, (&r, Op::Read), good, len, n);
            for (name, buffer) in [
                ("pipe write, unmapped buffer", UNMAPPED),
                ("pipe write, kernel buffer", KERNEL_ADDR),
            ] {
                io(run, name, path, (&w, Op::Write), buffer, len, bad);
            }
        }
    }
    let _ = w.close();
    for path in Path::BOTH {
        for len in LENGTHS {
            let eof = Want::Value(0);
            io(
                run,
                "pipe read at end of file",
                path,
                (&r, Op::Read),
                good,
                len,
                eof,
            );
        }
    }
    let _ = r.close();
    let Some((r, w)) = pipe(run) else { return };
    let _ = r.close();
    for path in Path::BOTH {
        for len in LENGTHS {
            let broken = Want::Error(SysError::BrokenPipe);
            io(
                run,
                "pipe write, read end closed",
                path,
                (&w, Op::Write),
                good,
                len,
                broken,
            );
        }
    }
    let _ = w.close();
}
