//! `sk-user`: Rust programs on Synthesis's native ABI.
//!
//! The user side of `sk-abi`. One small module, [`raw`], holds the
//! `syscall` and `rdtsc` instructions; everything else is safe, typed
//! wrappers over it:
//!
//! - [`Sio`]: open a file or device ([`Sio::open`]), [`Sio::read`],
//!   [`Sio::write`], [`Sio::seek`], [`Sio::query`], [`Sio::close`];
//!   [`Sio::console`] is handle 1. [`Sio::routines`] describes the
//!   routines the kernel synthesized for it ([`routine_of`] reads the text).
//! - Generic path: [`set_generic_mode`] sends every call of the program
//!   down the kernel's generic path; [`Sio::open_generic`] and
//!   [`Sio::generic`] do it for one SIO, so a program can compare the
//!   synthesized and generic paths (their results must be identical).
//! - [`Smach`]: [`Smach::spawn`] a program from the initrd, [`Smach::wait`]
//!   for it; [`exit`] ends the caller.
//! - [`Scpu`]: start a thread ([`Scpu::create`]) on a [`Stack`].
//! - [`Smem`]: map memory ([`Smem::create`]).
//! - [`null_call`], [`rdtsc`], [`rdtscp`]: the benchmarks' tools.
//! - [`print!`], [`println!`]: formatted output to the console.
//! - [`entry!`]: defines `_start`, which runs `main() -> i32` and exits
//!   with its result.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use sk_user::{println, OpenFlags, Sio};
//!
//! sk_user::entry!(main);
//!
//! fn main() -> i32 {
//!     let Ok(file) = Sio::open("/etc/motd", OpenFlags::READ) else { return 1 };
//!     let mut buf = [0_u8; 128];
//!     let len = file.read(&mut buf).unwrap_or(0);
//!     println!("read {len} bytes");
//!     0
//! }
//! ```
//!
//! Build programs for `x86_64-unknown-none` (the workspace sets
//! `-C relocation-model=static` for it, giving static non-PIE ELFs).
//!
//! ## Features
//!
//! - `panic-handler` (default): a `#[panic_handler]` that prints the panic
//!   and exits with status 101. Only on `target_os = "none"`, so host tests
//!   of this crate use `std`'s.
#![no_std]
#![deny(unsafe_code)]

pub mod check;
pub mod console;
#[cfg(all(feature = "panic-handler", target_os = "none"))]
mod panic;
#[allow(
    unsafe_code,
    reason = "the one module of `asm!`; every block has a SAFETY comment"
)]
pub mod raw;
pub mod route;
pub mod routines;
pub mod start;

#[allow(
    unsafe_code,
    reason = "typed calls over `raw`; every block has a SAFETY comment"
)]
mod call;
#[allow(
    unsafe_code,
    reason = "thread creation and static stacks; SAFETY comments per block"
)]
mod scpu;
mod sio;
mod smach;
#[allow(unsafe_code, reason = "the unsafe byte accessor of SMEM memory")]
mod smem;

pub use call::null_call;
pub use console::Console;
pub use raw::{rdtsc, rdtscp};
pub use route::{generic_mode, set_generic_mode};
pub use routines::{is_synthesized_or_pending, pending_of, routine_of, Routine};
pub use scpu::{Scpu, ScpuEntry, Stack, MIN_STACK_BYTES};
pub use sio::Sio;
pub use smach::{exit, sleep_ns, yield_now, Smach};
pub use smem::Smem;
pub use start::start_arg;

/// The ABI crate, for its argument, info and selector types.
pub use sk_abi as abi;
pub use sk_abi::{
    ExitStatus, Handle, OpenFlags, Prot, SioInfo, SioKind, SysError, TtyMode, Whence,
};
