//! The panic handler (Cargo feature `panic-handler`, on by default).
//!
//! Prints the panic message and location to the console and exits with
//! [`ExitStatus::PANIC`] (101, as Rust's `std` does). It exists only for
//! the bare-metal target (`target_os = "none"`): on the host, `std`
//! provides the handler, so `cargo test -p sk-user` links.

use core::panic::PanicInfo;

use sk_abi::ExitStatus;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    crate::println!("{info}");
    crate::exit(ExitStatus::PANIC.get())
}
