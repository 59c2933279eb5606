//! Choosing the accelerator: KVM only where a probe boot shows the kernel
//! really works under it (a ring-3 `syscall` round trip), else TCG.
//!
//! Under TCG the guest runs with `-icount shift=0,sleep=off`: the TSC then
//! counts guest instructions exactly, which makes every measurement an
//! instruction count, repeatable run to run (PLATFORM.md).

use std::path::Path;

/// A QEMU accelerator configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualization: real cycles.
    Kvm,
    /// Software emulation with instruction counting.
    Tcg,
}

/// How guest time runs under TCG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// `sleep=off`: an idle guest's clock jumps to its next timer, so the
    /// TSC counts guest instructions only (measurements, tests).
    Instructions,
    /// `sleep=on`: an idle guest waits in host time, so `sleep 100` in a
    /// shell lasts 100 s and a person (or a script) can interrupt it.
    WallWhenIdle,
}

impl Accel {
    /// Parses `kvm` or `tcg`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kvm" => Some(Accel::Kvm),
            "tcg" => Some(Accel::Tcg),
            _ => None,
        }
    }

    /// QEMU arguments for this accelerator.
    pub fn qemu_args(self) -> Vec<String> {
        self.qemu_args_for(Clock::Instructions)
    }

    /// QEMU arguments for this accelerator with guest time kept by `clock`
    /// (KVM's guest time is always the host's).
    pub fn qemu_args_for(self, clock: Clock) -> Vec<String> {
        let icount = match clock {
            Clock::Instructions => "shift=0,sleep=off",
            Clock::WallWhenIdle => "shift=0,sleep=on",
        };
        match self {
            // QEMU 7.2 aborts on plain `-cpu host` here.
            Accel::Kvm => ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
                .map(String::from)
                .to_vec(),
            Accel::Tcg => ["-accel", "tcg", "-cpu", "max", "-icount", icount]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// How long the probe boot may take.
const PROBE_TIMEOUT_SECS: u64 = 30;

/// Picks the accelerator and prints which one and why.
pub fn choose(requested: Option<Accel>, kernel: &Path) -> Accel {
    if let Some(a) = requested {
        println!("xtask: accelerator {} (requested with --accel)", a.name());
        return a;
    }
    let kvm_usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let (accel, reason) = if kvm_usable {
        probe_cached(kernel)
    } else {
        (Accel::Tcg, "no usable /dev/kvm".to_string())
    };
    match accel {
        Accel::Kvm => println!("xtask: accelerator kvm ({reason})"),
        Accel::Tcg => println!(
            "xtask: accelerator tcg ({reason}); -icount shift=0,sleep=off: TSC ticks are guest instructions"
        ),
    }
    accel
}

/// The probe's verdict, cached per kernel build (the probe boot is slow
/// under a paravirtual KVM: every port access exits to the hypervisor).
fn probe_cached(kernel: &Path) -> (Accel, String) {
    let stamp = std::fs::metadata(kernel)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().to_string())
        .unwrap_or_default();
    let cache = kernel.with_file_name("accel-probe.txt");
    if let Ok(text) = std::fs::read_to_string(&cache) {
        let mut parts = text.splitn(3, ' ');
        if let (Some(s), Some(a), Some(reason)) = (parts.next(), parts.next(), parts.next()) {
            if s == stamp {
                if let Some(accel) = Accel::parse(a) {
                    return (accel, format!("{} [cached probe]", reason.trim()));
                }
            }
        }
    }
    let (accel, reason) = probe(kernel);
    let _ = std::fs::write(&cache, format!("{stamp} {} {reason}\n", accel.name()));
    (accel, reason)
}

fn probe(kernel: &Path) -> (Accel, String) {
    let boot = crate::qemu::Boot::new(kernel, Accel::Kvm, "probe log=warn")
        .timeout_secs(PROBE_TIMEOUT_SECS)
        .run();
    match boot {
        Ok(o)
            if o.status.is_success()
                && o.output.contains("probe: ring-3 syscall round trip ok") =>
        {
            (
                Accel::Kvm,
                "probe: a ring-3 syscall round trip works under KVM".into(),
            )
        }
        Ok(o) => {
            let said = o
                .output
                .lines()
                .find(|l| l.starts_with("probe: FAILED"))
                .map(str::trim)
                .unwrap_or("");
            (
                Accel::Tcg,
                format!(
                    "KVM probe failed: {}{}{}",
                    o.status.describe(),
                    if said.is_empty() { "" } else { "; " },
                    said
                ),
            )
        }
        Err(e) => (Accel::Tcg, format!("KVM probe could not start: {e}")),
    }
}
