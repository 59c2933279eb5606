//! Names: the working directory, `openat` with a directory descriptor,
//! `mkdir`/`rmdir`/`unlink`/`rename` families, `readlink`, `access`,
//! `stat`/`newfstatat`/`statx`, `getdents64`, `umask`, `truncate`.

use crate::sys::{self, c, call, e, nr, o, AT_FDCWD};
use crate::{check, check_ok, check_true};

const S_IFMT: u64 = 0o170_000;
const S_IFDIR: u64 = 0o040_000;
const S_IFREG: u64 = 0o100_000;

/// `stat` of `path`: (result, mode, size).
fn stat(path: &str) -> (i64, u64, i64) {
    let mut st = [0u64; 18];
    let r = call(nr::STAT, &[c(path), st.as_mut_ptr() as u64]);
    (r, st[3] & 0xffff_ffff, st[6] as i64)
}

fn mkdir(path: &str) -> i64 {
    call(nr::MKDIR, &[c(path), 0o755])
}

fn create(path: &str, bytes: &[u8]) {
    let fd = check_ok("create", sys::open(path, o::CREAT | o::WRONLY | o::TRUNC));
    check("create write", sys::write(fd, bytes), bytes.len() as i64);
    sys::close(fd);
}

/// Whether the NUL-terminated `buf` ends with `tail`.
fn ends_with(buf: &[u8], tail: &[u8]) -> bool {
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    buf[..len].ends_with(tail)
}

