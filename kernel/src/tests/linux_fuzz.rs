//! The Linux call fuzzer, `/bin/linfuzz` (user/linux/linfuzz.c, static
//! glibc): bad pointers and odd values to every Linux call number, half of
//! them aimed at a live file (issue 12, acceptance check 4). The program
//! must live (a bad pointer is `EFAULT`, never a signal), every result
//! must be a value or a `-errno`, and the kernel's memory must be where it
//! was afterwards.

use super::leaks::{clean_tmp, Baseline};
use alloc::format;
use alloc::string::String;
use sk_ktest::{ensure_eq, ktest};

/// Calls per run.
const CALLS: &str = "20000";

/// Runs `/bin/linfuzz SEED CALLS`; its exit status.
fn linfuzz(seed: &str) -> Result<i32, String> {
    let id = sk_core::spawn_linux_program("/bin/linfuzz", &["/bin/linfuzz", seed, CALLS])
        .map_err(|e| format!("spawn /bin/linfuzz: {e}"))?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
    sk_core::release_program(id);
    status
}

ktest!(
    fn linux_fuzzer_bad_pointers_to_every_call_leave_no_trace_either_scheduler() {
        // The warm-up grows the kernel's containers to their working size
        // (leaks.rs); the measured runs use other seeds.
        clean_tmp()?;
        ensure_eq!(linfuzz("1")?, 0);
        clean_tmp()?;
        let baseline = Baseline::take();
        for seed in ["2", "3", "4"] {
            ensure_eq!(linfuzz(seed)?, 0);
        }
        clean_tmp()?;
        baseline.check("linfuzz")?;
        Ok(())
    }
);
