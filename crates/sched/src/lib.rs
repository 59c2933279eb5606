#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// Ids and priorities arrive from syscalls (`set_priority`): no panics, no
// silent overflow (STYLE.md §4, `no-panic-on-user-input`; §9 lint table).
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate alloc;

mod error;
mod priority;
mod quantum;
mod run_queue;

pub use error::SchedError;
pub use priority::Priority;
pub use quantum::{Quantum, DEFAULT_QUANTUM_TICKS};
pub use run_queue::RunQueue;
