//! `cargo xtask check`: the quality gates `cargo xtask test` runs first.
//!
//! - **layering**, from `cargo metadata`: no crate but `sk-core` and
//!   `sk-kernel` depends on `sk-machine`, directly or through another crate
//!   (so portable crates never do), and `sk-machine` depends on no crate of
//!   ours;
//! - **format**: `cargo fmt --all --check`;
//! - **clippy on the host**, warnings denied: every crate and target of
//!   the workspace except those that only build for the kernel's target;
//! - **clippy on `x86_64-unknown-none`**, warnings denied: `sk-kernel`
//!   (with [`KERNEL_FEATURES`]), `sk-machine`, `sk-core`, `sk-user` and the
//!   user programs, and the benchmark program's Linux backend.
//!
//! Every gate runs even if an earlier one failed, so one run lists all
//! findings.

use crate::build;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::process::{Command, ExitCode};

/// Features of `sk-kernel` clippy checks it with (the in-kernel tests are
/// compiled only with `ktest`). A feature the kernel does not declare yet
/// is left out, with a note.
pub const KERNEL_FEATURES: &[&str] = &["ktest"];

/// The crate whose hardware code only the kernel may link.
const MACHINE: &str = "sk-machine";

/// Crates that may depend on [`MACHINE`].
const MACHINE_USERS: &[&str] = &["sk-core", "sk-kernel"];

/// What a workspace crate is, for the layering rules and clippy passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `sk-machine`: all hardware `unsafe`.
    Machine,
    /// `sk-core`: kernel objects and dispatch over `sk-machine`.
    Core,
    /// `sk-kernel`: the bootable binary.
    Kernel,
    /// `sk-user` and the `sk-user-*` programs: user space.
    User,
    /// The host build tool.
    Xtask,
    /// Every other `sk-*` crate: `no_std`, no `unsafe`, host-tested.
    Portable,
}

impl Role {
    /// The role of the workspace crate named `name`.
    pub fn of(name: &str) -> Role {
        match name {
            "sk-machine" => Role::Machine,
            "sk-core" => Role::Core,
            "sk-kernel" => Role::Kernel,
            "xtask" => Role::Xtask,
            _ if name == "sk-user" || name.starts_with("sk-user-") => Role::User,
            _ => Role::Portable,
        }
    }

    /// True for crates built only for `x86_64-unknown-none`, whose clippy
    /// pass is on that target.
    fn kernel_target_only(self) -> bool {
        matches!(self, Role::Machine | Role::Core | Role::Kernel)
    }

    fn describe(self) -> &'static str {
        match self {
            Role::Machine => "the machine crate",
            Role::Core => "the core crate",
            Role::Kernel => "the kernel",
            Role::User => "user-space crate",
            Role::Xtask => "host tool",
            Role::Portable => "portable crate",
        }
    }
}

