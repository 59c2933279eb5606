//! The pure parts of `sysfuzz`, the stateful, typed system-call fuzzer:
//! its random numbers, start argument, counts and verdict, the register
//! rules every call is held to, the model that predicts every SIO result,
//! and the hostile entries it runs. No system calls here, so all of it is
//! tested on the host (`cargo test -p sk-user-sysfuzz`); the program
//! (`main.rs` and its modules) makes the calls.
//!
//! # What the fuzzer does
//!
//! Each fuzzer (one per SCPU) knows every object it made: the handle, the
//! kind, and what the object must answer (an SIO's position and its
//! file's contents, an SMEM's placement and protection, an SCPU's state, a
//! child's exit status). It draws operations on those objects, so most
//! calls ([`stats`]: over 80%) are on live objects, and checks every
//! result against the [`model`]; every SIO read, write and seek is made
//! twice, once by the normal (synthesized) path on one handle and once
//! with `CallWord::FORCE_GENERIC` on a twin handle, and the two must agree
//! in result, bytes, position and file contents. Every call's registers
//! are checked ([`regs`]). Runs go through phases: alone, then with worker
//! SCPUs sharing the SMACH's handles, child SMACHs (fuzzers, victims killed
//! mid-call, [`entries`]) beside it, then under memory pressure.
//!
//! Every divergence from the model or between the twins is a failed
//! check. Where other SCPUs of the SMACH may change what the model
//! predicts (an SCPU's priority, set by any fuzzer's `reconfigure` of the
//! whole SMACH), [`priority`] says when the model must still be exact.
#![no_std]
#![forbid(unsafe_code)]

pub mod entries;
pub mod model;
pub mod plan;
pub mod priority;
pub mod regs;
pub mod rng;
pub mod stats;

#[cfg(test)]
mod tests;
