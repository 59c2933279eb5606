#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! One concept per file: [`call`], [`call_word`], [`handle`], [`kind`],
//! [`error`], [`args`], [`info`], [`state`], [`selector`], [`reconfigure`],
//! [`flags`], [`exit_status`], [`user_range`], [`port`]. Everything is re-exported at
//! the crate root.
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[macro_use]
mod macros;
mod wire;

pub mod args;
pub mod call;
pub mod call_word;
pub mod dev_mem;
pub mod error;
pub mod exit_status;
pub mod flags;
pub mod handle;
pub mod info;
pub mod kind;
pub mod port;
pub mod reconfigure;
pub mod selector;
pub mod state;
pub mod user_range;

pub use args::{
    ScpuCreate, ScpuCreateArgs, SioCreate, SioCreateArgs, SmachCreate, SmachCreateArgs, SmemCreate,
    SmemCreateArgs, DEFAULT_PRIORITY, MAX_PRIORITY, PATH_MAX, STACK_ALIGN,
};
pub use call::Call;
pub use call_word::CallWord;
pub use dev_mem::{dev_mem_byte, DEV_MEM_BYTES};
pub use error::SysError;
pub use exit_status::ExitStatus;
pub use flags::{OpenFlags, Prot, SmachCreateFlags, SmemCreateFlags, TtyMode};
pub use handle::{Handle, PipeHandles, AUDIO_PATH, AUDIO_RATE_HZ, PIPE_PATH};
pub use info::{ScpuInfo, SioInfo, SmachInfo, SmachTreeEntry, SmemInfo};
pub use kind::Kind;
pub use port::{PortHandleMessage, PortHandles, PORT_HANDLE_TAG, PORT_MESSAGE_BYTES, PORT_PATH};
pub use reconfigure::{
    ScpuReconfigure, SioReconfigure, SmachReconfigure, SmemReconfigure, MAX_NAME_LEN,
    MAX_PREFIX_LEN, MAX_SLEEP_NS, MAX_VIEW_DEPTH, MAX_WEIGHT,
};
pub use selector::{
    QuerySelector, ScpuSelector, SioSelector, SmachSelector, SmemSelector, SubPolicy, Whence,
};
pub use state::{ScpuState, SioKind, SmachState};
pub use user_range::{UserRange, PAGE_SIZE, USER_END};
