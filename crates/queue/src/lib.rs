#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod byte_ring;
pub mod error;
pub mod message_queue;
pub mod outcome;
pub mod ring_layout;
pub mod ring_reader;
pub mod ring_writer;
pub mod shared_writer;
mod sync;
pub mod wait_word;

pub use byte_ring::{pipe, ByteRing};
pub use error::ConfigError;
pub use message_queue::{MessageQueue, MessageQueueLayout, QueueCells};
pub use outcome::{ReadOutcome, ReceiveOutcome, SendOutcome, WaitMode, Wake, WriteOutcome};
pub use ring_layout::{ByteRingLayout, RingCells, RingConfig, MAX_CAPACITY};
pub use ring_reader::ByteRingReader;
pub use ring_writer::ByteRingWriter;
pub use shared_writer::{shared_pipe, SharedByteRingWriter};
pub use wait_word::WaitWord;
