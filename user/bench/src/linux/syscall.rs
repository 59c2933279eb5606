//! Raw Linux x86-64 system calls: the only `asm!` of the Linux backend
//! besides the TSC.
//!
//! Owns [`syscall6`] (the Linux convention: number in `rax`, arguments in
//! `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`, result in `rax`, `rcx` and `r11`
//! clobbered; see `syscall(2)`), the call numbers it uses
//! (`arch/x86/entry/syscalls/syscall_64.tbl`), and one thin wrapper per call
//! returning `Result<u64, Errno>`. A negative result in `-4095..0` is
//! `-errno`.
//!
//! Pointer-taking wrappers are `unsafe` only where the kernel writes through
//! a pointer the type system cannot vouch for; those taking slices are safe.

use core::arch::asm;
use core::fmt;

/// A Linux error number (`errno`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Errno(pub(crate) u64);

impl Errno {
    /// `EEXIST`: file exists.
    pub(crate) const EXISTS: Self = Self(17);
    /// `EBUSY`: device or resource busy (a mount point already mounted).
    pub(crate) const BUSY: Self = Self(16);
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {}", self.0)
    }
}

/// Call numbers (`syscall_64.tbl`).
mod number {
    pub(super) const READ: u64 = 0;
    pub(super) const WRITE: u64 = 1;
    pub(super) const CLOSE: u64 = 3;
    pub(super) const LSEEK: u64 = 8;
    pub(super) const GETPID: u64 = 39;
    pub(super) const UNAME: u64 = 63;
    pub(super) const FCNTL: u64 = 72;
    pub(super) const MKDIR: u64 = 83;
    pub(super) const GETPPID: u64 = 110;
    pub(super) const MOUNT: u64 = 165;
    pub(super) const REBOOT: u64 = 169;
    pub(super) const CLOCK_GETTIME: u64 = 228;
    pub(super) const EXIT_GROUP: u64 = 231;
    pub(super) const OPENAT: u64 = 257;
    pub(super) const EVENTFD2: u64 = 290;
    pub(super) const SCHED_YIELD: u64 = 24;
    pub(super) const CLONE: u64 = 56;
    pub(super) const EXIT: u64 = 60;
    pub(super) const WAIT4: u64 = 61;
    pub(super) const KILL: u64 = 62;
    pub(super) const FUTEX: u64 = 202;
    pub(super) const PIPE2: u64 = 293;
    pub(super) const SOCKETPAIR: u64 = 53;
}

/// `clone` flags for a thread of this process (`linux/sched.h`): shared
/// memory, files, fs, signal handlers, thread group, SysV undo; the
/// kernel clears the child-TID word and wakes its futex at the thread's
/// exit (what `pthread_join` waits on).
const CLONE_THREAD_FLAGS: u64 = 0x100 | 0x200 | 0x400 | 0x800 | 0x1_0000 | 0x4_0000 | 0x20_0000;
/// `SIGCHLD`: a `fork`'s exit signal.
const SIGCHLD: u64 = 17;
/// `SIGKILL`.
const SIGKILL: u64 = 9;
/// `futex` operation: wait while the word holds the value.
const FUTEX_WAIT: u64 = 0;

/// `openat`'s "relative to the working directory".
const AT_FDCWD: i64 = -100;
/// `lseek` from the start.
const SEEK_SET: u64 = 0;
/// `fcntl` command: read the descriptor flags.
const F_GETFD: u64 = 1;
/// `clock_gettime` clock: monotonic.
const CLOCK_MONOTONIC: u64 = 1;

/// `open` flags (`asm-generic/fcntl.h`).
pub(super) mod open_flags {
    /// Read only.
    pub(crate) const READ_ONLY: u64 = 0;
    /// Write only.
    pub(crate) const WRITE_ONLY: u64 = 0o1;
    /// Read and write.
    pub(crate) const READ_WRITE: u64 = 0o2;
    /// Create if missing.
    pub(crate) const CREATE: u64 = 0o100;
    /// Truncate to zero length.
    pub(crate) const TRUNCATE: u64 = 0o1000;
}

