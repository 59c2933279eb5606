#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// User-derived offsets, lengths and paths reach every module: no panics, no
// silent overflow (STYLE.md §4, `no-panic-on-user-input`; §9 lint table).
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate alloc;

mod confine;
mod data_store;
mod directory;
mod error;
mod event;
mod file_data;
mod fs;
mod inode;
mod limits;
mod node_table;
mod open_node;
mod path;

pub use confine::confine;
pub use data_store::{DataAllocator, DataStore};
pub use directory::DirEntry;
pub use error::FsError;
pub use event::{EventKind, FsEvent};
pub use file_data::{DataLayout, GROWTH_STEP_BYTES, MIN_GROWTH_CAPACITY_BYTES};
pub use fs::{frames_of, CreateMode, Cut, FileSystem, RefusedGrowth, Room, FRAME_BYTES, NO_PAYER};
pub use inode::{NodeKind, Stat};
pub use limits::Limits;
pub use node_table::NodeId;
pub use open_node::OpenNode;
pub use path::{entry_path, Path, MAX_NAME_BYTES, MAX_PATH_BYTES};
