#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate alloc;

mod address_space;
mod regions;
mod smem;
pub mod testing;

pub use address_space::{Access, AddressSpace, MapFailure};
pub use regions::{Regions, SMEM_AREA_START, USER_MAP_END};
pub use smem::{Smem, MAX_REGION_BYTES};
