#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// Every byte comes from outside (the serial line) and read sizes from user
// space: no panics, no silent overflow (STYLE.md §4,
// `no-panic-on-user-input`; §9 lint table).
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod control;
mod input_queue;
mod line_discipline;
mod line_editor;
mod mode;
mod read_result;

pub use control::{
    BACKSPACE, BELL, CARRIAGE_RETURN, DELETE, END_OF_FILE, ERASE_WORD, KILL_LINE, LINE_FEED,
};
pub use input_queue::READ_QUEUE_CAPACITY;
pub use line_discipline::LineDiscipline;
pub use line_editor::MAX_LINE_BYTES;
pub use mode::Mode;
pub use read_result::ReadResult;
