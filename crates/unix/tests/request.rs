//! The decoder: what each call becomes, Linux's early errors, and no
//! input that makes it panic.

use proptest::prelude::*;
use sk_unix::linux_flags::{at, clone, map, o};
use sk_unix::{decode, nr, Clock, CloneKind, DirFd, Errno, PollTimeout, Request};

#[test]
fn calls_decode_to_their_requests() {
    let hi = 0xffff_ffff_0000_0000u64;
    assert_eq!(
        decode(nr::READ, [hi | 3, 0x1000, 5, 0, 0, 0]),
        Ok(Request::Read {
            fd: 3,
            buf: 0x1000,
            count: 5
        }),
        "an unsigned int fd ignores the upper half"
    );
    assert_eq!(
        decode(
            nr::OPENAT,
            [
                (at::FDCWD as u32).into(),
                0x2000,
                (o::CREAT | o::CLOEXEC).into(),
                0o644,
                0,
                0
            ]
        ),
        Ok(Request::Open {
            dirfd: DirFd::Cwd,
            path: 0x2000,
            flags: o::CREAT | o::CLOEXEC,
            mode: 0o644
        })
    );
    assert_eq!(
        decode(nr::CREAT, [0x2000, 0o600, 0, 0, 0, 0]),
        Ok(Request::Open {
            dirfd: DirFd::Cwd,
            path: 0x2000,
            flags: o::CREAT | o::WRONLY | o::TRUNC,
            mode: 0o600
        })
    );
    assert_eq!(
        decode(nr::OPEN, [0, 1 << 30, 0, 0, 0, 0]),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        decode(nr::UNLINKAT, [5, 0x10, 0x200, 0, 0, 0]),
        Ok(Request::Unlink {
            dirfd: DirFd::Fd(5),
            path: 0x10,
            remove_dir: true
        })
    );
    assert_eq!(
        decode(nr::UNLINKAT, [5, 0x10, 0x1, 0, 0, 0]),
        Err(Errno::EINVAL)
    );
    assert_eq!(decode(nr::DUP3, [1, 2, 1, 0, 0, 0]), Err(Errno::EINVAL));
    assert_eq!(
        decode(nr::ACCESS, [0x10, 8, 0, 0, 0, 0]),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        decode(nr::CLOCK_GETTIME, [1, 0x30, 0, 0, 0, 0]),
        Ok(Request::ClockGettime {
            clock: Clock::Monotonic,
            tp: 0x30
        })
    );
    assert_eq!(
        decode(nr::CLOCK_GETTIME, [99, 0x30, 0, 0, 0, 0]),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        decode(nr::POLL, [0x40, 2, u64::MAX, 0, 0, 0]),
        Ok(Request::Poll {
            fds: 0x40,
            nfds: 2,
            timeout: PollTimeout::Never,
            sigmask: 0
        })
    );
    let mmap =
        |prot: u32, flags: u32| decode(nr::MMAP, [0, 4096, prot.into(), flags.into(), u64::MAX, 0]);
    assert!(matches!(
        mmap(
            map::PROT_READ | map::PROT_WRITE,
            map::PRIVATE | map::ANONYMOUS
        ),
        Ok(Request::Mmap { fd: -1, .. })
    ));
    assert_eq!(
        mmap(map::PROT_READ, map::ANONYMOUS),
        Err(Errno::EINVAL),
        "neither shared nor private"
    );
    assert_eq!(mmap(8, map::PRIVATE | map::ANONYMOUS), Err(Errno::EINVAL));
    assert_eq!(
        mmap(map::PROT_READ, map::PRIVATE | (1 << 29)),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        decode(nr::ARCH_PRCTL, [0x1002, 0x7000, 0, 0, 0, 0]),
        Ok(Request::ArchPrctl {
            code: 0x1002,
            addr: 0x7000
        })
    );
    assert_eq!(
        decode(nr::ARCH_PRCTL, [0x3001, 0, 0, 0, 0, 0]),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        decode(nr::FUTEX, [0x50, 128 | 1, 1, 0, 0, 0]).map(|r| matches!(
            r,
            Request::Futex {
                is_private: true,
                op: 1,
                ..
            }
        )),
        Ok(true)
    );
    assert_eq!(
        decode(nr::FUTEX, [0x50, 5, 1, 0, 0, 0]),
        Err(Errno::ENOSYS),
        "FUTEX_WAKE_OP is not emulated"
    );
    assert_eq!(decode(nr::IO_URING_SETUP, [0; 6]), Err(Errno::ENOSYS));
    assert_eq!(decode(10_000, [0; 6]), Err(Errno::ENOSYS));
}