/// The dependency graph among workspace crates: for each crate, the
/// workspace crates it names in `[dependencies]`, `[dev-dependencies]` or
/// `[build-dependencies]` (optional ones included), with the kind.
#[derive(Debug, Default)]
pub struct Graph {
    deps: BTreeMap<String, Vec<(String, &'static str)>>,
    /// Features each crate declares.
    features: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// A graph from `(crate, [(dependency, kind)])` pairs.
    #[cfg(test)]
    fn from_edges(edges: &[(&str, &[(&str, &'static str)])]) -> Graph {
        let mut graph = Graph::default();
        for (name, deps) in edges {
            graph.deps.insert(
                name.to_string(),
                deps.iter().map(|(d, k)| (d.to_string(), *k)).collect(),
            );
        }
        graph
    }

    /// The graph of the workspace described by `cargo metadata
    /// --format-version 1 --no-deps` output.
    pub fn from_metadata(json: &str) -> Result<Graph, String> {
        let metadata: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("cargo metadata: {e}"))?;
        let packages = metadata["packages"]
            .as_array()
            .ok_or("cargo metadata: no packages")?;
        let names: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
        let mut graph = Graph::default();
        for package in packages {
            let name = package["name"]
                .as_str()
                .ok_or("cargo metadata: a package without a name")?;
            let mut deps = Vec::new();
            for dep in package["dependencies"].as_array().into_iter().flatten() {
                let Some(dep_name) = dep["name"].as_str() else {
                    continue;
                };
                // Ours: a path dependency on a workspace member.
                if dep["source"].is_null() && names.contains(dep_name) {
                    let kind = match dep["kind"].as_str() {
                        Some("dev") => "dev",
                        Some("build") => "build",
                        _ => "normal",
                    };
                    deps.push((dep_name.to_string(), kind));
                }
            }
            graph.deps.insert(name.to_string(), deps);
            let features = package["features"]
                .as_object()
                .map(|f| f.keys().cloned().collect())
                .unwrap_or_default();
            graph.features.insert(name.to_string(), features);
        }
        Ok(graph)
    }

    /// Reads the workspace's graph with `cargo metadata`.
    pub fn of_workspace() -> Result<Graph, String> {
        let output = Command::new(build::cargo())
            .current_dir(build::root())
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .map_err(|e| format!("running cargo metadata: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Graph::from_metadata(&String::from_utf8_lossy(&output.stdout))
    }

    /// Names of the workspace crates.
    pub fn crates(&self) -> impl Iterator<Item = &str> {
        self.deps.keys().map(String::as_str)
    }

    /// `--exclude` arguments that leave, of `--workspace`, the crates that
    /// build and test on the host (all but the kernel-target-only ones).
    pub fn host_exclusions(&self) -> Vec<String> {
        self.crates()
            .filter(|name| Role::of(name).kernel_target_only())
            .flat_map(|name| ["--exclude".to_string(), name.to_string()])
            .collect()
    }

    /// True if `krate` declares `feature`.
    pub fn has_feature(&self, krate: &str, feature: &str) -> bool {
        self.features
            .get(krate)
            .is_some_and(|f| f.contains(feature))
    }

    /// The shortest dependency chain from `from` to `to` (both included),
    /// if `from` depends on `to` at all. A crate's dependency on itself
    /// (a dev-dependency with features) is no edge.
    fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(at) = queue.pop_front() {
            for (dep, _) in self.deps.get(at).into_iter().flatten() {
                if dep == from || parent.contains_key(dep.as_str()) {
                    continue;
                }
                parent.insert(dep, at);
                if dep == to {
                    let mut chain = vec![to.to_string()];
                    let mut at = to;
                    while let Some(&p) = parent.get(at) {
                        chain.push(p.to_string());
                        if p == from {
                            break;
                        }
                        at = p;
                    }
                    chain.reverse();
                    return Some(chain);
                }
                queue.push_back(dep);
            }
        }
        None
    }

    /// Every layering violation, one line each, naming the crate.
    pub fn layering_violations(&self) -> Vec<String> {
        let mut violations = Vec::new();
        for name in self.crates() {
            let role = Role::of(name);
            if name == MACHINE {
                for (dep, kind) in &self.deps[name] {
                    if dep != name {
                        violations.push(format!(
                            "{name} depends on {dep} ({kind}): {MACHINE} must depend on no crate of ours"
                        ));
                    }
                }
            } else if !MACHINE_USERS.contains(&name) {
                if let Some(chain) = self.path(name, MACHINE) {
                    violations.push(format!(
                        "{name} ({}) depends on {MACHINE}: {}; only {} may",
                        role.describe(),
                        chain.join(" -> "),
                        MACHINE_USERS.join(" and ")
                    ));
                }
            }
        }
        violations
    }
}

/// Runs `cmd`; prints and returns whether it succeeded.
fn gate(title: &str, notes: &[String], cmd: &mut Command) -> bool {
    println!("xtask check: {title}");
    for note in notes {
        println!("xtask check: note: {note}");
    }
    let ok = match cmd.current_dir(build::root()).status() {
        Ok(status) => status.success(),
        Err(e) => {
            println!("xtask check: running {cmd:?}: {e}");
            false
        }
    };
    if !ok {
        println!("xtask check: {title}: FAILED");
    }
    ok
}

/// Runs every gate; returns the titles of those that failed.
pub fn run() -> Result<Vec<String>, String> {
    let mut failed = Vec::new();
    let graph = Graph::of_workspace()?;

    println!("xtask check: layering (cargo metadata)");
    let violations = graph.layering_violations();
    for v in &violations {
        println!("xtask check: layering violation: {v}");
    }
    if !violations.is_empty() {
        failed.push("layering".to_string());
    }

    let fmt = "format (cargo fmt --all --check)";
    if !gate(
        fmt,
        &[],
        Command::new(build::cargo()).args(["fmt", "--all", "--check"]),
    ) {
        failed.push(fmt.into());
    }

    let host = "clippy, host crates";
    let mut cmd = Command::new(build::cargo());
    cmd.args(["clippy", "--quiet", "--workspace", "--all-targets"])
        .args(graph.host_exclusions());
    cmd.args(["--", "-D", "warnings"]);
    if !gate(host, &[], &mut cmd) {
        failed.push(host.into());
    }

    let target = "clippy, x86_64-unknown-none (kernel, machine, core, user programs)";
    let mut cmd = Command::new(build::cargo());
    cmd.args(["clippy", "--quiet", "--target", crate::setup::TARGET]);
    for name in graph.crates() {
        let role = Role::of(name);
        if role.kernel_target_only() || role == Role::User {
            cmd.args(["-p", name]);
        }
    }
    let mut notes = Vec::new();
    for feature in KERNEL_FEATURES {
        if graph.has_feature("sk-kernel", feature) {
            cmd.args(["--features", &format!("sk-kernel/{feature}")]);
        } else {
            notes.push(format!(
                "sk-kernel has no feature `{feature}` yet; clippy runs without it"
            ));
        }
    }
    cmd.args(["--", "-D", "warnings"]);
    if !gate(target, &notes, &mut cmd) {
        failed.push(target.into());
    }

    // The kernel `run` and `bench` boot: without the test feature (code
    // behind `cfg(feature = "ktest")` must not leave the rest unused).
    let plain = "clippy, x86_64-unknown-none, the kernel without test support";
    if !gate(
        plain,
        &[],
        Command::new(build::cargo()).args([
            "clippy",
            "--quiet",
            "--target",
            crate::setup::TARGET,
            "-p",
            "sk-kernel",
            "-p",
            "sk-core",
            "-p",
            "sk-machine",
            "--",
            "-D",
            "warnings",
        ]),
    ) {
        failed.push(plain.into());
    }

    // The other build of the benchmark program (`cargo xtask bench` boots
    // it in the Linux guest).
    let linux = "clippy, x86_64-unknown-none, sk-user-bench's Linux backend";
    if !gate(
        linux,
        &[],
        Command::new(build::cargo()).args([
            "clippy",
            "--quiet",
            "--target",
            crate::setup::TARGET,
            "-p",
            "sk-user-bench",
            "--no-default-features",
            "--features",
            "linux",
            "--",
            "-D",
            "warnings",
        ]),
    ) {
        failed.push(linux.into());
    }
    Ok(failed)
}

/// `cargo xtask check`.
pub fn command() -> Result<ExitCode, String> {
    crate::setup::ensure_target()?;
    crate::setup::ensure_components()?;
    let failed = run()?;
    if failed.is_empty() {
        println!("xtask check: all gates passed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("xtask check: FAILED: {}", failed.join("; "));
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NORMAL: &str = "normal";

    /// The real shape: kernel over core over machine and the portable crates.
    fn layered() -> Vec<(&'static str, &'static [(&'static str, &'static str)])> {
        vec![
            ("sk-machine", &[]),
            ("sk-abi", &[]),
            ("sk-synth", &[("sk-abi", NORMAL), ("sk-hostexec", "dev")]),
            ("sk-hostexec", &[]),
            ("sk-initrd", &[("sk-initrd", "dev")]),
            (
                "sk-core",
                &[
                    ("sk-machine", NORMAL),
                    ("sk-synth", NORMAL),
                    ("sk-abi", NORMAL),
                ],
            ),
            (
                "sk-kernel",
                &[
                    ("sk-machine", NORMAL),
                    ("sk-core", NORMAL),
                    ("sk-abi", NORMAL),
                ],
            ),
            ("sk-user", &[("sk-abi", NORMAL)]),
            ("sk-user-init", &[("sk-user", NORMAL), ("sk-abi", NORMAL)]),
            ("xtask", &[("sk-initrd", NORMAL)]),
        ]
    }

    #[test]
    fn a_layered_graph_passes() {
        let graph = Graph::from_edges(&layered());
        assert_eq!(graph.layering_violations(), Vec::<String>::new());
    }

    #[test]
    fn violations_are_reported_by_crate_name() {
        let mut edges = layered();
        // A portable crate through another portable crate, a user program
        // directly, the host tool through sk-core, and the machine crate
        // depending on one of ours.
        edges.push(("sk-fs", &[("sk-frames", NORMAL)]));
        edges.push(("sk-frames", &[("sk-machine", "dev")]));
        edges.push(("sk-user-bad", &[("sk-machine", NORMAL)]));
        edges.push(("sk-tool", &[]));
        edges.retain(|(name, _)| *name != "xtask" && *name != "sk-machine");
        edges.push(("xtask", &[("sk-core", "build")]));
        edges.push(("sk-machine", &[("sk-abi", NORMAL)]));
        let graph = Graph::from_edges(&edges);
        let violations = graph.layering_violations();
        let named: Vec<&str> = violations
            .iter()
            .map(|v| v.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            named,
            ["sk-frames", "sk-fs", "sk-machine", "sk-user-bad", "xtask"],
            "{violations:#?}"
        );
        assert!(violations[1].contains("sk-fs -> sk-frames -> sk-machine"));
        assert!(violations[1].contains("portable crate"));
        assert!(violations[2].contains("sk-machine depends on sk-abi (normal)"));
        assert!(violations[4].contains("xtask -> sk-core -> sk-machine"));
    }

    #[test]
    fn metadata_is_read_into_workspace_edges() {
        let json = r#"{"packages": [
            {"name": "sk-fs", "features": {"x": []}, "dependencies": [
                {"name": "sk-abi", "source": null, "kind": null, "path": "/w/crates/abi"},
                {"name": "log", "source": "registry+https://github.com/rust-lang/crates.io-index", "kind": null},
                {"name": "sk-machine", "source": null, "kind": "dev", "path": "/w/crates/machine"}
            ]},
            {"name": "sk-abi", "features": {}, "dependencies": []},
            {"name": "sk-machine", "features": {}, "dependencies": []}
        ]}"#;
        let graph = Graph::from_metadata(json).unwrap();
        assert_eq!(
            graph.deps["sk-fs"],
            [
                ("sk-abi".to_string(), "normal"),
                ("sk-machine".to_string(), "dev")
            ]
        );
        assert!(graph.has_feature("sk-fs", "x"));
        assert!(!graph.has_feature("sk-abi", "x"));
        assert_eq!(graph.layering_violations().len(), 1);
    }

    #[test]
    fn the_workspace_is_layered() {
        let graph = Graph::of_workspace().unwrap();
        assert!(graph.crates().any(|c| c == MACHINE));
        assert_eq!(graph.layering_violations(), Vec::<String>::new());
    }

    #[test]
    fn roles_follow_the_names() {
        assert_eq!(Role::of("sk-user"), Role::User);
        assert_eq!(Role::of("sk-user-init"), Role::User);
        assert_eq!(Role::of("sk-fs"), Role::Portable);
        assert_eq!(Role::of("sk-machine"), Role::Machine);
        assert!(Role::of("sk-kernel").kernel_target_only());
        assert!(!Role::of("sk-user-init").kernel_target_only());
    }
}
