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
pub mod dirent;
pub mod errno;
pub mod fd_table;
pub mod file_stat;
pub mod futex_table;
pub mod initial_stack;
pub mod linux_flags;
pub mod mremap;
pub mod path;
pub mod process_table;
pub mod request;
pub mod sigaltstack;
pub mod siginfo;
pub mod signal_actions;
pub mod signal_frame;
pub mod signal_set;
pub mod signal_state;
pub mod syscall_numbers;
pub mod syscall_restart;
pub mod system_info;
pub mod termios;
pub mod user_vectors;
pub mod vma;
pub mod wait_status;

pub use auxv::ProgramAux;
pub use dirent::DirentWriter;
pub use errno::Errno;
pub use fd_table::FdTable;
pub use file_stat::FileStat;
pub use futex_table::{FutexKey, FutexTable};
pub use initial_stack::{build as build_initial_stack, StackArgs, StackError, StackImage};
pub use path::{resolve, Last, NameSpace, NodeType, Resolved};
pub use process_table::{Pid, ProcessTable, WaitOutcome};
pub use request::{decode, Clock, CloneKind, DirFd, PollTimeout, Request};
pub use syscall_numbers::{name as call_name, nr};
pub use system_info::{SystemInfo, TimeSpec, Uname};
pub use termios::Termios;
pub use user_vectors::{
    check_iovecs, iovec_at, read_iovecs, read_string_vector, IoVec, UserReader,
};
