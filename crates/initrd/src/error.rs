//! The initrd format's one error type.
//!
//! Owns [`InitrdError`]: every way reading or writing an archive can fail.
//! Reader errors carry the byte offset of the offending entry's header, so
//! a boot log can point at the bad spot.

/// Every way reading or writing a newc archive can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum InitrdError {
    /// The entry at `offset` does not start with the magic `070701`.
    #[error("bad cpio magic at offset {offset}")]
    BadMagic {
        /// Offset of the entry's header in the archive.
        offset: usize,
    },
    /// A header field at `offset` is not eight ASCII hex digits.
    #[error("header field is not 8 hex digits in the entry at offset {offset}")]
    BadField {
        /// Offset of the entry's header in the archive.
        offset: usize,
    },
    /// The header, name or data of the entry at `offset` runs past the end
    /// of the archive.
    #[error("entry at offset {offset} is truncated")]
    Truncated {
        /// Offset of the entry's header in the archive.
        offset: usize,
    },
    /// The name of the entry at `offset` is empty, lacks its terminating NUL
    /// or has a NUL inside it.
    #[error("name of the entry at offset {offset} is not NUL-terminated")]
    UnterminatedName {
        /// Offset of the entry's header in the archive.
        offset: usize,
    },
    /// The name of the entry at `offset` is not UTF-8.
    #[error("name of the entry at offset {offset} is not UTF-8")]
    NameNotUtf8 {
        /// Offset of the entry's header in the archive.
        offset: usize,
    },
    /// Computing where the entry at `offset` ends overflows the address
    /// space (possible on 32-bit targets with sizes near 4 GiB).
    #[error("sizes in the entry at offset {offset} overflow")]
    SizeOverflow {
        /// Offset of the entry's header in the archive.
        offset: usize,
    },
    /// The archive ends without a `TRAILER!!!` entry.
    #[error("archive has no TRAILER!!! entry")]
    MissingTrailer,
    /// Writer: the path is empty, absolute, contains a NUL, or is the
    /// trailer's name.
    #[error("path cannot be stored in the archive")]
    BadPath,
    /// Writer: the mode has bits outside the permission bits `0o7777`.
    #[error("mode {0:#o} has bits outside 0o7777")]
    BadMode(u32),
    /// Writer: a name or the data is longer than a header field can say
    /// (`u32::MAX` bytes).
    #[error("entry too large for a newc header")]
    TooLarge,
}
