//! Prefix views of the tty (`tty_write_prefixed`, the chain folded into
//! the cooked tty's write): a depth-1 and a depth-2 view, each call on both
//! paths with callee-saved registers checked: short writes the routine
//! does (a line, a byte), writes it sends generic (longer than a piece,
//! too many lines, an unmapped buffer found while counting lines), and a
//! kernel buffer (`BadAddress` from its range check).

use sk_abi::{Call as Op, SysError};
use sk_user::{println, routine_of, OpenFlags, Sio};

use crate::check::{Checker, Path, Want};
use crate::io::{io, open, Buffer, KERNEL_ADDR, UNMAPPED};

/// Empty writes until `sio`'s write slot is synthesized (lazy synthesis
/// makes it after a few generic calls), else a failure.
fn until_synthesized(run: &mut Checker, name: &str, sio: &Sio) {
    for _ in 0..64 {
        let mut text = [0_u8; 256];
        let len = sio.routines(&mut text).unwrap_or(0).min(text.len());
        if routine_of(text.get(..len).unwrap_or_default(), "write")
            .is_some_and(|r| r.is_synthesized())
        {
            return;
        }
        let _ = sio.write(b"");
    }
    crate::io::expect_synthesized(run, name, sio, "write");
}

/// Both prefix views, every case on both paths.
pub(crate) fn all(run: &mut Checker) {
    let Some(tty) = open(run, "/dev/tty", OpenFlags::WRITE) else {
        return;
    };
    let (Ok(one), Ok(two)) = (
        tty.prefix_view(b"[rc] "),
        tty.prefix_view(b"[rc] ")
            .and_then(|v| v.prefix_view(b"[2] ")),
    ) else {
        run.fail("prefix view of /dev/tty", format_args!("not made"));
        return;
    };
    let mut line = Buffer::new(b'-');
    let mut lines = Buffer::new(b'\n');
    let bad = Want::Error(SysError::BadAddress);
    for (name, view) in [
        ("prefix view (depth 1)", &one),
        ("prefix view (depth 2)", &two),
    ] {
        until_synthesized(run, name, view);
        // 40 dashes then one newline (the routine's); 30 newlines (more
        // than max_newlines) and 1000 bytes (generic); an unmapped buffer
        // (generic after the count faults) and a kernel one.
        let (dashes, newlines) = (line.addr(), lines.addr());
        let cases = [
            (dashes, 40, Want::Value(40)),
            (newlines, 1, Want::Value(1)),
            (newlines, 30, Want::Value(30)),
            (dashes, 1000, Want::Value(1000)),
            (newlines, 1, Want::Value(1)),
            (UNMAPPED, 8, bad),
            (KERNEL_ADDR, 8, bad),
        ];
        for path in Path::BOTH {
            for (buf, len, want) in cases {
                io(run, name, path, (view, Op::Write), buf, len, want);
            }
        }
    }
    println!();
}
