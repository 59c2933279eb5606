//! Console output for the suite: [`println!`](crate::println).
//!
//! Owns [`Line`], a fixed buffer that collects one formatted line and hands
//! it to the backend in one write, so lines arrive whole (one system call
//! each, none inside a timed region).

use core::fmt::{self, Write};

/// Longest line; longer output is cut.
const LINE_BYTES: usize = 512;

/// One line being formatted.
pub(crate) struct Line {
    bytes: [u8; LINE_BYTES],
    len: usize,
}

impl Line {
    const fn new() -> Self {
        Self {
            bytes: [0; LINE_BYTES],
            len: 0,
        }
    }
}

impl Write for Line {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = LINE_BYTES.saturating_sub(self.len);
        let take = text.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.bytes.get_mut(self.len..self.len + take),
            text.as_bytes().get(..take),
        ) {
            dst.copy_from_slice(src);
            self.len += take;
        }
        Ok(())
    }
}

/// Formats `args` and a newline, then writes the line to the console.
pub(crate) fn print_line(args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    if line.len == LINE_BYTES {
        if let Some(last) = line.bytes.last_mut() {
            *last = b'\n';
        }
    }
    crate::os::write_console(line.bytes.get(..line.len).unwrap_or(&[]));
}

/// Prints one line to the console.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print_line(::core::format_args!($($arg)*))
    };
}
