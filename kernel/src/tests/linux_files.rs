//! The Linux personality's files, descriptors, directories, pipes,
//! terminal and `poll` (docs/unix.md, phase 2): the suite program
//! `user/linux/filetest` (Rust, static musl, raw system calls; packed as
//! `/bin/filetest` by the xtask) checks every call and its error paths
//! against Linux's answers. The same binary passes on the Linux guest
//! (`cargo xtask linux-suite`), so its expectations are Linux's. Its exit
//! status is its failure count; it prints each failure.

use alloc::format;
use alloc::string::String;
use sk_ktest::{ensure_eq, ktest};

/// Yields until `done` holds (at most `limit` times).
fn yield_until(what: &str, limit: u64, done: impl Fn() -> bool) -> Result<(), String> {
    for _ in 0..limit {
        if done() {
            return Ok(());
        }
        sk_core::yield_now();
    }
    Err(format!("{what} never happened"))
}

/// Runs `/bin/<name>` as a Linux program; its exit status.
fn run(name: &str) -> Result<i32, String> {
    let path = format!("/bin/{name}");
    let id = sk_core::spawn_linux_program(&path, &[path.as_str()])
        .map_err(|e| format!("spawn {path}: {e} (not found: not in the initrd)"))?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
    sk_core::release_program(id);
    status
}

ktest!(
    fn linux_filetest_passes_every_check_either_scheduler() {
        ensure_eq!(run("filetest")?, 0);
        Ok(())
    }
);

ktest!(
    fn linux_poll_without_a_timeout_waits_for_console_input() {
        // `filetest pollwait` polls descriptor 0 with no timeout: it must
        // block as a console reader (not spin, not return), and the
        // typed line must wake it with POLLIN; after it, nothing is left
        // registered.
        let _ = sk_core::testing::console_discard();
        ensure_eq!(sk_core::testing::console_readers(), 0);
        let id = sk_core::spawn_linux_program("/bin/filetest", &["/bin/filetest", "pollwait"])
            .map_err(|e| format!("spawn: {e}"))?;
        yield_until("a polling console reader", 1_000_000, || {
            sk_core::testing::console_readers() == 1
        })?;
        // Still waiting after many more turns: the wait has no deadline.
        for _ in 0..1000 {
            sk_core::yield_now();
        }
        ensure_eq!(sk_core::testing::console_readers(), 1);
        sk_core::testing::console_input(b"x\n");
        let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
        sk_core::release_program(id);
        ensure_eq!(status?, 0);
        ensure_eq!(sk_core::testing::console_readers(), 0);
        Ok(())
    }
);
