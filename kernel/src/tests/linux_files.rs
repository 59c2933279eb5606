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
