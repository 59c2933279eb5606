//! The zero-copy reader: walks a newc archive entry by entry.
//!
//! Owns [`Archive`] and its iterator [`Entries`]. Each step decodes one
//! header, checks that the name and data lie inside the archive, and
//! returns slices of the archive itself. The walk stops at `TRAILER!!!`;
//! the first error ends it. Nothing allocates, so the kernel can read the
//! initrd before it has a heap.

use crate::header::{align4, span, Field, Header, HEADER_LEN, TRAILER_NAME};
use crate::{Entry, InitrdError};

/// A newc archive in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archive<'a> {
    bytes: &'a [u8],
}

impl<'a> Archive<'a> {
    /// The archive held in `bytes`. Nothing is checked until it is read:
    /// [`entries`](Self::entries) reports malformed parts as it reaches them.
    ///
    /// Offsets are counted from the start of `bytes` (the 4-byte padding is
    /// relative to the archive, not to memory).
    #[must_use]
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The entries in archive order, excluding the trailer.
    #[must_use]
    pub const fn entries(&self) -> Entries<'a> {
        Entries {
            bytes: self.bytes,
            offset: 0,
            is_done: false,
        }
    }

    /// The first entry whose stored name is exactly `name`.
    ///
    /// # Errors
    /// The first [`InitrdError`] met before the entry is found.
    pub fn find(&self, name: &str) -> Result<Option<Entry<'a>>, InitrdError> {
        for entry in self.entries() {
            let entry = entry?;
            if entry.name == name {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }

    /// Checks the whole archive, up to and including its trailer.
    ///
    /// # Errors
    /// The first [`InitrdError`] in the archive.
    pub fn validate(&self) -> Result<(), InitrdError> {
        self.entries().try_for_each(|entry| entry.map(|_| ()))
    }
}

impl<'a> IntoIterator for Archive<'a> {
    type Item = Result<Entry<'a>, InitrdError>;
    type IntoIter = Entries<'a>;

    fn into_iter(self) -> Entries<'a> {
        self.entries()
    }
}

/// Iterator over an archive's entries; yields at most one error, then ends.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    bytes: &'a [u8],
    /// Offset of the next header.
    offset: usize,
    /// Set after the trailer or an error.
    is_done: bool,
}

/// What one step of the walk found.
enum Step<'a> {
    Member(Entry<'a>, usize),
    Trailer,
}

impl<'a> Entries<'a> {
    /// Decodes the entry whose header is at `offset`, returning it and the
    /// offset of the next header.
    fn step(&self, offset: usize) -> Result<Step<'a>, InitrdError> {
        let truncated = InitrdError::Truncated { offset };
        let overflow = InitrdError::SizeOverflow { offset };
        if offset >= self.bytes.len() {
            return Err(InitrdError::MissingTrailer);
        }
        let rest = self.bytes.get(offset..).ok_or(truncated)?;
        let header = Header::parse(rest, offset)?;

        let name_size = usize::try_from(header.get(Field::NameSize)).map_err(|_| overflow)?;
        let file_size = usize::try_from(header.get(Field::FileSize)).map_err(|_| overflow)?;
        let name_start = offset.checked_add(HEADER_LEN).ok_or(overflow)?;
        let name_range = span(name_start, name_size).ok_or(overflow)?;
        let name_bytes = self.bytes.get(name_range.clone()).ok_or(truncated)?;
        let name = decode_name(name_bytes, offset)?;
        if name == TRAILER_NAME {
            return Ok(Step::Trailer);
        }

        let data_start = align4(name_range.end).ok_or(overflow)?;
        let data_range = span(data_start, file_size).ok_or(overflow)?;
        let data = self.bytes.get(data_range.clone()).ok_or(truncated)?;
        let next = align4(data_range.end).ok_or(overflow)?;
        let entry = Entry {
            name,
            mode: header.get(Field::Mode),
            data,
        };
        Ok(Step::Member(entry, next))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, InitrdError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.is_done {
            return None;
        }
        match self.step(self.offset) {
            Ok(Step::Member(entry, next)) => {
                self.offset = next;
                Some(Ok(entry))
            }
            Ok(Step::Trailer) => {
                self.is_done = true;
                None
            }
            Err(error) => {
                self.is_done = true;
                Some(Err(error))
            }
        }
    }
}

impl core::iter::FusedIterator for Entries<'_> {}

/// The name field without its NUL: non-empty, exactly one NUL at the end,
/// UTF-8.
fn decode_name(field: &[u8], offset: usize) -> Result<&str, InitrdError> {
    let unterminated = InitrdError::UnterminatedName { offset };
    let (&last, name) = field.split_last().ok_or(unterminated)?;
    if last != 0 || name.contains(&0) {
        return Err(unterminated);
    }
    core::str::from_utf8(name).map_err(|_| InitrdError::NameNotUtf8 { offset })
}

#[cfg(test)]
mod tests;
