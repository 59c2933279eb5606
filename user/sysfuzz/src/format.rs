//! Formatting into a fixed buffer (paths, file names, report lines): the
//! program has no allocator.
//!
//! Owns [`format_into`].

use core::fmt::Write as _;

/// A fixed buffer `fmt::Write` fills.
struct Cursor<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        for &byte in text.as_bytes() {
            let slot = self.out.get_mut(self.len).ok_or(core::fmt::Error)?;
            *slot = byte;
            self.len += 1;
        }
        Ok(())
    }
}

/// Formats `args` into `out`; returns the length.
pub(crate) fn format_into(out: &mut [u8], args: core::fmt::Arguments<'_>) -> usize {
    let mut cursor = Cursor { out, len: 0 };
    let _ = cursor.write_fmt(args);
    cursor.len
}
