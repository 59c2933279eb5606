#![doc = include_str!("../README.md")]
//!
//! Unsafe policy: this crate holds `unsafe` (dev-only; STYLE §3). Each block
//! carries a `// SAFETY:` argument; the public API is safe because generated
//! code only ever runs in a forked child (see [`Sandbox::call`]).

mod error;
mod fault_handler;
mod mapping;
mod sandbox;
mod trampoline;

pub use error::ExecError;
pub use fault_handler::Fixup;
pub use sandbox::{Outcome, Registers, Sandbox};

#[cfg(test)]
mod tests;
