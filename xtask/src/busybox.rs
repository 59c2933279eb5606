//! Debian's `busybox-static` for the Linux personality's tests: fetched
//! with `apt-get download`, unpacked with `dpkg-deb -x`, cached as
//! `target/busybox/busybox` (as `bench/linux.rs` caches the Linux kernel),
//! and packed into the initrd as `/bin/busybox` (a static glibc `ET_EXEC`).
//!
//! Owns [`cached`] and [`applet_links`]: the file system has no links, so
//! each applet name (`/bin/cat`, `/bin/ls`, ... as `busybox --list` names
//! them on the host) is a copy of `user/linux/applet.c`, a 9 KiB static
//! program that runs `/bin/busybox` with the same `argv` (busybox picks
//! the applet from `argv[0]`, as through a link). Without network or apt
//! the initrd goes without busybox and this says why; the kernel test
//! that runs it then fails with its own message (it never passes without
//! the binary).

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

/// The applet names and the link program's bytes: `(names, program)`.
/// The names come from running the cached binary on the host
/// (`busybox --list`, cached in `target/busybox/applets.txt`).
pub fn applet_links() -> Result<(Vec<String>, Vec<u8>), String> {
    let dir = crate::build::root().join("target/busybox");
    let list = dir.join("applets.txt");
    if !list.exists() {
        let binary = dir.join("busybox");
        let output = Command::new(&binary)
            .arg("--list")
            .output()
            .map_err(|e| format!("running {} --list: {e}", binary.display()))?;
        if !output.status.success() {
            return Err(format!("{} --list failed", binary.display()));
        }
        std::fs::write(&list, &output.stdout).map_err(|e| format!("{}: {e}", list.display()))?;
    }
    let names = std::fs::read_to_string(&list)
        .map_err(|e| format!("{}: {e}", list.display()))?
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .map(String::from)
        .collect();
    let source = crate::build::root().join("user/linux/applet.c");
    let program = dir.join("applet");
    let status = Command::new("gcc")
        .args([
            "-static",
            "-nostdlib",
            "-O2",
            "-fno-stack-protector",
            "-fno-pie",
            "-no-pie",
            "-Wl,--build-id=none",
            "-s",
            "-Wall",
            "-Werror",
            "-o",
        ])
        .arg(&program)
        .arg(&source)
        .status()
        .map_err(|e| format!("running gcc for {}: {e}", source.display()))?;
    if !status.success() {
        return Err(format!("gcc failed for {}", source.display()));
    }
    let bytes = std::fs::read(&program).map_err(|e| format!("{}: {e}", program.display()))?;
    Ok((names, bytes))
}
