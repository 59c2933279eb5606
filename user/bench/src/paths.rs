//! Paths the suite opens, stored once with a trailing NUL.
//!
//! Owns [`Path`]: Linux takes NUL-terminated strings, the native ABI a
//! pointer and a length. Keeping both forms in one constant means neither
//! backend copies or measures a path inside a timed loop.

/// A path ending with a NUL byte.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Path(&'static str);

impl Path {
    /// Wraps `text`, which must end with `\0` (checked at compile time for
    /// the constants below).
    pub(crate) const fn new(text: &'static str) -> Self {
        let bytes = text.as_bytes();
        assert!(!bytes.is_empty() && bytes[bytes.len() - 1] == 0);
        Self(text)
    }

    /// The path with its NUL (Linux).
    #[cfg_attr(not(feature = "linux"), allow(dead_code))]
    pub(crate) const fn with_nul(self) -> &'static str {
        self.0
    }

    /// The path without its NUL (native ABI).
    #[cfg_attr(feature = "linux", allow(dead_code))]
    #[inline(always)]
    pub(crate) fn without_nul(self) -> &'static str {
        self.0.split_at(self.0.len() - 1).0
    }
}

/// The null device.
pub(crate) const DEV_NULL: Path = Path::new("/dev/null\0");
/// The zero device.
pub(crate) const DEV_ZERO: Path = Path::new("/dev/zero\0");
/// A 1 MiB RAM file the suite writes once and then reads.
pub(crate) const DATA_FILE: Path = Path::new("/tmp/bench-data\0");
/// A 1 MiB RAM file the write metric overwrites in place.
pub(crate) const WRITE_FILE: Path = Path::new("/tmp/bench-write\0");
/// The console's tty, cooked (Synthesis: `/dev/tty` on COM1; Linux: the
/// first serial port, the guest's console).
#[cfg(not(feature = "linux"))]
pub(crate) const TTY: Path = Path::new("/dev/tty\0");
/// The console's tty, cooked (Linux: the first serial port).
#[cfg(feature = "linux")]
pub(crate) const TTY: Path = Path::new("/dev/ttyS0\0");
