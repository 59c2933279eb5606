//! filetest: the Linux personality's file, descriptor, directory, pipe,
//! terminal and `poll` calls and their error paths, checked with raw
//! system calls against Linux's own answers (issue 12, acceptance check
//! 2). The same binary passes on the Linux guest (as `/init`, the xtask's
//! `linux-suite` stage) and on Synthesis (`kernel/src/tests/linux_files.rs`).
//!
//! Everything it needs it makes in a fresh directory `/tmp/ft<pid>`; it
//! prints each failed check, then `filetest: N passed, M failed`, and
//! exits with the failure count (as PID 1, it powers the machine off).

#![no_std]
#![no_main]

mod basics;
mod dirs;
mod fds;
mod mem;
mod out;
mod polls;
mod sys;

use core::sync::atomic::{AtomicU32, Ordering};
use sys::{call, nr};

// musl's C runtime (`crt1.o` calls `__libc_start_main`, which sets up the
// thread pointer and calls `main`) and its `memcpy`/`memset`.
#[link(name = "c", kind = "static")]
extern "C" {}

static PASSED: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);

/// Checks that `got` is `want` (a value, or `-errno`).
pub fn check(name: &str, got: i64, want: i64) {
    if got == want {
        PASSED.fetch_add(1, Ordering::Relaxed);
    } else {
        FAILED.fetch_add(1, Ordering::Relaxed);
        out::line(&[
            out::S("FAIL "),
            out::S(name),
            out::S(": got "),
            out::I(got),
            out::S(", want "),
            out::I(want),
        ]);
    }
}

/// Checks that `ok` holds.
pub fn check_true(name: &str, ok: bool) {
    check(name, i64::from(ok), 1);
}

/// Checks that `got` is not an error, and returns it.
pub fn check_ok(name: &str, got: i64) -> i64 {
    if got < 0 {
        check(name, got, 0);
    } else {
        PASSED.fetch_add(1, Ordering::Relaxed);
    }
    got
}

/// On a bare Linux guest `/init` may start without descriptors 0, 1, 2
/// (the initramfs has no device nodes): mount devtmpfs and open the
/// console as all three.
fn console() {
    if sys::write(1, b"") >= 0 {
        return;
    }
    let _ = call(nr::MKDIR, &[sys::c("/dev\0"), 0o755]);
    let _ = call(
        nr::MOUNT,
        &[
            sys::c("devtmpfs\0"),
            sys::c("/dev\0"),
            sys::c("devtmpfs\0"),
            0,
            0,
        ],
    );
    let fd = sys::open("/dev/console\0", sys::o::RDWR);
    if fd >= 0 {
        for to in 0..3 {
            if fd != to {
                let _ = call(nr::DUP2, &[fd as u64, to as u64]);
            }
        }
        if fd > 2 {
            sys::close(fd);
        }
    }
}

extern "C" fn restorer() {}

/// `SIGPIPE` ignored, so a write with no reader returns `EPIPE` on Linux
/// instead of ending the program.
fn ignore_sigpipe() {
    // struct kernel_sigaction: handler, flags, restorer, mask.
    let act: [u64; 4] = [1, 0x0400_0000, restorer as *const () as u64, 0];
    check(
        "rt_sigaction(SIGPIPE, SIG_IGN)",
        call(nr::RT_SIGACTION, &[13, sys::ptr(&act), 0, 8]),
        0,
    );
}

/// Makes `/tmp/ft<pid>` and enters it; its path in `buf`.
fn workdir(buf: &mut [u8; 64]) -> usize {
    let _ = call(nr::MKDIR, &[sys::c("/tmp\0"), 0o755]);
    let pid = call(nr::GETPID, &[]);
    let mut len = 0;
    for &b in b"/tmp/ft" {
        buf[len] = b;
        len += 1;
    }
    len += out::format_u64(pid as u64, &mut buf[len..]);
    buf[len] = 0;
    check(
        "mkdir workdir",
        call(nr::MKDIR, &[buf.as_ptr() as u64, 0o755]),
        0,
    );
    check("chdir workdir", call(nr::CHDIR, &[buf.as_ptr() as u64]), 0);
    len
}

#[no_mangle]
pub extern "C" fn main(argc: i32, argv: *const *const u8) -> i32 {
    if argc > 1 && arg_is(argv, 1, b"pollwait") {
        return polls::wait_for_console();
    }
    console();
    out::line(&[out::S("filetest: start")]);
    ignore_sigpipe();
    let mut dir = [0u8; 64];
    let len = workdir(&mut dir);
    let dir = &dir[..len];
    basics::run();
    fds::run();
    dirs::run(dir);
    polls::run();
    mem::run();
    let passed = PASSED.load(Ordering::Relaxed);
    let failed = FAILED.load(Ordering::Relaxed);
    out::line(&[
        out::S("filetest: "),
        out::I(i64::from(passed)),
        out::S(" passed, "),
        out::I(i64::from(failed)),
        out::S(" failed"),
    ]);
    if call(nr::GETPID, &[]) == 1 {
        // PID 1 on the Linux guest: power off (QEMU exits).
        let _ = call(nr::REBOOT, &[0xfee1_dead, 672_274_793, 0x4321_fedc, 0]);
    }
    failed.min(255) as i32
}

/// Whether `argv[index]` is `word`.
fn arg_is(argv: *const *const u8, index: usize, word: &[u8]) -> bool {
    // SAFETY: the C runtime passes `argc` valid NUL-terminated strings;
    // the caller checked `index < argc`.
    unsafe {
        let arg = *argv.add(index);
        let mut len = 0;
        while *arg.add(len) != 0 {
            len += 1;
        }
        core::slice::from_raw_parts(arg, len) == word
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    out::line(&[out::S("filetest: panic")]);
    let _ = call(nr::EXIT_GROUP, &[255]);
    loop {}
}
