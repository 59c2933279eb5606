//! Program start: the [`entry!`](crate::entry) macro and what it runs.
//!
//! Owns the `_start` symbol a program gets from `entry!(main)`, [`run`]
//! (call `main`, exit with its result) and [`start_arg`] (the `rdi` the
//! program was started with). `_start` is a naked function: it realigns the
//! stack itself, so programs start correctly whatever `rsp` alignment the
//! kernel enters with.

use core::sync::atomic::{AtomicU64, Ordering};

/// The `arg` the program was started with (`rdi` at entry).
static START_ARG: AtomicU64 = AtomicU64::new(0);

/// The argument the parent passed to [`Smach::spawn_with_arg`](crate::Smach::spawn_with_arg)
/// (0 for [`Smach::spawn`](crate::Smach::spawn)).
#[must_use]
pub fn start_arg() -> u64 {
    START_ARG.load(Ordering::Relaxed)
}

/// Runs a program's `main` and exits with its result. Called by the code
/// [`entry!`](crate::entry) generates, with the entry `rdi`.
#[doc(hidden)]
pub fn run(arg: u64, main: fn() -> i32) -> ! {
    START_ARG.store(arg, Ordering::Relaxed);
    crate::exit(main())
}

/// Defines the program entry point `_start`, which calls `main` (a
/// `fn() -> i32`) and exits with its result.
///
/// ```ignore
/// #![no_std]
/// #![no_main]
/// sk_user::entry!(main);
/// fn main() -> i32 {
///     sk_user::println!("hello from Synthesis");
///     0
/// }
/// ```
///
/// `_start` clears `rbp` (ending frame-pointer chains), aligns `rsp` down
/// to 16 bytes, and calls the Rust start routine with `rdi` untouched.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[doc(hidden)]
        extern "C" fn __sk_user_rust_start(arg: u64) -> ! {
            let main: fn() -> i32 = $main;
            $crate::start::run(arg, main)
        }

        /// The program's entry point (ELF `e_entry`), made by `sk_user::entry!`.
        // SAFETY: the body is a complete naked routine: it never returns,
        // clears rbp, aligns the stack as the SysV ABI requires at a call,
        // and passes rdi (the start argument) on unchanged.
        #[unsafe(naked)]
        #[unsafe(no_mangle)]
        pub extern "C" fn _start() -> ! {
            ::core::arch::naked_asm!(
                "xor ebp, ebp",
                "and rsp, -16",
                "call {start}",
                "ud2",
                start = sym __sk_user_rust_start,
            )
        }
    };
}
