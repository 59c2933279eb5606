//! The Linux guest of the comparison: Debian's kernel and an initramfs whose
//! `/init` is the Linux build of the bench program.
//!
//! Owns [`kernel`]: the image of Debian's `linux-image-amd64`, fetched once
//! and cached under `target/linux/` (`apt-cache depends linux-image-amd64`
//! names the versioned package; `apt-get download` fetches it;
//! `boot/vmlinuz-*` is taken out of it with `dpkg-deb --fsys-tarfile | tar`,
//! which skips unpacking the modules). `SK_BENCH_LINUX_KERNEL=/path/bzImage`
//! uses another kernel instead. Also owns [`program`]: builds
//! `sk-user-bench` with `--no-default-features --features linux` into
//! `target/bench-linux` (the same binary also runs on Synthesis as a Linux
//! program, `/bin/bench-linux`), and [`initramfs`]: packs it with
//! `sk-initrd`'s writer as `/init`,
//! beside the empty directories `dev`, `proc` and `tmp` the program mounts
//! and writes into.

use crate::build;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The meta-package whose dependency names the current kernel.
const META_PACKAGE: &str = "linux-image-amd64";

/// Overrides the kernel image.
const KERNEL_ENV: &str = "SK_BENCH_LINUX_KERNEL";

/// A Linux kernel image ready for `-kernel`.
pub struct LinuxKernel {
    /// The bzImage.
    pub image: PathBuf,
    /// Where it came from: `linux-image-6.1.0-…-amd64 6.1.…` or the path
    /// given in `SK_BENCH_LINUX_KERNEL`.
    pub source: String,
}

/// The cache directory.
fn cache_dir() -> PathBuf {
    build::root().join("target/linux")
}

/// Returns the cached kernel, fetching it first if needed.
pub fn kernel() -> Result<LinuxKernel, String> {
    if let Some(path) = std::env::var_os(KERNEL_ENV).filter(|v| !v.is_empty()) {
        let image = PathBuf::from(path);
        if !image.is_file() {
            return Err(format!("{KERNEL_ENV}={} is not a file", image.display()));
        }
        let source = format!("{} ({KERNEL_ENV})", image.display());
        return Ok(LinuxKernel { image, source });
    }
    let dir = cache_dir();
    if let Some(cached) = cached(&dir) {
        return Ok(cached);
    }
    fetch(&dir).map_err(|e| {
        format!(
            "cannot fetch the Linux kernel for the comparison ({META_PACKAGE} from Debian's \
             archive): {e}. On a non-Debian host, set {KERNEL_ENV}=/path/to/bzImage"
        )
    })
}

/// The record of what the cache holds: `<image file> <package> <version>`.
fn stamp_path(dir: &Path) -> PathBuf {
    dir.join("kernel.txt")
}

fn cached(dir: &Path) -> Option<LinuxKernel> {
    let stamp = std::fs::read_to_string(stamp_path(dir)).ok()?;
    let mut words = stamp.split_ascii_whitespace();
    let image = dir.join(words.next()?);
    let source = words.collect::<Vec<_>>().join(" ");
    image.is_file().then_some(LinuxKernel { image, source })
}

