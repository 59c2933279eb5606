//! `sk-mux`: the rules of `user/mux`, the multiplexor of nested SMACHs
//! (issue 15), kept portable so the host tests them and the kernel's mux
//! test checks the report with the same parser that defines it.
//!
//! - [`config`]: one child per line of a plain-text configuration
//!   (`name program budget weight views...`), with a clear error per bad
//!   line.
//! - [`report`]: the tree report's rows (indented by depth, with budget,
//!   mapped frames, weight, CPU time and share of the parent's time) and
//!   the share a weight is owed among its siblings.
#![cfg_attr(not(test), no_std)]

pub mod config;
pub mod report;
