//! Where a traced call's kernel instructions were: the address of every
//! instruction the single-step counter ([`crate::trace`]) counted.
//!
//! Owns the recording (boot option `trace.rips`, off by default): the
//! `#DB` handler stores each counted step's `rip` ([`record`], atomics
//! only: it may interrupt any kernel code); when the program reads its
//! count (`query(LastTrace)`), [`print`] writes them to the console as one
//! line, `trace-rips <count> <hex address>,...`, which `cargo xtask profile`
//! turns into instructions per kernel function with the kernel's symbols.
//! The addresses are kernel addresses: the option is for measurement
//! boots, never for a system that runs untrusted programs.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Steps recorded per call; a longer call's first [`SLOTS`] are kept.
pub(crate) const SLOTS: usize = 8192;

static ON: AtomicBool = AtomicBool::new(false);
/// Set while [`print`] reads the addresses: a traced `query(LastTrace)`
/// must not overwrite them meanwhile.
static PRINTING: AtomicBool = AtomicBool::new(false);
/// The count already printed ([`print`] prints each count once).
static PRINTED: AtomicU64 = AtomicU64::new(0);
/// Counts finished since boot; `PRINTED` names one of them.
static FINISHED: AtomicU64 = AtomicU64::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
static RIPS: [AtomicU64; SLOTS] = [ZERO; SLOTS];

/// Turns recording on or off (boot option `trace.rips`).
pub(crate) fn enable(on: bool) {
    ON.store(on, Ordering::SeqCst);
}

/// Records step `index` (0-based) of the count in progress at `rip`.
pub(crate) fn record(index: u64, rip: u64) {
    if !ON.load(Ordering::Relaxed) || PRINTING.load(Ordering::Relaxed) {
        return;
    }
    if let Some(slot) = usize::try_from(index).ok().and_then(|i| RIPS.get(i)) {
        slot.store(rip, Ordering::Relaxed);
    }
}

/// A count ended (its steps are the addresses recorded since it began).
pub(crate) fn finished() {
    FINISHED.fetch_add(1, Ordering::SeqCst);
}

/// Prints the addresses of the last count's `count` steps, if recording
/// and not printed yet. It runs under the kernel lock with interrupts
/// masked (a measurement boot's price: up to 8,192 addresses over the
/// polled UART).
pub(crate) fn print(count: u64) {
    if !ON.load(Ordering::Relaxed) || count == 0 {
        return;
    }
    let this = FINISHED.load(Ordering::SeqCst);
    if PRINTED.swap(this, Ordering::SeqCst) == this {
        return;
    }
    PRINTING.store(true, Ordering::SeqCst);
    let kept = usize::try_from(count).unwrap_or(SLOTS).min(SLOTS);
    sk_machine::print!("trace-rips {count} ");
    for (index, slot) in RIPS.iter().take(kept).enumerate() {
        let separator = if index == 0 { "" } else { "," };
        sk_machine::print!("{separator}{:x}", slot.load(Ordering::Relaxed));
    }
    sk_machine::println!();
    PRINTING.store(false, Ordering::SeqCst);
}
