//! What a read, write or seek on an SIO must do: the generic path's
//! semantics as a model the fuzzer predicts every result with.
//!
//! Owns [`Target`], [`Io`] (an SIO's state as the model sees it), [`Buf`]
//! (how much of a user buffer the kernel can reach), and the predictions
//! [`read()`](fn@read), [`write()`](fn@write), [`seek()`](fn@seek). Both paths must agree with these:
//!
//! - Checks come in a fixed order: open for the op ([`SysError::NotPermitted`]),
//!   then the range in user space ([`SysError::BadAddress`]), then the target.
//! - Long transfers go in chunks of [`CHUNK`] bytes (a preemption point
//!   between chunks); the whole range is checked before the first, so a
//!   range not wholly in user space moves nothing. A fault in the first
//!   chunk fails with `BadAddress`. A fault in a later chunk ends the call:
//!   a read returns the bytes of the chunks before it (the faulting chunk
//!   moves nothing), a write returns every byte it wrote (the file
//!   position's move). A read leaves the position after the bytes
//!   returned; a file write has written every byte before the fault (and
//!   moved the position past them) whatever it returns.
//! - Both paths agree: the synthesized routines handle short calls only
//!   and send longer ones to the generic path.
//! - `/dev/null` reads nothing and swallows writes without touching the
//!   buffer; `/dev/zero` fills reads with zeros and swallows writes;
//!   `/dev/mem` is a 16 MiB window ([`sk_abi::dev_mem_byte`]); seeking
//!   `/dev/null` or `/dev/zero` always lands at 0.
//! - Files grow on writes past the end (zeros in the gap), up to
//!   [`MAX_FILE_BYTES`]; an append write starts at the end.

use sk_abi::{dev_mem_byte, SysError, Whence, DEV_MEM_BYTES, USER_END};

/// Bytes per chunk of a generic transfer (`sk_sio::CHUNK_BYTES`).
pub const CHUNK: u64 = 64 << 10;

/// The file system's largest file (`sk_fs::Limits::DEFAULT`).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// What an SIO reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `/dev/null`.
    Null,
    /// `/dev/zero`.
    Zero,
    /// `/dev/mem`.
    Mem,
    /// A RAM file.
    File,
    /// A directory.
    Dir,
}

/// An SIO's state as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Io {
    /// What it names.
    pub target: Target,
    /// Opened with `READ`.
    pub can_read: bool,
    /// Opened with `WRITE`.
    pub can_write: bool,
    /// Opened with `APPEND`.
    pub append: bool,
    /// Its position.
    pub pos: u64,
    /// The size of what it names (a file's size, the window's for
    /// `/dev/mem`, 0 for the rest).
    pub size: u64,
}

/// How much of a user buffer of `len` bytes the kernel can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buf {
    /// Every byte (mapped with the access the call needs).
    Good,
    /// The first `n` bytes; the next one faults (0: the first one).
    Prefix(u64),
}

/// Whether `[ptr, ptr + len)` passes the kernel's range check (no wrap,
/// ends at or below [`USER_END`]).
#[must_use]
pub const fn in_user_range(ptr: u64, len: u64) -> bool {
    match ptr.checked_add(len) {
        Some(end) => end <= USER_END,
        None => false,
    }
}

/// A predicted read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// The result.
    pub result: Result<u64, SysError>,
    /// The position after.
    pub pos: u64,
    /// Where the bytes read start in the target (for checking them).
    pub from: u64,
}

/// A predicted write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write {
    /// The result.
    pub result: Result<u64, SysError>,
    /// The position after.
    pub pos: u64,
    /// The file's size after.
    pub size: u64,
    /// The bytes of the file written: `(offset, count)` (count 0: none).
    pub written: (u64, u64),
}

/// What a chunked read of `total` bytes returns when only the first
/// `reach` bytes of the buffer can be reached: `Ok(total)`, or the whole
/// chunks before the fault, or `BadAddress` if the fault is in the first.
const fn chunked(total: u64, reach: Buf) -> Result<u64, SysError> {
    let reach = match reach {
        Buf::Good => return Ok(total),
        Buf::Prefix(reach) => reach,
    };
    if total <= reach {
        return Ok(total);
    }
    let done = (reach / CHUNK) * CHUNK;
    if done == 0 {
        Err(SysError::BadAddress)
    } else {
        Ok(done)
    }
}

/// What a file write of `total` bytes returns when it wrote `count` of
/// them (the bytes before a fault): `Ok(total)` when all were written;
/// `BadAddress` for a fault in the first chunk; otherwise `Ok(count)`,
/// every byte written, as the position moved.
const fn written_result(total: u64, count: u64) -> Result<u64, SysError> {
    if count >= total {
        Ok(total)
    } else if count < CHUNK {
        Err(SysError::BadAddress)
    } else {
        Ok(count)
    }
}

