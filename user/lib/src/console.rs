//! Console output: [`print!`](crate::print) and [`println!`](crate::println).
//!
//! Owns [`Console`], a `fmt::Write` over handle 1 (the console SIO every
//! SMACH starts with). Formatting needs no heap: pieces are written as
//! `core::fmt` produces them, one `write` call each.

use core::fmt::{self, Write};

use crate::Sio;

/// The console (handle 1) as a formatting sink.
#[derive(Clone, Copy, Debug, Default)]
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        Sio::console()
            .write_all(text.as_bytes())
            .map_err(|_| fmt::Error)
    }
}

/// Used by the macros: writes `args` to the console, ignoring errors (there
/// is nowhere to report them).
#[doc(hidden)]
pub fn print_args(args: fmt::Arguments<'_>) {
    let _ = Console.write_fmt(args);
}

/// Prints to the console (handle 1), like `std::print!`.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::console::print_args(::core::format_args!($($arg)*))
    };
}

/// Prints to the console (handle 1) with a newline, like `std::println!`.
#[macro_export]
macro_rules! println {
    () => {
        $crate::print!("\n")
    };
    ($($arg:tt)*) => {{
        $crate::console::print_args(::core::format_args!($($arg)*));
        $crate::print!("\n");
    }};
}
