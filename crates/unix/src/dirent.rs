//! `getdents64` records (`struct linux_dirent64`).
//!
//! Owns [`DirentWriter`]: packs entries into a caller's buffer the way
//! Linux does (inode, offset of the next entry, record length, type, name
//! with its NUL, padded to 8 bytes), stopping at the first that does not
//! fit, and [`d_type`], the type byte.

use crate::errno::Errno;

/// `d_type` values.
pub mod d_type {
    /// A FIFO.
    pub const DT_FIFO: u8 = 1;
    /// A character device.
    pub const DT_CHR: u8 = 2;
    /// A directory.
    pub const DT_DIR: u8 = 4;
    /// A regular file.
    pub const DT_REG: u8 = 8;
}

/// Header bytes before the name: `d_ino` (8), `d_off` (8), `d_reclen` (2),
/// `d_type` (1).
const HEADER: usize = 19;

/// Packs directory entries into a buffer.
#[derive(Debug)]
pub struct DirentWriter<'a> {
    buffer: &'a mut [u8],
    used: usize,
}

impl<'a> DirentWriter<'a> {
    /// A writer filling `buffer` from its start.
    pub fn new(buffer: &'a mut [u8]) -> Self {
        Self { buffer, used: 0 }
    }

    /// The record length of an entry named `name` (header, name, NUL,
    /// padding to 8).
    #[must_use]
    pub const fn record_len(name: &[u8]) -> usize {
        (HEADER + name.len() + 1).next_multiple_of(8)
    }

    /// Appends one entry; `next_offset` is the directory position after it
    /// (what `d_off` reports). `Ok(false)` if it does not fit (nothing
    /// written: the caller stops and returns what it has).
    ///
    /// # Errors
    /// `EINVAL` if not even the first entry fits (Linux's answer to a
    /// buffer too small for one record), or if `name` holds a NUL or is
    /// longer than 255 bytes.
    pub fn push(
        &mut self,
        ino: u64,
        next_offset: u64,
        kind: u8,
        name: &[u8],
    ) -> Result<bool, Errno> {
        if name.contains(&0) || name.len() > 255 {
            return Err(Errno::EINVAL);
        }
        let len = Self::record_len(name);
        let end = self.used.saturating_add(len);
        let Some(record) = self.buffer.get_mut(self.used..end) else {
            return if self.used == 0 {
                Err(Errno::EINVAL)
            } else {
                Ok(false)
            };
        };
        record.fill(0);
        let reclen = u16::try_from(len).map_err(|_| Errno::EINVAL)?;
        let fields: [(usize, &[u8]); 5] = [
            (0, &ino.to_le_bytes()),
            (8, &next_offset.to_le_bytes()),
            (16, &reclen.to_le_bytes()),
            (18, &[kind]),
            (HEADER, name),
        ];
        for (at, bytes) in fields {
            if let Some(field) = record.get_mut(at..at.saturating_add(bytes.len())) {
                field.copy_from_slice(bytes);
            }
        }
        self.used = end;
        Ok(true)
    }

    /// Bytes written so far (what `getdents64` returns).
    #[must_use]
    pub const fn used(&self) -> usize {
        self.used
    }
}
