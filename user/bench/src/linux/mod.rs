//! The Linux backend (feature `linux`): the suite's OS layer on raw Linux
//! x86-64 system calls, for a static `/init` in a Linux guest.
//!
//! Owns the same interface as the native backend ([`File`], [`null_call`],
//! [`write_console`], …), the program entry `_start` (Linux's initial stack:
//! `argc`, `argv`, `envp`), the guest setup ([`init`]) and the end: exit,
//! or power off when the program is PID 1. The null call is `getppid`, the
//! cheapest call that enters the kernel and returns a value. `/dev/mem` is
//! replaced by `/tmp/mem` (see [`init`]). Linux offers no kernel-side
//! instruction count, so [`trace_call`] and [`synthesis_cost`] report none.

#[allow(
    unsafe_code,
    reason = "the raw `syscall` instruction; SAFETY per block"
)]
mod syscall;

mod init;
#[allow(
    unsafe_code,
    reason = "a static stack's address lent to `clone`; SAFETY per block"
)]
mod switches;

pub(crate) use switches::{
    create_and_join_thread, new_pipe, new_port, yield_now, EchoThread, PingPong, ProcessPartner,
    ThreadPartner,
};

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use syscall::open_flags;
pub(crate) use syscall::Errno as Error;

use crate::paths::Path;
use crate::TracedCall;

/// Name of this system in the output.
pub(crate) const SYSTEM: &str = "linux";

/// The `/dev/mem` stand-in.
pub(crate) const MEM: Path = Path::new("/tmp/mem\0");

/// Where output goes (set once by `start`).
static CONSOLE_FD: AtomicU64 = AtomicU64::new(1);
/// Smoke mode (set once by `start`).
static IS_SMOKE: AtomicBool = AtomicBool::new(false);

/// How a file is opened.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Access {
    /// Read only.
    Read,
    /// Write only.
    Write,
    /// Read and write, created if missing, truncated.
    CreateTruncate,
}

/// An open file descriptor.
#[derive(Debug)]
pub(crate) struct File {
    fd: u64,
}

impl File {
    /// `openat(AT_FDCWD, path, …)`.
    #[inline(always)]
    pub(crate) fn open(path: Path, access: Access) -> Result<Self, Error> {
        let flags = match access {
            Access::Read => open_flags::READ_ONLY,
            Access::Write => open_flags::WRITE_ONLY,
            Access::CreateTruncate => {
                open_flags::READ_WRITE | open_flags::CREATE | open_flags::TRUNCATE
            }
        };
        syscall::open(path.with_nul(), flags).map(|fd| Self { fd })
    }

    /// `read`.
    #[inline(always)]
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result<usize, Error> {
        syscall::read(self.fd, buf).map(byte_count)
    }

    /// `write`.
    #[inline(always)]
    pub(crate) fn write(&self, buf: &[u8]) -> Result<usize, Error> {
        syscall::write(self.fd, buf).map(byte_count)
    }

    /// `lseek(fd, 0, SEEK_SET)`.
    pub(crate) fn rewind(&self) -> Result<(), Error> {
        syscall::seek_set(self.fd, 0).map(drop)
    }

    /// `close`.
    #[inline(always)]
    pub(crate) fn close(self) -> Result<(), Error> {
        syscall::close(self.fd).map(drop)
    }
}

/// The nearest kernel-mediated equivalent of an uncontended semaphore
/// (`sem_post`/`sem_wait` are libc futex code, not kernel calls): an
/// `eventfd`, where V is `write` of an 8-byte 1 and P a `read` of 8 bytes.
pub(crate) fn open_semaphore() -> Result<File, Error> {
    syscall::eventfd().map(|fd| File { fd })
}

/// What P and V move on [`open_semaphore`]'s file: the eventfd's counter.
pub(crate) const SEMAPHORE_TOKEN: [u8; 8] = 1_u64.to_ne_bytes();

