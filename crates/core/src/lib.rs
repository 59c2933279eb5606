//! `sk-core`: the kernel's objects and their generic path.
//!
//! Owns the four kinds of the synthetic machine interface (SMACH, SCPU,
//! SMEM, SIO) as kernel objects, the per-SMACH handle tables, the scheduler
//! that runs SCPUs, and the generic system-call path: decode the call word
//! once into checked types, look the handle up, dispatch on kind and call.
//! It is the conventional kernel that the synthesizer specializes and that
//! every benchmark compares against: honest and never slowed on purpose.
//!
//! Hardware access goes through `sk-machine`'s safe API; policy comes from
//! the portable crates (`sk-fs`, `sk-sched`, `sk-tty`, `sk-elf`).
#![no_std]
#![allow(
    clippy::cast_possible_truncation,
    reason = "sk-core runs only on x86-64 (usize is 64 bits); narrowings to u32/i32 are of values bounded by construction (handle indices, error codes)"
)]
#![deny(unsafe_code)]

extern crate alloc;

mod devices;
mod dispatch;
mod fault;
mod handle_table;
mod initrd;
mod object;
mod scheduler;
mod scpu;
mod sio;
mod smach;
mod smem;
mod state;
mod synthesis;
pub mod testing;
mod thread;
mod trace;
mod user;

pub use devices::{dev_mem_byte, DEV_MEM_BYTES};
pub use dispatch::{call, syscall_entry};
pub use smach::{release_program, spawn_program, wait_program, ProgramId};
pub use state::{init, with_fs};
pub use synthesis::{EntryMode, SynthConfig};
pub use thread::{attach_current_to, detach_current};

/// The kernel's own threads (test runner, demo) call this to let others run.
pub use scheduler::yield_now;
