//! Descriptors: `dup`, `dup2`, `dup3`, `fcntl`, `pipe`, `pipe2`, shared
//! descriptions and their close, access modes, `EPIPE`, `O_NONBLOCK`.

use crate::sys::{self, call, e, nr, o};
use crate::{check, check_ok, check_true};

const F_DUPFD: u64 = 0;
const F_GETFD: u64 = 1;
const F_SETFD: u64 = 2;
const F_GETFL: u64 = 3;
const F_SETFL: u64 = 4;
const F_DUPFD_CLOEXEC: u64 = 1030;

fn fcntl(fd: i64, cmd: u64, arg: u64) -> i64 {
    call(nr::FCNTL, &[fd as u64, cmd, arg])
}

fn lseek(fd: i64, offset: i64, whence: u64) -> i64 {
    call(nr::LSEEK, &[fd as u64, offset as u64, whence])
}

pub fn run() {
    descriptors();
    pipes();
}

fn descriptors() {
    let fd = check_ok(
        "open f1 O_CREAT|O_RDWR",
        sys::open("f1\0", o::CREAT | o::RDWR),
    );
    check("write f1", sys::write(fd, b"hello world"), 11);
    check("lseek f1 0", lseek(fd, 0, 0), 0);
    let d = check_ok("dup", call(nr::DUP, &[fd as u64]));
    check_true("dup is the lowest free", d == fd + 1);
    let mut buf = [0u8; 16];
    check("read via dup", sys::read(d, &mut buf[..5]), 5);
    check_true("read via dup bytes", &buf[..5] == b"hello");
    check("read shares the offset", sys::read(fd, &mut buf[..6]), 6);
    check_true("read shared bytes", &buf[..6] == b" world");
    check("offset after both", lseek(fd, 0, 1), 11);

    check("F_GETFD 0", fcntl(d, F_GETFD, 0), 0);
    check("F_SETFD", fcntl(d, F_SETFD, 1), 0);
    check("F_GETFD cloexec", fcntl(d, F_GETFD, 0), 1);
    check("F_GETFD is per descriptor", fcntl(fd, F_GETFD, 0), 0);
    check("F_DUPFD 20", fcntl(fd, F_DUPFD, 20), 20);
    check("F_DUPFD_CLOEXEC 30", fcntl(fd, F_DUPFD_CLOEXEC, 30), 30);
    check("F_GETFD of F_DUPFD_CLOEXEC", fcntl(30, F_GETFD, 0), 1);
    check("F_GETFD of F_DUPFD", fcntl(20, F_GETFD, 0), 0);
    check("F_DUPFD negative", fcntl(fd, F_DUPFD, u64::MAX), -e::EINVAL);
    check("fcntl unknown command", fcntl(fd, 9999, 0), -e::EINVAL);
    check("fcntl EBADF", fcntl(999, F_GETFD, 0), -e::EBADF);
    check(
        "F_GETFL access mode",
        fcntl(fd, F_GETFL, 0) & 3,
        o::RDWR as i64,
    );
    check("F_SETFL O_APPEND", fcntl(fd, F_SETFL, o::APPEND), 0);
    check_true(
        "F_GETFL shows O_APPEND",
        fcntl(fd, F_GETFL, 0) & o::APPEND as i64 != 0,
    );
    check_true(
        "F_SETFL is the description's",
        fcntl(d, F_GETFL, 0) & o::APPEND as i64 != 0,
    );
    check("lseek 0 before append", lseek(fd, 0, 0), 0);
    check("append write", sys::write(fd, b"!"), 1);
    check("append went to the end", lseek(fd, 0, 1), 12);
    check("F_SETFL clears O_APPEND", fcntl(fd, F_SETFL, 0), 0);
    check(
        "F_GETFL without O_APPEND",
        fcntl(fd, F_GETFL, 0) & o::APPEND as i64,
        0,
    );

    let cl = check_ok("open O_CLOEXEC", sys::open("f1\0", o::RDONLY | o::CLOEXEC));
    check("open O_CLOEXEC sets FD_CLOEXEC", fcntl(cl, F_GETFD, 0), 1);
    check(
        "dup clears FD_CLOEXEC",
        fcntl(call(nr::DUP, &[cl as u64]), F_GETFD, 0),
        0,
    );
    sys::close(cl + 1);
    sys::close(cl);
    check("dup2 same", call(nr::DUP2, &[fd as u64, fd as u64]), fd);
    check("dup2 to 50", call(nr::DUP2, &[fd as u64, 50]), 50);
    check("dup2 onto an open one", call(nr::DUP2, &[d as u64, 50]), 50);
    check("dup2 EBADF old", call(nr::DUP2, &[999, 51]), -e::EBADF);
    check(
        "dup2 EBADF new past the limit",
        call(nr::DUP2, &[fd as u64, 100_000]),
        -e::EBADF,
    );
    check(
        "dup3 same EINVAL",
        call(nr::DUP3, &[fd as u64, fd as u64, 0]),
        -e::EINVAL,
    );
    check(
        "dup3 O_CLOEXEC",
        call(nr::DUP3, &[fd as u64, 52, o::CLOEXEC]),
        52,
    );
    check("dup3 sets FD_CLOEXEC", fcntl(52, F_GETFD, 0), 1);
    check(
        "dup3 bad flags",
        call(nr::DUP3, &[fd as u64, 53, 1]),
        -e::EINVAL,
    );
    check("dup3 EBADF", call(nr::DUP3, &[999, 53, 0]), -e::EBADF);
    check("dup EBADF", call(nr::DUP, &[999]), -e::EBADF);

    // The description lives while any descriptor names it.
    for extra in [20, 30, 50, 52] {
        check("close a dup", sys::close(extra), 0);
    }
    check("close original", sys::close(fd), 0);
    check("lseek via the last dup", lseek(d, 0, 0), 0);
    check("read via the last dup", sys::read(d, &mut buf[..5]), 5);
    check("close last dup", sys::close(d), 0);
    check("closed twice", sys::close(d), -e::EBADF);

    let ro = check_ok("open f1 read-only", sys::open("f1\0", o::RDONLY));
    check("write on read-only EBADF", sys::write(ro, b"x"), -e::EBADF);
    check(
        "read EFAULT",
        call(nr::READ, &[ro as u64, 16, 4]),
        -e::EFAULT,
    );
    check("F_GETFL read-only", fcntl(ro, F_GETFL, 0) & 3, 0);
    sys::close(ro);
    let wo = check_ok("open f1 write-only", sys::open("f1\0", o::WRONLY));
    check(
        "read on write-only EBADF",
        sys::read(wo, &mut buf),
        -e::EBADF,
    );
    check(
        "write EFAULT",
        call(nr::WRITE, &[wo as u64, 16, 4]),
        -e::EFAULT,
    );
    sys::close(wo);
    check("open EFAULT", call(nr::OPEN, &[16, 0, 0]), -e::EFAULT);
    check("open empty ENOENT", sys::open("\0", o::RDONLY), -e::ENOENT);
    check(
        "open missing ENOENT",
        sys::open("no-such-file\0", o::RDONLY),
        -e::ENOENT,
    );
    check(
        "open O_EXCL EEXIST",
        sys::open("f1\0", o::CREAT | o::EXCL | o::WRONLY),
        -e::EEXIST,
    );
    check("unlink f1", call(nr::UNLINK, &[sys::c("f1\0")]), 0);
}

