//! Raw Linux x86-64 system calls: every result is the kernel's `rax`
//! (a negative errno on failure), so the suite checks exactly what the
//! kernel said, with no C library in between.

use core::arch::asm;

/// Call numbers (Linux x86-64).
#[allow(dead_code)]
pub mod nr {
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const OPEN: u64 = 2;
    pub const CLOSE: u64 = 3;
    pub const STAT: u64 = 4;
    pub const FSTAT: u64 = 5;
    pub const POLL: u64 = 7;
    pub const LSEEK: u64 = 8;
    pub const MMAP: u64 = 9;
    pub const MPROTECT: u64 = 10;
    pub const MUNMAP: u64 = 11;
    pub const BRK: u64 = 12;
    pub const MREMAP: u64 = 25;
    pub const RT_SIGACTION: u64 = 13;
    pub const IOCTL: u64 = 16;
    pub const PREAD64: u64 = 17;
    pub const PWRITE64: u64 = 18;
    pub const READV: u64 = 19;
    pub const WRITEV: u64 = 20;
    pub const ACCESS: u64 = 21;
    pub const PIPE: u64 = 22;
    pub const SELECT: u64 = 23;
    pub const DUP: u64 = 32;
    pub const DUP2: u64 = 33;
    pub const GETPID: u64 = 39;
    pub const EXIT: u64 = 60;
    pub const UNAME: u64 = 63;
    pub const FCNTL: u64 = 72;
    pub const TRUNCATE: u64 = 76;
    pub const FTRUNCATE: u64 = 77;
    pub const GETCWD: u64 = 79;
    pub const CHDIR: u64 = 80;
    pub const FCHDIR: u64 = 81;
    pub const RENAME: u64 = 82;
    pub const MKDIR: u64 = 83;
    pub const RMDIR: u64 = 84;
    pub const CREAT: u64 = 85;
    pub const UNLINK: u64 = 87;
    pub const READLINK: u64 = 89;
    pub const UMASK: u64 = 95;
    pub const SYSINFO: u64 = 99;
    pub const GETPPID: u64 = 110;
    pub const ARCH_PRCTL: u64 = 158;
    pub const MOUNT: u64 = 165;
    pub const REBOOT: u64 = 169;
    pub const GETTID: u64 = 186;
    pub const GETDENTS64: u64 = 217;
    pub const CLOCK_GETTIME: u64 = 228;
    pub const EXIT_GROUP: u64 = 231;
    pub const OPENAT: u64 = 257;
    pub const MKDIRAT: u64 = 258;
    pub const NEWFSTATAT: u64 = 262;
    pub const UNLINKAT: u64 = 263;
    pub const RENAMEAT: u64 = 264;
    pub const READLINKAT: u64 = 267;
    pub const FACCESSAT: u64 = 269;
    pub const PSELECT6: u64 = 270;
    pub const PPOLL: u64 = 271;
    pub const DUP3: u64 = 292;
    pub const PIPE2: u64 = 293;
    pub const PRLIMIT64: u64 = 302;
    pub const GETRANDOM: u64 = 318;
    pub const STATX: u64 = 332;
    pub const RENAMEAT2: u64 = 316;
    pub const FACCESSAT2: u64 = 439;
}

/// errno values.
#[allow(dead_code)]
pub mod e {
    pub const EPERM: i64 = 1;
    pub const ENOENT: i64 = 2;
    pub const EBADF: i64 = 9;
    pub const EAGAIN: i64 = 11;
    pub const EFAULT: i64 = 14;
    pub const EBUSY: i64 = 16;
    pub const EEXIST: i64 = 17;
    pub const ENOTDIR: i64 = 20;
    pub const EISDIR: i64 = 21;
    pub const EINVAL: i64 = 22;
    pub const ENOTTY: i64 = 25;
    pub const ESPIPE: i64 = 29;
    pub const EPIPE: i64 = 32;
    pub const ERANGE: i64 = 34;
    pub const ENOSYS: i64 = 38;
    pub const ENOTEMPTY: i64 = 39;
}

/// `syscall` with six arguments.
#[inline(never)]
pub fn call6(n: u64, a: [u64; 6]) -> i64 {
    let ret: i64;
    // SAFETY: the `syscall` instruction; the kernel clobbers rcx and r11
    // only. Each call's pointers are the suite's own buffers, or
    // deliberately bad ones the kernel must refuse with EFAULT.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n as i64 => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

pub fn call(n: u64, args: &[u64]) -> i64 {
    let mut a = [0u64; 6];
    for (slot, v) in a.iter_mut().zip(args) {
        *slot = *v;
    }
    call6(n, a)
}

/// A NUL-terminated string's address (the literal must end in `\0`).
pub fn c(s: &str) -> u64 {
    debug_assert!(s.ends_with('\0'));
    s.as_ptr() as u64
}

pub fn write(fd: i64, bytes: &[u8]) -> i64 {
    call(
        nr::WRITE,
        &[fd as u64, bytes.as_ptr() as u64, bytes.len() as u64],
    )
}

pub fn read(fd: i64, buf: &mut [u8]) -> i64 {
    call(
        nr::READ,
        &[fd as u64, buf.as_mut_ptr() as u64, buf.len() as u64],
    )
}

pub fn close(fd: i64) -> i64 {
    call(nr::CLOSE, &[fd as u64])
}

pub fn open(path: &str, flags: u64) -> i64 {
    call(nr::OPEN, &[c(path), flags, 0o644])
}

pub fn ptr<T>(x: &T) -> u64 {
    x as *const T as u64
}

pub fn mut_ptr<T>(x: &mut T) -> u64 {
    x as *mut T as u64
}

/// `open` flags.
#[allow(dead_code)]
pub mod o {
    pub const RDONLY: u64 = 0;
    pub const WRONLY: u64 = 1;
    pub const RDWR: u64 = 2;
    pub const CREAT: u64 = 0o100;
    pub const EXCL: u64 = 0o200;
    pub const TRUNC: u64 = 0o1000;
    pub const APPEND: u64 = 0o2000;
    pub const NONBLOCK: u64 = 0o4000;
    pub const DIRECTORY: u64 = 0o200_000;
    pub const CLOEXEC: u64 = 0o2_000_000;
}

pub const AT_FDCWD: u64 = -100i64 as u64;
