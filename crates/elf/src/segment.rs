//! One loadable segment: where it goes, what it holds, what it may do.
//!
//! Owns [`Segment`] and the rules that apply to each PT_LOAD segment on its
//! own (bounds, null guard, user half, W^X, alignment). Rules about
//! segments together (overlap, count, total size, entry point) live in
//! [`ProgramImage`](crate::ProgramImage).

use core::ops::Range;

use xmas_elf::program::ProgramHeader64;

use crate::{ElfError, PageRange, NULL_GUARD_END, PAGE_SIZE, USER_END};

/// A validated PT_LOAD segment: `file_size` bytes from `file_offset` in the
/// file go to `vaddr`, and the rest of `mem_size` is zero-filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Segment {
    /// Virtual address of the first byte, at or above
    /// [`NULL_GUARD_END`](crate::NULL_GUARD_END).
    pub vaddr: u64,
    /// Bytes in memory; `vaddr + mem_size <= USER_END`.
    pub mem_size: u64,
    /// Offset of the segment's bytes in the file.
    pub file_offset: u64,
    /// Bytes taken from the file (at most `mem_size`).
    pub file_size: u64,
    /// Mapped readable (`PF_R`).
    pub readable: bool,
    /// Mapped writable (`PF_W`); never together with `executable`.
    pub writable: bool,
    /// Mapped executable (`PF_X`); never together with `writable`.
    pub executable: bool,
}

impl Segment {
    /// Validates one PT_LOAD program header of a `file_len`-byte file,
    /// loaded `bias` bytes above its link address (0 unless the program is
    /// position-independent).
    pub(crate) fn from_program_header(
        header: &ProgramHeader64,
        file_len: usize,
        bias: u64,
    ) -> Result<Self, ElfError> {
        let vaddr = header
            .virtual_addr
            .checked_add(bias)
            .ok_or(ElfError::OutsideUserSpace)?;
        let segment = Self {
            vaddr,
            mem_size: header.mem_size,
            file_offset: header.offset,
            file_size: header.file_size,
            readable: header.flags.is_read(),
            writable: header.flags.is_write(),
            executable: header.flags.is_execute(),
        };
        // A segment with no file bytes may have any offset (gABI: p_offset
        // is meaningless then); check the file range only when it is used.
        if segment.file_size > 0 {
            let file_end = segment
                .file_offset
                .checked_add(segment.file_size)
                .ok_or(ElfError::FileRangeOutOfBounds)?;
            if file_end > u64::try_from(file_len).unwrap_or(u64::MAX) {
                return Err(ElfError::FileRangeOutOfBounds);
            }
        }
        if segment.mem_size < segment.file_size {
            return Err(ElfError::MemSizeBelowFileSize);
        }
        if segment.vaddr < NULL_GUARD_END {
            return Err(ElfError::BelowNullGuard);
        }
        let end = segment.vaddr.checked_add(segment.mem_size);
        if end.is_none_or(|end| end > USER_END) {
            return Err(ElfError::OutsideUserSpace);
        }
        if segment.writable && segment.executable {
            return Err(ElfError::WritableAndExecutable);
        }
        check_alignment(header.align, header.virtual_addr, segment.file_offset)?;
        Ok(segment)
    }

    /// One past the last byte in memory. Cannot overflow for a validated
    /// segment (it ends at or below `USER_END`).
    #[must_use]
    pub const fn end(&self) -> u64 {
        self.vaddr.saturating_add(self.mem_size)
    }

    /// Whether the segment occupies no memory.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.mem_size == 0
    }

    /// The segment's file bytes within `file`, the image it was parsed from;
    /// `None` if `file` is not that image (too short).
    #[must_use]
    pub fn file_bytes<'a>(&self, file: &'a [u8]) -> Option<&'a [u8]> {
        if self.file_size == 0 {
            return Some(&[]);
        }
        let start = usize::try_from(self.file_offset).ok()?;
        let len = usize::try_from(self.file_size).ok()?;
        file.get(start..start.checked_add(len)?)
    }

    /// Addresses whose bytes come from the file: `vaddr..vaddr + file_size`.
    #[must_use]
    pub const fn file_backed(&self) -> Range<u64> {
        self.vaddr..self.vaddr.saturating_add(self.file_size)
    }

    /// The whole pages the segment touches, with its permissions; `None`
    /// for an empty segment.
    #[must_use]
    pub const fn pages(&self) -> Option<PageRange> {
        if self.is_empty() {
            return None;
        }
        // Both bounds stay below USER_END, which is page aligned, so
        // rounding up cannot overflow.
        let start = self.vaddr & !(PAGE_SIZE - 1);
        let end = self.end().saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        Some(PageRange {
            start,
            end,
            readable: self.readable,
            writable: self.writable,
            executable: self.executable,
        })
    }
}

/// `p_align` 0 or 1 means no constraint; otherwise it must be a power of
/// two with `vaddr ≡ offset (mod align)` (gABI, "Program Header").
fn check_alignment(align: u64, vaddr: u64, offset: u64) -> Result<(), ElfError> {
    if align <= 1 {
        return Ok(());
    }
    if !align.is_power_of_two() {
        return Err(ElfError::Misaligned);
    }
    let mask = align.wrapping_sub(1);
    if vaddr & mask == offset & mask {
        Ok(())
    } else {
        Err(ElfError::Misaligned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_rule() {
        assert_eq!(check_alignment(0, 0x1234, 0x99), Ok(()));
        assert_eq!(check_alignment(1, 0x1234, 0x99), Ok(()));
        assert_eq!(check_alignment(0x1000, 0x40_1234, 0x1234), Ok(()));
        assert_eq!(
            check_alignment(0x1000, 0x40_1234, 0x1235),
            Err(ElfError::Misaligned)
        );
        assert_eq!(
            check_alignment(0x1800, 0x40_1000, 0x1000),
            Err(ElfError::Misaligned)
        );
    }

    #[test]
    fn pages_round_outwards() {
        let segment = Segment {
            vaddr: 0x40_1234,
            mem_size: 0x1000,
            readable: true,
            ..Segment::default()
        };
        let pages = segment.pages();
        assert_eq!(
            pages.map(|p| (p.start, p.end)),
            Some((0x40_1000, 0x40_3000))
        );
        assert_eq!(pages.map(|p| p.page_count()), Some(2));
        assert_eq!(Segment::default().pages(), None);
    }
}
