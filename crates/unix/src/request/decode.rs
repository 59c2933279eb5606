//! The decoding table: one arm per Linux call (see [`super`]).

// Truncating a register to the prototype's `int` or `unsigned int` is the
// point: Linux ignores the upper 32 bits of those arguments, and so must
// the emulation.
#![allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use super::{Clock, CloneKind, DirFd, PollTimeout, Request};
use crate::errno::Errno;
use crate::linux_flags::{arch_prctl, at, clone, fcntl, futex, grnd, ioctl, map, o, wait};
use crate::syscall_numbers::nr;

fn fd(value: u64) -> u32 {
    value as u32
}

fn int(value: u64) -> i32 {
    value as i32
}

fn flags(value: u64, known: u32) -> Result<u32, Errno> {
    let flags = value as u32;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(flags)
}

/// `*at` path flags allowed by `newfstatat`/`statx`.
const STAT_AT_FLAGS: u32 =
    at::SYMLINK_NOFOLLOW | at::NO_AUTOMOUNT | at::EMPTY_PATH | at::STATX_SYNC_TYPE;

/// `R_OK | W_OK | X_OK`.
const ACCESS_MODES: u32 = 7;

/// Every `mmap` flag Linux defines for x86-64 (`MAP_TYPE` aside).
const MMAP_FLAGS: u32 = map::FIXED
    | map::ANONYMOUS
    | map::GROWSDOWN
    | map::DENYWRITE
    | map::EXECUTABLE
    | map::LOCKED
    | map::NORESERVE
    | map::POPULATE
    | map::NONBLOCK
    | map::STACK
    | map::HUGETLB
    | map::FIXED_NOREPLACE
    | 0x3;

/// Decides what `clone(flags)` makes, with Linux's consistency rules.
///
/// # Errors
/// `EINVAL` for `CLONE_THREAD` without `CLONE_SIGHAND`, or `CLONE_SIGHAND`
/// without `CLONE_VM` (Linux's rules), and for a process that shares the
/// address space without `CLONE_VFORK` (not emulated).
pub fn clone_kind(flags: u64) -> Result<CloneKind, Errno> {
    let has = |bit: u64| flags & bit != 0;
    if has(clone::THREAD) && !has(clone::SIGHAND) || has(clone::SIGHAND) && !has(clone::VM) {
        return Err(Errno::EINVAL);
    }
    Ok(
        match (has(clone::VM), has(clone::THREAD), has(clone::VFORK)) {
            (true, true, _) => CloneKind::Thread,
            (true, false, true) => CloneKind::Vfork,
            (false, false, _) => CloneKind::Process,
            _ => return Err(Errno::EINVAL),
        },
    )
}

