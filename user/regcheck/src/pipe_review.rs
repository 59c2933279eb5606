//! Pipe ends (the hostile review): read and write of 1 and 1,000 bytes
//! (each read after a write of as many, so none blocks), an unmapped and
//! a kernel buffer, 0 bytes, the wrong end, a write after the read end
//! closed (`BrokenPipe`), a closed end; on both paths.

use crate::check::{Call, Checker, Path, Want};
use crate::io::{word, Buffer, KERNEL_ADDR, LENGTHS, UNMAPPED};
use sk_abi::{Call as Op, SysError};
use sk_user::Sio;

/// `op` on `sio` with `len` bytes at `buf`, wanting `want`.
fn io(
    run: &mut Checker,
    name: &str,
    path: Path,
    (sio, op): (&Sio, Op),
    buf: (u64, u64),
    want: Want,
) {
    let call = Call::new(word(sio.handle(), op), path).io(buf.0, buf.1);
    // SAFETY: `buf` is one of our live 1000-byte buffers (len <= 1000),
    // UNMAPPED (nothing of ours there) or a kernel address.
    unsafe { run.check(name, path, &call, want) };
}

pub(crate) fn all(run: &mut Checker) {
    let mut buf = Buffer::new(0x3c);
    let good = buf.addr();
    let bad = Want::Error(SysError::BadAddress);
    for path in Path::BOTH {
        let (r, w) = match Sio::pipe() {
            Ok(ends) => ends,
            Err(e) => return run.fail("pipe open", format_args!("{e:?}")),
        };
        for len in LENGTHS {
            let n = Want::Value(len);
            io(run, "pipe write", path, (&w, Op::Write), (good, len), n);
            io(run, "pipe read", path, (&r, Op::Read), (good, len), n);
        }
        io(
            run,
            "pipe write (unmapped)",
            path,
            (&w, Op::Write),
            (UNMAPPED, 8),
            bad,
        );
        io(
            run,
            "pipe read (kernel)",
            path,
            (&r, Op::Read),
            (KERNEL_ADDR, 8),
            bad,
        );
        let zero = Want::Value(0);
        io(
            run,
            "pipe write (0 bytes)",
            path,
            (&w, Op::Write),
            (good, 0),
            zero,
        );
        io(
            run,
            "pipe read (0 bytes)",
            path,
            (&r, Op::Read),
            (good, 0),
            zero,
        );
        let wrong = Want::Error(SysError::NotPermitted);
        io(
            run,
            "pipe read (write end)",
            path,
            (&w, Op::Read),
            (good, 8),
            wrong,
        );
        io(
            run,
            "pipe write (read end)",
            path,
            (&r, Op::Write),
            (good, 8),
            wrong,
        );
        let stale = Sio::from_handle(r.handle());
        let _ = r.close();
        let broken = Want::Error(SysError::BrokenPipe);
        io(
            run,
            "pipe write (read end closed)",
            path,
            (&w, Op::Write),
            (good, 8),
            broken,
        );
        let closed = Want::Error(SysError::BadHandle);
        io(
            run,
            "pipe read (closed)",
            path,
            (&stale, Op::Read),
            (good, 8),
            closed,
        );
        let _ = w.close();
    }
}
