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
        match self {
            // QEMU 7.2 aborts on plain `-cpu host` here.
            Accel::Kvm => ["-accel", "kvm", "-cpu", "host,-arch-capabilities"].map(String::from).to_vec(),
            Accel::Tcg => ["-accel", "tcg", "-cpu", "max", "-icount", "shift=0,sleep=off"].map(String::from).to_vec(),
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
const PROBE_TIMEOUT_SECS: u64 = 20;

/// Picks the accelerator and prints which one and why.
pub fn choose(requested: Option<Accel>, kernel: &Path) -> Accel {
    if let Some(a) = requested {
        println!("xtask: accelerator {} (requested with --accel)", a.name());
        return a;
    }
    let kvm_usable = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok();
    if !kvm_usable {
        println!("xtask: accelerator tcg (no usable /dev/kvm); -icount shift=0: TSC ticks are guest instructions");
        return Accel::Tcg;
    }
    let probe = crate::qemu::Boot::new(kernel, Accel::Kvm, "probe log=warn").timeout_secs(PROBE_TIMEOUT_SECS).run();
    match probe {
        Ok(o) if o.status.is_success() && o.output.contains("probe: ring-3 syscall round trip ok") => {
            println!("xtask: accelerator kvm (probe: ring-3 syscall round trip works under KVM)");
            Accel::Kvm
        }
        Ok(o) => {
            println!(
                "xtask: accelerator tcg (KVM probe failed: {}; /dev/kvm cannot run this kernel's ring-3 syscall); \
                 -icount shift=0: TSC ticks are guest instructions",
                o.status.describe()
            );
            Accel::Tcg
        }
        Err(e) => {
            println!("xtask: accelerator tcg (KVM probe could not start: {e})");
            Accel::Tcg
        }
    }
}
