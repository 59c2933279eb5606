//! Kernel instructions of one call of each kind, counted by the kernel's
//! single-step counter (`reconfigure(self, TraceNextCall)`, then the call
//! with RFLAGS.TF set, then `query(self, LastTrace)`), printed as
//!
//! ```text
//! regcheck: kernel instructions: <call> [<path>] = <N>
//! ```
//!
//! for the lead's before/after figures. Each traced call is also checked
//! like every other (RFLAGS in `r11` then include TF). The figures are
//! printed, not checked: they are measurements.

use sk_abi::{Call as Op, Handle, QuerySelector, SmachReconfigure, SysError};
use sk_user::{println, raw, Sio, Smach};

use crate::check::{Call, Checker, Path, Want};
use crate::io::{self, word, Buffer};

/// Arms the counter, makes `call` traced and checked, prints the count.
///
/// # Safety
/// As for [`Checker::check`].
unsafe fn traced(run: &mut Checker, name: &str, path: Path, call: &Call, want: Want) {
    if let Err(error) = Smach::this().reconfigure(SmachReconfigure::TraceNextCall) {
        run.fail(name, format_args!("arming the counter: {error:?}"));
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { run.check_traced(name, path, call, want, true) };
    let query = word(Handle::SELF, Op::Query);
    // SAFETY: a zero-length output buffer: the kernel writes no memory.
    let rax = unsafe { raw::syscall3(query, u64::from(QuerySelector::LastTrace), 0, 0) };
    match SysError::decode_return(rax) {
        Ok(count) => println!(
            "regcheck: kernel instructions: {name} [{}] = {count}",
            path.name()
        ),
        Err(error) => run.fail(name, format_args!("LastTrace: {error:?}")),
    }
}

/// One-byte `op` on `sio` at `buf`, traced, wanting 1 (or `want`).
fn one_byte(run: &mut Checker, name: &str, path: Path, sio: &Sio, op: Op, buf: u64, want: u64) {
    let call = Call::new(word(sio.handle(), op), path).io(buf, 1);
    // SAFETY: `buf` is a live buffer of ours of at least one byte.
    unsafe { traced(run, name, path, &call, Want::Value(want)) };
}

/// The null call and 1-byte reads and writes of every synthesized kind
/// but the tty ([`tty`]), on both paths.
pub(crate) fn all(run: &mut Checker) {
    let mut buf = Buffer::new(0);
    let good = buf.addr();
    let rw = sk_user::OpenFlags::READ | sk_user::OpenFlags::WRITE;
    let (Some(null), Some(zero), Some(mem)) = (
        io::open(run, "/dev/null", rw),
        io::open(run, "/dev/zero", rw),
        io::open(run, "/dev/mem", sk_user::OpenFlags::READ),
    ) else {
        return;
    };
    let Some(file) = io::open_file(run) else {
        return;
    };
    for path in Path::BOTH {
        let call = Call::new(word(Handle::SELF, Op::Null), path);
        // SAFETY: the null call does nothing.
        unsafe { traced(run, "null call", path, &call, Want::Value(0)) };
        one_byte(run, "/dev/null write 1", path, &null, Op::Write, good, 1);
        one_byte(run, "/dev/zero read 1", path, &zero, Op::Read, good, 1);
        one_byte(run, "/dev/mem read 1", path, &mem, Op::Read, good, 1);
        io::rewind(run, &file);
        one_byte(run, "file read 1", path, &file, Op::Read, good, 1);
        io::rewind(run, &file);
        one_byte(run, "file write 1", path, &file, Op::Write, good, 1);
    }
    for sio in [null, zero, mem, file] {
        let _ = sio.close();
    }
}

/// A 1-byte raw tty write, both paths (the tty is in raw mode).
pub(crate) fn tty(run: &mut Checker, tty: &Sio, dots: &mut Buffer) {
    let good = dots.addr();
    for path in Path::BOTH {
        one_byte(run, "/dev/tty write 1", path, tty, Op::Write, good, 1);
    }
}