#[test]
fn clone_flags_pick_thread_process_or_vfork() {
    let thread = clone::VM
        | clone::FS
        | clone::FILES
        | clone::SIGHAND
        | clone::THREAD
        | clone::SYSVSEM
        | clone::SETTLS
        | clone::PARENT_SETTID
        | clone::CHILD_CLEARTID;
    assert_eq!(sk_unix::request::clone_kind(thread), Ok(CloneKind::Thread));
    assert_eq!(sk_unix::request::clone_kind(17), Ok(CloneKind::Process));
    assert_eq!(
        sk_unix::request::clone_kind(clone::VM | clone::VFORK | 17),
        Ok(CloneKind::Vfork)
    );
    assert_eq!(
        sk_unix::request::clone_kind(clone::THREAD | clone::VM),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        sk_unix::request::clone_kind(clone::SIGHAND),
        Err(Errno::EINVAL)
    );
    assert_eq!(sk_unix::request::clone_kind(clone::VM), Err(Errno::EINVAL));
    assert!(matches!(
        decode(nr::FORK, [0; 6]),
        Ok(Request::Clone {
            kind: CloneKind::Process,
            ..
        })
    ));
    assert!(matches!(
        decode(nr::VFORK, [0; 6]),
        Ok(Request::Clone {
            kind: CloneKind::Vfork,
            ..
        })
    ));
}

/// Every call issue 12 lists decodes to something (given plausible
/// arguments), so the emulation's table has a row for each.
#[test]
fn every_listed_call_is_decoded() {
    let listed = [
        nr::ARCH_PRCTL,
        nr::SET_TID_ADDRESS,
        nr::BRK,
        nr::MMAP,
        nr::MUNMAP,
        nr::MPROTECT,
        nr::MREMAP,
        nr::READ,
        nr::WRITE,
        nr::READV,
        nr::WRITEV,
        nr::PREAD64,
        nr::PWRITE64,
        nr::LSEEK,
        nr::OPEN,
        nr::OPENAT,
        nr::CLOSE,
        nr::STAT,
        nr::FSTAT,
        nr::LSTAT,
        nr::NEWFSTATAT,
        nr::STATX,
        nr::ACCESS,
        nr::FACCESSAT,
        nr::GETDENTS64,
        nr::MKDIR,
        nr::RMDIR,
        nr::UNLINK,
        nr::UNLINKAT,
        nr::RENAME,
        nr::RENAMEAT,
        nr::RENAMEAT2,
        nr::TRUNCATE,
        nr::FTRUNCATE,
        nr::READLINK,
        nr::DUP,
        nr::DUP2,
        nr::DUP3,
        nr::FCNTL,
        nr::PIPE,
        nr::PIPE2,
        nr::IOCTL,
        nr::GETCWD,
        nr::CHDIR,
        nr::FCHDIR,
        nr::UMASK,
        nr::UNAME,
        nr::SYSINFO,
        nr::CLOCK_GETTIME,
        nr::GETTIMEOFDAY,
        nr::NANOSLEEP,
        nr::CLOCK_NANOSLEEP,
        nr::GETPID,
        nr::GETPPID,
        nr::GETUID,
        nr::GETEUID,
        nr::GETGID,
        nr::GETEGID,
        nr::GETRANDOM,
        nr::POLL,
        nr::PPOLL,
        nr::SELECT,
        nr::WAIT4,
        nr::WAITID,
        nr::CLONE,
        nr::FORK,
        nr::VFORK,
        nr::EXECVE,
        nr::EXIT,
        nr::EXIT_GROUP,
        nr::KILL,
        nr::TGKILL,
        nr::RT_SIGACTION,
        nr::RT_SIGPROCMASK,
        nr::RT_SIGRETURN,
        nr::SIGALTSTACK,
        nr::SCHED_YIELD,
        nr::FUTEX,
        nr::PRLIMIT64,
        nr::GETRLIMIT,
    ];
    for number in listed {
        // Arguments that pass every flag check: zeros, except a private
        // mapping for mmap and F_GETFD for fcntl.
        let mut args = [0u64; 6];
        if number == nr::MMAP {
            args[3] = u64::from(map::PRIVATE | map::ANONYMOUS);
        }
        if number == nr::FCNTL {
            args[1] = 1;
        }
        if number == nr::ARCH_PRCTL {
            args[0] = 0x1002;
        }
        if number == nr::CLONE {
            args[0] = 17;
        }
        assert!(
            decode(number, args).is_ok(),
            "{:?} not decoded",
            sk_unix::call_name(number)
        );
    }
}

#[test]
fn renameat2_takes_flags_0_only_and_truncate_keeps_a_signed_length() {
    assert_eq!(
        decode(
            nr::RENAMEAT2,
            [3, 10, u64::from(at::FDCWD as u32), 20, 0, 0]
        ),
        Ok(Request::Rename {
            old_dirfd: DirFd::Fd(3),
            old: 10,
            new_dirfd: DirFd::Cwd,
            new: 20,
        })
    );
    // RENAME_NOREPLACE, _EXCHANGE, _WHITEOUT and unknown bits.
    for flags in [1, 2, 4, 8] {
        assert_eq!(
            decode(nr::RENAMEAT2, [3, 10, 4, 20, flags, 0]),
            Err(Errno::EINVAL)
        );
    }
    assert_eq!(
        decode(nr::TRUNCATE, [10, u64::MAX, 0, 0, 0, 0]),
        Ok(Request::Truncate {
            path: 10,
            length: -1
        })
    );
    assert_eq!(
        decode(nr::FTRUNCATE, [(1u64 << 32) | 5, 4, 0, 0, 0, 0]),
        Ok(Request::Ftruncate { fd: 5, length: 4 })
    );
}

proptest! {
    #[test]
    fn no_input_panics(number in prop_oneof![0u64..460, any::<u64>()], args in any::<[u64; 6]>()) {
        let _ = decode(number, args);
    }
}
