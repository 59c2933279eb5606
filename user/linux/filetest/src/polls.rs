//! `poll`, `ppoll`, `select`, `pselect6` on pipes, files and the
//! console, and the terminal `ioctl`s on the console (when descriptor 0
//! is a terminal, as it is on both kernels' consoles).

use crate::sys::{self, call, e, nr};
use crate::{check, check_true};

const POLLIN: u64 = 0x1;
const POLLOUT: u64 = 0x4;
const POLLERR: i64 = 0x8;
const POLLHUP: i64 = 0x10;
const POLLNVAL: i64 = 0x20;

/// `poll` on `(fd, events)` pairs: (result, each revents).
fn poll(watch: &[(i64, u64)], timeout_ms: i64) -> (i64, [i64; 4]) {
    let mut raw = [0u64; 4];
    for (slot, &(fd, events)) in raw.iter_mut().zip(watch) {
        *slot = (fd as u32 as u64) | (events << 32);
    }
    let r = call(
        nr::POLL,
        &[
            raw.as_mut_ptr() as u64,
            watch.len() as u64,
            timeout_ms as u64,
        ],
    );
    let mut revents = [0i64; 4];
    for (out, slot) in revents.iter_mut().zip(raw) {
        *out = (slot >> 48) as i64;
    }
    (r, revents)
}

fn pipe() -> (i64, i64) {
    let mut fds = [-1i32; 2];
    check("pipe", call(nr::PIPE, &[fds.as_mut_ptr() as u64]), 0);
    (i64::from(fds[0]), i64::from(fds[1]))
}

pub fn run() {
    let (r, w) = pipe();
    let (n, rev) = poll(&[(r, POLLIN), (w, POLLOUT)], 0);
    check("poll empty pipe: one ready", n, 1);
    check("poll read end not ready", rev[0], 0);
    check("poll write end POLLOUT", rev[1], POLLOUT as i64);
    check("write x", sys::write(w, b"x"), 1);
    let (n, rev) = poll(&[(r, POLLIN)], 0);
    check("poll readable", n, 1);
    check("poll POLLIN", rev[0], POLLIN as i64);
    let (n, rev) = poll(&[(999, POLLIN), (-1, POLLIN)], 0);
    check("poll closed fd counts", n, 1);
    check("poll POLLNVAL", rev[0], POLLNVAL);
    check("poll negative fd ignored", rev[1], 0);
    let mut buf = [0u8; 8];
    check("drain x", sys::read(r, &mut buf), 1);
    let (n, _) = poll(&[(r, POLLIN)], 30);
    check("poll timeout on an empty pipe", n, 0);
    let ts: [i64; 2] = [0, 1_000_000];
    let mut raw = [(r as u32 as u64) | (POLLIN << 32)];
    check(
        "ppoll timeout",
        call(
            nr::PPOLL,
            &[raw.as_mut_ptr() as u64, 1, sys::ptr(&ts), 0, 8],
        ),
        0,
    );
    let bad: [i64; 2] = [0, 2_000_000_000];
    check(
        "ppoll bad timespec",
        call(
            nr::PPOLL,
            &[raw.as_mut_ptr() as u64, 1, sys::ptr(&bad), 0, 8],
        ),
        -e::EINVAL,
    );
    check("poll EFAULT", call(nr::POLL, &[16, 1, 0]), -e::EFAULT);
    check(
        "poll too many EINVAL",
        call(nr::POLL, &[raw.as_mut_ptr() as u64, 1 << 20, 0]),
        -e::EINVAL,
    );

    select(r, w);

    check("close writer", sys::close(w), 0);
    let (n, rev) = poll(&[(r, POLLIN)], 0);
    check("poll after the writer closed", n, 1);
    check("poll POLLHUP", rev[0], POLLHUP);
    sys::close(r);
    let (r, w) = pipe();
    sys::close(r);
    let (n, rev) = poll(&[(w, POLLOUT)], 0);
    check("poll with no reader", n, 1);
    check("poll POLLOUT|POLLERR", rev[0], POLLOUT as i64 | POLLERR);
    sys::close(w);

    let f = sys::open("pf\0", sys::o::CREAT | sys::o::RDWR);
    let (n, rev) = poll(&[(f, POLLIN | POLLOUT)], 0);
    check("poll a file", n, 1);
    check(
        "poll a file is ready both ways",
        rev[0],
        (POLLIN | POLLOUT) as i64,
    );
    sys::close(f);

    terminal();
}