/// `reboot(2)` magic numbers and the power-off command.
const REBOOT_MAGIC1: u64 = 0xfee1_dead;
const REBOOT_MAGIC2: u64 = 0x2812_1969;
const REBOOT_CMD_POWER_OFF: u64 = 0x4321_fedc;

/// `syscall` with six arguments; returns `rax`.
///
/// # Safety
/// Call `number` with these arguments must not break Rust's memory rules:
/// every pointer argument must be valid for what the call does with it.
#[inline(always)]
unsafe fn syscall6(number: u64, args: [u64; 6]) -> u64 {
    let [a0, a1, a2, a3, a4, a5] = args;
    let result: u64;
    // SAFETY: the Linux x86-64 convention (rcx and r11 clobbered, the rest
    // preserved, no stack use by `syscall`); the caller vouches for the
    // call's effects.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => result,
            in("rdi") a0, in("rsi") a1, in("rdx") a2,
            in("r10") a3, in("r8") a4, in("r9") a5,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// `syscall` with three arguments; returns `rax`.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
unsafe fn syscall3(number: u64, a0: u64, a1: u64, a2: u64) -> u64 {
    let result: u64;
    // SAFETY: as in `syscall6`.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => result,
            in("rdi") a0, in("rsi") a1, in("rdx") a2,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// Splits a raw result: `-4095..0` is `-errno`.
#[inline(always)]
fn decode(rax: u64) -> Result<u64, Errno> {
    if rax > u64::MAX - 4095 {
        Err(Errno(rax.wrapping_neg()))
    } else {
        Ok(rax)
    }
}

/// A pointer as a register.
fn pointer<T>(p: *const T) -> u64 {
    p as u64
}

/// `read(fd, buf, len)`.
#[inline(always)]
pub(super) fn read(fd: u64, buf: &mut [u8]) -> Result<u64, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, a live
    // exclusive slice.
    decode(unsafe {
        syscall3(
            number::READ,
            fd,
            pointer(buf.as_mut_ptr()),
            buf.len() as u64,
        )
    })
}

/// `write(fd, buf, len)`.
#[inline(always)]
pub(super) fn write(fd: u64, buf: &[u8]) -> Result<u64, Errno> {
    // SAFETY: the kernel only reads `buf`, a live slice.
    decode(unsafe { syscall3(number::WRITE, fd, pointer(buf.as_ptr()), buf.len() as u64) })
}

/// `openat(AT_FDCWD, path, flags, 0o644)`; `path` must end with a NUL.
#[inline(always)]
pub(super) fn open(path: &str, flags: u64) -> Result<u64, Errno> {
    debug_assert!(path.ends_with('\0'));
    // SAFETY: the kernel reads the NUL-terminated string in `path`, a live
    // slice, and nothing else of ours.
    decode(unsafe {
        syscall6(
            number::OPENAT,
            [AT_FDCWD as u64, pointer(path.as_ptr()), flags, 0o644, 0, 0],
        )
    })
}

/// `close(fd)`.
#[inline(always)]
pub(super) fn close(fd: u64) -> Result<u64, Errno> {
    // SAFETY: closing a descriptor touches no memory of ours.
    decode(unsafe { syscall3(number::CLOSE, fd, 0, 0) })
}

/// `lseek(fd, offset, SEEK_SET)`.
pub(super) fn seek_set(fd: u64, offset: u64) -> Result<u64, Errno> {
    // SAFETY: seeking touches no memory of ours.
    decode(unsafe { syscall3(number::LSEEK, fd, offset, SEEK_SET) })
}

/// `eventfd2(0, 0)`: a counter the kernel mediates (write adds, read
/// takes the whole count and blocks at 0).
pub(super) fn eventfd() -> Result<u64, Errno> {
    // SAFETY: creating an eventfd touches no memory of ours.
    decode(unsafe { syscall3(number::EVENTFD2, 0, 0, 0) })
}

/// `getppid()`: the Linux null call.
#[inline(always)]
pub(super) fn getppid() -> u64 {
    // SAFETY: `getppid` has no arguments and no effect.
    unsafe { syscall3(number::GETPPID, 0, 0, 0) }
}

/// `getpid()`.
pub(super) fn getpid() -> u64 {
    // SAFETY: `getpid` has no arguments and no effect.
    unsafe { syscall3(number::GETPID, 0, 0, 0) }
}

/// `fcntl(fd, F_GETFD)`: whether `fd` is open.
pub(super) fn is_open(fd: u64) -> bool {
    // SAFETY: `F_GETFD` only reads the descriptor's flags.
    decode(unsafe { syscall3(number::FCNTL, fd, F_GETFD, 0) }).is_ok()
}

/// `mkdir(path, 0o755)`; `path` must end with a NUL.
pub(super) fn mkdir(path: &str) -> Result<u64, Errno> {
    debug_assert!(path.ends_with('\0'));
    // SAFETY: the kernel reads the NUL-terminated `path` only.
    decode(unsafe { syscall3(number::MKDIR, pointer(path.as_ptr()), 0o755, 0) })
}

/// `mount(source, target, fstype, 0, NULL)`; each string must end with a NUL.
pub(super) fn mount(source: &str, target: &str, fstype: &str) -> Result<u64, Errno> {
    debug_assert!(source.ends_with('\0') && target.ends_with('\0') && fstype.ends_with('\0'));
    // SAFETY: the kernel reads the three NUL-terminated strings only; the
    // data pointer is NULL.
    decode(unsafe {
        syscall6(
            number::MOUNT,
            [
                pointer(source.as_ptr()),
                pointer(target.as_ptr()),
                pointer(fstype.as_ptr()),
                0,
                0,
                0,
            ],
        )
    })
}

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds.
pub(super) fn monotonic_ns() -> Result<u64, Errno> {
    let mut timespec = [0_u64; 2];
    // SAFETY: the kernel writes one `struct timespec` (two 64-bit words)
    // into `timespec`, a live local array of that size.
    decode(unsafe {
        syscall3(
            number::CLOCK_GETTIME,
            CLOCK_MONOTONIC,
            pointer(timespec.as_mut_ptr()),
            0,
        )
    })?;
    let [seconds, nanoseconds] = timespec;
    Ok(seconds
        .wrapping_mul(1_000_000_000)
        .wrapping_add(nanoseconds))
}

/// `uname()`: the raw `struct utsname` (six 65-byte fields).
pub(super) fn uname() -> Result<[u8; 390], Errno> {
    let mut utsname = [0_u8; 390];
    // SAFETY: the kernel writes one `struct new_utsname` (6 × 65 bytes)
    // into `utsname`, a live local array of exactly that size.
    decode(unsafe { syscall3(number::UNAME, pointer(utsname.as_mut_ptr()), 0, 0) })?;
    Ok(utsname)
}

/// `exit_group(status)`.
pub(super) fn exit_group(status: i32) -> ! {
    loop {
        // SAFETY: ending the process frees nothing Rust code still uses.
        unsafe { syscall3(number::EXIT_GROUP, status as u64, 0, 0) };
    }
}

/// `reboot(MAGIC1, MAGIC2, POWER_OFF)`: powers the machine off (PID 1
/// with `CAP_SYS_BOOT`); returns only on failure.
pub(super) fn power_off() -> Errno {
    // SAFETY: powering off ends everything; on failure nothing changed.
    let rax = unsafe {
        syscall3(
            number::REBOOT,
            REBOOT_MAGIC1,
            REBOOT_MAGIC2,
            REBOOT_CMD_POWER_OFF,
        )
    };
    decode(rax).err().unwrap_or(Errno(0))
}

/// `sched_yield()`.
#[inline(always)]
pub(super) fn sched_yield() {
    // SAFETY: yielding touches no memory of ours.
    unsafe { syscall3(number::SCHED_YIELD, 0, 0, 0) };
}

/// What a thread started by [`clone_thread`] does: nothing but machine
/// code in the same `asm!` block (it runs no Rust, so it needs no TLS and
/// shares no Rust state but the two words it is given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ThreadWork {
    /// `exit(0)` at once.
    ExitAtOnce = 0,
    /// `sched_yield()` until the stop word is non-zero, adding 1 to the
    /// rounds word before each, then `exit(0)`.
    Yield = 1,
    /// As `Yield`, with one SSE instruction (`paddq xmm0, xmm0`) per
    /// round, so the thread's vector state is in use.
    YieldWithVector = 2,
}