fn fetch(dir: &Path) -> Result<LinuxKernel, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let package = match versioned_package()? {
        Some(p) => p,
        None => {
            println!("xtask: apt-cache does not know {META_PACKAGE}; running apt-get update");
            apt(&["update", "-q"], dir)?;
            versioned_package()?.ok_or(format!(
                "apt-cache depends {META_PACKAGE} names no linux-image package"
            ))?
        }
    };
    println!("xtask: downloading {package} (Debian's kernel for the Linux comparison)");
    let package = match apt(&["download", "-q", &package], dir) {
        Ok(()) => package,
        Err(first) => {
            // Stale package lists name a version the archive has dropped:
            // refresh them and ask again.
            println!("xtask: {first}; running apt-get update and retrying");
            apt(&["update", "-q"], dir)?;
            let package = versioned_package()?.ok_or(format!(
                "apt-cache depends {META_PACKAGE} names no linux-image package"
            ))?;
            apt(&["download", "-q", &package], dir)?;
            package
        }
    };
    let deb = find_file(dir, |name| {
        name.starts_with(&format!("{package}_")) && name.ends_with(".deb")
    })?
    .ok_or(format!("apt-get download left no {package}_*.deb"))?;
    let version = deb
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('_').nth(1))
        .unwrap_or("?")
        .to_string();
    let extract = dir.join("extract");
    let _ = std::fs::remove_dir_all(&extract);
    std::fs::create_dir_all(&extract)
        .map_err(|e| format!("creating {}: {e}", extract.display()))?;
    // `dpkg-deb --fsys-tarfile` streams the data archive; tar keeps only
    // the kernel image (the modules are most of the package).
    let script = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -x -C '{}' --wildcards './boot/vmlinuz-*'",
        deb.display(),
        extract.display()
    );
    run(
        Command::new("sh").args(["-c", &script]),
        "extracting the kernel image",
    )?;
    let image = find_file(&extract.join("boot"), |name| name.starts_with("vmlinuz-"))?
        .ok_or(format!("{} holds no boot/vmlinuz-*", deb.display()))?;
    let name = image
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("odd image name")?
        .to_string();
    let cached_image = dir.join(&name);
    std::fs::rename(&image, &cached_image)
        .map_err(|e| format!("moving {} into the cache: {e}", image.display()))?;
    let _ = std::fs::remove_dir_all(&extract);
    let _ = std::fs::remove_file(&deb);
    let source = format!("{package} {version}");
    std::fs::write(stamp_path(dir), format!("{name} {source}\n"))
        .map_err(|e| format!("writing the cache stamp: {e}"))?;
    println!("xtask: cached {}", cached_image.display());
    Ok(LinuxKernel {
        image: cached_image,
        source,
    })
}

/// `linux-image-<version>-amd64` from `apt-cache depends linux-image-amd64`;
/// `None` if apt-cache knows no such dependency.
fn versioned_package() -> Result<Option<String>, String> {
    let out = Command::new("apt-cache")
        .args(["depends", META_PACKAGE])
        .output()
        .map_err(|e| format!("running apt-cache (is this Debian?): {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let dep = line.trim().strip_prefix("Depends:")?.trim();
            (dep.starts_with("linux-image-") && dep != META_PACKAGE).then(|| dep.to_string())
        }))
}

/// `apt-get ARGS` in `dir`, through `sudo -n` when not root.
fn apt(args: &[&str], dir: &Path) -> Result<(), String> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut cmd = if is_root {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "apt-get"]);
        c
    };
    // As root, apt drops to `_apt` for downloads, which may not write here.
    if is_root {
        cmd.args(["-o", "APT::Sandbox::User=root"]);
    }
    cmd.args(args)
        .current_dir(dir)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(&mut cmd, &format!("apt-get {}", args.join(" ")))
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// The first file in `dir` (sorted by name) whose name passes `wanted`.
fn find_file(dir: &Path, wanted: impl Fn(&str) -> bool) -> Result<Option<PathBuf>, String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| wanted(name))
        .collect();
    names.sort();
    Ok(names.first().map(|name| dir.join(name)))
}

/// Builds the Linux variant of the bench program; returns its bytes (the
/// same binary is the Linux guest's `/init` and Synthesis's
/// `/bin/bench-linux`).
pub fn program() -> Result<Vec<u8>, String> {
    let target_dir = build::root().join("target/bench-linux");
    let status = Command::new(build::cargo())
        .current_dir(build::root())
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "sk-user-bench",
            "--no-default-features",
            "--features",
            "linux",
            "--target",
            crate::setup::TARGET,
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        return Err("building the Linux bench program failed".into());
    }
    let program = target_dir
        .join(crate::setup::TARGET)
        .join("release")
        .join("bench");
    std::fs::read(&program).map_err(|e| format!("reading {}: {e}", program.display()))
}

/// Packs the Linux bench program `data` as `/init` into the initramfs
/// `out_dir/linux-initramfs.cpio`; returns its path.
pub fn initramfs(out_dir: &Path, data: &[u8]) -> Result<PathBuf, String> {
    let mut writer = sk_initrd::Writer::new();
    for dir in ["dev", "proc", "tmp"] {
        writer.add_dir(dir).map_err(|e| format!("initramfs: {e}"))?;
    }
    writer
        .add_file("init", 0o755, data)
        .map_err(|e| format!("initramfs: {e}"))?;
    let path = out_dir.join("linux-initramfs.cpio");
    std::fs::write(&path, writer.finish())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}
