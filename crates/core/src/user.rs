//! User memory as the generic path sees it: checked ranges and copies that
//! turn a fault into `BadAddress`.

use sk_abi::SysError;
use sk_machine::usercopy;

/// Copies `dst.len()` bytes from user address `src`.
pub(crate) fn read_bytes(dst: &mut [u8], src: u64) -> Result<(), SysError> {
    usercopy::copy_from_user(dst, src).map_err(|_| SysError::BadAddress)
}

/// Copies from user address `src` into `dst`; on a fault, returns how many
/// bytes came before it along with `BadAddress`.
pub(crate) fn read_prefix(dst: &mut [u8], src: u64) -> Result<(), (usize, SysError)> {
    usercopy::copy_from_user_partial(dst, src).map_err(|(n, _)| (n, SysError::BadAddress))
}

/// Copies `src` to user address `dst`.
pub(crate) fn write_bytes(dst: u64, src: &[u8]) -> Result<(), SysError> {
    usercopy::copy_to_user(dst, src).map_err(|_| SysError::BadAddress)
}

/// Fills user memory with one byte value.
pub(crate) fn fill(dst: u64, byte: u8, len: u64) -> Result<(), SysError> {
    usercopy::fill_user(dst, byte, len).map_err(|_| SysError::BadAddress)
}

/// Checks a user range without touching it.
pub(crate) fn check(addr: u64, len: u64) -> Result<(), SysError> {
    usercopy::check_range(addr, len).map_err(|_| SysError::BadAddress)
}

/// Reads a path argument (at most `sk_abi::PATH_MAX` bytes, UTF-8).
pub(crate) fn read_path(ptr: u64, len: u64, buf: &mut [u8; 4096]) -> Result<&str, SysError> {
    if len == 0 || len > buf.len() as u64 {
        return Err(SysError::BadPath);
    }
    let dst = &mut buf[..len as usize];
    read_bytes(dst, ptr)?;
    core::str::from_utf8(dst).map_err(|_| SysError::BadPath)
}

/// Reads a `repr(C)` argument struct of exactly `N` bytes.
pub(crate) fn read_struct<const N: usize>(ptr: u64, len: u64) -> Result<[u8; N], SysError> {
    if len != N as u64 {
        return Err(SysError::BadLength);
    }
    let mut bytes = [0u8; N];
    read_bytes(&mut bytes, ptr)?;
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
    write_bytes(ptr, &bytes)?;
    Ok(N as u64)
}
