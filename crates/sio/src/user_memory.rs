//! The seam between the generic path and user memory.
//!
//! Owns [`UserMemory`]. Every user pointer the generic path touches goes
//! through it: the kernel's implementation copies with `stac`/`clac` and a
//! fault-fixup table (`sk-machine`), so a bad pointer is an error, never a
//! kernel fault; the host fake in [`crate::testing`] injects faults.

use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::SysError;

/// Bytes the default word copies move per user access.
const WORD_COPY_CHUNK: usize = 64;

/// User memory of the calling SMACH, as the generic path may touch it.
pub trait UserMemory {
    /// Checks `len` bytes at `addr` are user addresses (no wrap, below the
    /// user end) without touching them.
    ///
    /// # Errors
    /// [`SysError::BadAddress`].
    fn check(&mut self, addr: u64, len: u64) -> Result<(), SysError>;

    /// Copies `dst.len()` bytes from user address `src`.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] on a bad range or a fault.
    fn read(&mut self, dst: &mut [u8], src: u64) -> Result<(), SysError>;

    /// Copies from user address `src` into `dst`; on a fault, reports how
    /// many bytes came before it.
    ///
    /// # Errors
    /// `(bytes copied, SysError::BadAddress)`.
    fn read_prefix(&mut self, dst: &mut [u8], src: u64) -> Result<(), (usize, SysError)>;

    /// Copies `src` to user address `dst`.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] on a bad range or a fault.
    fn write(&mut self, dst: u64, src: &[u8]) -> Result<(), SysError>;

    /// Fills `len` user bytes at `dst` with `byte`.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] on a bad range or a fault.
    fn fill(&mut self, dst: u64, byte: u8, len: u64) -> Result<(), SysError>;

    /// Copies `len` bytes from user address `src` into bytes
    /// `offset..offset + len` of `words` (a byte ring's buffer: plain bytes
    /// in order, little-endian), which nobody reads until the caller
    /// publishes them. The kernel copies straight into them; this default
    /// goes through [`read`](Self::read) a chunk at a time.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] on a bad range or a fault (some bytes may
    /// have been written); also if the bytes are not inside `words`.
    fn read_into_words(
        &mut self,
        words: &[AtomicU64],
        offset: usize,
        src: u64,
        len: usize,
    ) -> Result<(), SysError> {
        let mut chunk = [0u8; WORD_COPY_CHUNK];
        let mut done = 0usize;
        while done < len {
            let n = len.saturating_sub(done).min(WORD_COPY_CHUNK);
            let part = chunk.get_mut(..n).ok_or(SysError::BadAddress)?;
            self.read(part, src.wrapping_add(done as u64))?;
            for (i, &byte) in part.iter().enumerate() {
                let (word, shift) = lane(words, offset.saturating_add(done).saturating_add(i))?;
                word.fetch_and(!0xffu64.wrapping_shl(shift), Ordering::Relaxed);
                word.fetch_or(u64::from(byte).wrapping_shl(shift), Ordering::Relaxed);
            }
            done = done.saturating_add(n);
        }
        Ok(())
    }

    /// Copies bytes `offset..offset + len` of `words` to user address
    /// `dst`. The kernel copies straight from them; this default goes
    /// through [`write`](Self::write) a chunk at a time.
    ///
    /// # Errors
    /// As [`read_into_words`](Self::read_into_words).
    fn write_from_words(
        &mut self,
        dst: u64,
        words: &[AtomicU64],
        offset: usize,
        len: usize,
    ) -> Result<(), SysError> {
        let mut chunk = [0u8; WORD_COPY_CHUNK];
        let mut done = 0usize;
        while done < len {
            let n = len.saturating_sub(done).min(WORD_COPY_CHUNK);
            let part = chunk.get_mut(..n).ok_or(SysError::BadAddress)?;
            for (i, byte) in part.iter_mut().enumerate() {
                let (word, shift) = lane(words, offset.saturating_add(done).saturating_add(i))?;
                *byte = word
                    .load(Ordering::Relaxed)
                    .wrapping_shr(shift)
                    .to_le_bytes()[0];
            }
            self.write(dst.wrapping_add(done as u64), part)?;
            done = done.saturating_add(n);
        }
        Ok(())
    }
}

/// The word holding byte `at` of `words` (plain bytes in order,
/// little-endian) and the byte's bit position in it.
fn lane(words: &[AtomicU64], at: usize) -> Result<(&AtomicU64, u32), SysError> {
    let word = words.get(at / 8).ok_or(SysError::BadAddress)?;
    let shift = u32::try_from(at % 8).unwrap_or(0).saturating_mul(8);
    Ok((word, shift))
}
