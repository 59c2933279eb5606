//! `synthtest`: the kernel's synthesized routines against its generic
//! path, which is their specification.
//!
//! Start argument (see [`Plan::from_arg`]): bits 0–6 select the part —
//! 0 everything (1 and 2), 1 the differential test of every kind, 2 the
//! invalidation cases, 3–7 the differential test of one kind (`/dev/null`,
//! `/dev/zero`, `/dev/mem`, RAM file, `/dev/tty`), 8 the tty output
//! differential ([`tty_output`]: the serial port's bytes, checked by the
//! host); bit 7 (0x80) compares
//! file contents after every operation instead of every 10,000 (slow: to
//! find the first operation after which the files differ); bits 8–31 the
//! seed (0: the default); bits 32–63 the operations per kind (0: 100,000).
//!
//! - Differential ([`diff`]): per kind, random operations on two SIOs, A
//!   by normal calls, B with `FORCE_GENERIC` on every call; every result
//!   must be identical (see the library docs for the operations).
//! - Invalidation ([`invalidate`]): one case per event that replugs A's
//!   routines — growth past capacity, truncation by another open, use by
//!   a second SCPU, a seek past the end, tty mode changes, close and
//!   handle reuse — checking the Routines text before and after and the
//!   next calls against the generic path.
//!
//! Output, one line per case, then a total:
//!
//! ```text
//! synthtest: part All, seed 0x5717e5, 100000 ops per kind
//! synthtest: differential /dev/null: 100000 ops, A's write synthesized <t> at open ... ok
//! synthtest: invalidate: growth past capacity ... FAILED: <detail>
//! synthtest: <P> passed, <F> failed
//! ```
//!
//! A failed differential names the operation's index, the operation and
//! both results. The tty parts write a few dots (and a newline) to the
//! console. Exit status F (1 for an unknown part).
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "raw reads into bad buffers (the arena, unmapped and kernel addresses); SAFETY comments per block"
)]
#![allow(
    clippy::result_large_err,
    reason = "a failure detail is a fixed 320-byte buffer (no heap); failures are rare"
)]

mod support;

mod diff;
mod invalidate;
mod share;
mod tty_output;

use sk_user::{println, start_arg};
use sk_user_synthtest::{DiffKind, Part, Plan};
use support::{Arena, Msg, Outcome};

sk_user::entry!(main);

/// A named check.
type Case = (&'static str, fn() -> Outcome);

/// The invalidation cases, in order.
const INVALIDATION: &[Case] = &[
    (
        "invalidate: growth past capacity",
        invalidate::growth_past_capacity,
    ),
    (
        "invalidate: truncate by another open",
        invalidate::truncate_by_another_open,
    ),
    (
        "invalidate: share with a second SCPU",
        invalidate::share_with_a_second_scpu,
    ),
    ("invalidate: seek beyond EOF", invalidate::seek_beyond_eof),
    (
        "invalidate: tty raw -> cooked -> raw",
        invalidate::tty_mode_change,
    ),
    (
        "invalidate: close, handle reused by /dev/mem",
        invalidate::close_then_reuse,
    ),
    (
        "invalidate: closed handle on both paths",
        invalidate::closed_handle_is_bad_on_both_paths,
    ),
];

fn main() -> i32 {
    let arg = start_arg();
    let Some(plan) = Plan::from_arg(arg) else {
        println!(
            "synthtest: unknown part {} (start argument {arg:#x}); parts are 0-8",
            arg & 0x7f
        );
        println!("synthtest: 0 passed, 1 failed");
        return 1;
    };
    println!(
        "synthtest: part {:?}, seed {:#x}, {} ops per kind, contents checked every {}",
        plan.part, plan.seed, plan.ops, plan.check_every
    );
    let mut tally = Tally::default();
    let runs_differential = DiffKind::ALL
        .iter()
        .any(|&kind| plan.runs_differential(kind));
    if runs_differential {
        let mut arena = Arena::map();
        for kind in DiffKind::ALL {
            if !plan.runs_differential(kind) {
                continue;
            }
            let name = kind.name();
            let outcome = match &mut arena {
                Ok(arena) => diff::run(kind, &plan, arena),
                Err(error) => Err(Msg::new(format_args!("cannot map the arena: {error:?}"))),
            };
            match outcome {
                Ok(summary) => tally.report(format_args!("differential {name}: {summary}"), Ok(())),
                Err(detail) => tally.report(
                    format_args!("differential {name}, {} ops", plan.ops),
                    Err(detail),
                ),
            }
        }
        if let Ok(arena) = arena {
            let _ = arena.free();
        }
    }
    if plan.part == Part::TtyOutput {
        tally.report(
            format_args!("tty output, {} ops per path", plan.ops),
            tty_output::run(&plan),
        );
    }
    if plan.runs_invalidation() {
        for &(name, case) in INVALIDATION {
            tally.report(format_args!("{name}"), case());
        }
    }
    println!(
        "synthtest: {} passed, {} failed",
        tally.passed, tally.failed
    );
    tally.failed
}

/// Cases passed and failed.
#[derive(Default)]
struct Tally {
    passed: i32,
    failed: i32,
}

impl Tally {
    /// Prints the case's line and counts it.
    fn report(&mut self, name: core::fmt::Arguments<'_>, outcome: Outcome) {
        match outcome {
            Ok(()) => {
                println!("synthtest: {name} ... ok");
                self.passed += 1;
            }
            Err(detail) => {
                println!("synthtest: {name} ... FAILED: {detail}");
                self.failed += 1;
            }
        }
    }
}
