#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

pub mod fp;
mod scpu;

pub use scpu::{Scpu, Transition, UserStart, MAX_SCPUS_PER_SMACH};