pub fn run(workdir: &[u8]) {
    let mut buf = [0u8; 256];
    let n = call(nr::GETCWD, &[buf.as_mut_ptr() as u64, 256]);
    check("getcwd length with NUL", n, workdir.len() as i64 + 1);
    check_true(
        "getcwd is the work directory",
        &buf[..workdir.len()] == workdir,
    );
    check(
        "getcwd ERANGE",
        call(nr::GETCWD, &[buf.as_mut_ptr() as u64, 2]),
        -e::ERANGE,
    );
    check("getcwd EFAULT", call(nr::GETCWD, &[16, 256]), -e::EFAULT);

    check("mkdir d", mkdir("d\0"), 0);
    check("mkdir EEXIST", mkdir("d\0"), -e::EEXIST);
    check("mkdir ENOENT", mkdir("x/y\0"), -e::ENOENT);
    create("f\0", b"12345");
    check("mkdir ENOTDIR", mkdir("f/y\0"), -e::ENOTDIR);
    check("mkdir EFAULT", call(nr::MKDIR, &[16, 0o755]), -e::EFAULT);

    let (r, mode, size) = stat("f\0");
    check("stat f", r, 0);
    check("stat f regular", (mode & S_IFMT) as i64, S_IFREG as i64);
    check("stat f size", size, 5);
    let (r, mode, _) = stat("d\0");
    check("stat d", r, 0);
    check("stat d directory", (mode & S_IFMT) as i64, S_IFDIR as i64);
    check("stat ENOENT", stat("nope\0").0, -e::ENOENT);
    check("stat ENOTDIR", stat("f/x\0").0, -e::ENOTDIR);
    check("stat EFAULT", call(nr::STAT, &[c("f\0"), 16]), -e::EFAULT);
    let mut stx = [0u64; 32];
    check(
        "statx f",
        call(
            nr::STATX,
            &[AT_FDCWD, c("f\0"), 0, 0x7ff, stx.as_mut_ptr() as u64],
        ),
        0,
    );
    check("statx size", stx[5] as i64, 5);
    check(
        "statx mode",
        ((stx[3] >> 32) & S_IFMT) as i64,
        S_IFREG as i64,
    );
    check(
        "statx ENOENT",
        call(
            nr::STATX,
            &[AT_FDCWD, c("nope\0"), 0, 0x7ff, stx.as_mut_ptr() as u64],
        ),
        -e::ENOENT,
    );

    check(
        "open O_EXCL EEXIST",
        sys::open("f\0", o::CREAT | o::EXCL | o::WRONLY),
        -e::EEXIST,
    );
    check("open ENOTDIR", sys::open("f/x\0", o::RDONLY), -e::ENOTDIR);
    check(
        "open O_DIRECTORY on a file",
        sys::open("f\0", o::RDONLY | o::DIRECTORY),
        -e::ENOTDIR,
    );
    check(
        "open a directory for writing",
        sys::open("d\0", o::WRONLY),
        -e::EISDIR,
    );
    check("open ENOENT", sys::open("nope\0", o::RDONLY), -e::ENOENT);

    // The working directory.
    check("chdir d", call(nr::CHDIR, &[c("d\0")]), 0);
    call(nr::GETCWD, &[buf.as_mut_ptr() as u64, 256]);
    check_true("getcwd after chdir", ends_with(&buf, b"/d"));
    let up = sys::open("../f\0", o::RDONLY);
    check_true("open ../f", up >= 0);
    sys::close(up);
    check("chdir ..", call(nr::CHDIR, &[c("..\0")]), 0);
    check("chdir ENOTDIR", call(nr::CHDIR, &[c("f\0")]), -e::ENOTDIR);
    check("chdir ENOENT", call(nr::CHDIR, &[c("nope\0")]), -e::ENOENT);
    check("chdir EFAULT", call(nr::CHDIR, &[16]), -e::EFAULT);

    // Directory descriptors.
    let dfd = check_ok(
        "open d O_DIRECTORY",
        sys::open("d\0", o::RDONLY | o::DIRECTORY),
    );
    let ffd = check_ok("open f", sys::open("f\0", o::RDONLY));
    let g = check_ok(
        "openat d/g",
        call(
            nr::OPENAT,
            &[dfd as u64, c("g\0"), o::CREAT | o::WRONLY, 0o644],
        ),
    );
    sys::close(g);
    let mut st = [0u64; 18];
    check(
        "newfstatat d/g",
        call(
            nr::NEWFSTATAT,
            &[dfd as u64, c("g\0"), st.as_mut_ptr() as u64, 0],
        ),
        0,
    );
    check("stat d/g by path", stat("d/g\0").0, 0);
    check(
        "openat on a file ENOTDIR",
        call(nr::OPENAT, &[ffd as u64, c("g\0"), 0, 0]),
        -e::ENOTDIR,
    );
    check(
        "openat EBADF",
        call(nr::OPENAT, &[999, c("g\0"), 0, 0]),
        -e::EBADF,
    );
    let abs = call(nr::OPENAT, &[999, c("/tmp\0"), o::RDONLY | o::DIRECTORY, 0]);
    check_true("openat absolute ignores dirfd", abs >= 0);
    sys::close(abs);
    check(
        "newfstatat AT_EMPTY_PATH",
        call(
            nr::NEWFSTATAT,
            &[ffd as u64, c("\0"), st.as_mut_ptr() as u64, 0x1000],
        ),
        0,
    );
    check("AT_EMPTY_PATH size", st[6] as i64, 5);
    check("fchdir d", call(nr::FCHDIR, &[dfd as u64]), 0);
    call(nr::GETCWD, &[buf.as_mut_ptr() as u64, 256]);
    check_true("getcwd after fchdir", ends_with(&buf, b"/d"));
    check("relative after fchdir", stat("g\0").0, 0);
    check(
        "fchdir ENOTDIR",
        call(nr::FCHDIR, &[ffd as u64]),
        -e::ENOTDIR,
    );
    check("fchdir EBADF", call(nr::FCHDIR, &[999]), -e::EBADF);
    check("chdir back", call(nr::CHDIR, &[c("..\0")]), 0);
    check(
        "mkdirat",
        call(nr::MKDIRAT, &[dfd as u64, c("sub\0"), 0o755]),
        0,
    );
    check(
        "unlinkat AT_REMOVEDIR",
        call(nr::UNLINKAT, &[dfd as u64, c("sub\0"), 0x200]),
        0,
    );
    check(
        "unlinkat file",
        call(nr::UNLINKAT, &[dfd as u64, c("g\0"), 0]),
        0,
    );
    check(
        "unlinkat ENOENT",
        call(nr::UNLINKAT, &[dfd as u64, c("g\0"), 0]),
        -e::ENOENT,
    );
    check(
        "unlinkat bad flags",
        call(nr::UNLINKAT, &[dfd as u64, c("g\0"), 1]),
        -e::EINVAL,
    );
    check(
        "read a directory EISDIR",
        sys::read(dfd, &mut buf),
        -e::EISDIR,
    );

    dirents(ffd);
    sys::close(dfd);

    check("rmdir ENOTDIR", call(nr::RMDIR, &[c("f\0")]), -e::ENOTDIR);
    check("rmdir ENOENT", call(nr::RMDIR, &[c("nope\0")]), -e::ENOENT);
    check("rmdir . EINVAL", call(nr::RMDIR, &[c(".\0")]), -e::EINVAL);
    check(
        "unlink a directory EISDIR",
        call(nr::UNLINK, &[c("d\0")]),
        -e::EISDIR,
    );
    check(
        "unlink ENOENT",
        call(nr::UNLINK, &[c("nope\0")]),
        -e::ENOENT,
    );
    check(
        "unlink ENOTDIR",
        call(nr::UNLINK, &[c("f/x\0")]),
        -e::ENOTDIR,
    );

    check("rename f f2", call(nr::RENAME, &[c("f\0"), c("f2\0")]), 0);
    check("old name gone", stat("f\0").0, -e::ENOENT);
    check("new name there", stat("f2\0").2, 5);
    check(
        "rename ENOENT",
        call(nr::RENAME, &[c("nope\0"), c("x\0")]),
        -e::ENOENT,
    );
    check(
        "rename file onto directory EISDIR",
        call(nr::RENAME, &[c("f2\0"), c("d\0")]),
        -e::EISDIR,
    );
    check(
        "rename directory onto file ENOTDIR",
        call(nr::RENAME, &[c("d\0"), c("f2\0")]),
        -e::ENOTDIR,
    );
    check(
        "rename into itself EINVAL",
        call(nr::RENAME, &[c("d\0"), c("d/in\0")]),
        -e::EINVAL,
    );
    check(
        "renameat",
        call(
            nr::RENAMEAT,
            &[AT_FDCWD, c("f2\0"), AT_FDCWD, c("d/moved\0")],
        ),
        0,
    );
    check(
        "renameat2 bad flags",
        call(
            nr::RENAMEAT2,
            &[AT_FDCWD, c("d/moved\0"), AT_FDCWD, c("f\0"), 8],
        ),
        -e::EINVAL,
    );
    check(
        "renameat2 flags 0",
        call(
            nr::RENAMEAT2,
            &[AT_FDCWD, c("d/moved\0"), AT_FDCWD, c("f\0"), 0],
        ),
        0,
    );
    check("mkdir e2", mkdir("e2\0"), 0);
    create("e2/x\0", b"x");
    check(
        "rename onto a non-empty directory",
        call(nr::RENAME, &[c("d\0"), c("e2\0")]),
        -e::ENOTEMPTY,
    );
    check(
        "rmdir ENOTEMPTY",
        call(nr::RMDIR, &[c("e2\0")]),
        -e::ENOTEMPTY,
    );

    check(
        "readlink a file EINVAL",
        call(nr::READLINK, &[c("f\0"), buf.as_mut_ptr() as u64, 64]),
        -e::EINVAL,
    );
    check(
        "readlink ENOENT",
        call(nr::READLINK, &[c("nope\0"), buf.as_mut_ptr() as u64, 64]),
        -e::ENOENT,
    );
    check(
        "readlinkat EINVAL",
        call(
            nr::READLINKAT,
            &[AT_FDCWD, c("d\0"), buf.as_mut_ptr() as u64, 64],
        ),
        -e::EINVAL,
    );

    check("access F_OK", call(nr::ACCESS, &[c("f\0"), 0]), 0);
    check("access R_OK|W_OK", call(nr::ACCESS, &[c("d\0"), 6]), 0);
    check(
        "access ENOENT",
        call(nr::ACCESS, &[c("nope\0"), 0]),
        -e::ENOENT,
    );
    check(
        "access bad mode",
        call(nr::ACCESS, &[c("f\0"), 8]),
        -e::EINVAL,
    );
    check(
        "faccessat",
        call(nr::FACCESSAT, &[AT_FDCWD, c("f\0"), 4]),
        0,
    );
    check(
        "faccessat2",
        call(nr::FACCESSAT2, &[AT_FDCWD, c("f\0"), 4, 0]),
        0,
    );
    check(
        "faccessat2 bad flags",
        call(nr::FACCESSAT2, &[AT_FDCWD, c("f\0"), 4, 1]),
        -e::EINVAL,
    );

    check("umask first", call(nr::UMASK, &[0o77]), 0o22);
    check("umask back", call(nr::UMASK, &[0o22]), 0o77);

    truncation(ffd);
    sys::close(ffd);
}

