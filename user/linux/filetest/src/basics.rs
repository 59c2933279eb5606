//! Phase 1's calls and their error paths: `ENOSYS`, `EBADF`, `EFAULT`
//! on the process, memory and information calls.

use crate::sys::{call, e, nr};
use crate::{check, check_ok, check_true};

pub fn run() {
    check("unknown call 500", call(500, &[]), -e::ENOSYS);
    check("unknown call 449+50", call(499, &[1, 2, 3]), -e::ENOSYS);
    let pid = check_ok("getpid", call(nr::GETPID, &[]));
    check("gettid == getpid", call(nr::GETTID, &[]), pid);
    check_ok("getppid", call(nr::GETPPID, &[]));

    let mut uts = [0u8; 390];
    check("uname", call(nr::UNAME, &[uts.as_mut_ptr() as u64]), 0);
    check_true("uname sysname Linux", &uts[..6] == b"Linux\0");
    check("uname EFAULT", call(nr::UNAME, &[16]), -e::EFAULT);

    let mut ts = [0u64; 2];
    check(
        "clock_gettime",
        call(nr::CLOCK_GETTIME, &[1, ts.as_mut_ptr() as u64]),
        0,
    );
    check(
        "clock_gettime EFAULT",
        call(nr::CLOCK_GETTIME, &[1, 16]),
        -e::EFAULT,
    );
    check(
        "clock_gettime EINVAL",
        call(nr::CLOCK_GETTIME, &[77, ts.as_mut_ptr() as u64]),
        -e::EINVAL,
    );

    let mut random = [0u8; 16];
    check(
        "getrandom",
        call(nr::GETRANDOM, &[random.as_mut_ptr() as u64, 16, 0]),
        16,
    );
    check(
        "getrandom EINVAL",
        call(nr::GETRANDOM, &[random.as_mut_ptr() as u64, 16, 0x40]),
        -e::EINVAL,
    );

    check_true("brk(0) > 0", call(nr::BRK, &[0]) > 0);
    let page = call(nr::MMAP, &[0, 4096, 3, 0x22, u64::MAX, 0]);
    check_true("mmap anonymous", page > 0);
    if page > 0 {
        // SAFETY-free: the page is ours, read-write.
        let p = page as u64;
        check("mprotect read-only", call(nr::MPROTECT, &[p, 4096, 1]), 0);
        check("munmap", call(nr::MUNMAP, &[p, 4096]), 0);
    }
    check(
        "mmap length 0",
        call(nr::MMAP, &[0, 0, 3, 0x22, u64::MAX, 0]),
        -e::EINVAL,
    );
    check(
        "mmap no type",
        call(nr::MMAP, &[0, 4096, 3, 0x20, u64::MAX, 0]),
        -e::EINVAL,
    );

    let mut fs_base = 0u64;
    check(
        "arch_prctl GET_FS",
        call(nr::ARCH_PRCTL, &[0x1003, crate::sys::mut_ptr(&mut fs_base)]),
        0,
    );
    check_true("FS base set by the C runtime", fs_base != 0);

    let mut limit = [0u64; 2];
    check(
        "prlimit64 NOFILE",
        call(nr::PRLIMIT64, &[0, 7, 0, limit.as_mut_ptr() as u64]),
        0,
    );
    check_true("NOFILE soft limit >= 64", limit[0] >= 64);
    check(
        "prlimit64 EINVAL",
        call(nr::PRLIMIT64, &[0, 99, 0, limit.as_mut_ptr() as u64]),
        -e::EINVAL,
    );

    let mut info = [0u64; 14];
    check("sysinfo", call(nr::SYSINFO, &[info.as_mut_ptr() as u64]), 0);
    check_true("sysinfo totalram > 0", info[4] > 0);
    check("sysinfo EFAULT", call(nr::SYSINFO, &[16]), -e::EFAULT);

    check("close EBADF", call(nr::CLOSE, &[999]), -e::EBADF);
    check("close -1 EBADF", call(nr::CLOSE, &[u64::MAX]), -e::EBADF);
    let mut buf = [0u8; 8];
    check("read EBADF", crate::sys::read(999, &mut buf), -e::EBADF);
    check("write EBADF", crate::sys::write(999, b"x"), -e::EBADF);
    let mut st = [0u64; 18];
    check(
        "fstat EBADF",
        call(nr::FSTAT, &[999, st.as_mut_ptr() as u64]),
        -e::EBADF,
    );
    check("lseek EBADF", call(nr::LSEEK, &[999, 0, 0]), -e::EBADF);
    check(
        "ioctl EBADF",
        call(nr::IOCTL, &[999, 0x5401, st.as_mut_ptr() as u64]),
        -e::EBADF,
    );
}
