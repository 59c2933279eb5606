//! Port sends and receives (`/dev/port`): the synthesized `port_send` and
//! `port_receive` (fast path, wrong length and wait-word guards into the
//! slow path, fault fixups, range checks) and the generic path, with
//! every register checked after each call.

use sk_abi::{Call as Op, SysError, PORT_MESSAGE_BYTES};
use sk_user::Sio;

use crate::check::{Call, Checker, Path, Want};
use crate::io::{expect_synthesized, word, Buffer, KERNEL_ADDR, UNMAPPED};

const MESSAGE: u64 = PORT_MESSAGE_BYTES as u64;

/// `len`-byte `op` on `sio` at `buf` on `path`, wanting `want`.
fn io(
    run: &mut Checker,
    name: &str,
    path: Path,
    (sio, op): (&Sio, Op),
    buf: u64,
    len: u64,
    want: Want,
) {
    let call = Call::new(word(sio.handle(), op), path).io(buf, len);
    // SAFETY: `buf` is one of our live 1000-byte buffers (len <= 1000),
    // UNMAPPED (nothing of ours there) or a kernel address.
    unsafe { run.check(name, path, &call, want) };
}

pub(crate) fn all(run: &mut Checker) {
    let mut buf = Buffer::new(0x3c);
    let good = buf.addr();
    let bad = Want::Error(SysError::BadAddress);
    let sent = Want::Value(MESSAGE);
    for path in Path::BOTH {
        let (r, s) = match Sio::port() {
            Ok(ends) => ends,
            Err(e) => {
                run.fail("/dev/port", format_args!("open: {e:?}"));
                return;
            }
        };
        expect_synthesized(run, "/dev/port send", &s, "write");
        expect_synthesized(run, "/dev/port receive", &r, "read");
        let (send, receive) = ((&s, Op::Write), (&r, Op::Read));
        io(run, "port send", path, send, good, MESSAGE, sent);
        io(run, "port send", path, send, good, MESSAGE, sent);
        io(run, "port receive", path, receive, good, MESSAGE, sent);
        let size = Want::Error(SysError::MessageSize);
        io(run, "port send, wrong length", path, send, good, 1, size);
        io(
            run,
            "port receive, wrong length",
            path,
            receive,
            good,
            65,
            size,
        );
        io(
            run,
            "port send, unmapped",
            path,
            send,
            UNMAPPED,
            MESSAGE,
            bad,
        );
        io(
            run,
            "port send, kernel buffer",
            path,
            send,
            KERNEL_ADDR,
            MESSAGE,
            bad,
        );
        io(
            run,
            "port receive, unmapped",
            path,
            receive,
            UNMAPPED,
            MESSAGE,
            bad,
        );
        io(
            run,
            "port receive, kernel buffer",
            path,
            receive,
            KERNEL_ADDR,
            MESSAGE,
            bad,
        );
        io(
            run,
            "port read on the send end",
            path,
            (&s, Op::Read),
            good,
            MESSAGE,
            Want::Error(SysError::NotPermitted),
        );
        // The send end closed: the wait word sends the receive to the slow
        // path, which returns the last message, then the end of stream.
        let _ = s.close();
        io(
            run,
            "port receive after close",
            path,
            receive,
            good,
            MESSAGE,
            sent,
        );
        io(
            run,
            "port receive at the end",
            path,
            receive,
            good,
            MESSAGE,
            Want::Value(0),
        );
        let _ = r.close();
        // The receive end closed: a send is a broken port.
        let Ok((r, s)) = Sio::port() else { return };
        let _ = r.close();
        let send = (&s, Op::Write);
        io(
            run,
            "port send, broken",
            path,
            send,
            good,
            MESSAGE,
            Want::Error(SysError::BrokenPipe),
        );
        let _ = s.close();
    }
}
