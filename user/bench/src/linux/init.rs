//! Setting up a bare Linux guest for the suite when the program is `/init`.
//!
//! Owns [`prepare`]: the initramfs holds only `/init` and the empty
//! directories `dev`, `proc` and `tmp` (a cpio made without root has no
//! device nodes), so the program mounts devtmpfs on `/dev` and procfs on
//! `/proc`, picks a console descriptor, reads `/proc/cmdline` for
//! `bench.smoke` (Linux keeps dotted words for module parameters and does
//! not pass them to init), and writes `/tmp/mem`: 16 MiB whose byte `i` is
//! `(i * 7 + 3) mod 256`, the stand-in for Synthesis's `/dev/mem`.

use super::syscall::{self, open_flags, Errno};

/// Size of `/tmp/mem`: the window Synthesis's `/dev/mem` shows.
pub(super) const MEM_BYTES: u64 = 16 << 20;

/// What [`prepare`] found.
pub(super) struct Setup {
    /// Where console output goes.
    pub(super) console_fd: u64,
    /// `bench.smoke` was on the kernel command line (or in argv).
    pub(super) is_smoke: bool,
}

/// Makes the guest usable: mounts, console, `/tmp/mem`. `argv_smoke` says
/// whether an argument asked for smoke mode (when run by hand).
pub(super) fn prepare(argv_smoke: bool) -> Setup {
    let is_init = syscall::getpid() == 1;
    if is_init {
        // Errors here show up later as a missing console or file.
        let _ = ensure_dir("/dev\0");
        let _ = ignore_busy(syscall::mount("devtmpfs\0", "/dev\0", "devtmpfs\0"));
        let _ = ensure_dir("/proc\0");
        let _ = ignore_busy(syscall::mount("proc\0", "/proc\0", "proc\0"));
        let _ = ensure_dir("/tmp\0");
    }
    let console_fd = console();
    let is_smoke = argv_smoke || cmdline_has_smoke();
    Setup {
        console_fd,
        is_smoke,
    }
}

/// `mkdir` that accepts an existing directory.
fn ensure_dir(path: &str) -> Result<(), Errno> {
    match syscall::mkdir(path) {
        Ok(_) | Err(Errno::EXISTS) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A mount that accepts "already mounted".
fn ignore_busy(result: Result<u64, Errno>) -> Result<(), Errno> {
    match result {
        Ok(_) | Err(Errno::BUSY) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Descriptor 1 if open; else `/dev/console`, else `/dev/ttyS0`.
fn console() -> u64 {
    if syscall::is_open(1) {
        return 1;
    }
    ["/dev/console\0", "/dev/ttyS0\0"]
        .into_iter()
        .find_map(|path| syscall::open(path, open_flags::WRITE_ONLY).ok())
        // Nowhere to write: keep 1 and let writes fail quietly.
        .unwrap_or(1)
}

/// Whether `/proc/cmdline` holds the word `bench.smoke`.
fn cmdline_has_smoke() -> bool {
    let Ok(fd) = syscall::open("/proc/cmdline\0", open_flags::READ_ONLY) else {
        return false;
    };
    let mut buf = [0_u8; 1024];
    let len = syscall::read(fd, &mut buf).unwrap_or(0);
    let _ = syscall::close(fd);
    let len = usize::try_from(len).unwrap_or(0).min(buf.len());
    buf[..len]
        .split(|byte| byte.is_ascii_whitespace())
        .any(|word| word == b"bench.smoke")
}

/// Writes `/tmp/mem`.
pub(super) fn create_mem_file() -> Result<(), Errno> {
    let fd = syscall::open(
        "/tmp/mem\0",
        open_flags::WRITE_ONLY | open_flags::CREATE | open_flags::TRUNCATE,
    )?;
    // The pattern repeats every 256 bytes, so one 4 KiB chunk serves all.
    let mut chunk = [0_u8; 4096];
    crate::fixture::fill_pattern(&mut chunk, 0);
    let mut written = 0;
    while written < MEM_BYTES {
        let n = syscall::write(fd, &chunk)?;
        if n == 0 {
            break;
        }
        written += n;
    }
    syscall::close(fd)?;
    Ok(())
}

/// The running kernel's release and version (`uname -r`, `uname -v`).
pub(super) fn kernel_release(out: &mut [u8; 130]) -> usize {
    const FIELD: usize = 65;
    let Ok(utsname) = syscall::uname() else {
        return 0;
    };
    let mut len = 0;
    // Fields: sysname, nodename, release, version, machine, domainname.
    for (index, field) in [2, 3].into_iter().enumerate() {
        let bytes = &utsname[field * FIELD..(field + 1) * FIELD];
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(FIELD);
        if index > 0 {
            out[len] = b' ';
            len += 1;
        }
        out[len..len + end].copy_from_slice(&bytes[..end]);
        len += end;
    }
    len
}