fn dirents(ffd: i64) {
    check("mkdir e", mkdir("e\0"), 0);
    create("e/a\0", b"a");
    create("e/b\0", b"b");
    check("mkdir e/c", mkdir("e/c\0"), 0);
    let efd = check_ok("open e", sys::open("e\0", o::RDONLY | o::DIRECTORY));
    let mut buf = [0u8; 4096];
    let n = call(nr::GETDENTS64, &[efd as u64, buf.as_mut_ptr() as u64, 4096]);
    check_true("getdents64 read entries", n > 0);
    let (mut count, mut seen, mut types_ok) = (0, 0u32, true);
    let mut at = 0usize;
    while n > 0 && at < n as usize {
        let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
        let kind = buf[at + 18];
        let name_end = buf[at + 19..at + reclen]
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(0);
        let name = &buf[at + 19..at + 19 + name_end];
        count += 1;
        let bit = match name {
            b"." => 1,
            b".." => 2,
            b"a" => 4,
            b"b" => 8,
            b"c" => 16,
            _ => 0,
        };
        seen |= bit;
        types_ok &= match name {
            b"a" | b"b" => kind == 8,
            b"c" | b"." | b".." => kind == 4,
            _ => true,
        };
        if reclen == 0 {
            break;
        }
        at += reclen;
    }
    check("getdents64 entry count", count, 5);
    check("getdents64 names", i64::from(seen), 31);
    check_true("getdents64 d_type", types_ok);
    check(
        "getdents64 at the end",
        call(nr::GETDENTS64, &[efd as u64, buf.as_mut_ptr() as u64, 4096]),
        0,
    );
    check(
        "lseek a directory to 0",
        call(nr::LSEEK, &[efd as u64, 0, 0]),
        0,
    );
    check(
        "getdents64 again",
        call(nr::GETDENTS64, &[efd as u64, buf.as_mut_ptr() as u64, 4096]),
        n,
    );
    check(
        "lseek a directory to 0 again",
        call(nr::LSEEK, &[efd as u64, 0, 0]),
        0,
    );
    check(
        "getdents64 buffer too small",
        call(nr::GETDENTS64, &[efd as u64, buf.as_mut_ptr() as u64, 8]),
        -e::EINVAL,
    );
    check(
        "getdents64 EFAULT",
        call(nr::GETDENTS64, &[efd as u64, 16, 4096]),
        -e::EFAULT,
    );
    check(
        "getdents64 on a file ENOTDIR",
        call(nr::GETDENTS64, &[ffd as u64, buf.as_mut_ptr() as u64, 4096]),
        -e::ENOTDIR,
    );
    check(
        "getdents64 EBADF",
        call(nr::GETDENTS64, &[999, buf.as_mut_ptr() as u64, 4096]),
        -e::EBADF,
    );
    sys::close(efd);
}

