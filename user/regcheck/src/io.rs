//! Reads and writes: the null call, every device, the tty in raw mode and
//! a RAM file (read, write in place, write past the capacity), each with
//! 1 and 1000 bytes on both paths, and their error paths (bad and closed
//! handles, unmapped and kernel buffers).

use sk_abi::{Call as Op, CallWord, Handle, Prot, SysError};
use sk_user::{println, routine_of, OpenFlags, Sio, TtyMode, Whence};

use crate::check::{Call, Checker, Path, Want};

/// Lengths every read and write is made with.
pub(crate) const LENGTHS: [u64; 2] = [1, 1000];

/// A user address nothing is mapped at (the range check passes; the
/// access faults at the template's fault point).
pub(crate) const UNMAPPED: u64 = 0x0000_6000_0000_0000;

/// Where the kernel is linked: a kernel-half buffer (the range check fails).
pub(crate) const KERNEL_ADDR: u64 = 0xffff_ffff_8000_0000;

/// A handle inside the routine table nothing uses.
pub(crate) const UNUSED_HANDLE: u32 = 40;

/// A handle past the routine table (64 handles): the stub's slow path.
pub(crate) const FAR_HANDLE: u32 = 1000;

/// The call word of `op` on `handle`.
pub(crate) const fn word(handle: Handle, op: Op) -> u64 {
    CallWord::new(handle, op).get()
}

/// A buffer of ours.
pub(crate) struct Buffer {
    bytes: [u8; 1000],
}

impl Buffer {
    pub(crate) const fn new(fill: u8) -> Self {
        Self {
            bytes: [fill; 1000],
        }
    }

    pub(crate) fn addr(&mut self) -> u64 {
        self.bytes.as_mut_ptr() as u64
    }
}

/// Fails the run if the kernel did not synthesize `op` for `sio`: the
/// table-path cases would then not run a template.
pub(crate) fn expect_synthesized(run: &mut Checker, name: &str, sio: &Sio, op: &str) {
    let mut text = [0_u8; 256];
    let len = sio.routines(&mut text).unwrap_or(0).min(text.len());
    let routine = routine_of(text.get(..len).unwrap_or_default(), op);
    if !routine.is_some_and(|r| r.is_synthesized()) {
        run.fail(
            name,
            format_args!(
                "{op} is not synthesized ({routine:?}): the table cases miss the template"
            ),
        );
    }
}

/// Opens `path` or records why not.
pub(crate) fn open(run: &mut Checker, path: &str, flags: OpenFlags) -> Option<Sio> {
    match Sio::open(path, flags) {
        Ok(sio) => Some(sio),
        Err(error) => {
            run.fail(path, format_args!("open: {error:?}"));
            None
        }
    }
}

/// `len`-byte `op` on `sio` at `buf` on `path`, wanting `want`.
pub(crate) fn io(
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
    // UNMAPPED (nothing of ours there) or a kernel address; or, for a
    // write (the kernel only reads it), any address.
    unsafe { run.check(name, path, &call, want) };
}

/// The null call on both paths, on our own handle and past the table.
pub(crate) fn null_calls(run: &mut Checker) {
    for path in Path::BOTH {
        let call = Call::new(word(Handle::SELF, Op::Null), path);
        // SAFETY: the null call does nothing.
        unsafe { run.check("null call", path, &call, Want::Value(0)) };
        let call = Call::new(word(Handle::new(FAR_HANDLE), Op::Null), path);
        // SAFETY: as above.
        unsafe { run.check("null call past the table", path, &call, Want::Value(0)) };
    }
}

