//! The frame bitmap: one bit per 4 KiB frame, set = free (so an empty
//! bitmap is all zeros and a `static` of it lands in `.bss`).
//!
//! Owns [`FrameBitmap`] and its exact free count. Frames outside the
//! bitmap's range are never handed out; freeing one is an error, as is a
//! double free, so leaks and corruption show up as errors, not silence.

use core::fmt;

/// Size of a physical frame.
pub const FRAME_SIZE: u64 = 4096;

/// Why a frame could not be freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The address is not frame-aligned.
    Unaligned,
    /// The frame lies outside the managed range.
    OutOfRange,
    /// The frame was already free (double free).
    AlreadyFree,
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FreeError::Unaligned => "frame address not 4 KiB aligned",
            FreeError::OutOfRange => "frame outside the managed range",
            FreeError::AlreadyFree => "frame already free (double free)",
        })
    }
}

impl core::error::Error for FreeError {}

/// A bitmap allocator over physical frames `0 .. WORDS * 64 * 4 KiB`.
#[derive(Clone)]
pub struct FrameBitmap<const WORDS: usize> {
    /// Bit set = frame free.
    free_bits: [u64; WORDS],
    free: usize,
    /// Word index where the next search starts.
    hint: usize,
}

impl<const WORDS: usize> Default for FrameBitmap<WORDS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const WORDS: usize> FrameBitmap<WORDS> {
    /// All frames in use (nothing allocatable until [`Self::add_free`]).
    pub const fn new() -> Self {
        Self {
            free_bits: [0; WORDS],
            free: 0,
            hint: 0,
        }
    }

    /// Number of frames the bitmap can describe.
    pub const fn capacity_frames() -> u64 {
        (WORDS as u64).saturating_mul(64)
    }

    /// One past the highest physical address the bitmap can describe.
    pub const fn limit() -> u64 {
        Self::capacity_frames().saturating_mul(FRAME_SIZE)
    }

    /// Free frames right now.
    pub fn free_count(&self) -> usize {
        self.free
    }

    fn index(phys: u64) -> Option<(usize, u64)> {
        let frame = phys / FRAME_SIZE;
        if frame >= Self::capacity_frames() {
            return None;
        }
        Some(((frame / 64) as usize, 1u64 << (frame % 64)))
    }

    fn is_used_index(&self, word: usize, bit: u64) -> bool {
        self.free_bits.get(word).is_none_or(|w| w & bit == 0)
    }

    /// True if the frame at `phys` is free.
    pub fn is_free(&self, phys: u64) -> bool {
        Self::index(phys).is_some_and(|(w, b)| !self.is_used_index(w, b))
    }

    fn set(&mut self, phys: u64, used: bool) -> bool {
        let Some((w, b)) = Self::index(phys) else {
            return false;
        };
        let Some(word) = self.free_bits.get_mut(w) else {
            return false;
        };
        let was_used = *word & b == 0;
        if used == was_used {
            return false;
        }
        if used {
            *word &= !b;
            self.free = self.free.saturating_sub(1);
        } else {
            *word |= b;
            self.free = self.free.saturating_add(1);
        }
        true
    }

    /// Marks every whole frame inside `start..end` free (rounds inward).
    /// Returns how many frames became free.
    pub fn add_free(&mut self, start: u64, end: u64) -> usize {
        let first = start.div_ceil(FRAME_SIZE);
        let last = (end.min(Self::limit())) / FRAME_SIZE;
        (first..last)
            .filter(|&f| self.set(f.saturating_mul(FRAME_SIZE), false))
            .count()
    }

    /// Marks every frame touching `start..end` used (rounds outward).
    /// Returns how many frames were taken out of the free pool.
    pub fn reserve(&mut self, start: u64, end: u64) -> usize {
        let first = start / FRAME_SIZE;
        let last = end.min(Self::limit()).div_ceil(FRAME_SIZE);
        (first..last)
            .filter(|&f| self.set(f.saturating_mul(FRAME_SIZE), true))
            .count()
    }

    /// Allocates one frame anywhere.
    pub fn allocate(&mut self) -> Option<u64> {
        self.allocate_below(Self::limit())
    }

    /// Allocates one frame whose address is below `limit`.
    pub fn allocate_below(&mut self, limit: u64) -> Option<u64> {
        if self.free == 0 {
            return None;
        }
        let words = ((limit.min(Self::limit()) / FRAME_SIZE).div_ceil(64) as usize).min(WORDS);
        let start = if self.hint < words { self.hint } else { 0 };
        let order = (start..words).chain(0..start);
        for w in order {
            let word = *self.free_bits.get(w)?;
            if word == 0 {
                continue;
            }
            let bit = u64::from(word.trailing_zeros());
            let phys =
                ((w as u64).saturating_mul(64).saturating_add(bit)).saturating_mul(FRAME_SIZE);
            if phys >= limit {
                continue;
            }
            self.set(phys, true);
            self.hint = w;
            return Some(phys);
        }
        None
    }

    /// Allocates `count` physically contiguous frames, returning the first.
    pub fn allocate_contiguous(&mut self, count: u64) -> Option<u64> {
        if count == 0 || count > self.free as u64 {
            return None;
        }
        let mut run_start = 0u64;
        let mut run = 0u64;
        for frame in 0..Self::capacity_frames() {
            let phys = frame.saturating_mul(FRAME_SIZE);
            if self.is_free(phys) {
                if run == 0 {
                    run_start = phys;
                }
                run = run.saturating_add(1);
                if run == count {
                    for i in 0..count {
                        self.set(run_start.saturating_add(i.saturating_mul(FRAME_SIZE)), true);
                    }
                    return Some(run_start);
                }
            } else {
                run = 0;
            }
        }
        None
    }

    /// Returns a frame to the pool.
    pub fn free(&mut self, phys: u64) -> Result<(), FreeError> {
        if !phys.is_multiple_of(FRAME_SIZE) {
            return Err(FreeError::Unaligned);
        }
        let (w, b) = Self::index(phys).ok_or(FreeError::OutOfRange)?;
        if !self.is_used_index(w, b) {
            return Err(FreeError::AlreadyFree);
        }
        self.set(phys, false);
        if w < self.hint {
            self.hint = w;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
