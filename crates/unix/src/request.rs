//! Decoding a Linux system call into a typed request.
//!
//! Owns [`Request`] and the types of its fields; [`decode`] (in
//! `request/decode.rs`, the table of every call) maps the call number and six argument
//! registers in, the request with its flags checked out, or the errno the
//! call fails with before it touches anything (`ENOSYS` for a number the
//! emulation does not implement, `EINVAL` for unknown flag bits and bad
//! combinations, as Linux answers them). Integer arguments are truncated
//! the way Linux's prototypes do (`unsigned int fd`: the upper 32 bits of
//! the register are ignored). Pointers are not checked here: the kernel's
//! user copies answer `EFAULT`. The kernel matches on `Request` and only
//! performs it.

// Truncating a register to the prototype's `int` or `unsigned int` is the
// point: Linux ignores the upper 32 bits of those arguments, and so must
// the emulation.
#![allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use crate::errno::Errno;
use crate::linux_flags::at;

mod decode;
pub use decode::{clone_kind, decode, is_terminal_ioctl};

/// A directory argument of an `*at` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirFd {
    /// `AT_FDCWD`: the working directory.
    Cwd,
    /// A descriptor (negative ones fail with `EBADF` if a relative path
    /// needs them).
    Fd(i32),
}

impl DirFd {
    fn from_register(value: u64) -> Self {
        match value as i32 {
            at::FDCWD => Self::Cwd,
            fd => Self::Fd(fd),
        }
    }
}

/// What a `clone` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloneKind {
    /// A thread: shares memory, descriptors, handlers, thread group.
    Thread,
    /// A process with a copy of the address space (`fork`).
    Process,
    /// A process sharing the parent's memory until it execs or exits;
    /// the parent waits (`vfork`).
    Vfork,
}

/// The clocks the emulation knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Wall-clock time.
    Realtime,
    /// Time since boot, not counting suspend (`MONOTONIC`, `_RAW`,
    /// `_COARSE`, and `BOOTTIME` are all this one clock here).
    Monotonic,
    /// CPU time of the process.
    ProcessCpu,
    /// CPU time of the thread.
    ThreadCpu,
}

impl Clock {
    fn decode(value: u64) -> Result<Self, Errno> {
        Ok(match value as i32 {
            0 | 5 => Self::Realtime,
            1 | 4 | 6 | 7 => Self::Monotonic,
            2 => Self::ProcessCpu,
            3 => Self::ThreadCpu,
            _ => return Err(Errno::EINVAL),
        })
    }
}

