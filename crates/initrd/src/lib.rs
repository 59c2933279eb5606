#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// The archive comes from the boot loader, i.e. from outside the kernel: no
// panics, no silent overflow on its contents (STYLE.md §4,
// `no-panic-on-user-input`; §9 lint table).
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[cfg(feature = "writer")]
extern crate alloc;

mod archive;
mod entry;
mod error;
mod header;
#[cfg(feature = "writer")]
mod writer;

pub use archive::{Archive, Entries};
pub use entry::{Entry, EntryKind};
pub use error::InitrdError;
pub use header::{HEADER_LEN, MAGIC, TRAILER_NAME};
#[cfg(feature = "writer")]
pub use writer::Writer;
