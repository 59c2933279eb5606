//! Linux's flag and selector values the decoder checks (x86-64).
//!
//! Owns the constants of `open`, the `*at` calls, `mmap`, `clone`,
//! `wait4`, `futex`, `arch_prctl`, terminal `ioctl`s, `fcntl`, clocks,
//! `getrandom` and resource limits, each module named after Linux's
//! prefix. Values are Linux's UAPI headers'.

/// `open` flags (see also [`crate::fd_table::status`]).
pub mod o {
    /// Write only.
    pub const WRONLY: u32 = 0o1;
    /// Read and write.
    pub const RDWR: u32 = 0o2;
    /// Create if missing.
    pub const CREAT: u32 = 0o100;
    /// With `CREAT`: fail if it exists.
    pub const EXCL: u32 = 0o200;
    /// Do not make it the controlling terminal.
    pub const NOCTTY: u32 = 0o400;
    /// Truncate to 0.
    pub const TRUNC: u32 = 0o1000;
    /// Append.
    pub const APPEND: u32 = 0o2000;
    /// Non-blocking.
    pub const NONBLOCK: u32 = 0o4000;
    /// Synchronized data writes.
    pub const DSYNC: u32 = 0o10_000;
    /// Signal-driven I/O.
    pub const ASYNC: u32 = 0o20_000;
    /// Direct I/O.
    pub const DIRECT: u32 = 0o40_000;
    /// Large files (always on for 64-bit).
    pub const LARGEFILE: u32 = 0o100_000;
    /// Must be a directory.
    pub const DIRECTORY: u32 = 0o200_000;
    /// Do not follow a final symbolic link.
    pub const NOFOLLOW: u32 = 0o400_000;
    /// No access-time update.
    pub const NOATIME: u32 = 0o1_000_000;
    /// Close on exec.
    pub const CLOEXEC: u32 = 0o2_000_000;
    /// Synchronized writes (with `DSYNC`).
    pub const SYNC: u32 = 0o4_000_000;
    /// A path-only descriptor.
    pub const PATH: u32 = 0o10_000_000;
    /// An unnamed temporary file (with `DIRECTORY`).
    pub const TMPFILE: u32 = 0o20_000_000;
    /// Every bit Linux defines.
    pub const KNOWN: u32 = 0o3
        | CREAT
        | EXCL
        | NOCTTY
        | TRUNC
        | APPEND
        | NONBLOCK
        | DSYNC
        | ASYNC
        | DIRECT
        | LARGEFILE
        | DIRECTORY
        | NOFOLLOW
        | NOATIME
        | CLOEXEC
        | SYNC
        | PATH
        | TMPFILE;
}

/// The `*at` calls' special directory and flags.
pub mod at {
    /// `dirfd` meaning the working directory.
    pub const FDCWD: i32 = -100;
    /// Do not follow a final symbolic link.
    pub const SYMLINK_NOFOLLOW: u32 = 0x100;
    /// `unlinkat`: remove a directory.
    pub const REMOVEDIR: u32 = 0x200;
    /// `faccessat2`: check with the effective ids.
    pub const EACCESS: u32 = 0x200;
    /// Do not automount.
    pub const NO_AUTOMOUNT: u32 = 0x800;
    /// An empty path means `dirfd` itself.
    pub const EMPTY_PATH: u32 = 0x1000;
    /// `statx` synchronization bits.
    pub const STATX_SYNC_TYPE: u32 = 0x6000;
}

/// `mmap` protections and flags.
pub mod map {
    /// Readable.
    pub const PROT_READ: u32 = 1;
    /// Writable.
    pub const PROT_WRITE: u32 = 2;
    /// Executable.
    pub const PROT_EXEC: u32 = 4;
    /// Shared mapping.
    pub const SHARED: u32 = 0x01;
    /// Private (copy-on-write) mapping.
    pub const PRIVATE: u32 = 0x02;
    /// Shared, with flags validated.
    pub const SHARED_VALIDATE: u32 = 0x03;
    /// Exactly at `addr`, replacing what is there.
    pub const FIXED: u32 = 0x10;
    /// Not backed by a file.
    pub const ANONYMOUS: u32 = 0x20;
    /// A stack-like region.
    pub const GROWSDOWN: u32 = 0x100;
    /// Deny writes to the file (ignored by Linux).
    pub const DENYWRITE: u32 = 0x800;
    /// Executable mapping (ignored).
    pub const EXECUTABLE: u32 = 0x1000;
    /// Lock the pages.
    pub const LOCKED: u32 = 0x2000;
    /// No swap reservation.
    pub const NORESERVE: u32 = 0x4000;
    /// Prefault the pages.
    pub const POPULATE: u32 = 0x8000;
    /// Do not block on I/O.
    pub const NONBLOCK: u32 = 0x1_0000;
    /// For a thread stack.
    pub const STACK: u32 = 0x2_0000;
    /// Huge pages.
    pub const HUGETLB: u32 = 0x4_0000;
    /// Like `FIXED` but fail with `EEXIST` instead of replacing.
    pub const FIXED_NOREPLACE: u32 = 0x10_0000;
    /// `mremap`: may move.
    pub const REMAP_MAYMOVE: u32 = 1;
    /// `mremap`: to exactly `new_addr`.
    pub const REMAP_FIXED: u32 = 2;
}

