//! Building the kernel for `x86_64-unknown-none` into its own target dir.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Which Cargo profile to build the kernel with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `dev` (optimized at level 1, debug assertions on): test, ktest, gdb.
    Dev,
    /// `release` (optimized, no debug assertions): run, bench.
    Release,
}

impl Profile {
    /// How the demo names the build it boots.
    pub fn describe(self) -> &'static str {
        match self {
            Profile::Dev => "dev build (debug assertions on)",
            Profile::Release => "release build",
        }
    }
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

/// Cargo features of the kernel that test builds enable (the in-kernel
/// tests, `probe::call` and the other test-only mechanisms).
pub const TEST_FEATURES: &[&str] = &["ktest"];

/// Builds the kernel with `features` (e.g. [`TEST_FEATURES`], or none);
/// returns the ELF's path.
pub fn kernel(profile: Profile, features: &[&str]) -> Result<PathBuf, String> {
    let target_dir = root().join("target/kernel");
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root()).args([
        "build",
        "--quiet",
        "-p",
        "sk-kernel",
        "--target",
        crate::setup::TARGET,
        "--target-dir",
    ]);
    cmd.arg(&target_dir);
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        return Err("building the kernel failed".into());
    }
    let dir = match profile {
        Profile::Dev => "debug",
        Profile::Release => "release",
    };
    Ok(target_dir
        .join(crate::setup::TARGET)
        .join(dir)
        .join("kernel"))
}

/// The user programs packed into the initrd as `/bin/<name>`.
pub const USER_PROGRAMS: &[&str] = &[
    "init",
    "prog1",
    "prog2",
    "sysfuzz",
    "faulty",
    "hostile",
    "worker",
    "abitest",
    "synthtest",
    "bench",
    "regcheck",
    "memhog",
    "cpuhog",
    "semtest",
    "pipetest",
    "porttest",
    "sharetest",
    "viewtest",
    "vandal",
    "racer",
    "reaper",
    "ringstress",
    "lenguard",
    "drain",
    "fpstress",
    "ttyecho",
    "music",
    "nest",
    "mux",
    "muxwork",
];

/// The multiplexor's configurations and data (`user/mux`): (path in the
/// initrd, source in the repository).
pub const MUX_FILES: &[(&str, &str)] = &[
    ("etc/mux.conf", "user/mux/etc/mux.conf"),
    ("etc/mux/inner.conf", "user/mux/etc/inner.conf"),
    ("etc/mux/deep.conf", "user/mux/etc/deep.conf"),
    ("etc/mux/poem.txt", "user/mux/etc/poem.txt"),
    ("etc/mux/room/welcome.txt", "user/mux/etc/room/welcome.txt"),
];

/// Builds the user programs (release, static ELF for the kernel's target)
/// and packs them into a cpio "newc" initrd; returns its path.
pub fn initrd() -> Result<PathBuf, String> {
    initrd_with(&[])
}