/// `/dev/null`, `/dev/zero`, `/dev/mem`: read and write, good, unmapped
/// and kernel buffers.
pub(crate) fn devices(run: &mut Checker) {
    let mut buf = Buffer::new(0x5a);
    let rw = OpenFlags::READ | OpenFlags::WRITE;
    let Some(null) = open(run, "/dev/null", rw) else {
        return;
    };
    let Some(zero) = open(run, "/dev/zero", rw) else {
        return;
    };
    let Some(mem) = open(run, "/dev/mem", OpenFlags::READ) else {
        return;
    };
    expect_synthesized(run, "/dev/null", &null, "write");
    expect_synthesized(run, "/dev/zero", &zero, "read");
    expect_synthesized(run, "/dev/mem", &mem, "read");
    let good = buf.addr();
    let bad = Want::Error(SysError::BadAddress);
    for path in Path::BOTH {
        for len in LENGTHS {
            let n = Want::Value(len);
            io(
                run,
                "/dev/null write",
                path,
                (&null, Op::Write),
                good,
                len,
                n,
            );
            io(
                run,
                "/dev/null read",
                path,
                (&null, Op::Read),
                good,
                len,
                Want::Value(0),
            );
            io(run, "/dev/zero read", path, (&zero, Op::Read), good, len, n);
            io(
                run,
                "/dev/zero write",
                path,
                (&zero, Op::Write),
                good,
                len,
                n,
            );
            io(run, "/dev/mem read", path, (&mem, Op::Read), good, len, n);
            let not_permitted = Want::Error(SysError::NotPermitted);
            io(
                run,
                "/dev/mem write",
                path,
                (&mem, Op::Write),
                good,
                len,
                not_permitted,
            );
            // The bytes are never touched: the write succeeds.
            io(
                run,
                "/dev/null write, unmapped buffer",
                path,
                (&null, Op::Write),
                UNMAPPED,
                len,
                n,
            );
            io(
                run,
                "/dev/zero read, unmapped buffer",
                path,
                (&zero, Op::Read),
                UNMAPPED,
                len,
                bad,
            );
            io(
                run,
                "/dev/mem read, unmapped buffer",
                path,
                (&mem, Op::Read),
                UNMAPPED,
                len,
                bad,
            );
            for (name, sio, op) in [
                ("/dev/null write, kernel buffer", &null, Op::Write),
                ("/dev/zero read, kernel buffer", &zero, Op::Read),
                ("/dev/mem read, kernel buffer", &mem, Op::Read),
            ] {
                io(run, name, path, (sio, op), KERNEL_ADDR, len, bad);
            }
        }
    }
    for sio in [null, zero, mem] {
        if let Err(error) = sio.close() {
            run.fail("close a device", format_args!("{error:?}"));
        }
    }
}

/// Bad and closed handles, inside and past the table.
pub(crate) fn bad_handles(run: &mut Checker) {
    let mut buf = Buffer::new(0);
    let good = buf.addr();
    let bad_handle = Want::Error(SysError::BadHandle);
    let Some(zero) = open(run, "/dev/zero", OpenFlags::READ) else {
        return;
    };
    let closed = zero.handle();
    if let Err(error) = zero.close() {
        run.fail("close /dev/zero", format_args!("{error:?}"));
    }
    for path in Path::BOTH {
        for (name, handle) in [
            ("read on an unused handle", UNUSED_HANDLE),
            ("read past the table", FAR_HANDLE),
            ("read on a closed handle", closed.index()),
        ] {
            let call = Call::new(word(Handle::new(handle), Op::Read), path).io(good, 1);
            // SAFETY: `good` is our live buffer.
            unsafe { run.check(name, path, &call, bad_handle) };
        }
        let call = Call::new(word(Handle::SELF, Op::Null) | (1 << 40), path);
        // SAFETY: a handle past u32: nothing happens.
        unsafe { run.check("handle past u32", path, &call, bad_handle) };
        for (name, handle) in [("call 7 on handle 0", 0), ("call 7 on handle 2", 2)] {
            let call = Call::new(word(Handle::new(handle), Op::Null) | 7, path);
            // SAFETY: call 7 is no call: nothing happens.
            unsafe { run.check(name, path, &call, Want::Error(SysError::BadCall)) };
        }
    }
}