/// `clone` flags.
pub mod clone {
    /// Signal sent to the parent when the child exits (low byte).
    pub const CSIGNAL: u64 = 0xff;
    /// Share the address space.
    pub const VM: u64 = 0x100;
    /// Share the file-system information (cwd, umask).
    pub const FS: u64 = 0x200;
    /// Share the descriptor table.
    pub const FILES: u64 = 0x400;
    /// Share signal handlers.
    pub const SIGHAND: u64 = 0x800;
    /// Parent sleeps until the child execs or exits.
    pub const VFORK: u64 = 0x4000;
    /// Same parent as the caller.
    pub const PARENT: u64 = 0x8000;
    /// Same thread group (a thread).
    pub const THREAD: u64 = 0x1_0000;
    /// Share System V semaphore undo values.
    pub const SYSVSEM: u64 = 0x4_0000;
    /// Set the TLS (FS base) to `tls`.
    pub const SETTLS: u64 = 0x8_0000;
    /// Store the child's tid at `parent_tid`.
    pub const PARENT_SETTID: u64 = 0x10_0000;
    /// Clear (and futex-wake) `child_tid` when the child exits.
    pub const CHILD_CLEARTID: u64 = 0x20_0000;
    /// Store the child's tid at `child_tid` in the child.
    pub const CHILD_SETTID: u64 = 0x100_0000;
}

/// `wait4`/`waitid` options.
pub mod wait {
    /// Return at once if no child has changed.
    pub const NOHANG: u32 = 1;
    /// Report stopped children.
    pub const UNTRACED: u32 = 2;
    /// Report continued children.
    pub const CONTINUED: u32 = 8;
    /// `waitid`: report exited children.
    pub const EXITED: u32 = 4;
    /// Leave the child waitable.
    pub const NOWAIT: u32 = 0x0100_0000;
    /// Wait for threads of other groups too.
    pub const NOTHREAD: u32 = 0x2000_0000;
    /// Any child, clone or not.
    pub const ALL: u32 = 0x4000_0000;
    /// Only clone children.
    pub const CLONE: u32 = 0x8000_0000;
}

/// `futex` operations.
pub mod futex {
    /// Sleep if `*addr == val`.
    pub const WAIT: u32 = 0;
    /// Wake up to `val` sleepers.
    pub const WAKE: u32 = 1;
    /// `WAIT` with a bit mask (absolute timeout).
    pub const WAIT_BITSET: u32 = 9;
    /// `WAKE` with a bit mask.
    pub const WAKE_BITSET: u32 = 10;
    /// Process-private futex.
    pub const PRIVATE_FLAG: u32 = 128;
    /// Timeout measured on `CLOCK_REALTIME`.
    pub const CLOCK_REALTIME: u32 = 256;
}

/// `arch_prctl` codes.
pub mod arch_prctl {
    /// Set the GS base.
    pub const SET_GS: u32 = 0x1001;
    /// Set the FS base (TLS).
    pub const SET_FS: u32 = 0x1002;
    /// Read the FS base.
    pub const GET_FS: u32 = 0x1003;
    /// Read the GS base.
    pub const GET_GS: u32 = 0x1004;
}

/// Terminal and file `ioctl` requests.
pub mod ioctl {
    /// Read the terminal's settings.
    pub const TCGETS: u32 = 0x5401;
    /// Set them now.
    pub const TCSETS: u32 = 0x5402;
    /// Set them after output drains.
    pub const TCSETSW: u32 = 0x5403;
    /// Set them after output drains, discarding input.
    pub const TCSETSF: u32 = 0x5404;
    /// Read the foreground process group.
    pub const TIOCGPGRP: u32 = 0x540f;
    /// Set the foreground process group.
    pub const TIOCSPGRP: u32 = 0x5410;
    /// Read the window size.
    pub const TIOCGWINSZ: u32 = 0x5413;
    /// Set the window size.
    pub const TIOCSWINSZ: u32 = 0x5414;
    /// Bytes ready to read.
    pub const FIONREAD: u32 = 0x541b;
}

/// `fcntl` commands.
pub mod fcntl {
    /// Duplicate at or above `arg`.
    pub const DUPFD: u32 = 0;
    /// Descriptor flags.
    pub const GETFD: u32 = 1;
    /// Set descriptor flags.
    pub const SETFD: u32 = 2;
    /// Status flags.
    pub const GETFL: u32 = 3;
    /// Set status flags.
    pub const SETFL: u32 = 4;
    /// `DUPFD` with `FD_CLOEXEC`.
    pub const DUPFD_CLOEXEC: u32 = 1030;
}

/// `getrandom` flags.
pub mod grnd {
    /// Fail with `EAGAIN` rather than block.
    pub const NONBLOCK: u32 = 1;
    /// The blocking pool (obsolete).
    pub const RANDOM: u32 = 2;
    /// Never block, possibly weaker bytes.
    pub const INSECURE: u32 = 4;
}
