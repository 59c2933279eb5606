//! The Linux test suite (issue 12, acceptance check 2): static Linux
//! programs in Rust for `x86_64-unknown-linux-musl` (raw system calls,
//! musl's C runtime) that check the Linux personality's calls and their
//! error paths against Linux's own answers.
//!
//! Owns [`programs`]: builds each of [`SUITE`] (`user/linux/<name>/`, a
//! crate outside the workspace) into `target/linux-suite` and returns its
//! bytes, which `build::initrd` packs as `/bin/<name>` for the in-kernel
//! tests (`kernel/src/tests/linux_files.rs`); and [`guest_boot`], the
//! `linux-suite` stage of `cargo xtask test`: boots the Linux guest the
//! bench uses (Debian's kernel, `bench::linux::kernel`) with each program
//! as `/init` of an initramfs and checks it prints `N passed, 0 failed`
//! with N > 0. The wall-clock guard is only a guard: nothing is timed.

use crate::accel::Accel;
use crate::build;
use crate::qemu::Boot;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// The suite's programs, each `user/linux/<name>/` printing
/// `<name>: N passed, M failed` and exiting with M.
pub const SUITE: &[&str] = &["filetest"];

/// The musl target.
pub const MUSL: &str = "x86_64-unknown-linux-musl";

/// Wall-clock guard for one guest boot (a guard, not a measurement).
const GUEST_TIMEOUT_SECS: u64 = 600;

/// Builds every program of [`SUITE`]; their names and bytes.
pub fn programs() -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let target_dir = build::root().join("target/linux-suite");
    let mut out = Vec::new();
    for name in SUITE {
        let manifest = build::root().join(format!("user/linux/{name}/Cargo.toml"));
        let status = Command::new(build::cargo())
            .current_dir(build::root())
            .args([
                "build",
                "--quiet",
                "--release",
                "--target",
                MUSL,
                "--manifest-path",
            ])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target_dir)
            // A non-PIE static executable: musl's `crt1.o`, no dynamic
            // relocations to apply at start.
            .env(
                "RUSTFLAGS",
                "-C relocation-model=static -C target-feature=+crt-static",
            )
            .status()
            .map_err(|e| format!("running cargo build for {name}: {e}"))?;
        if !status.success() {
            return Err(format!(
                "building the Linux test program {name} failed (is the {MUSL} target installed? \
                 `rustup target add {MUSL}`)"
            ));
        }
        let binary: PathBuf = target_dir.join(MUSL).join("release").join(name);
        let data =
            std::fs::read(&binary).map_err(|e| format!("reading {}: {e}", binary.display()))?;
        out.push((*name, data));
    }
    Ok(out)
}

/// The count of passed checks if `output` holds `<name>: N passed, 0
/// failed` with N > 0.
pub fn passed(output: &str, name: &str) -> Option<u64> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(name)?.strip_prefix(": ")?;
        let (passed, failed) = rest.split_once(" passed, ")?;
        let passed: u64 = passed.parse().ok()?;
        (failed == "0 failed" && passed > 0).then_some(passed)
    })
}

