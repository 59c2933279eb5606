//! `bench`: the benchmark suite of `cargo xtask bench`, one program for two
//! systems.
//!
//! The suite ([`suite`]) runs over a small OS layer, `os`, with two
//! backends chosen at build time: the native Synthesis ABI through
//! `sk-user` (default feature `native`; packed into the initrd as
//! `/bin/bench`) and raw Linux x86-64 system calls (feature `linux`, built
//! with `--no-default-features`; a static `/init` for a Linux guest). The
//! metrics, their sizes and the timing code are the same source for both.
//!
//! Every metric is timed with the fenced TSC (`lfence; rdtsc`) around a
//! loop of `iterations` operations, repeated `reps` times; it prints one
//! line
//!
//! ```text
//! bench: <name> ticks_per_op=<median> min=<min> max=<max> iterations=<n> reps=<r>
//! ```
//!
//! (ticks per operation with two decimals), and on Synthesis, for the
//! call-based metrics, the kernel's single-step count of one call:
//!
//! ```text
//! bench: <name> kernel_instructions=<n>        (or =n/a if the kernel has no counter)
//! ```
//!
//! A metric a system cannot measure prints `bench: <name> n/a`; one that
//! fails prints `bench: <name> error: <why>`. The run starts with
//! `bench: start system=<synthesis|linux> smoke=<0|1>` and
//! `bench: system …`, and ends with `bench: done failures=<n>`. Exit status
//! 0 if no metric failed.
//!
//! Smoke mode (start argument 1 on Synthesis; `bench.smoke` on the Linux
//! kernel command line) uses few iterations and repetitions: it checks that
//! everything runs, not what it costs.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[cfg(not(any(feature = "native", feature = "linux")))]
compile_error!("enable a backend: feature `native` (default) or `linux`");

mod console;
mod fixture;
mod measure;
mod paths;
mod suite;
#[allow(
    unsafe_code,
    reason = "the TSC and the calibration loop in `asm!`; SAFETY per block"
)]
mod tsc;
mod tty_line;
#[allow(unsafe_code, reason = "one SSE instruction in `asm!`; SAFETY inside")]
mod vector;

/// The OS layer: the Linux backend when feature `linux` is on (it takes
/// precedence), else the native one.
#[cfg(feature = "linux")]
#[path = "linux/mod.rs"]
mod os;
#[cfg(all(feature = "native", not(feature = "linux")))]
#[path = "native/mod.rs"]
mod os;

/// One kernel call whose kernel instructions the native backend can count.
#[cfg_attr(feature = "linux", allow(dead_code, reason = "Linux has no counter"))]
pub(crate) enum TracedCall<'a> {
    /// The null call.
    Null,
    /// A read into the buffer.
    Read(&'a os::File, &'a mut [u8]),
    /// A write from the buffer.
    Write(&'a os::File, &'a [u8]),
    /// An open of the path, then the close of what it opened (the count is
    /// the sum of the two calls).
    OpenClose(paths::Path, os::Access),
}

/// Runs the suite; returns the exit status.
pub(crate) fn run() -> i32 {
    suite::run(os::is_smoke())
}