/// A byte count no larger than a buffer's length.
fn byte_count(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// The null call: `getppid`.
#[inline(always)]
pub(crate) fn null_call() {
    let _ = syscall::getppid();
}

/// Writes to the console descriptor.
pub(crate) fn write_console(mut bytes: &[u8]) {
    let fd = CONSOLE_FD.load(Ordering::Relaxed);
    while !bytes.is_empty() {
        match syscall::write(fd, bytes) {
            Ok(n) if n > 0 => bytes = bytes.get(byte_count(n)..).unwrap_or(&[]),
            _ => return,
        }
    }
}

/// Whether smoke mode was asked for.
pub(crate) fn is_smoke() -> bool {
    IS_SMOKE.load(Ordering::Relaxed)
}

/// No kernel-side instruction counter on Linux.
pub(crate) const HAS_KERNEL_TRACE: bool = false;

/// No kernel-side instruction counter on Linux: always `None`.
pub(crate) fn trace_call(_call: TracedCall<'_>) -> Option<u64> {
    None
}

/// Linux has no SIO views: always `None` (the view metrics are `n/a`).
pub(crate) fn view(_file: &File, _offset: u64, _length: u64) -> Option<File> {
    None
}

/// Linux has no prefix views (their metrics are `n/a`).
pub(crate) const HAS_PREFIX_VIEWS: bool = false;

/// Linux has no prefix views: always `None`.
pub(crate) fn prefix_view(_file: &File, _prefix: &[u8]) -> Option<File> {
    None
}

/// Linux synthesizes nothing: always `None`.
pub(crate) fn synthesis_cost(_file: &File) -> Option<u64> {
    None
}

/// Lazy synthesis's break-even table: Synthesis only.
pub(crate) fn break_even_table() {}

/// Prints what the xtask records about the system: the kernel release and
/// the TSC rate (TSC ticks against `CLOCK_MONOTONIC` over about 20 ms, or
/// 20 M instructions under TCG's icount).
pub(crate) fn describe_system() {
    let mut release = [0_u8; 130];
    let len = init::kernel_release(&mut release);
    let release = core::str::from_utf8(&release[..len]).unwrap_or("?");
    crate::println!("bench: system linux {release}");
    if let Some(mhz) = tsc_khz() {
        crate::println!("bench: tsc_khz={mhz}");
    }
}

/// TSC ticks per millisecond, measured against the monotonic clock.
fn tsc_khz() -> Option<u64> {
    const WINDOW_NS: u64 = 20_000_000;
    let ns0 = syscall::monotonic_ns().ok()?;
    let tsc0 = crate::tsc::read();
    let mut ns1 = ns0;
    while ns1.wrapping_sub(ns0) < WINDOW_NS {
        ns1 = syscall::monotonic_ns().ok()?;
    }
    let ticks = crate::tsc::read().wrapping_sub(tsc0);
    let ns = ns1.wrapping_sub(ns0).max(1);
    Some(ticks.saturating_mul(1_000_000) / ns)
}

/// Ends the program: powers off as PID 1 (the guest has nothing else to
/// do), else `exit_group`.
fn finish(status: i32) -> ! {
    if syscall::getpid() == 1 {
        let error = syscall::power_off();
        crate::println!("bench: power off failed: {error}");
    }
    syscall::exit_group(status)
}

/// The Rust entry: `stack` is Linux's initial stack pointer.
extern "C" fn start_rust(stack: *const u64) -> ! {
    let argv_smoke = start::argv_has(stack, b"bench.smoke") || start::argv_has(stack, b"--smoke");
    let setup = init::prepare(argv_smoke);
    CONSOLE_FD.store(setup.console_fd, Ordering::Relaxed);
    IS_SMOKE.store(setup.is_smoke, Ordering::Relaxed);
    if let Err(error) = init::create_mem_file() {
        crate::println!("bench: cannot create /tmp/mem: {error}");
        finish(1);
    }
    finish(crate::run())
}

#[allow(
    unsafe_code,
    reason = "the naked entry point and reading argv; SAFETY per block"
)]
mod start {
    use core::ffi::CStr;

    /// The program's entry point (ELF `e_entry`): passes Linux's initial
    /// `rsp` (pointing at `argc`) to `start_rust` on a 16-byte aligned stack.
    // SAFETY: a complete naked routine: clears rbp, aligns the stack as the
    // SysV ABI requires at a call, never returns.
    #[unsafe(naked)]
    #[unsafe(no_mangle)]
    pub(super) extern "C" fn _start() -> ! {
        core::arch::naked_asm!(
            "xor ebp, ebp",
            "mov rdi, rsp",
            "and rsp, -16",
            "call {start}",
            "ud2",
            start = sym super::start_rust,
        )
    }

    /// Whether one of the program's arguments equals `word`.
    pub(super) fn argv_has(stack: *const u64, word: &[u8]) -> bool {
        // SAFETY: Linux starts a program with `argc` at `rsp`, followed by
        // `argc` pointers to NUL-terminated strings (execve(2), the x86-64
        // psABI §3.4.1); `_start` passed that `rsp` unchanged and nothing
        // has written the stack above it.
        let argc = usize::try_from(unsafe { stack.read() }).unwrap_or(0);
        (1..=argc).any(|index| {
            // SAFETY: as above: slots 1..=argc hold argv[0..argc].
            let arg = unsafe { stack.add(index).read() } as *const core::ffi::c_char;
            // SAFETY: each argv pointer is a NUL-terminated string that
            // lives as long as the process.
            !arg.is_null() && unsafe { CStr::from_ptr(arg) }.to_bytes() == word
        })
    }
}

/// Prints the panic and ends the program. Only without the native backend
/// (whose `sk-user` brings its own handler).
#[cfg(not(feature = "native"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::println!("bench: panic: {info}");
    finish(101)
}