/// A read of `len` bytes into a buffer at `ptr` reached as `buf`.
#[must_use]
pub fn read(io: &Io, ptr: u64, len: u64, buf: Buf) -> Read {
    let unchanged = |result| Read {
        result,
        pos: io.pos,
        from: io.pos,
    };
    if !io.can_read {
        return unchanged(Err(SysError::NotPermitted));
    }
    if !in_user_range(ptr, len) {
        return unchanged(Err(SysError::BadAddress));
    }
    match io.target {
        Target::Null => unchanged(Ok(0)),
        Target::Dir => unchanged(Err(SysError::IsDir)),
        Target::Zero => unchanged(chunked(len, buf)),
        Target::Mem | Target::File => {
            let end = if io.target == Target::Mem {
                DEV_MEM_BYTES
            } else {
                io.size
            };
            let total = len.min(end.saturating_sub(io.pos));
            let result = chunked(total, buf);
            let moved = result.unwrap_or(0);
            Read {
                result,
                pos: io.pos + moved,
                from: io.pos,
            }
        }
    }
}

/// A write of `len` bytes from a buffer at `ptr` reached as `buf`.
#[must_use]
pub fn write(io: &Io, ptr: u64, len: u64, buf: Buf) -> Write {
    let unchanged = |result| Write {
        result,
        pos: io.pos,
        size: io.size,
        written: (io.pos, 0),
    };
    if !io.can_write {
        return unchanged(Err(SysError::NotPermitted));
    }
    if !in_user_range(ptr, len) {
        return unchanged(Err(SysError::BadAddress));
    }
    match io.target {
        Target::Null | Target::Zero => unchanged(Ok(len)),
        Target::Mem => unchanged(Err(SysError::NotPermitted)),
        Target::Dir => unchanged(Err(SysError::IsDir)),
        Target::File => {
            let start = if io.append { io.size } else { io.pos };
            if start.checked_add(len).is_none() {
                return unchanged(Err(SysError::BadOffset));
            }
            if len == 0 {
                return unchanged(Ok(0));
            }
            let count = match buf {
                Buf::Good => len,
                Buf::Prefix(reach) => reach.min(len),
            };
            if count > 0 && start + count > MAX_FILE_BYTES {
                // Only modelled when nothing at all fits (the fuzzer never
                // writes across the limit).
                return unchanged(Err(SysError::FileTooLarge));
            }
            Write {
                result: written_result(len, count),
                pos: start + count,
                size: if count > 0 {
                    io.size.max(start + count)
                } else {
                    io.size
                },
                written: (start, count),
            }
        }
    }
}

/// A seek; the new position, or the error.
///
/// # Errors
/// [`SysError::BadOffset`] if the result is negative or past `i64::MAX`;
/// [`SysError::NotSupported`] never (the console is not modelled).
pub fn seek(io: &Io, whence: Whence, offset: i64) -> Result<u64, SysError> {
    if matches!(io.target, Target::Null | Target::Zero) {
        return Ok(0);
    }
    let base = match whence {
        Whence::Set => 0,
        Whence::Current => io.pos,
        Whence::End => io.size,
    };
    let new = base.checked_add_signed(offset).ok_or(SysError::BadOffset)?;
    if i64::try_from(new).is_err() {
        return Err(SysError::BadOffset);
    }
    Ok(new)
}

/// Whether `bytes` are `/dev/mem`'s from offset `from`.
#[must_use]
pub fn is_dev_mem(bytes: &[u8], from: u64) -> bool {
    bytes
        .iter()
        .zip(from..)
        .all(|(&byte, offset)| byte == dev_mem_byte(offset))
}

/// Whether `bytes` are a run of `/dev/mem`'s, from some offset (what a
/// read of a shared `/dev/mem` handle, whose position other SCPUs move,
/// must return).
#[must_use]
pub fn is_dev_mem_run(bytes: &[u8]) -> bool {
    bytes
        .windows(2)
        .all(|pair| matches!(pair, [a, b] if b.wrapping_sub(*a) == 7))
}

/// Applies a predicted write to a file model: copies `data` (the bytes the
/// call wrote, `written.1` of them) to `content` at `written.0`, zeroing
/// the gap between the old size and the write; returns false if the model
/// is too small to hold it.
pub fn apply_write(content: &mut [u8], old_size: u64, written: (u64, u64), data: &[u8]) -> bool {
    let (start, count) = written;
    if count == 0 {
        return true;
    }
    let (Ok(start), Ok(count), Ok(old)) = (
        usize::try_from(start),
        usize::try_from(count),
        usize::try_from(old_size),
    ) else {
        return false;
    };
    let Some(end) = start.checked_add(count) else {
        return false;
    };
    if end > content.len() || data.len() < count {
        return false;
    }
    if start > old {
        if let Some(gap) = content.get_mut(old..start) {
            gap.fill(0);
        }
    }
    match (content.get_mut(start..end), data.get(..count)) {
        (Some(to), Some(from)) => {
            to.copy_from_slice(from);
            true
        }
        _ => false,
    }
}