/// Starts a thread of this process on `stack_top` (`clone` with
/// [`CLONE_THREAD_FLAGS`]) doing `work`; returns its TID. The kernel
/// writes 0 to `child_tid` and wakes its futex when the thread has exited.
///
/// # Safety
/// `stack_top` is the 16-byte aligned end of memory nothing else uses
/// until the thread has exited (its machine code pushes nothing, but the
/// kernel may); `child_tid`, `stop` and `rounds` stay valid until then.
pub(super) unsafe fn clone_thread(
    stack_top: u64,
    child_tid: &core::sync::atomic::AtomicU32,
    stop: &core::sync::atomic::AtomicU32,
    rounds: &core::sync::atomic::AtomicU64,
    work: ThreadWork,
) -> Result<u64, Errno> {
    let result: u64;
    // SAFETY: `clone` returns twice. The parent (rax != 0) leaves the block
    // normally, with only rax, rcx and r11 changed (the Linux convention).
    // The child (rax == 0) starts on `stack_top` with every other register
    // as the parent had it, runs only the code up to its `exit`, and never
    // reaches Rust code: it reads `stop` through r12 and adds to `rounds`
    // through r14 (live atomics, per the caller) and touches xmm0, which this program's compiled code
    // never uses (no SSE target feature).
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 3f",
            "2:",
            "cmp r13, 0",
            "je 5f",
            "cmp r13, 2",
            "jne 4f",
            "paddq xmm0, xmm0",
            "4:",
            "lock inc qword ptr [r14]",
            "mov eax, {yield_nr}",
            "syscall",
            "cmp dword ptr [r12], 0",
            "je 2b",
            "5:",
            "mov eax, {exit_nr}",
            "xor edi, edi",
            "syscall",
            "ud2",
            "3:",
            yield_nr = const number::SCHED_YIELD,
            exit_nr = const number::EXIT,
            inlateout("rax") number::CLONE => result,
            in("rdi") CLONE_THREAD_FLAGS,
            in("rsi") stack_top,
            in("rdx") 0_u64,
            in("r10") pointer(child_tid.as_ptr()),
            in("r8") 0_u64,
            in("r12") pointer(stop.as_ptr()),
            in("r13") work as u64,
            in("r14") pointer(rounds.as_ptr()),
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    decode(result)
}

