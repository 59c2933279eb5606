#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate alloc;

pub mod budget;
mod handle_table;
mod id_map;
mod load;
mod object;
pub mod orphans;
mod smach;

pub use handle_table::{HandleTable, MAX_HANDLES};
pub use id_map::IdMap;
pub use load::{load_linux_image, load_program, map_stack, USER_STACK_BYTES, USER_STACK_TOP};
pub use object::{Object, SharedSio};
pub use smach::{
    capped_priority, may_nest_below, Smach, SmachAction, Teardown, MAX_CHILDREN, MAX_DEPTH,
    MAX_SMACHS,
};