/// A decoded call. Field names follow the Linux prototypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // The fields are the Linux arguments of the same names.
pub enum Request {
    Read {
        fd: u32,
        buf: u64,
        count: u64,
    },
    Write {
        fd: u32,
        buf: u64,
        count: u64,
    },
    Pread {
        fd: u32,
        buf: u64,
        count: u64,
        offset: i64,
    },
    Pwrite {
        fd: u32,
        buf: u64,
        count: u64,
        offset: i64,
    },
    Readv {
        fd: u32,
        iov: u64,
        iovcnt: u32,
    },
    Writev {
        fd: u32,
        iov: u64,
        iovcnt: u32,
    },
    Lseek {
        fd: u32,
        offset: i64,
        whence: u32,
    },
    /// `open`, `openat`, `creat` (`flags` checked against Linux's bits).
    Open {
        dirfd: DirFd,
        path: u64,
        flags: u32,
        mode: u32,
    },
    Close {
        fd: u32,
    },
    /// `stat`, `lstat`, `newfstatat` (`empty_path`: `AT_EMPTY_PATH`).
    Stat {
        dirfd: DirFd,
        path: u64,
        statbuf: u64,
        empty_path: bool,
    },
    Fstat {
        fd: u32,
        statbuf: u64,
    },
    Statx {
        dirfd: DirFd,
        path: u64,
        flags: u32,
        mask: u32,
        statxbuf: u64,
    },
    /// `access`, `faccessat`, `faccessat2` (`mode`: `F_OK` or `R|W|X`).
    Access {
        dirfd: DirFd,
        path: u64,
        mode: u32,
    },
    Getdents64 {
        fd: u32,
        dirp: u64,
        count: u32,
    },
    Mkdir {
        dirfd: DirFd,
        path: u64,
        mode: u32,
    },
    /// `unlink`, `rmdir`, `unlinkat` (`remove_dir`: `rmdir`/`AT_REMOVEDIR`).
    Unlink {
        dirfd: DirFd,
        path: u64,
        remove_dir: bool,
    },
    Rename {
        old_dirfd: DirFd,
        old: u64,
        new_dirfd: DirFd,
        new: u64,
    },
    /// `truncate` (a path, relative to the working directory).
    Truncate {
        path: u64,
        length: i64,
    },
    Ftruncate {
        fd: u32,
        length: i64,
    },
    Readlink {
        dirfd: DirFd,
        path: u64,
        buf: u64,
        bufsiz: u64,
    },
    Dup {
        fd: u32,
    },
    Dup2 {
        oldfd: u32,
        newfd: u32,
    },
    Dup3 {
        oldfd: u32,
        newfd: u32,
        flags: u32,
    },
    Fcntl {
        fd: u32,
        cmd: u32,
        arg: u64,
    },
    /// `pipe`, `pipe2` (`flags`: `O_CLOEXEC`, `O_NONBLOCK`).
    Pipe {
        pipefd: u64,
        flags: u32,
    },
    Ioctl {
        fd: u32,
        request: u32,
        arg: u64,
    },
    Getcwd {
        buf: u64,
        size: u64,
    },
    Chdir {
        path: u64,
    },
    Fchdir {
        fd: u32,
    },
    Umask {
        mask: u32,
    },
    Uname {
        buf: u64,
    },
    Sysinfo {
        info: u64,
    },
    ClockGettime {
        clock: Clock,
        tp: u64,
    },
    Gettimeofday {
        tv: u64,
        tz: u64,
    },
    /// `nanosleep`, `clock_nanosleep` (`absolute`: `TIMER_ABSTIME`).
    Nanosleep {
        clock: Clock,
        absolute: bool,
        request: u64,
        remain: u64,
    },
    Getpid,
    Getppid,
    Gettid,
    Getuid,
    Geteuid,
    Getgid,
    Getegid,
    Getpgid {
        pid: i32,
    },
    Setpgid {
        pid: i32,
        pgid: i32,
    },
    Getsid {
        pid: i32,
    },
    Setsid,
    Getrandom {
        buf: u64,
        buflen: u64,
        flags: u32,
    },
    /// `poll`, `ppoll` (`timeout_ns`: `None` blocks; `sigmask` 0: none).
    Poll {
        fds: u64,
        nfds: u64,
        timeout: PollTimeout,
        sigmask: u64,
    },
    /// `select`, `pselect6` (`timeout`: a `timeval`/`timespec` pointer or
    /// 0).
    Select {
        nfds: i32,
        readfds: u64,
        writefds: u64,
        exceptfds: u64,
        timeout: u64,
        is_timespec: bool,
    },
    Wait4 {
        pid: i32,
        wstatus: u64,
        options: u32,
        rusage: u64,
    },
    Waitid {
        idtype: u32,
        id: i32,
        infop: u64,
        options: u32,
    },
    Clone {
        kind: CloneKind,
        flags: u64,
        stack: u64,
        parent_tid: u64,
        child_tid: u64,
        tls: u64,
    },
    Execve {
        path: u64,
        argv: u64,
        envp: u64,
    },
    Exit {
        status: i32,
    },
    ExitGroup {
        status: i32,
    },
    Kill {
        pid: i32,
        sig: u32,
    },
    Tgkill {
        tgid: i32,
        tid: i32,
        sig: u32,
    },
    RtSigaction {
        sig: u32,
        act: u64,
        oldact: u64,
        sigsetsize: u64,
    },
    RtSigprocmask {
        how: u32,
        set: u64,
        oldset: u64,
        sigsetsize: u64,
    },
    RtSigreturn,
    Sigaltstack {
        ss: u64,
        old_ss: u64,
    },
    SchedYield,
    Futex {
        uaddr: u64,
        op: u32,
        is_private: bool,
        val: u32,
        timeout: u64,
        uaddr2: u64,
        val3: u32,
    },
    Prlimit {
        pid: i32,
        resource: u32,
        new_limit: u64,
        old_limit: u64,
    },
    ArchPrctl {
        code: u32,
        addr: u64,
    },
    SetTidAddress {
        tidptr: u64,
    },
    SetRobustList {
        head: u64,
        len: u64,
    },
    Brk {
        addr: u64,
    },
    Mmap {
        addr: u64,
        length: u64,
        prot: u32,
        flags: u32,
        fd: i32,
        offset: u64,
    },
    Munmap {
        addr: u64,
        length: u64,
    },
    Mprotect {
        addr: u64,
        length: u64,
        prot: u32,
    },
    Mremap {
        old_address: u64,
        old_size: u64,
        new_size: u64,
        flags: u32,
        new_address: u64,
    },
    /// `madvise`: advice only; accepted and ignored for known advice.
    Madvise {
        addr: u64,
        length: u64,
        advice: u32,
    },
}

/// A `poll`/`ppoll` timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollTimeout {
    /// `poll` with a negative timeout, `ppoll` with a null pointer.
    Never,
    /// `poll`'s milliseconds.
    Millis(u32),
    /// `ppoll`'s `timespec` pointer.
    TimeSpec(u64),
}
