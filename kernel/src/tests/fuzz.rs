//! The system-call fuzzer, `/bin/sysfuzz` (user/sysfuzz): a million calls
//! over several SCPUs and SMACHs (typed calls on live objects, every SIO
//! operation twinned on the generic path, every register checked, victims
//! killed mid-call, hostile entries, memory filled until `NoMemory`), then
//! the kernel's memory exactly where it was.

use super::leaks::{clean_tmp, Baseline};
use super::programs::run;
use sk_ktest::{ensure_eq, ktest};

/// Calls of the measured run, over all its SCPUs and SMACHs.
const CALLS: u64 = 1_000_000;

/// Calls of the warm-up run: the same workload (same seed, same phases,
/// the same SCPUs, SMACHs, file names and caps on objects), a quarter as
/// long. It grows the kernel's containers to their working size (see
/// leaks.rs). Containers sized by a high-water mark that the measured run
/// may pass (the file system's node slab, the code arena's page index)
/// have their growth counted as kept by the check; should another one grow
/// past the warm-up's size (more threads or open files at once), the check
/// reports heap bytes in use and names it if it is a `heap_holders` entry:
/// count it likewise, or raise this number.
const WARM_UP_CALLS: u64 = 250_000;

/// The seed of both runs.
const SEED: u64 = 1;

/// The start argument of a `sysfuzz` run: `calls` in all, `seed`, the main
/// mode (see `sk_user_sysfuzz::plan`).
const fn sysfuzz_arg(calls: u64, seed: u64) -> u64 {
    (calls << 32) | seed
}

ktest!(
    fn sysfuzz_a_million_calls_leaves_no_trace() {
        // sysfuzz exits 0 only if every check passed (results, registers,
        // the twins' agreement, contents, hostile children's statuses), at
        // least 80% of its calls were on live objects, every applicable
        // call x kind had a success and all planned calls were made.
        clean_tmp()?;
        ensure_eq!(run("/bin/sysfuzz", sysfuzz_arg(WARM_UP_CALLS, SEED))?, 0);
        clean_tmp()?;
        let baseline = Baseline::take();
        ensure_eq!(run("/bin/sysfuzz", sysfuzz_arg(CALLS, SEED))?, 0);
        clean_tmp()?;
        baseline.check("sysfuzz")?;
        Ok(())
    }
);
