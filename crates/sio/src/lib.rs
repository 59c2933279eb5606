#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate alloc;

mod chunk;
mod devices;
mod error;
mod io;
mod line_prefix;
mod pipe;
mod port;
mod port_grants;
mod position_cell;
mod reconfigure;
mod semaphore;
mod sio;
pub mod testing;
mod user_memory;
mod view;
mod view_index;

pub use chunk::{transfer_in_chunks, Piece, Step, CHUNK_BYTES, TTY_CHUNK_BYTES};
pub use devices::{Devices, DEV_MEM_BYTES};
pub use error::fs_error;
pub use io::{PartialWrite, ReadOutcome};
pub use line_prefix::{
    input_bytes_per_piece, splice, LinePrefix, MAX_CHAIN_PREFIX_BYTES, PREFIX_BYTES,
};
pub use pipe::{
    new_pipe, PipeEnd, PipeStep, PipeWaiters, PIPE_ATOMIC_BYTES, PIPE_CAPACITY, PIPE_PATH,
};
pub use port::{
    new_port, PortEnd, PortQueue, PortStep, PORT_CAPACITY, PORT_MESSAGE_BYTES, PORT_PATH,
};
pub use port_grants::{Grant, PortGrants, GRANTS_PER_PORT};
pub use position_cell::{CellPool, PositionCell, POSITION_CELLS};
pub use reconfigure::Reconfigured;
pub use semaphore::{POutcome, Semaphore, SemaphoreWord};
pub use sio::{is_private_object_path, Sio, Target, SEMAPHORE_PATH};
pub use sk_queue::{ByteRingLayout, RingCells, Wake};
pub use user_memory::UserMemory;
pub use view::{View, ViewParent};
pub use view_index::{IndexedView, ViewIndex};
