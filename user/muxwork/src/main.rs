//! `muxwork`: a child of the multiplexor (`user/mux`, docs/nesting.md).
//!
//! Its start argument is its name (8 bytes, [`sk_mux::config::pack_name`]).
//! Handle 2 is its run flag (a read-only view of one byte: `1` while it
//! should run), handles 3, 4, ... the views its configuration line gave
//! it. A tty among them (a prefix view its multiplexor made) is where it
//! writes its lines (each then starts with its name in brackets); without
//! one it writes them to the console, starting with `muxwork NAME:`. For each view it reads the whole window and counts its bytes,
//! lines and words; into a writable window it writes its name at the
//! window's start; on a read-only one it checks that a write is refused
//! (`NotPermitted`). Then it spins, looking at its run flag every 64 Ki
//! iterations, and exits 0 when the flag drops (1 if a view did not
//! behave as its kind promises).
#![no_std]
#![no_main]

use core::fmt::{self, Write};
use sk_mux::config::unpack_name;
use sk_user::abi::{Handle, OpenFlags, SioKind, SysError, Whence};
use sk_user::Sio;

sk_user::entry!(main);

const RUN_FLAG: u32 = 2;
const FIRST_VIEW: u32 = 3;

/// Where its lines go: a prefix view (already naming it) or the console.
struct Out<'a> {
    tty: Sio,
    name: Option<&'a str>,
}

impl Out<'_> {
    fn line(&self, args: fmt::Arguments<'_>) {
        let mut tty = Sio::from_handle(self.tty.handle());
        let _ = match self.name {
            Some(name) => writeln!(tty, "muxwork {name}: {args}"),
            None => writeln!(tty, "{args}"),
        };
    }
}

fn main() -> i32 {
    let mut name_buf = [0; 8];
    let name = unpack_name(sk_user::start_arg(), &mut name_buf).unwrap_or("muxwork");
    let mut views = [(0_u32, 0_u32, 0_u64); 8];
    let mut count = 0;
    let mut out = Out {
        tty: Sio::from_handle(Handle::CONSOLE),
        name: Some(name),
    };
    for h in FIRST_VIEW..FIRST_VIEW + 8 {
        let Ok(info) = Sio::from_handle(Handle::new(h)).query() else {
            break;
        };
        if info.kind() == Ok(SioKind::Tty) {
            out = Out {
                tty: Sio::from_handle(Handle::new(h)),
                name: None,
            };
        } else {
            views[count] = (h, info.flags, info.size);
            count += 1;
        }
    }
    let mut status = 0;
    for &(h, flags, size) in &views[..count] {
        let view = Sio::from_handle(Handle::new(h));
        if work_through(&out, name, h, &view, flags, size).is_err() {
            status = 1;
        }
    }
    look_around(&out);
    let rounds = spin_while_running();
    out.line(format_args!("stopped after {rounds} rounds"));
    status
}

/// Reads the view whole, counts, then writes (or checks a write is
/// refused).
fn work_through(
    out: &Out<'_>,
    name: &str,
    h: u32,
    view: &Sio,
    flags: u32,
    size: u64,
) -> Result<(), SysError> {
    let mut buf = [0_u8; 4096];
    let (mut bytes, mut lines, mut words, mut in_word) = (0_u64, 0_u64, 0_u64, false);
    view.seek(Whence::Set, 0)?;
    loop {
        let n = view.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            lines += u64::from(b == b'\n');
            let is_word = !b.is_ascii_whitespace();
            words += u64::from(is_word && !in_word);
            in_word = is_word;
        }
        bytes += n as u64;
    }
    let writable = OpenFlags::from_bits_truncate(flags).contains(OpenFlags::WRITE);
    view.seek(Whence::Set, 0)?;
    let wrote = view.write(name.as_bytes());
    let what = match (writable, wrote) {
        (true, Ok(_)) => "a window: wrote its name at its start",
        (false, Err(SysError::NotPermitted)) => "read-only: its write was refused",
        (_, other) => {
            out.line(format_args!(
                "handle {h}: unexpected write result {other:?}"
            ));
            return Err(SysError::BadValue);
        }
    };
    out.line(format_args!(
        "handle {h} ({size} bytes), {what}; read {bytes} bytes, {lines} lines, {words} words"
    ));
    Ok(())
}

/// Counts until the run flag is no longer `1` (or is gone); returns the
/// rounds of 64 Ki iterations.
fn spin_while_running() -> u64 {
    let flag = Sio::from_handle(Handle::new(RUN_FLAG));
    let mut rounds = 0_u64;
    let mut n = 0_u64;
    loop {
        for _ in 0..1 << 16 {
            n = core::hint::black_box(n.wrapping_add(1));
        }
        rounds += 1;
        let mut byte = [0_u8; 1];
        let still = flag.seek(Whence::Set, 0).and_then(|_| flag.read(&mut byte));
        if still != Ok(1) || byte[0] != b'1' {
            return rounds;
        }
    }
}

/// What its root shows: a rooted worker (`root=/etc/mux/room`) finds
/// `/welcome.txt` and not `/etc/mux.conf`; an unrooted one the reverse.
fn look_around(out: &Out<'_>) {
    let size = |path: &str| {
        Sio::open(path, OpenFlags::READ).and_then(|f| {
            let size = f.query().map(|i| i.size);
            let _ = f.close();
            size
        })
    };
    match (size("/welcome.txt"), size("/etc/mux.conf")) {
        (Ok(n), Err(SysError::NotFound)) => out.line(format_args!(
            "its root is a room of its own: /welcome.txt ({n} bytes) is there, /etc/mux.conf is not"
        )),
        (Err(SysError::NotFound), Ok(_)) => {}
        (welcome, conf) => out.line(format_args!(
            "its root: /welcome.txt {welcome:?}, /etc/mux.conf {conf:?}"
        )),
    }
}