/// Starts a thread of this process on `stack_top` that runs `work(arg)`
/// and then `exit(0)`; returns its TID. The kernel writes 0 to
/// `child_tid` and wakes its futex when the thread has exited.
///
/// # Safety
/// As [`clone_thread`]; and `work` must be sound to run on another thread
/// with `arg` (it shares this process's memory, with no TLS: this program
/// uses none).
pub(super) unsafe fn clone_thread_call(
    stack_top: u64,
    child_tid: &core::sync::atomic::AtomicU32,
    work: extern "C" fn(u64),
    arg: u64,
) -> Result<u64, Errno> {
    let result: u64;
    // SAFETY: as in `clone_thread`: the parent leaves the block with rax,
    // rcx and r11 changed; the child starts on `stack_top` (16-byte
    // aligned, so the `call` leaves the SysV alignment), calls `work(arg)`
    // (r12, r13: callee-saved, survive `syscall`) and exits without
    // returning into this function's frame.
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 3f",
            "mov rdi, r13",
            "call r12",
            "mov eax, {exit_nr}",
            "xor edi, edi",
            "syscall",
            "ud2",
            "3:",
            exit_nr = const number::EXIT,
            inlateout("rax") number::CLONE => result,
            in("rdi") CLONE_THREAD_FLAGS,
            in("rsi") stack_top,
            in("rdx") 0_u64,
            in("r10") pointer(child_tid.as_ptr()),
            in("r8") 0_u64,
            in("r12") work as usize,
            in("r13") arg,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    decode(result)
}