/// `/dev/tty` in raw mode, then in cooked mode: the synthesized writes
/// (`tty_write`, the collapsed `tty_write_cooked`), their fault fixups, and
/// reads that fail before they would wait for input.
pub(crate) fn tty(run: &mut Checker) {
    if let Err(error) = Sio::console().set_tty_mode(TtyMode::RAW) {
        run.fail("tty to raw mode", format_args!("{error:?}"));
        return;
    }
    tty_calls(run, "/dev/tty (raw)");
    let restored = Sio::console().set_tty_mode(TtyMode::DEFAULT);
    println!();
    if let Err(error) = restored {
        run.fail("tty back to cooked mode", format_args!("{error:?}"));
        return;
    }
    tty_calls(run, "/dev/tty (cooked)");
    println!();
}

fn tty_calls(run: &mut Checker, name: &str) {
    let Some(tty) = open(run, "/dev/tty", OpenFlags::READ | OpenFlags::WRITE) else {
        return;
    };
    expect_synthesized(run, name, &tty, "write");
    let mut dots = Buffer::new(b'.');
    let good = dots.addr();
    let bad = Want::Error(SysError::BadAddress);
    for path in Path::BOTH {
        for len in LENGTHS {
            io(
                run,
                "/dev/tty write",
                path,
                (&tty, Op::Write),
                good,
                len,
                Want::Value(len),
            );
            io(
                run,
                "/dev/tty write, unmapped buffer",
                path,
                (&tty, Op::Write),
                UNMAPPED,
                len,
                bad,
            );
            io(
                run,
                "/dev/tty write, kernel buffer",
                path,
                (&tty, Op::Write),
                KERNEL_ADDR,
                len,
                bad,
            );
            io(
                run,
                "/dev/tty read, kernel buffer",
                path,
                (&tty, Op::Read),
                KERNEL_ADDR,
                len,
                bad,
            );
        }
    }
    tty_edges(run, &tty, good);
    crate::counts::tty(run, &tty, &mut dots);
    if let Err(error) = tty.close() {
        run.fail("close /dev/tty", format_args!("{error:?}"));
    }
}

/// Path of the RAM file the read and in-place write cases use.
pub(crate) const FILE: &str = "/tmp/regcheck";

/// Bytes the RAM file starts with (within its first capacity).
pub(crate) const FILE_BYTES: usize = 2000;

/// Opens [`FILE`] with [`FILE_BYTES`] bytes in it, its read and write
/// synthesized.
pub(crate) fn open_file(run: &mut Checker) -> Option<Sio> {
    let flags = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let file = open(run, FILE, flags)?;
    let fill = [0x3c_u8; FILE_BYTES];
    if let Err(error) = file.write_all(&fill) {
        run.fail(FILE, format_args!("fill: {error:?}"));
    }
    expect_synthesized(run, FILE, &file, "read");
    expect_synthesized(run, FILE, &file, "write");
    Some(file)
}

/// Moves `file` back to its start.
pub(crate) fn rewind(run: &mut Checker, file: &Sio) {
    if let Err(error) = file.seek(Whence::Set, 0) {
        run.fail(FILE, format_args!("seek: {error:?}"));
    }
}

/// The RAM file: read, write in place, write past the capacity (the
/// synthesized write jumps to its generic trampoline), faults.
pub(crate) fn files(run: &mut Checker) {
    let Some(file) = open_file(run) else {
        return;
    };
    let mut buf = Buffer::new(0x3c);
    let good = buf.addr();
    let bad = Want::Error(SysError::BadAddress);
    for path in Path::BOTH {
        for len in LENGTHS {
            let n = Want::Value(len);
            rewind(run, &file);
            io(run, "file read", path, (&file, Op::Read), good, len, n);
            rewind(run, &file);
            io(
                run,
                "file write in place",
                path,
                (&file, Op::Write),
                good,
                len,
                n,
            );
            rewind(run, &file);
            io(
                run,
                "file read, unmapped buffer",
                path,
                (&file, Op::Read),
                UNMAPPED,
                len,
                bad,
            );
            io(
                run,
                "file write, unmapped buffer",
                path,
                (&file, Op::Write),
                UNMAPPED,
                len,
                bad,
            );
            io(
                run,
                "file read, kernel buffer",
                path,
                (&file, Op::Read),
                KERNEL_ADDR,
                len,
                bad,
            );
            io(
                run,
                "file write, kernel buffer",
                path,
                (&file, Op::Write),
                KERNEL_ADDR,
                len,
                bad,
            );
            grow(run, path, len, good);
        }
    }
    if let Err(error) = file.close() {
        run.fail("close the file", format_args!("{error:?}"));
    }
}

