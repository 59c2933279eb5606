//! A small harness for user test programs: failure details formatted
//! without a heap, and the macros and helpers to produce them.
//!
//! Owns [`Msg`] (a fixed-capacity message; `N` bytes, cut at the end),
//! [`fail!`](crate::fail)/[`ensure!`](crate::ensure), [`must`] and
//! [`expect_eq`]. Used by `abitest` and `synthtest`, which print one line
//! per case and exit with the number of failures.

use core::fmt::{self, Debug, Write};

use sk_abi::SysError;

/// A failure detail of at most `N` bytes, printable ASCII only (a cut never
/// splits a character, and kernel text cannot break the line). The default
/// keeps `Result<_, Msg>` under 128 bytes, cheap to return.
pub struct Msg<const N: usize = 112> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Msg<N> {
    /// Formats `args`.
    pub fn new(args: fmt::Arguments<'_>) -> Self {
        let mut msg = Self {
            bytes: [0; N],
            len: 0,
        };
        let _ = msg.write_fmt(args);
        msg
    }
}

impl<const N: usize> Write for Msg<N> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for &byte in text.as_bytes() {
            let byte = if byte.is_ascii_graphic() || byte == b' ' {
                byte
            } else {
                b'?'
            };
            let Some(slot) = self.bytes.get_mut(self.len) else {
                break;
            };
            *slot = byte;
            self.len += 1;
        }
        Ok(())
    }
}

impl<const N: usize> fmt::Display for Msg<N> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.bytes.get(..self.len).unwrap_or_default();
        formatter.write_str(core::str::from_utf8(bytes).unwrap_or("<unprintable>"))
    }
}

impl<const N: usize> core::ops::Deref for Msg<N> {
    type Target = str;

    fn deref(&self) -> &str {
        core::str::from_utf8(self.bytes.get(..self.len).unwrap_or_default()).unwrap_or("")
    }
}

/// A case's result: `Err` carries what went wrong.
pub type Outcome<const N: usize = 112> = Result<(), Msg<N>>;

/// Ends the enclosing case with a failure detail, formatted like `format!`.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::check::Msg::new(::core::format_args!($($arg)*)))
    };
}

/// Fails the enclosing case with the detail unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::fail!($($arg)*);
        }
    };
}

/// The success value of `got`, or a failure naming `what`.
///
/// # Errors
/// The failure detail when `got` is an error.
pub fn must<T, const N: usize>(what: &str, got: Result<T, SysError>) -> Result<T, Msg<N>> {
    got.map_err(|error| Msg::new(format_args!("{what}: Err({error:?})")))
}

/// Passes if `got` equals `want`.
///
/// # Errors
/// The failure detail when they differ.
pub fn expect_eq<T: PartialEq + Debug, const N: usize>(what: &str, got: T, want: T) -> Outcome<N> {
    crate::ensure!(got == want, "{what}: got {got:?}, want {want:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn messages_are_cut_and_kept_printable() {
        let msg: Msg<8> = Msg::new(format_args!("a\nbé{}", "cdefghij"));
        assert_eq!(msg.to_string(), "a?b??cde");
    }

    #[test]
    fn ensure_fails_with_the_detail() {
        fn case(x: u32) -> Outcome {
            crate::ensure!(x == 1, "x is {x}");
            Ok(())
        }
        assert!(case(1).is_ok());
        assert_eq!(
            case(2).err().map(|m| m.to_string()).as_deref(),
            Some("x is 2")
        );
    }
}