/// Decodes call `number` with argument registers `a` (`rdi`, `rsi`,
/// `rdx`, `r10`, `r8`, `r9`).
///
/// # Errors
/// `ENOSYS` for a call the emulation does not implement; `EINVAL` for bad
/// flags as above.
#[allow(clippy::too_many_lines)] // One arm per call: a table, not logic.
pub fn decode(number: u64, a: [u64; 6]) -> Result<Request, Errno> {
    let [a0, a1, a2, a3, a4, a5] = a;
    Ok(match number {
        nr::READ => Request::Read {
            fd: fd(a0),
            buf: a1,
            count: a2,
        },
        nr::WRITE => Request::Write {
            fd: fd(a0),
            buf: a1,
            count: a2,
        },
        nr::PREAD64 => Request::Pread {
            fd: fd(a0),
            buf: a1,
            count: a2,
            offset: a3 as i64,
        },
        nr::PWRITE64 => Request::Pwrite {
            fd: fd(a0),
            buf: a1,
            count: a2,
            offset: a3 as i64,
        },
        nr::READV => Request::Readv {
            fd: fd(a0),
            iov: a1,
            iovcnt: a2 as u32,
        },
        nr::WRITEV => Request::Writev {
            fd: fd(a0),
            iov: a1,
            iovcnt: a2 as u32,
        },
        nr::LSEEK => Request::Lseek {
            fd: fd(a0),
            offset: a1 as i64,
            whence: a2 as u32,
        },
        nr::OPEN => Request::Open {
            dirfd: DirFd::Cwd,
            path: a0,
            flags: flags(a1, o::KNOWN)?,
            mode: a2 as u32,
        },
        nr::OPENAT => Request::Open {
            dirfd: DirFd::from_register(a0),
            path: a1,
            flags: flags(a2, o::KNOWN)?,
            mode: a3 as u32,
        },
        nr::CREAT => Request::Open {
            dirfd: DirFd::Cwd,
            path: a0,
            flags: o::CREAT | o::WRONLY | o::TRUNC,
            mode: a1 as u32,
        },
        nr::CLOSE => Request::Close { fd: fd(a0) },
        nr::STAT | nr::LSTAT => Request::Stat {
            dirfd: DirFd::Cwd,
            path: a0,
            statbuf: a1,
            empty_path: false,
        },
        nr::NEWFSTATAT => {
            let at_flags = flags(a3, STAT_AT_FLAGS)?;
            Request::Stat {
                dirfd: DirFd::from_register(a0),
                path: a1,
                statbuf: a2,
                empty_path: at_flags & at::EMPTY_PATH != 0,
            }
        }
        nr::FSTAT => Request::Fstat {
            fd: fd(a0),
            statbuf: a1,
        },
        nr::STATX => Request::Statx {
            dirfd: DirFd::from_register(a0),
            path: a1,
            flags: flags(a2, STAT_AT_FLAGS)?,
            mask: a3 as u32,
            statxbuf: a4,
        },
        nr::ACCESS => Request::Access {
            dirfd: DirFd::Cwd,
            path: a0,
            mode: flags(a1, ACCESS_MODES)?,
        },
        nr::FACCESSAT => Request::Access {
            dirfd: DirFd::from_register(a0),
            path: a1,
            mode: flags(a2, ACCESS_MODES)?,
        },
        nr::FACCESSAT2 => {
            flags(a3, at::EACCESS | at::SYMLINK_NOFOLLOW | at::EMPTY_PATH)?;
            Request::Access {
                dirfd: DirFd::from_register(a0),
                path: a1,
                mode: flags(a2, ACCESS_MODES)?,
            }
        }
        nr::GETDENTS64 => Request::Getdents64 {
            fd: fd(a0),
            dirp: a1,
            count: a2 as u32,
        },
        nr::MKDIR => Request::Mkdir {
            dirfd: DirFd::Cwd,
            path: a0,
            mode: a1 as u32,
        },
        nr::MKDIRAT => Request::Mkdir {
            dirfd: DirFd::from_register(a0),
            path: a1,
            mode: a2 as u32,
        },
        nr::UNLINK => Request::Unlink {
            dirfd: DirFd::Cwd,
            path: a0,
            remove_dir: false,
        },
        nr::RMDIR => Request::Unlink {
            dirfd: DirFd::Cwd,
            path: a0,
            remove_dir: true,
        },
        nr::UNLINKAT => Request::Unlink {
            dirfd: DirFd::from_register(a0),
            path: a1,
            remove_dir: flags(a2, at::REMOVEDIR)? != 0,
        },
        nr::RENAME => Request::Rename {
            old_dirfd: DirFd::Cwd,
            old: a0,
            new_dirfd: DirFd::Cwd,
            new: a1,
        },
        nr::RENAMEAT => Request::Rename {
            old_dirfd: DirFd::from_register(a0),
            old: a1,
            new_dirfd: DirFd::from_register(a2),
            new: a3,
        },
        nr::RENAMEAT2 => {
            // Only flags 0: `RENAME_NOREPLACE`, `_EXCHANGE`, `_WHITEOUT`
            // are not emulated.
            flags(a4, 0)?;
            Request::Rename {
                old_dirfd: DirFd::from_register(a0),
                old: a1,
                new_dirfd: DirFd::from_register(a2),
                new: a3,
            }
        }
        nr::TRUNCATE => Request::Truncate {
            path: a0,
            length: a1 as i64,
        },
        nr::FTRUNCATE => Request::Ftruncate {
            fd: fd(a0),
            length: a1 as i64,
        },
        nr::READLINK => Request::Readlink {
            dirfd: DirFd::Cwd,
            path: a0,
            buf: a1,
            bufsiz: a2,
        },
        nr::READLINKAT => Request::Readlink {
            dirfd: DirFd::from_register(a0),
            path: a1,
            buf: a2,
            bufsiz: a3,
        },
        nr::DUP => Request::Dup { fd: fd(a0) },
        nr::DUP2 => Request::Dup2 {
            oldfd: fd(a0),
            newfd: fd(a1),
        },
        nr::DUP3 => Request::Dup3 {
            oldfd: fd(a0),
            newfd: fd(a1),
            flags: flags(a2, o::CLOEXEC)?,
        },
        nr::FCNTL => match a1 as u32 {
            cmd @ (fcntl::DUPFD
            | fcntl::GETFD
            | fcntl::SETFD
            | fcntl::GETFL
            | fcntl::SETFL
            | fcntl::DUPFD_CLOEXEC) => Request::Fcntl {
                fd: fd(a0),
                cmd,
                arg: a2,
            },
            _ => return Err(Errno::EINVAL),
        },
        nr::PIPE => Request::Pipe {
            pipefd: a0,
            flags: 0,
        },
        nr::PIPE2 => Request::Pipe {
            pipefd: a0,
            flags: flags(a1, o::CLOEXEC | o::NONBLOCK | o::DIRECT)?,
        },
        nr::IOCTL => Request::Ioctl {
            fd: fd(a0),
            request: a1 as u32,
            arg: a2,
        },
        nr::GETCWD => Request::Getcwd { buf: a0, size: a1 },
        nr::CHDIR => Request::Chdir { path: a0 },
        nr::FCHDIR => Request::Fchdir { fd: fd(a0) },
        nr::UMASK => Request::Umask {
            mask: a0 as u32 & 0o777,
        },
        nr::UNAME => Request::Uname { buf: a0 },
        nr::SYSINFO => Request::Sysinfo { info: a0 },
        nr::CLOCK_GETTIME => Request::ClockGettime {
            clock: Clock::decode(a0)?,
            tp: a1,
        },
        nr::GETTIMEOFDAY => Request::Gettimeofday { tv: a0, tz: a1 },
        nr::NANOSLEEP => Request::Nanosleep {
            clock: Clock::Monotonic,
            absolute: false,
            request: a0,
            remain: a1,
        },
        nr::CLOCK_NANOSLEEP => {
            let clock = match Clock::decode(a0)? {
                // Linux: a CPU-time clock of the caller cannot be slept on.
                Clock::ThreadCpu => return Err(Errno::EINVAL),
                clock => clock,
            };
            Request::Nanosleep {
                clock,
                absolute: flags(a1, 1)? != 0,
                request: a2,
                remain: a3,
            }
        }
        nr::GETPID => Request::Getpid,
        nr::GETPPID => Request::Getppid,
        nr::GETTID => Request::Gettid,
        nr::GETUID => Request::Getuid,
        nr::GETEUID => Request::Geteuid,
        nr::GETGID => Request::Getgid,
        nr::GETEGID => Request::Getegid,
        nr::GETPGID => Request::Getpgid { pid: int(a0) },
        nr::GETPGRP => Request::Getpgid { pid: 0 },
        nr::SETPGID => Request::Setpgid {
            pid: int(a0),
            pgid: int(a1),
        },
        nr::GETSID => Request::Getsid { pid: int(a0) },
        nr::SETSID => Request::Setsid,
        nr::GETRANDOM => Request::Getrandom {
            buf: a0,
            buflen: a1,
            flags: flags(a2, grnd::NONBLOCK | grnd::RANDOM | grnd::INSECURE)?,
        },
        nr::POLL => Request::Poll {
            fds: a0,
            nfds: a1,
            timeout: match int(a2) {
                ms if ms < 0 => PollTimeout::Never,
                ms => PollTimeout::Millis(ms.unsigned_abs()),
            },
            sigmask: 0,
        },
        nr::PPOLL => Request::Poll {
            fds: a0,
            nfds: a1,
            timeout: if a2 == 0 {
                PollTimeout::Never
            } else {
                PollTimeout::TimeSpec(a2)
            },
            sigmask: a3,
        },
        nr::SELECT => Request::Select {
            nfds: int(a0),
            readfds: a1,
            writefds: a2,
            exceptfds: a3,
            timeout: a4,
            is_timespec: false,
        },
        nr::PSELECT6 => Request::Select {
            nfds: int(a0),
            readfds: a1,
            writefds: a2,
            exceptfds: a3,
            timeout: a4,
            is_timespec: true,
        },
        nr::WAIT4 => Request::Wait4 {
            pid: int(a0),
            wstatus: a1,
            options: flags(
                a2,
                wait::NOHANG
                    | wait::UNTRACED
                    | wait::CONTINUED
                    | wait::NOTHREAD
                    | wait::ALL
                    | wait::CLONE,
            )?,
            rusage: a3,
        },
        nr::WAITID => Request::Waitid {
            idtype: a0 as u32,
            id: int(a1),
            infop: a2,
            options: flags(
                a3,
                wait::NOHANG
                    | wait::UNTRACED
                    | wait::CONTINUED
                    | wait::EXITED
                    | wait::NOWAIT
                    | wait::NOTHREAD
                    | wait::ALL
                    | wait::CLONE,
            )?,
        },
        nr::CLONE => Request::Clone {
            kind: clone_kind(a0)?,
            flags: a0,
            stack: a1,
            parent_tid: a2,
            child_tid: a3,
            tls: a4,
        },
        nr::FORK => Request::Clone {
            kind: CloneKind::Process,
            flags: 17, // SIGCHLD
            stack: 0,
            parent_tid: 0,
            child_tid: 0,
            tls: 0,
        },
        nr::VFORK => Request::Clone {
            kind: CloneKind::Vfork,
            flags: clone::VM | clone::VFORK | 17,
            stack: 0,
            parent_tid: 0,
            child_tid: 0,
            tls: 0,
        },
        nr::EXECVE => Request::Execve {
            path: a0,
            argv: a1,
            envp: a2,
        },
        nr::EXIT => Request::Exit { status: int(a0) },
        nr::EXIT_GROUP => Request::ExitGroup { status: int(a0) },
        nr::KILL => Request::Kill {
            pid: int(a0),
            sig: a1 as u32,
        },
        nr::TGKILL => Request::Tgkill {
            tgid: int(a0),
            tid: int(a1),
            sig: a2 as u32,
        },
        nr::TKILL => Request::Tgkill {
            tgid: -1,
            tid: int(a0),
            sig: a1 as u32,
        },
        nr::RT_SIGACTION => Request::RtSigaction {
            sig: a0 as u32,
            act: a1,
            oldact: a2,
            sigsetsize: a3,
        },
        nr::RT_SIGPROCMASK => Request::RtSigprocmask {
            how: a0 as u32,
            set: a1,
            oldset: a2,
            sigsetsize: a3,
        },
        nr::RT_SIGRETURN => Request::RtSigreturn,
        nr::SIGALTSTACK => Request::Sigaltstack { ss: a0, old_ss: a1 },
        nr::SCHED_YIELD => Request::SchedYield,
        nr::FUTEX => {
            let op = a1 as u32;
            let command = op & !(futex::PRIVATE_FLAG | futex::CLOCK_REALTIME);
            if !matches!(
                command,
                futex::WAIT | futex::WAKE | futex::WAIT_BITSET | futex::WAKE_BITSET
            ) {
                return Err(Errno::ENOSYS);
            }
            Request::Futex {
                uaddr: a0,
                op: command,
                is_private: op & futex::PRIVATE_FLAG != 0,
                val: a2 as u32,
                timeout: a3,
                uaddr2: a4,
                val3: a5 as u32,
            }
        }
        nr::PRLIMIT64 => Request::Prlimit {
            pid: int(a0),
            resource: a1 as u32,
            new_limit: a2,
            old_limit: a3,
        },
        nr::GETRLIMIT => Request::Prlimit {
            pid: 0,
            resource: a0 as u32,
            new_limit: 0,
            old_limit: a1,
        },
        nr::ARCH_PRCTL => match a0 as u32 {
            code @ (arch_prctl::SET_FS
            | arch_prctl::GET_FS
            | arch_prctl::SET_GS
            | arch_prctl::GET_GS) => Request::ArchPrctl { code, addr: a1 },
            _ => return Err(Errno::EINVAL),
        },
        nr::SET_TID_ADDRESS => Request::SetTidAddress { tidptr: a0 },
        nr::SET_ROBUST_LIST => Request::SetRobustList { head: a0, len: a1 },
        nr::BRK => Request::Brk { addr: a0 },
        nr::MMAP => {
            let mmap_flags = flags(a3, MMAP_FLAGS)?;
            // The mapping type must be shared or private.
            if mmap_flags & 0x3 == 0 {
                return Err(Errno::EINVAL);
            }
            Request::Mmap {
                addr: a0,
                length: a1,
                prot: flags(a2, map::PROT_READ | map::PROT_WRITE | map::PROT_EXEC)?,
                flags: mmap_flags,
                fd: int(a4),
                offset: a5,
            }
        }
        nr::MUNMAP => Request::Munmap {
            addr: a0,
            length: a1,
        },
        nr::MPROTECT => Request::Mprotect {
            addr: a0,
            length: a1,
            prot: flags(a2, map::PROT_READ | map::PROT_WRITE | map::PROT_EXEC)?,
        },
        nr::MREMAP => Request::Mremap {
            old_address: a0,
            old_size: a1,
            new_size: a2,
            flags: flags(a3, map::REMAP_MAYMOVE | map::REMAP_FIXED)?,
            new_address: a4,
        },
        nr::MADVISE => Request::Madvise {
            addr: a0,
            length: a1,
            advice: a2 as u32,
        },
        _ => return Err(Errno::ENOSYS),
    })
}

/// `ioctl` requests the emulation answers on a terminal.
#[must_use]
pub const fn is_terminal_ioctl(request: u32) -> bool {
    matches!(
        request,
        ioctl::TCGETS
            | ioctl::TCSETS
            | ioctl::TCSETSW
            | ioctl::TCSETSF
            | ioctl::TIOCGPGRP
            | ioctl::TIOCSPGRP
            | ioctl::TIOCGWINSZ
            | ioctl::TIOCSWINSZ
            | ioctl::FIONREAD
    )
}
