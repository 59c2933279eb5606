//! File growth with interrupts masked: a write that grows a RAM file maps
//! and zeroes its new pages in bounded steps, with preemption points
//! between them, and never copies the file (`/bin/cpuhog` modes 4, 5 and 6;
//! docs/caveats.md, "Work with interrupts masked is bounded").
//!
//! The programs check in guest time (TSC ticks, instructions under TCG's
//! `-icount`), never wall-clock time: the counting SCPU must never be kept
//! off the CPU for two timer periods (20 ms) or more.
//!
//! Seen failing on the kernel before the fix (a35dff6, same programs and
//! tests), where growth zeroed a whole new buffer and copied the file in
//! one stretch:
//!
//! - `a_far_write_lets_other_scpus_run`: the 1-byte write at 512 MiB kept
//!   the counting SCPU off the CPU for 122 ms at once (122,280,268 ticks;
//!   the writer held the CPU 132 M ticks in 2 stretches). Now: at most
//!   10.0 ms (one quantum) at once, 210 M ticks in 21 stretches (the extra
//!   is one replan of the file's routines per 1 MiB step);
//! - `growth_under_memory_pressure_lets_other_scpus_run`: growing to
//!   256 MiB kept it off for 93 ms at once (the last doubling), and each of
//!   the 16 writes past the end with memory nearly full copied the whole
//!   file: 29.3 G ticks for the 16, up to 1.79 s at once. Now: 10.4 ms and
//!   10.0 ms at most; the 16 writes take 1.46 M ticks.
//! - `opening_a_large_file_with_truncate_lets_other_scpus_run` (mode 6):
//!   before the cut in steps, the open of a 256 MiB file with `TRUNCATE`
//!   kept the counting SCPU off the CPU for 33.7 ms at once (the whole
//!   file zeroed in one stretch). Now: 10.1 ms at most.

use super::leaks::{clean_tmp, Baseline};
use super::regressions::{cpuhog, kernel_carries_on};
use sk_ktest::{ensure, ensure_eq, ktest};

/// `cpuhog` modes (see user/cpuhog).
mod mode {
    pub const FAR_WRITE: u64 = 4;
    pub const PRESSURE_GROWTH: u64 = 5;
    pub const TRUNCATING_OPEN: u64 = 6;
}

ktest!(
    fn a_far_write_lets_other_scpus_run() {
        // The first run is the warm-up (the data region's page tables and
        // the kernel's containers grow to their working size); once the
        // file is removed, the second must give back every frame.
        clean_tmp()?;
        ensure_eq!(cpuhog(mode::FAR_WRITE)?, 0);
        clean_tmp()?;
        let baseline = Baseline::take();
        ensure_eq!(cpuhog(mode::FAR_WRITE)?, 0);
        clean_tmp()?;
        baseline.check("a far write")?;
        kernel_carries_on()
    }
);

ktest!(
    fn growth_under_memory_pressure_lets_other_scpus_run() {
        clean_tmp()?;
        let pages = sk_machine::data_memory::mapped_pages();
        let status = cpuhog(mode::PRESSURE_GROWTH);
        clean_tmp()?;
        ensure_eq!(status?, 0);
        let left = sk_machine::data_memory::mapped_pages();
        ensure!(
            left == pages,
            "file data pages {pages} -> {left} once the file was removed"
        );
        kernel_carries_on()
    }
);

ktest!(
    fn opening_a_large_file_with_truncate_lets_other_scpus_run() {
        clean_tmp()?;
        let status = cpuhog(mode::TRUNCATING_OPEN);
        clean_tmp()?;
        ensure_eq!(status?, 0);
        kernel_carries_on()
    }
);
