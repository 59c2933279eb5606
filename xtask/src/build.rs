//! Building the kernel for `x86_64-unknown-none` into its own target dir.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Which Cargo profile to build the kernel with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `dev` (optimized at level 1, debug assertions on): run, test, gdb.
    Dev,
}

/// The `cargo` that runs us.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Builds the kernel; returns the ELF's path.
pub fn kernel(profile: Profile) -> Result<PathBuf, String> {
    let target_dir = root().join("target/kernel");
    let status = Command::new(cargo())
        .current_dir(root())
        .args([
            "build",
            "--quiet",
            "-p",
            "sk-kernel",
            "--target",
            crate::setup::TARGET,
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        return Err("building the kernel failed".into());
    }
    let dir = match profile {
        Profile::Dev => "debug",
    };
    Ok(target_dir
        .join(crate::setup::TARGET)
        .join(dir)
        .join("kernel"))
}
