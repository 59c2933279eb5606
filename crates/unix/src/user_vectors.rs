//! Reading the vectors a Linux call passes by pointer: `execve`'s
//! `argv`/`envp` (NULL-terminated arrays of C strings) and `readv`/
//! `writev`'s `iovec` arrays, with Linux's limits.
//!
//! Owns [`UserReader`] (how the kernel lets this code read user memory:
//! a fault is `EFAULT`), [`read_string_vector`] and [`read_iovecs`].

use crate::errno::Errno;
use alloc::vec::Vec;

/// Reads user memory for this module.
pub trait UserReader {
    /// Fills `buf` from user address `address`.
    ///
    /// # Errors
    /// `EFAULT` if any byte is not readable user memory.
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), Errno>;
}

/// Longest single argument or environment string (`MAX_ARG_STRLEN`).
pub const MAX_ARG_STRLEN: usize = 32 * 4096;
/// Most strings in one vector (`MAX_ARG_STRINGS`, far below Linux's).
pub const MAX_ARG_STRINGS: usize = 0x7fff;
/// Most `iovec`s in one call (`UIO_MAXIOV`).
pub const UIO_MAXIOV: u64 = 1024;

fn read_u64(reader: &mut impl UserReader, address: u64) -> Result<u64, Errno> {
    let mut word = [0; 8];
    reader.read(address, &mut word)?;
    Ok(u64::from_le_bytes(word))
}

/// Reads a NUL-terminated string at `address` (without its NUL).
fn read_c_string(reader: &mut impl UserReader, address: u64) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 64];
    let mut at = address;
    loop {
        // Never read across a page end in one go: the next page may be
        // unmapped while the string ends before it.
        let to_page_end = 4096 - (at % 4096);
        let len = usize::try_from(to_page_end).unwrap_or(64).min(chunk.len());
        let piece = chunk.get_mut(..len).ok_or(Errno::EFAULT)?;
        reader.read(at, piece)?;
        if let Some(end) = piece.iter().position(|&b| b == 0) {
            out.extend_from_slice(piece.get(..end).ok_or(Errno::EFAULT)?);
            return Ok(out);
        }
        out.extend_from_slice(piece);
        if out.len() > MAX_ARG_STRLEN {
            return Err(Errno::E2BIG);
        }
        at = at
            .checked_add(u64::try_from(len).map_err(|_| Errno::EFAULT)?)
            .ok_or(Errno::EFAULT)?;
    }
}

/// Reads `execve`'s `argv` or `envp`: pointers until a NULL, each to a C
/// string. A null `vector` is an empty one (Linux accepts it). `total`
/// bytes (strings with their NULs) may not pass `limit`.
///
/// # Errors
/// `EFAULT`; `E2BIG` past `limit`, `MAX_ARG_STRLEN` or `MAX_ARG_STRINGS`.
pub fn read_string_vector(
    reader: &mut impl UserReader,
    vector: u64,
    limit: usize,
) -> Result<Vec<Vec<u8>>, Errno> {
    let mut strings = Vec::new();
    if vector == 0 {
        return Ok(strings);
    }
    let mut total: usize = 0;
    for index in 0..=MAX_ARG_STRINGS {
        let slot = u64::try_from(index)
            .ok()
            .and_then(|i| i.checked_mul(8))
            .and_then(|offset| vector.checked_add(offset))
            .ok_or(Errno::EFAULT)?;
        let pointer = read_u64(reader, slot)?;
        if pointer == 0 {
            return Ok(strings);
        }
        let string = read_c_string(reader, pointer)?;
        total = total
            .saturating_add(string.len())
            .saturating_add(1)
            .saturating_add(8);
        if total > limit {
            return Err(Errno::E2BIG);
        }
        strings.push(string);
    }
    Err(Errno::E2BIG)
}

/// One `struct iovec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoVec {
    /// Buffer address.
    pub base: u64,
    /// Buffer length.
    pub len: u64,
}

/// The `index`-th `iovec` of the array at `address`.
///
/// # Errors
/// `EFAULT`.
pub fn iovec_at(reader: &mut impl UserReader, address: u64, index: u64) -> Result<IoVec, Errno> {
    let at = index
        .checked_mul(16)
        .and_then(|offset| address.checked_add(offset))
        .ok_or(Errno::EFAULT)?;
    let base = read_u64(reader, at)?;
    let len = read_u64(reader, at.checked_add(8).ok_or(Errno::EFAULT)?)?;
    Ok(IoVec { base, len })
}

/// Linux's checks of `count` `iovec`s at `address` before any transfer,
/// without keeping them (a kernel that blocks between transfers holds no
/// heap); their total length.
///
/// # Errors
/// `EINVAL` for more than `UIO_MAXIOV` or a total length past
/// `isize::MAX`; `EFAULT`.
pub fn check_iovecs(reader: &mut impl UserReader, address: u64, count: u64) -> Result<u64, Errno> {
    if count > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let mut total: u64 = 0;
    for index in 0..count {
        let vector = iovec_at(reader, address, index)?;
        total = total.checked_add(vector.len).ok_or(Errno::EINVAL)?;
        if total > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
    }
    Ok(total)
}

/// Reads `count` `iovec`s at `address` for `readv`/`writev`.
///
/// # Errors
/// As [`check_iovecs`].
pub fn read_iovecs(
    reader: &mut impl UserReader,
    address: u64,
    count: u64,
) -> Result<Vec<IoVec>, Errno> {
    check_iovecs(reader, address, count)?;
    let mut out = Vec::new();
    for index in 0..count {
        out.push(iovec_at(reader, address, index)?);
    }
    Ok(out)
}
