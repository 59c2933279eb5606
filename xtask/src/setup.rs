//! Installs what a fresh machine lacks: the bare-metal Rust target and QEMU.

use std::path::Path;
use std::process::Command;

/// The kernel's Rust target.
pub const TARGET: &str = "x86_64-unknown-none";

/// Ensures the target and QEMU are present, installing them if needed.
pub fn ensure_all() -> Result<(), String> {
    ensure_target()?;
    ensure_qemu()
}

/// Ensures the kernel's Rust target is installed (and, if it can be, the
/// musl target the Linux test programs are built for: without it they
/// are left out, and their tests say so).
pub fn ensure_target() -> Result<(), String> {
    if ensure_rust_target(crate::linux_suite::MUSL).is_err() {
        println!(
            "xtask: the Rust target {} is missing and could not be added",
            crate::linux_suite::MUSL
        );
    }
    ensure_rust_target(TARGET)
}

/// Ensures the Rust target `target` is installed.
fn ensure_rust_target(target: &str) -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("running rustup: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    println!("xtask: installing the Rust target {target}");
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .map_err(|e| format!("rustup: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`rustup target add {target}` failed"))
    }
}

/// The QEMU binary name.
pub const QEMU: &str = "qemu-system-x86_64";

fn have_qemu() -> bool {
    Command::new(QEMU)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn ensure_qemu() -> Result<(), String> {
    if have_qemu() {
        return Ok(());
    }
    println!("xtask: {QEMU} not found; installing Debian's qemu-system-x86 with apt-get");
    if !(apt_install(&["qemu-system-x86"]) && have_qemu()) {
        return Err("could not install QEMU. Install it yourself (Debian/Ubuntu: `apt-get install qemu-system-x86`) and retry".into());
    }
    Ok(())
}

/// Installs Debian `packages` with apt-get (as root, or through `sudo -n`);
/// true if it worked.
pub fn apt_install(packages: &[&str]) -> bool {
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let apt = |args: &[&str]| -> bool {
        let mut cmd = if as_root {
            Command::new("apt-get")
        } else {
            Command::new("sudo")
        };
        if !as_root {
            cmd.args(["-n", "apt-get"]);
        }
        cmd.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut install = vec!["install", "-y", "-q"];
    install.extend_from_slice(packages);
    apt(&["update", "-q"]) && apt(&install)
}

/// Ensures `sox` (the music check's spectrogram) is installed.
pub fn ensure_sox() -> Result<(), String> {
    let have = || {
        Command::new("sox")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if have() {
        return Ok(());
    }
    println!("xtask: sox not found; installing Debian's sox with apt-get");
    if apt_install(&["sox"]) && have() {
        Ok(())
    } else {
        Err("could not install sox (`apt-get install sox`)".into())
    }
}

/// Fast firmware for PVH boots, if installed (falls back to SeaBIOS).
pub fn qboot() -> Option<&'static str> {
    let path = "/usr/share/qemu/qboot.rom";
    Path::new(path).exists().then_some(path)
}

/// The toolchain components `cargo xtask check` runs.
const COMPONENTS: &[&str] = &["rustfmt", "clippy"];

/// Ensures rustfmt and clippy are installed (a `minimal` rustup profile
/// lacks them).
pub fn ensure_components() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["component", "list", "--installed"])
        .output()
        .map_err(|e| format!("running rustup: {e}"))?;
    let installed = String::from_utf8_lossy(&installed.stdout);
    let missing: Vec<&str> = COMPONENTS
        .iter()
        .copied()
        .filter(|c| !installed.lines().any(|l| l.starts_with(&format!("{c}-"))))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("xtask: installing the toolchain components {missing:?}");
    let status = Command::new("rustup")
        .args(["component", "add"])
        .args(&missing)
        .status()
        .map_err(|e| format!("rustup: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`rustup component add {}` failed",
            missing.join(" ")
        ))
    }
}
