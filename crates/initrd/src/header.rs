//! The newc header: 110 ASCII bytes in front of every entry.
//!
//! Owns the field layout, hex decoding and encoding, and the padding rule
//! (everything starts on a 4-byte boundary from the start of the archive).
//! Format reference: `man 5 cpio` ("New ASCII Format") and Linux's
//! `Documentation/driver-api/early-userspace/buffer-format.rst`.

use core::ops::Range;

use crate::InitrdError;

/// The magic that opens every newc header (the CRC variant `070702` is not
/// accepted).
pub const MAGIC: &[u8; 6] = b"070701";
/// Length of a newc header: the magic and 13 fields of 8 hex digits.
pub const HEADER_LEN: usize = 110;
/// The name of the entry that ends an archive.
pub const TRAILER_NAME: &str = "TRAILER!!!";

/// Number of 8-digit hex fields after the magic.
const FIELD_COUNT: usize = 13;
/// Width of each field in ASCII hex digits.
const FIELD_DIGITS: usize = 8;

/// Index of the fields this crate reads or writes. The full order is: ino,
/// mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
/// rdevminor, namesize, check; the rest stay zero when writing.
#[derive(Debug, Clone, Copy)]
#[repr(usize)]
pub(crate) enum Field {
    #[cfg(feature = "writer")]
    Ino = 0,
    Mode = 1,
    #[cfg(feature = "writer")]
    Nlink = 4,
    FileSize = 6,
    NameSize = 11,
}

/// A decoded header: the 13 fields, every one checked to be hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Header {
    fields: [u32; FIELD_COUNT],
}

impl Header {
    /// Decodes the header at the start of `bytes` (the entry at `offset`).
    pub(crate) fn parse(bytes: &[u8], offset: usize) -> Result<Self, InitrdError> {
        let raw = bytes
            .get(..HEADER_LEN)
            .ok_or(InitrdError::Truncated { offset })?;
        let (magic, digits) = raw.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(InitrdError::BadMagic { offset });
        }
        let mut fields = [0_u32; FIELD_COUNT];
        for (field, chunk) in fields.iter_mut().zip(digits.chunks_exact(FIELD_DIGITS)) {
            *field = parse_hex(chunk).ok_or(InitrdError::BadField { offset })?;
        }
        Ok(Self { fields })
    }

    /// A header with every field zero but those the caller sets.
    #[cfg(feature = "writer")]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn get(&self, field: Field) -> u32 {
        self.fields.get(field as usize).copied().unwrap_or(0)
    }

    #[cfg(feature = "writer")]
    pub(crate) fn set(&mut self, field: Field, value: u32) {
        if let Some(slot) = self.fields.get_mut(field as usize) {
            *slot = value;
        }
    }

    /// The header as 110 ASCII bytes (upper-case hex, like Linux's
    /// `gen_init_cpio`).
    #[cfg(feature = "writer")]
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0_u8; HEADER_LEN];
        let (magic, digits) = out.split_at_mut(MAGIC.len());
        magic.copy_from_slice(MAGIC);
        for (chunk, &value) in digits.chunks_exact_mut(FIELD_DIGITS).zip(&self.fields) {
            encode_hex(value, chunk);
        }
        out
    }
}

/// Eight ASCII hex digits (either case) as a number; `None` for anything
/// else. Hand-written because `u32::from_str_radix` also takes a `+` sign.
fn parse_hex(digits: &[u8]) -> Option<u32> {
    if digits.len() != FIELD_DIGITS {
        return None;
    }
    digits.iter().try_fold(0_u32, |value, &digit| {
        let nibble = char::from(digit).to_digit(16)?;
        Some(value.checked_shl(4)? | nibble)
    })
}

/// Writes `value` as eight upper-case hex digits into `out`.
#[cfg(feature = "writer")]
fn encode_hex(value: u32, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = value;
    for slot in out.iter_mut().rev() {
        *slot = DIGITS.get((rest & 0xf) as usize).copied().unwrap_or(b'0');
        rest = rest.checked_shr(4).unwrap_or(0);
    }
}

/// `offset` rounded up to the next multiple of 4; `None` on overflow.
pub(crate) fn align4(offset: usize) -> Option<usize> {
    Some(offset.checked_add(3)? & !3)
}

/// The range `start..start + len`; `None` on overflow.
pub(crate) fn span(start: usize, len: usize) -> Option<Range<usize>> {
    Some(start..start.checked_add(len)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_in_either_case_and_rejects_the_rest() {
        assert_eq!(parse_hex(b"0000abCD"), Some(0xabcd));
        assert_eq!(parse_hex(b"FFFFFFFF"), Some(u32::MAX));
        assert_eq!(parse_hex(b"+0000001"), None);
        assert_eq!(parse_hex(b"0000000g"), None);
        assert_eq!(parse_hex(b" 0000001"), None);
        assert_eq!(parse_hex(b"0000001"), None);
    }

    #[test]
    fn align4_rounds_up_and_detects_overflow() {
        assert_eq!(align4(0), Some(0));
        assert_eq!(align4(1), Some(4));
        assert_eq!(align4(4), Some(4));
        assert_eq!(align4(113), Some(116));
        assert_eq!(align4(usize::MAX), None);
        assert_eq!(align4(usize::MAX - 3), Some(usize::MAX - 3));
    }

    #[test]
    fn span_detects_overflow() {
        assert_eq!(span(4, 8), Some(4..12));
        assert_eq!(span(usize::MAX, 1), None);
    }
}
