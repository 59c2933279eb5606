#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate alloc;

mod group_ring;
mod quantum;
mod ready_queue;
mod ring;
mod shares;
mod sleep_queue;
mod vec_map;

pub use group_ring::{
    plan_closures, segment_end, segments_into, tail_anchor, turn_end_moves, GroupTurn, Tagged,
    TickVerdict,
};
pub use quantum::{
    clamp_quantum_us, quantum_ticks, DEFAULT_PRIORITY, DEFAULT_QUANTUM_US, MAX_PRIORITY,
    MAX_QUANTUM_US, MIN_QUANTUM_US,
};
pub use ready_queue::{QueueFull, ReadyQueue};
pub use ring::{Patch, Patches, Ring, RingError, MAX_PATCHES};
pub use shares::{ShareError, ShareTree, SubPolicy, LAG, MAX_WEIGHT, SCALE};
pub use sleep_queue::{deadline_after, SleepQueue};
pub use vec_map::VecMap;
