//! Debian's `busybox-static` for the Linux personality's tests: fetched
//! with `apt-get download`, unpacked with `dpkg-deb -x`, cached as
//! `target/busybox/busybox` (as `bench/linux.rs` caches the Linux kernel),
//! and packed into the initrd as `/bin/busybox` (a static glibc `ET_EXEC`).
//!
//! Owns [`cached`]. Without network or apt the initrd goes without it and
//! this says why; the kernel test that runs it then fails with its own
//! message (it never passes without the binary).

use std::path::Path;
use std::process::Command;

/// The Debian package.
const PACKAGE: &str = "busybox-static";

/// The cached binary, fetching it first if needed; `Err` says why there
/// is none.
pub fn cached() -> Result<Vec<u8>, String> {
    let dir = crate::build::root().join("target/busybox");
    let binary = dir.join("busybox");
    if !binary.exists() {
        fetch(&dir, &binary)?;
    }
    std::fs::read(&binary).map_err(|e| format!("reading {}: {e}", binary.display()))
}

fn fetch(dir: &Path, binary: &Path) -> Result<(), String> {
    let download = dir.join("download");
    let _ = std::fs::remove_dir_all(&download);
    std::fs::create_dir_all(&download).map_err(|e| format!("{}: {e}", download.display()))?;
    println!(
        "xtask: fetching {PACKAGE} (apt-get download) into {}",
        download.display()
    );
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut apt = Command::new("apt-get");
    // As root, apt drops to `_apt` for downloads, which may not write here.
    if is_root {
        apt.args(["-o", "APT::Sandbox::User=root"]);
    }
    let status = apt
        .args(["-q", "download", PACKAGE])
        .current_dir(&download)
        .status()
        .map_err(|e| format!("running apt-get download {PACKAGE}: {e}"))?;
    if !status.success() {
        return Err(format!("apt-get download {PACKAGE} failed ({status})"));
    }
    let deb = std::fs::read_dir(&download)
        .map_err(|e| format!("{}: {e}", download.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| format!("no .deb in {}", download.display()))?;
    let unpacked = download.join("root");
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&unpacked)
        .status()
        .map_err(|e| format!("running dpkg-deb: {e}"))?;
    if !status.success() {
        return Err(format!("dpkg-deb -x {} failed ({status})", deb.display()));
    }
    std::fs::copy(unpacked.join("bin/busybox"), binary)
        .map_err(|e| format!("copying bin/busybox from {}: {e}", deb.display()))?;
    println!("xtask: cached {}", binary.display());
    Ok(())
}
