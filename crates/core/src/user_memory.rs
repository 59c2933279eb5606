//! User memory for the generic path: `sk-sio`'s [`UserMemory`] seam over
//! `sk-machine`'s fault-fixup copies, and the argument readers the
//! dispatcher uses.
//!
//! Owns [`KernelUserMemory`] (zero-sized: the current address space is the
//! caller's) and `read_struct`/`PathBuffer`/`write_struct`.

use alloc::vec::Vec;
use sk_abi::SysError;
use sk_machine::usercopy;
use sk_sio::UserMemory;

/// The calling SMACH's user memory (the active address space).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KernelUserMemory;

impl UserMemory for KernelUserMemory {
    fn check(&mut self, addr: u64, len: u64) -> Result<(), SysError> {
        usercopy::check_range(addr, len).map_err(|_| SysError::BadAddress)
    }

    fn read(&mut self, dst: &mut [u8], src: u64) -> Result<(), SysError> {
        usercopy::copy_from_user(dst, src).map_err(|_| SysError::BadAddress)
    }

    fn read_prefix(&mut self, dst: &mut [u8], src: u64) -> Result<(), (usize, SysError)> {
        usercopy::copy_from_user_partial(dst, src).map_err(|(n, _)| (n, SysError::BadAddress))
    }

    fn write(&mut self, dst: u64, src: &[u8]) -> Result<(), SysError> {
        usercopy::copy_to_user(dst, src).map_err(|_| SysError::BadAddress)
    }

    fn fill(&mut self, dst: u64, byte: u8, len: u64) -> Result<(), SysError> {
        usercopy::fill_user(dst, byte, len).map_err(|_| SysError::BadAddress)
    }

    fn read_into_words(
        &mut self,
        words: &[core::sync::atomic::AtomicU64],
        offset: usize,
        src: u64,
        len: usize,
    ) -> Result<(), SysError> {
        usercopy::copy_from_user_to_words(words, offset, src, len).map_err(|_| SysError::BadAddress)
    }

    fn write_from_words(
        &mut self,
        dst: u64,
        words: &[core::sync::atomic::AtomicU64],
        offset: usize,
        len: usize,
    ) -> Result<(), SysError> {
        usercopy::copy_words_to_user(dst, words, offset, len).map_err(|_| SysError::BadAddress)
    }
}

/// Most bytes of a path read into [`PathBuffer`]'s own array; longer
/// paths take a heap buffer of their length.
const SHORT_PATH_BYTES: usize = 256;

/// Room for one path argument: an array for short paths, so the common
/// open neither allocates nor clears 4 KiB, and a heap buffer for longer
/// ones (up to `sk_abi::PATH_MAX`).
pub(crate) struct PathBuffer {
    short: [u8; SHORT_PATH_BYTES],
    long: Vec<u8>,
}

impl PathBuffer {
    pub(crate) fn new() -> Self {
        Self {
            short: [0; SHORT_PATH_BYTES],
            long: Vec::new(),
        }
    }

    /// Reads a path argument (at most `sk_abi::PATH_MAX` bytes, UTF-8).
    pub(crate) fn read(&mut self, ptr: u64, len: u64) -> Result<&str, SysError> {
        if len == 0 || len > sk_abi::PATH_MAX {
            return Err(SysError::BadPath);
        }
        let len = len as usize;
        let dst = if len <= SHORT_PATH_BYTES {
            &mut self.short[..len]
        } else {
            self.long
                .try_reserve_exact(len)
                .map_err(|_| SysError::NoMemory)?;
            self.long.resize(len, 0);
            &mut self.long[..]
        };
        KernelUserMemory.read(dst, ptr)?;
        core::str::from_utf8(dst).map_err(|_| SysError::BadPath)
    }
}

/// Reads a `repr(C)` argument struct of exactly `N` bytes.
pub(crate) fn read_struct<const N: usize>(ptr: u64, len: u64) -> Result<[u8; N], SysError> {
    if len != N as u64 {
        return Err(SysError::BadLength);
    }
    let mut bytes = [0u8; N];
    KernelUserMemory.read(&mut bytes, ptr)?;
    Ok(bytes)
}

/// Writes an info struct to a user buffer of `len` bytes (at least `N`).
pub(crate) fn write_struct<const N: usize>(
    ptr: u64,
    len: u64,
    bytes: [u8; N],
) -> Result<u64, SysError> {
    if len < N as u64 {
        return Err(SysError::BadLength);
    }
    KernelUserMemory.write(ptr, &bytes)?;
    Ok(N as u64)
}

/// Writes bytes to a user buffer.
pub(crate) fn write_bytes(ptr: u64, bytes: &[u8]) -> Result<(), SysError> {
    KernelUserMemory.write(ptr, bytes)
}