/// Boots the Linux guest once per program of [`SUITE`], the program as
/// `/init`; success if every one prints its all-passed line.
pub fn guest_boot(requested: Option<Accel>) -> Result<ExitCode, String> {
    let kernel = crate::bench::linux::kernel()?;
    let accel = requested.unwrap_or(Accel::Tcg);
    let dir = build::root().join("target/linux-suite");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut all_passed = true;
    for (name, data) in programs()? {
        let mut writer = sk_initrd::Writer::new();
        for d in ["dev", "proc", "tmp"] {
            writer.add_dir(d).map_err(|e| format!("initramfs: {e}"))?;
        }
        writer
            .add_file("init", 0o755, &data)
            .map_err(|e| format!("initramfs: {e}"))?;
        let initramfs = dir.join(format!("{name}-initramfs.cpio"));
        std::fs::write(&initramfs, writer.finish())
            .map_err(|e| format!("writing {}: {e}", initramfs.display()))?;
        println!(
            "xtask: linux-suite: {name} as /init of {} ({})",
            kernel.source,
            accel.name()
        );
        let outcome = Boot::new(&kernel.image, accel, "console=ttyS0 quiet panic=-1")
            .initrd(&initramfs)
            .timeout_secs(GUEST_TIMEOUT_SECS)
            .run()?;
        let log = dir.join(format!("{name}-linux.log"));
        std::fs::write(&log, &outcome.output)
            .map_err(|e| format!("writing {}: {e}", log.display()))?;
        for line in outcome
            .output
            .lines()
            .filter(|l| l.starts_with("FAIL ") || l.starts_with(&format!("{name}:")))
        {
            println!("xtask: linux-suite: {line}");
        }
        match passed(&outcome.output, name) {
            Some(n) => println!("xtask: linux-suite: {name} passed on Linux ({n} checks)"),
            None => {
                println!(
                    "xtask: linux-suite: {name} FAILED on Linux ({}; console in {})",
                    outcome.status.describe(),
                    log.display()
                );
                all_passed = false;
            }
        }
    }
    all_passed &= guest_c_programs(&kernel, accel, &dir)?;
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The C programs (static glibc) of the Linux personality's process and
/// signal tests on the Linux guest, run as children of
/// `user/linux/guestinit.c` (a test must not be pid 1: Linux gives pid 1
/// no default signal actions); true if each exits 0.
fn guest_c_programs(
    kernel: &crate::bench::linux::LinuxKernel,
    accel: Accel,
    dir: &std::path::Path,
) -> Result<bool, String> {
    let init = dir.join("guestinit");
    let source = build::root().join("user/linux/guestinit.c");
    let status = Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&init)
        .arg(&source)
        .status()
        .map_err(|e| format!("running gcc for {}: {e}", source.display()))?;
    if !status.success() {
        return Err(format!("gcc failed for {}", source.display()));
    }
    let programs: Vec<(&str, Vec<u8>)> = build::linux_programs()?
        .into_iter()
        .filter(|(name, _)| GUEST_C_PROGRAMS.contains(name))
        .collect();
    let mut writer = sk_initrd::Writer::new();
    for d in ["dev", "proc", "tmp", "bin"] {
        writer.add_dir(d).map_err(|e| format!("initramfs: {e}"))?;
    }
    let init_bytes = std::fs::read(&init).map_err(|e| format!("{}: {e}", init.display()))?;
    writer
        .add_file("init", 0o755, &init_bytes)
        .map_err(|e| format!("initramfs: {e}"))?;
    for (name, data) in &programs {
        writer
            .add_file(&format!("bin/{name}"), 0o755, data)
            .map_err(|e| format!("initramfs: {e}"))?;
    }
    let initramfs = dir.join("c-programs-initramfs.cpio");
    std::fs::write(&initramfs, writer.finish())
        .map_err(|e| format!("writing {}: {e}", initramfs.display()))?;
    println!(
        "xtask: linux-suite: {} under guestinit on {}",
        GUEST_C_PROGRAMS.join(", "),
        kernel.source
    );
    let outcome = Boot::new(&kernel.image, accel, "console=ttyS0 quiet panic=-1")
        .initrd(&initramfs)
        .timeout_secs(GUEST_TIMEOUT_SECS)
        .run()?;
    let log = dir.join("c-programs-linux.log");
    std::fs::write(&log, &outcome.output).map_err(|e| format!("writing {}: {e}", log.display()))?;
    let mut all = true;
    for name in GUEST_C_PROGRAMS {
        let line = format!("guestinit: /bin/{name} exited with status 0");
        if outcome.output.lines().any(|l| l.trim() == line) {
            println!("xtask: linux-suite: {name} passed on Linux");
        } else {
            for l in outcome
                .output
                .lines()
                .filter(|l| l.contains("FAIL") && l.starts_with(name))
            {
                println!("xtask: linux-suite: {l}");
            }
            println!(
                "xtask: linux-suite: {name} FAILED on Linux (console in {})",
                log.display()
            );
            all = false;
        }
    }
    Ok(all)
}

/// The C test programs also run on the Linux guest (`guestinit.c` runs
/// them in this order).
const GUEST_C_PROGRAMS: [&str; 2] = ["sigtest", "proctest"];

#[cfg(test)]
mod tests {
    use super::passed;

    #[test]
    fn only_an_all_passed_line_with_checks_counts() {
        assert_eq!(
            passed("x\nfiletest: 12 passed, 0 failed\n", "filetest"),
            Some(12)
        );
        assert_eq!(passed("filetest: 12 passed, 1 failed\n", "filetest"), None);
        assert_eq!(passed("filetest: 0 passed, 0 failed\n", "filetest"), None);
        assert_eq!(passed("other: 3 passed, 0 failed\n", "filetest"), None);
        assert_eq!(passed("", "filetest"), None);
    }
}
