#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// Scores come from files a user wrote: no panics, no silent overflow.
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate alloc;

pub mod envelope;
pub mod mixer;
pub mod pitch;
pub mod score;
pub mod tunes;
pub mod voice;

pub use envelope::Envelope;
pub use mixer::mix;
pub use pitch::{frequency_millihertz, Note};
pub use score::{NoteEvent, Score, ScoreError, VOICES};
pub use voice::Voice;