/// `futex(word, FUTEX_WAIT, value)`: sleeps while `*word == value` (or
/// returns at once if it differs).
pub(super) fn futex_wait(word: &core::sync::atomic::AtomicU32, value: u32) {
    // SAFETY: the kernel only reads the live word (and queues us on it);
    // no timeout pointer.
    unsafe {
        syscall6(
            number::FUTEX,
            [
                pointer(word.as_ptr()),
                FUTEX_WAIT,
                u64::from(value),
                0,
                0,
                0,
            ],
        )
    };
}

/// `fork()` as `clone(SIGCHLD, 0)`: returns the child's PID in the
/// parent and 0 in the child, which goes on with a copy of everything.
pub(super) fn fork() -> Result<u64, Errno> {
    // SAFETY: the child runs on a copy of this address space and stack,
    // so both returns see consistent memory.
    decode(unsafe { syscall6(number::CLONE, [SIGCHLD, 0, 0, 0, 0, 0]) })
}

/// `exit(0)`: ends the calling thread (a forked child: its process).
pub(super) fn exit_thread() -> ! {
    loop {
        // SAFETY: ending the thread frees nothing Rust code still uses.
        unsafe { syscall3(number::EXIT, 0, 0, 0) };
    }
}

/// `kill(pid, SIGKILL)`.
pub(super) fn kill(pid: u64) -> Result<u64, Errno> {
    // SAFETY: a signal to another process touches no memory of ours.
    decode(unsafe { syscall3(number::KILL, pid, SIGKILL, 0) })
}

/// `wait4(pid, NULL, 0, NULL)`: reaps the child.
pub(super) fn wait4(pid: u64) -> Result<u64, Errno> {
    // SAFETY: no status or rusage pointer: nothing of ours is written.
    decode(unsafe { syscall6(number::WAIT4, [pid, 0, 0, 0, 0, 0]) })
}

/// `socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds)`: two connected sockets
/// that keep message boundaries (the nearest Linux equivalent of a port
/// end pair; the bench uses the first to receive, the second to send).
pub(super) fn seqpacket_pair() -> Result<[u64; 2], Errno> {
    const AF_UNIX: u64 = 1;
    const SOCK_SEQPACKET: u64 = 5;
    let mut fds = [0_i32; 2];
    // SAFETY: the kernel writes two `int`s into `fds`, a live local array.
    decode(unsafe {
        syscall6(
            number::SOCKETPAIR,
            [AF_UNIX, SOCK_SEQPACKET, 0, pointer(fds.as_mut_ptr()), 0, 0],
        )
    })?;
    let [a, b] = fds.map(|fd| u64::try_from(fd).unwrap_or(u64::MAX));
    Ok([a, b])
}

/// `pipe2(fds, 0)`: `[read end, write end]`.
pub(super) fn pipe() -> Result<[u64; 2], Errno> {
    let mut fds = [0_i32; 2];
    // SAFETY: the kernel writes two `int`s into `fds`, a live local array.
    decode(unsafe { syscall3(number::PIPE2, pointer(fds.as_mut_ptr()), 0, 0) })?;
    let [read, write] = fds.map(|fd| u64::try_from(fd).unwrap_or(u64::MAX));
    Ok([read, write])
}