fn truncation(ro: i64) {
    create("t\0", b"0123456789");
    let fd = check_ok("open t", sys::open("t\0", o::RDWR));
    check("ftruncate 4", call(nr::FTRUNCATE, &[fd as u64, 4]), 0);
    let mut st = [0u64; 18];
    call(nr::FSTAT, &[fd as u64, st.as_mut_ptr() as u64]);
    check("size after ftruncate", st[6] as i64, 4);
    check(
        "ftruncate negative EINVAL",
        call(nr::FTRUNCATE, &[fd as u64, u64::MAX]),
        -e::EINVAL,
    );
    check(
        "ftruncate read-only EINVAL",
        call(nr::FTRUNCATE, &[ro as u64, 0]),
        -e::EINVAL,
    );
    check("ftruncate EBADF", call(nr::FTRUNCATE, &[999, 0]), -e::EBADF);
    check("truncate 0", call(nr::TRUNCATE, &[c("t\0"), 0]), 0);
    check("size after truncate", stat("t\0").2, 0);
    check(
        "truncate a directory EISDIR",
        call(nr::TRUNCATE, &[c("d\0"), 0]),
        -e::EISDIR,
    );
    check(
        "truncate ENOENT",
        call(nr::TRUNCATE, &[c("nope\0"), 0]),
        -e::ENOENT,
    );
    let mut count = 0i32;
    check("write t", sys::write(fd, b"abcdef"), 6);
    check("lseek t 2", call(nr::LSEEK, &[fd as u64, 2, 0]), 2);
    check(
        "FIONREAD file",
        call(nr::IOCTL, &[fd as u64, 0x541b, sys::mut_ptr(&mut count)]),
        0,
    );
    check("FIONREAD file count", i64::from(count), 4);
    check(
        "TCGETS on a file ENOTTY",
        call(nr::IOCTL, &[fd as u64, 0x5401, st.as_mut_ptr() as u64]),
        -e::ENOTTY,
    );
    sys::close(fd);
}
