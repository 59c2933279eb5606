#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// Program files come from the initrd and, later, from user space: no
// panics, no silent overflow on their contents (STYLE.md §4,
// `no-panic-on-user-input`; §9 lint table).
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod error;
mod headers;
mod limits;
mod page_range;
mod program_image;
mod segment;

pub use error::ElfError;
pub use limits::{
    MAX_IMAGE_BYTES, MAX_PROGRAM_HEADERS, MAX_SEGMENTS, NULL_GUARD_END, PAGE_SIZE, USER_END,
};
pub use page_range::PageRange;
pub use program_image::{LinuxLoad, Pages, ProgramImage};
pub use segment::Segment;
