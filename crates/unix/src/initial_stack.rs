//! The stack a Linux program starts on: `argc`, `argv`, `envp`, the
//! auxiliary vector, and the strings they point at.
//!
//! Owns [`build`]: given the stack's top address and the program's
//! arguments, environment and [`ProgramAux`], the bytes to copy below the
//! top and the `rsp` to start with (System V AMD64 ABI §3.4.1; Linux's
//! `create_elf_tables`). From `rsp` up: `argc`; `argv[0..argc]`, 0;
//! `envp[..]`, 0; the auxiliary vector's `(type, value)` pairs ending with
//! `AT_NULL`; padding; 16 random bytes, `"x86_64\0"`, the argument and
//! environment strings and the executed path, each NUL-terminated; a zero
//! word at the top. `rsp` is 16-byte aligned, as the ABI requires at
//! process entry.

use crate::auxv::ProgramAux;
use alloc::vec::Vec;

/// The platform string `AT_PLATFORM` points at.
pub const PLATFORM: &[u8] = b"x86_64";

/// What the new program is started with.
#[derive(Clone, Copy, Debug)]
pub struct StackArgs<'a> {
    /// The path it was executed as (`AT_EXECFN`).
    pub path: &'a [u8],
    /// Its arguments (`argv`), without terminating NULs.
    pub argv: &'a [&'a [u8]],
    /// Its environment (`envp`, `NAME=value`), without terminating NULs.
    pub envp: &'a [&'a [u8]],
    /// The 16 bytes `AT_RANDOM` points at.
    pub random: [u8; 16],
    /// The loader's facts for the auxiliary vector.
    pub aux: ProgramAux,
}

/// The stack image: `bytes` go at `rsp ..rsp + bytes.len()`, which ends
/// at the top given to [`build`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackImage {
    /// The program's first `rsp` (points at `argc`; 16-byte aligned).
    pub rsp: u64,
    /// The stack's contents from `rsp` to the top.
    pub bytes: Vec<u8>,
}

/// Why no stack could be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// Arguments, environment and vector need more than the limit
    /// (`E2BIG`).
    #[error("argument list too long")]
    TooBig,
    /// A string contains a NUL byte (`EINVAL`: it cannot be passed as a C
    /// string).
    #[error("a string contains a NUL byte")]
    NulInString,
    /// The top address is not 16-byte aligned or the image would wrap
    /// below address 0 (`EINVAL`; a loader bug, not the program's).
    #[error("bad stack top")]
    BadTop,
}

/// Appends `string` and its NUL to `strings`; its offset in `strings`.
fn push_string(strings: &mut Vec<u8>, string: &[u8]) -> Result<usize, StackError> {
    if string.contains(&0) {
        return Err(StackError::NulInString);
    }
    let at = strings.len();
    strings.extend_from_slice(string);
    strings.push(0);
    Ok(at)
}

/// Builds the initial stack below `top` (16-byte aligned), using at most
/// `limit` bytes.
///
/// # Errors
/// [`StackError::TooBig`] past `limit`; [`StackError::NulInString`];
/// [`StackError::BadTop`].
pub fn build(top: u64, args: &StackArgs<'_>, limit: usize) -> Result<StackImage, StackError> {
    if !top.is_multiple_of(16) {
        return Err(StackError::BadTop);
    }
    // The strings block, in address order: random, platform, argv, envp,
    // path. Offsets are relative to its start.
    let mut strings = Vec::new();
    strings.extend_from_slice(&args.random);
    let platform_at = push_string(&mut strings, PLATFORM)?;
    let mut argv_at = Vec::with_capacity(args.argv.len());
    for arg in args.argv {
        argv_at.push(push_string(&mut strings, arg)?);
        if strings.len() > limit {
            return Err(StackError::TooBig);
        }
    }
    let mut envp_at = Vec::with_capacity(args.envp.len());
    for var in args.envp {
        envp_at.push(push_string(&mut strings, var)?);
        if strings.len() > limit {
            return Err(StackError::TooBig);
        }
    }
    let path_at = push_string(&mut strings, args.path)?;

    let strings_len = u64::try_from(strings.len()).map_err(|_| StackError::TooBig)?;
    // The strings end below a zero word at the top; their start is
    // aligned down to 16 so the words below are aligned.
    let strings_base = top
        .checked_sub(8)
        .and_then(|t| t.checked_sub(strings_len))
        .ok_or(StackError::BadTop)?
        & !15;
    let address = |offset: usize| -> Result<u64, StackError> {
        u64::try_from(offset)
            .ok()
            .and_then(|o| strings_base.checked_add(o))
            .ok_or(StackError::TooBig)
    };

    let mut words: Vec<u64> = Vec::new();
    words.push(u64::try_from(args.argv.len()).map_err(|_| StackError::TooBig)?);
    for &at in &argv_at {
        words.push(address(at)?);
    }
    words.push(0);
    for &at in &envp_at {
        words.push(address(at)?);
    }
    words.push(0);
    let aux = args
        .aux
        .entries(strings_base, address(platform_at)?, address(path_at)?);
    for (kind, value) in aux {
        words.push(kind);
        words.push(value);
    }

    let words_len = u64::try_from(words.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or(StackError::TooBig)?;
    let rsp = strings_base
        .checked_sub(words_len)
        .ok_or(StackError::BadTop)?
        & !15;
    let total = usize::try_from(top - rsp).map_err(|_| StackError::TooBig)?;
    if total > limit {
        return Err(StackError::TooBig);
    }

    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(total)
        .map_err(|_| StackError::TooBig)?;
    for word in &words {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    // Padding up to the strings (rsp was aligned down), then the strings,
    // then zeros up to the top (the zero word and alignment slack).
    let strings_offset = usize::try_from(strings_base - rsp).map_err(|_| StackError::TooBig)?;
    bytes.resize(strings_offset, 0);
    bytes.extend_from_slice(&strings);
    bytes.resize(total, 0);
    Ok(StackImage { rsp, bytes })
}
