#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// Arguments, environments and call numbers come from user space: no
// panics, no silent overflow (STYLE.md §4).
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

extern crate alloc;

pub mod address_map;
pub mod auxv;
pub mod brk;
pub mod errno;
pub mod initial_stack;
pub mod mremap;
pub mod sigaltstack;
pub mod siginfo;
pub mod signal_actions;
pub mod signal_frame;
pub mod signal_set;
pub mod signal_state;
pub mod syscall_numbers;
pub mod syscall_restart;
pub mod vma;
pub mod wait_status;

pub use auxv::ProgramAux;
pub use errno::Errno;
pub use initial_stack::{build as build_initial_stack, StackArgs, StackError, StackImage};
pub use syscall_numbers::{name as call_name, nr};