fn pipe(flags: Option<u64>) -> (i64, i64) {
    let mut fds = [-1i32; 2];
    let r = match flags {
        None => call(nr::PIPE, &[fds.as_mut_ptr() as u64]),
        Some(f) => call(nr::PIPE2, &[fds.as_mut_ptr() as u64, f]),
    };
    check("pipe", r, 0);
    (i64::from(fds[0]), i64::from(fds[1]))
}

fn pipes() {
    let (r, w) = pipe(None);
    check("pipe write", sys::write(w, b"abc"), 3);
    let mut buf = [0u8; 16];
    check("pipe read", sys::read(r, &mut buf), 3);
    check_true("pipe bytes", &buf[..3] == b"abc");
    check("lseek pipe ESPIPE", lseek(r, 0, 1), -e::ESPIPE);
    check("pipe read end O_RDONLY", fcntl(r, F_GETFL, 0) & 3, 0);
    check("pipe write end O_WRONLY", fcntl(w, F_GETFL, 0) & 3, 1);
    check("write on read end EBADF", sys::write(r, b"x"), -e::EBADF);
    check("read on write end EBADF", sys::read(w, &mut buf), -e::EBADF);
    check("F_SETFL O_NONBLOCK", fcntl(r, F_SETFL, o::NONBLOCK), 0);
    check(
        "empty non-blocking read EAGAIN",
        sys::read(r, &mut buf),
        -e::EAGAIN,
    );
    check("write 5", sys::write(w, b"12345"), 5);
    let mut count = 0i32;
    check(
        "FIONREAD pipe",
        call(nr::IOCTL, &[r as u64, 0x541b, sys::mut_ptr(&mut count)]),
        0,
    );
    check("FIONREAD pipe count", i64::from(count), 5);
    check(
        "TCGETS on a pipe ENOTTY",
        call(nr::IOCTL, &[r as u64, 0x5401, buf.as_mut_ptr() as u64]),
        -e::ENOTTY,
    );
    check("drain", sys::read(r, &mut buf), 5);
    // Two descriptors of the write end: the pipe ends with the last.
    let w2 = check_ok("dup write end", call(nr::DUP, &[w as u64]));
    check("close one write end", sys::close(w), 0);
    check(
        "still open: EAGAIN, not EOF",
        sys::read(r, &mut buf),
        -e::EAGAIN,
    );
    check("close last write end", sys::close(w2), 0);
    check("EOF after the last writer", sys::read(r, &mut buf), 0);
    sys::close(r);

    let (r, w) = pipe(None);
    check("close read end", sys::close(r), 0);
    check("write with no reader EPIPE", sys::write(w, b"x"), -e::EPIPE);
    sys::close(w);

    let (r, w) = pipe(Some(o::CLOEXEC | o::NONBLOCK));
    check("pipe2 O_CLOEXEC read end", fcntl(r, F_GETFD, 0), 1);
    check("pipe2 O_CLOEXEC write end", fcntl(w, F_GETFD, 0), 1);
    check(
        "pipe2 O_NONBLOCK",
        fcntl(r, F_GETFL, 0) & o::NONBLOCK as i64,
        o::NONBLOCK as i64,
    );
    check(
        "pipe2 non-blocking read EAGAIN",
        sys::read(r, &mut buf),
        -e::EAGAIN,
    );
    // Fill it: a non-blocking write to a full pipe is EAGAIN.
    let chunk = [7u8; 4096];
    let mut total = 0i64;
    let mut last = 0;
    for _ in 0..64 {
        last = sys::write(w, &chunk);
        if last < 0 {
            break;
        }
        total += last;
    }
    check("full non-blocking pipe EAGAIN", last, -e::EAGAIN);
    check_true("pipe held at least 4 KiB", total >= 4096);
    sys::close(r);
    sys::close(w);
    let mut fds = [0i32; 2];
    check(
        "pipe2 bad flags",
        call(nr::PIPE2, &[fds.as_mut_ptr() as u64, 1]),
        -e::EINVAL,
    );
    check("pipe EFAULT", call(nr::PIPE, &[16]), -e::EFAULT);
}