/// A write to a fresh, empty file (capacity 0): past the capacity.
fn grow(run: &mut Checker, path: Path, len: u64, good: u64) {
    let mut name = [0_u8; 32];
    let name = grow_path(&mut name, path, len);
    let flags = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let Some(file) = open(run, name, flags) else {
        return;
    };
    if path == Path::Table {
        expect_synthesized(run, name, &file, "write");
    }
    io(
        run,
        "file write past the capacity",
        path,
        (&file, Op::Write),
        good,
        len,
        Want::Value(len),
    );
    if let Err(error) = file.close() {
        run.fail(name, format_args!("close: {error:?}"));
    }
}

/// `/tmp/regcheck-grow-<t|g><len>`: a file no earlier case wrote.
fn grow_path(out: &mut [u8; 32], path: Path, len: u64) -> &str {
    let prefix = b"/tmp/regcheck-grow-";
    let mut at = 0;
    let mut put = |byte: u8| {
        if let Some(slot) = out.get_mut(at) {
            *slot = byte;
            at += 1;
        }
    };
    prefix.iter().for_each(|&b| put(b));
    put(if path == Path::Table { b't' } else { b'g' });
    let mut digits = [0_u8; 20];
    let mut count = 0;
    let mut rest = len;
    loop {
        if let Some(slot) = digits.get_mut(count) {
            *slot = b'0' + (rest % 10) as u8;
        }
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for index in (0..count).rev() {
        put(digits.get(index).copied().unwrap_or(b'0'));
    }
    core::str::from_utf8(out.get(..at).unwrap_or_default()).unwrap_or("/tmp/regcheck-grow")
}

/// Where `tty_edges` maps its page (the page after it stays unmapped).
const TTY_EDGE: u64 = 0x0000_5100_0000_0000;

/// Console writes that fault part-way (a page of dots followed by an
/// unmapped page) and a `u64::MAX` length: within one piece (the
/// synthesized routine's length, `sk_sio::TTY_CHUNK_BYTES` = 64) the call
/// fails with `BadAddress` after the bytes before the fault went out; a
/// fault in a later piece returns the bytes of the pieces before and of
/// the faulting one up to the fault. The registers after each as for any
/// call: no kernel value, `rdx` at most the faulting user address.
fn tty_edges(run: &mut Checker, tty: &Sio, good: u64) {
    let page = match sk_user::Smem::create_at(TTY_EDGE, 4096, Prot::READ | Prot::WRITE) {
        Ok(page) => page,
        Err(error) => {
            run.fail("map the tty edge page", format_args!("{error:?}"));
            return;
        }
    };
    // SAFETY: the page is ours, mapped read-write, 4096 bytes.
    unsafe { core::ptr::write_bytes(page.as_mut_ptr(), b'.', 4096) };
    let end = page.addr() + page.len();
    let bad = Want::Error(SysError::BadAddress);
    for path in Path::BOTH {
        let cases = [
            (
                "/dev/tty write, 10 bytes then unmapped (one piece)",
                end - 10,
                60,
                bad,
            ),
            (
                "/dev/tty write, 10 bytes then unmapped (generic)",
                end - 10,
                100,
                bad,
            ),
            (
                "/dev/tty write, a piece then 36 bytes then unmapped",
                end - 100,
                1000,
                Want::Value(100),
            ),
            ("/dev/tty write, length u64::MAX", good, u64::MAX, bad),
            ("/dev/tty write, length 2^63", good, 1 << 63, bad),
        ];
        for (name, buf, len, want) in cases {
            io(run, name, path, (tty, Op::Write), buf, len, want);
        }
    }
    if let Err(error) = page.free() {
        run.fail("free the tty edge page", format_args!("{error:?}"));
    }
}