/// As [`initrd`], with `extra` files (path in the initrd, bytes) added.
pub fn initrd_with(extra: &[(&str, Vec<u8>)]) -> Result<PathBuf, String> {
    let target_dir = root().join("target/user");
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root())
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            crate::setup::TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    for p in USER_PROGRAMS {
        cmd.args(["-p", &format!("sk-user-{p}")]);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        return Err("building the user programs failed".into());
    }
    let bin = target_dir.join(crate::setup::TARGET).join("release");
    let mut writer = sk_initrd::Writer::new();
    writer.add_dir("bin").map_err(|e| format!("initrd: {e}"))?;
    // Names given in /bin so far (busybox's applet links never replace one).
    let mut taken: Vec<String> = Vec::new();
    for p in USER_PROGRAMS {
        let data =
            std::fs::read(bin.join(p)).map_err(|e| format!("reading user program {p}: {e}"))?;
        writer
            .add_file(&format!("bin/{p}"), 0o755, &data)
            .map_err(|e| format!("initrd: {e}"))?;
        taken.push((*p).to_string());
    }
    for (name, data) in linux_programs()? {
        writer
            .add_file(&format!("bin/{name}"), 0o755, &data)
            .map_err(|e| format!("initrd: {e}"))?;
        taken.push(name.to_string());
    }
    // Without the musl target the suite's ktest says its program is not
    // in the initrd; every other test still runs.
    match crate::linux_suite::programs() {
        Ok(programs) => {
            for (name, data) in programs {
                writer
                    .add_file(&format!("bin/{name}"), 0o755, &data)
                    .map_err(|e| format!("initrd: {e}"))?;
                taken.push(name.to_string());
            }
        }
        Err(why) => println!("xtask: no Linux suite programs in the initrd: {why}"),
    }
    match crate::busybox::cached() {
        Ok(data) => {
            // `/bin/sh` too: busybox picks its applet from `argv[0]`, and
            // the file system has no links, so the shell is a second copy.
            for name in ["bin/busybox", "bin/sh"] {
                writer
                    .add_file(name, 0o755, &data)
                    .map_err(|e| format!("initrd: {e}"))?;
            }
            // Its applets, each a small program that runs /bin/busybox
            // (no links in the file system); a name /bin already has
            // (`init`, `sh`) stays what it is.
            match crate::busybox::applet_links() {
                Ok((names, link)) => {
                    for name in names {
                        if taken.contains(&name) || name == "sh" || name == "busybox" {
                            continue;
                        }
                        writer
                            .add_file(&format!("bin/{name}"), 0o755, &link)
                            .map_err(|e| format!("initrd: {e}"))?;
                    }
                }
                Err(why) => println!("xtask: no busybox applet links in the initrd: {why}"),
            }
        }
        Err(why) => println!("xtask: no /bin/busybox in the initrd: {why}"),
    }
    for dir in ["etc", "etc/mux", "etc/mux/room"] {
        writer.add_dir(dir).map_err(|e| format!("initrd: {e}"))?;
    }
    for (name, source) in MUX_FILES {
        let data =
            std::fs::read(root().join(source)).map_err(|e| format!("reading {source}: {e}"))?;
        writer
            .add_file(name, 0o644, &data)
            .map_err(|e| format!("initrd: {e}"))?;
    }
    for (name, data) in extra {
        if let Some((dir, _)) = name.rsplit_once('/') {
            let _ = writer.add_dir(dir);
        }
        writer
            .add_file(name, 0o644, data)
            .map_err(|e| format!("initrd: {e}"))?;
    }
    let path = root().join("target/initrd.cpio");
    std::fs::write(&path, writer.finish())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// The static Linux test programs (C, `user/linux/<name>.c`) packed into
/// the initrd as `/bin/<name>` for the Linux personality's tests
/// (kernel/src/tests/linux.rs).
pub const LINUX_PROGRAMS: &[&str] = &[
    "lintest", "linfuzz", "sigtest", "proctest", "linfast", "nestlin", "rootlin", "forkpark",
];

/// Builds each of [`LINUX_PROGRAMS`] with the host's `gcc -static` (glibc,
/// a static `ET_EXEC`) into `target/linux/`, when its source is newer;
/// returns their bytes.
pub fn linux_programs() -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let out_dir = root().join("target/linux");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut out = Vec::new();
    for name in LINUX_PROGRAMS {
        let source = root().join(format!("user/linux/{name}.c"));
        let binary = out_dir.join(name);
        let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        // The programs share `user/linux/linux_test.h`.
        let header = root().join("user/linux/linux_test.h");
        let newest = modified(&source).max(modified(&header));
        let stale = match (newest, modified(&binary)) {
            (Some(s), Some(b)) => s > b,
            _ => true,
        };
        if stale {
            let status = Command::new("gcc")
                .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
                .arg(&binary)
                .arg(&source)
                .status()
                .map_err(|e| {
                    format!("running gcc for the Linux test program {name} (install gcc and libc6-dev): {e}")
                })?;
            if !status.success() {
                return Err(format!("gcc -static failed for {}", source.display()));
            }
        }
        let data =
            std::fs::read(&binary).map_err(|e| format!("reading {}: {e}", binary.display()))?;
        out.push((*name, data));
    }
    Ok(out)
}