/// One 64-bit `fd_set` word per set is enough for these descriptors.
fn select(r: i64, w: i64) {
    check("write y", sys::write(w, b"y"), 1);
    let mut rset: u64 = 1 << r;
    let mut wset: u64 = 1 << w;
    let tv: [i64; 2] = [0, 0];
    let nfds = r.max(w) as u64 + 1;
    let n = call(
        nr::SELECT,
        &[
            nfds,
            sys::mut_ptr(&mut rset),
            sys::mut_ptr(&mut wset),
            0,
            sys::ptr(&tv),
        ],
    );
    check("select both ready", n, 2);
    check_true("select read set", rset == 1 << r);
    check_true("select write set", wset == 1 << w);
    let mut buf = [0u8; 4];
    check("drain y", sys::read(r, &mut buf), 1);
    let mut rset: u64 = 1 << r;
    let ts: [i64; 2] = [0, 0];
    let n = call(
        nr::PSELECT6,
        &[nfds, sys::mut_ptr(&mut rset), 0, 0, sys::ptr(&ts), 0],
    );
    check("pselect6 nothing ready", n, 0);
    check("pselect6 clears the set", rset as i64, 0);
    // nfds past the descriptor table: Linux looks at the table's only.
    check("write z", sys::write(w, b"z"), 1);
    let mut big = [0u64; 32];
    big[0] = 1 << r;
    let n = call(
        nr::SELECT,
        &[2000, big.as_mut_ptr() as u64, 0, 0, sys::ptr(&tv)],
    );
    check("select with nfds 2000", n, 1);
    check("drain z", sys::read(r, &mut buf), 1);
    let mut rset: u64 = 1 << 60;
    check(
        "select a closed fd EBADF",
        call(
            nr::SELECT,
            &[61, sys::mut_ptr(&mut rset), 0, 0, sys::ptr(&tv)],
        ),
        -e::EBADF,
    );
    check(
        "select negative nfds EINVAL",
        call(nr::SELECT, &[u64::MAX, 0, 0, 0, sys::ptr(&tv)]),
        -e::EINVAL,
    );
    let bad: [i64; 2] = [-1, 0];
    let mut rset: u64 = 1 << r;
    check(
        "select negative timeval EINVAL",
        call(
            nr::SELECT,
            &[nfds, sys::mut_ptr(&mut rset), 0, 0, sys::ptr(&bad)],
        ),
        -e::EINVAL,
    );
}

const TCGETS: u64 = 0x5401;
const TCSETS: u64 = 0x5402;
const TIOCGWINSZ: u64 = 0x5413;
const FIONREAD: u64 = 0x541b;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;

fn lflag(t: &[u8; 36]) -> u32 {
    u32::from_le_bytes([t[12], t[13], t[14], t[15]])
}

fn terminal() {
    let mut saved = [0u8; 36];
    if call(nr::IOCTL, &[0, TCGETS, saved.as_mut_ptr() as u64]) != 0 {
        crate::out::line(&[crate::out::S(
            "filetest: descriptor 0 is no terminal; terminal checks skipped",
        )]);
        return;
    }
    check(
        "TCGETS EFAULT",
        call(nr::IOCTL, &[0, TCGETS, 16]),
        -e::EFAULT,
    );
    let mut raw = saved;
    let flags = lflag(&saved) & !(ICANON | ECHO);
    raw[12..16].copy_from_slice(&flags.to_le_bytes());
    check(
        "TCSETS raw",
        call(nr::IOCTL, &[0, TCSETS, raw.as_ptr() as u64]),
        0,
    );
    let mut now = [0u8; 36];
    check(
        "TCGETS after raw",
        call(nr::IOCTL, &[0, TCGETS, now.as_mut_ptr() as u64]),
        0,
    );
    check(
        "raw: ICANON and ECHO off",
        i64::from(lflag(&now) & (ICANON | ECHO)),
        0,
    );
    check(
        "TCSETS restore",
        call(nr::IOCTL, &[0, TCSETS, saved.as_ptr() as u64]),
        0,
    );
    check(
        "TCGETS after restore",
        call(nr::IOCTL, &[0, TCGETS, now.as_mut_ptr() as u64]),
        0,
    );
    check(
        "restored flags",
        i64::from(lflag(&now)),
        i64::from(lflag(&saved)),
    );
    check(
        "TCSETS EFAULT",
        call(nr::IOCTL, &[0, TCSETS, 16]),
        -e::EFAULT,
    );
    let mut winsize = [0u16; 4];
    check(
        "TIOCGWINSZ",
        call(nr::IOCTL, &[0, TIOCGWINSZ, winsize.as_mut_ptr() as u64]),
        0,
    );
    let mut count = -1i32;
    check(
        "FIONREAD console",
        call(nr::IOCTL, &[0, FIONREAD, sys::mut_ptr(&mut count)]),
        0,
    );
    check_true("FIONREAD console count", count >= 0);
    check(
        "ioctl unknown request ENOTTY",
        call(nr::IOCTL, &[0, 0x5499, 0]),
        -e::ENOTTY,
    );
    let (n, rev) = poll(&[(1, POLLOUT)], 0);
    check("poll console writable", n, 1);
    check("poll console POLLOUT", rev[0], POLLOUT as i64);
}

/// `filetest pollwait`: an infinite `poll` on descriptor 0 (the kernel's
/// test types a line once the program waits); 0 if it returned the line
/// as readable and the line is `x`.
pub fn wait_for_console() -> i32 {
    let (n, rev) = poll(&[(0, POLLIN)], -1);
    let mut buf = [0u8; 8];
    let got = sys::read(0, &mut buf);
    i32::from(!(n == 1 && rev[0] == POLLIN as i64 && got == 2 && buf[0] == b'x'))
}
