//! `mmap` of a file (private) and `mremap`.

use crate::sys::{self, call, e, nr, o};
use crate::{check, check_ok, check_true};

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED: u64 = 0x01;
const MAP_ANONYMOUS: u64 = 0x20;
const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const EACCES: i64 = 13;
const ENODEV: i64 = 19;
const ENOMEM: i64 = 12;

fn mmap(len: u64, prot: u64, flags: u64, fd: i64, offset: u64) -> i64 {
    call(nr::MMAP, &[0, len, prot, flags, fd as u64, offset])
}

/// The byte at `addr` (a mapping of ours).
fn peek(addr: i64) -> u8 {
    // SAFETY: `addr` lies in a readable mapping this program made.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

fn poke(addr: i64, value: u8) {
    // SAFETY: `addr` lies in a writable mapping this program made.
    unsafe { core::ptr::write_volatile(addr as *mut u8, value) }
}

fn pattern(i: usize) -> u8 {
    (i * 7 + 3) as u8
}

pub fn run() {
    file_maps();
    remaps();
}

fn file_maps() {
    let mut data = [0u8; 5000];
    for (i, b) in data.iter_mut().enumerate() {
        *b = pattern(i);
    }
    let w = check_ok(
        "create m",
        sys::open("m\0", o::CREAT | o::WRONLY | o::TRUNC),
    );
    check("write m", sys::write(w, &data), 5000);
    let fd = check_ok("open m", sys::open("m\0", o::RDONLY));
    let p = mmap(8192, PROT_READ, MAP_PRIVATE, fd, 0);
    check_true("mmap a file", p > 0);
    if p > 0 {
        check("file byte 0", i64::from(peek(p)), i64::from(pattern(0)));
        check(
            "file byte 4999",
            i64::from(peek(p + 4999)),
            i64::from(pattern(4999)),
        );
        check("past the end is zero", i64::from(peek(p + 5000)), 0);
        check(
            "last byte of the page is zero",
            i64::from(peek(p + 8191)),
            0,
        );
        check("munmap the file", call(nr::MUNMAP, &[p as u64, 8192]), 0);
    }
    let p = mmap(4096, PROT_READ, MAP_PRIVATE, fd, 4096);
    check_true("mmap at offset 4096", p > 0);
    if p > 0 {
        check("offset byte", i64::from(peek(p)), i64::from(pattern(4096)));
        call(nr::MUNMAP, &[p as u64, 4096]);
    }
    // Private and writable over a read-only descriptor: a copy.
    let p = mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check_true("private writable over read-only", p > 0);
    if p > 0 {
        poke(p, 0xAA);
        check("the copy changed", i64::from(peek(p)), 0xAA);
        let mut first = [0u8; 1];
        call(nr::PREAD64, &[fd as u64, first.as_mut_ptr() as u64, 1, 0]);
        check(
            "the file did not",
            i64::from(first[0]),
            i64::from(pattern(0)),
        );
        call(nr::MUNMAP, &[p as u64, 4096]);
    }
    check(
        "mmap unaligned offset",
        mmap(4096, PROT_READ, MAP_PRIVATE, fd, 100),
        -e::EINVAL,
    );
    check(
        "mmap EBADF",
        mmap(4096, PROT_READ, MAP_PRIVATE, 999, 0),
        -e::EBADF,
    );
    check(
        "mmap a write-only file EACCES",
        mmap(4096, PROT_READ, MAP_PRIVATE, w, 0),
        -EACCES,
    );
    let mut fds = [0i32; 2];
    call(nr::PIPE, &[fds.as_mut_ptr() as u64]);
    check(
        "mmap a pipe ENODEV",
        mmap(4096, PROT_READ, MAP_PRIVATE, i64::from(fds[0]), 0),
        -ENODEV,
    );
    let _ = MAP_SHARED;
    sys::close(i64::from(fds[0]));
    sys::close(i64::from(fds[1]));
    sys::close(w);
    sys::close(fd);
}

fn remaps() {
    let a = mmap(
        4096,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    check_true("mmap one page", a > 0);
    if a <= 0 {
        return;
    }
    poke(a, 42);
    poke(a + 4095, 43);
    let b = call(nr::MREMAP, &[a as u64, 4096, 3 * 4096, MREMAP_MAYMOVE, 0]);
    check_true("mremap grow", b > 0);
    if b <= 0 {
        return;
    }
    check("grown keeps byte 0", i64::from(peek(b)), 42);
    check("grown keeps byte 4095", i64::from(peek(b + 4095)), 43);
    check("grown tail is zero", i64::from(peek(b + 2 * 4096 + 5)), 0);
    poke(b + 2 * 4096, 9);
    check(
        "shrink in place",
        call(nr::MREMAP, &[b as u64, 3 * 4096, 4096, 0, 0]),
        b,
    );
    check("shrunk keeps byte 0", i64::from(peek(b)), 42);
    check(
        "mremap bad flags",
        call(nr::MREMAP, &[b as u64, 4096, 8192, 8, 0]),
        -e::EINVAL,
    );
    check(
        "mremap FIXED without MAYMOVE",
        call(nr::MREMAP, &[b as u64, 4096, 8192, MREMAP_FIXED, 0]),
        -e::EINVAL,
    );
    let c = mmap(
        3 * 4096,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    check_true("mmap three pages", c > 0);
    if c > 0 {
        poke(c, 7);
        check(
            "grow inside a larger mapping ENOMEM",
            call(nr::MREMAP, &[c as u64, 4096, 8192, 0, 0]),
            -ENOMEM,
        );
        let target = c + 2 * 4096;
        check(
            "mremap FIXED",
            call(
                nr::MREMAP,
                &[
                    b as u64,
                    4096,
                    4096,
                    MREMAP_MAYMOVE | MREMAP_FIXED,
                    target as u64,
                ],
            ),
            target,
        );
        check("moved to the fixed place", i64::from(peek(target)), 42);
        check("the rest stays", i64::from(peek(c)), 7);
        call(nr::MUNMAP, &[c as u64, 3 * 4096]);
    } else {
        call(nr::MUNMAP, &[b as u64, 4096]);
    }
    check(
        "mremap unmapped EFAULT",
        call(nr::MREMAP, &[0x1000_0000, 4096, 8192, MREMAP_MAYMOVE, 0]),
        -e::EFAULT,
    );
}
