//! The archive writer, for the xtask that packs the initrd (feature
//! `writer`).
//!
//! Owns [`Writer`]: appends newc entries to a `Vec<u8>` and closes the
//! archive with the trailer. Output is reproducible and matches GNU
//! `cpio -o -H newc --reproducible` run as root byte for byte (mtime, uid
//! and gid zero; inode numbers counting from 0), minus GNU's padding of the
//! archive to 512-byte blocks. This crate's reader, GNU `cpio -i` and
//! Linux's initramfs unpacker accept it.

use alloc::vec::Vec;

use crate::entry::{MODE_DIRECTORY, MODE_FILE, PERMISSION_MASK};
use crate::header::{Field, Header, TRAILER_NAME};
use crate::InitrdError;

/// `namesize` of the trailer: `TRAILER!!!` and its NUL.
const TRAILER_NAME_SIZE: u32 = 11;

/// Permissions given to directories made by [`Writer::add_dir`].
const DIRECTORY_PERMISSIONS: u32 = 0o755;

/// Builds a newc archive in memory.
///
/// Add each directory before the entries inside it: neither GNU cpio
/// (without `-d`) nor the Linux initramfs unpacker creates missing parents.
#[derive(Debug, Clone)]
pub struct Writer {
    bytes: Vec<u8>,
    next_ino: u32,
}

impl Writer {
    /// An empty archive.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bytes: Vec::new(),
            next_ino: 0,
        }
    }

    /// Adds a directory `path` with permissions `0o755`.
    ///
    /// # Errors
    /// [`InitrdError::BadPath`] if `path` is empty, absolute, contains a NUL
    /// or is the trailer's name.
    pub fn add_dir(&mut self, path: &str) -> Result<(), InitrdError> {
        self.add(path, MODE_DIRECTORY | DIRECTORY_PERMISSIONS, 2, &[])
    }

    /// Adds a regular file `path` with permission bits `mode` (for example
    /// `0o755`) and contents `data`.
    ///
    /// # Errors
    /// [`InitrdError::BadPath`] as for [`add_dir`](Self::add_dir);
    /// [`InitrdError::BadMode`] if `mode` has bits outside `0o7777`;
    /// [`InitrdError::TooLarge`] if `data` is 4 GiB or more.
    pub fn add_file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), InitrdError> {
        if mode & !PERMISSION_MASK != 0 {
            return Err(InitrdError::BadMode(mode));
        }
        self.add(path, MODE_FILE | mode, 1, data)
    }

    /// Appends the trailer and returns the archive.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        let mut header = Header::new();
        header.set(Field::Nlink, 1);
        header.set(Field::NameSize, TRAILER_NAME_SIZE);
        self.append(&header, TRAILER_NAME, &[]);
        self.bytes
    }

    fn add(&mut self, path: &str, mode: u32, nlink: u32, data: &[u8]) -> Result<(), InitrdError> {
        check_path(path)?;
        let name_size = path
            .len()
            .checked_add(1)
            .and_then(|size| u32::try_from(size).ok())
            .ok_or(InitrdError::TooLarge)?;
        let file_size = u32::try_from(data.len()).map_err(|_| InitrdError::TooLarge)?;
        let mut header = Header::new();
        header.set(Field::Ino, self.next_ino);
        header.set(Field::Mode, mode);
        header.set(Field::Nlink, nlink);
        header.set(Field::NameSize, name_size);
        header.set(Field::FileSize, file_size);
        self.append(&header, path, data);
        // Inode numbers only need to differ between entries with nlink > 1
        // (hard links, which this writer never makes), so wrapping is harmless.
        self.next_ino = self.next_ino.wrapping_add(1);
        Ok(())
    }

    /// Writes header, name, NUL, padding, data, padding. The header's size
    /// fields already describe `name` and `data`.
    fn append(&mut self, header: &Header, name: &str, data: &[u8]) {
        self.bytes.extend_from_slice(&header.encode());
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    /// Zero bytes up to the next multiple of 4.
    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

/// A storable path: non-empty, relative, no NUL, not the trailer's name.
fn check_path(path: &str) -> Result<(), InitrdError> {
    let is_bad =
        path.is_empty() || path.starts_with('/') || path.contains('\0') || path == TRAILER_NAME;
    if is_bad {
        Err(InitrdError::BadPath)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
