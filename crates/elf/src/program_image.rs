//! A validated program image: the entry point and the segments to load.
//!
//! Owns [`ProgramImage`] and [`ProgramImage::parse`], which runs the header
//! checks ([`Headers`]), the per-segment checks ([`Segment`]) and the rules
//! about segments together: at most [`MAX_SEGMENTS`], no two sharing a
//! page, at most [`MAX_IMAGE_BYTES`] in all, and an entry point in
//! executable, file-backed memory. Stores segments in a fixed array, so
//! parsing never allocates.

use core::fmt;

use xmas_elf::program::Type;

use crate::headers::Headers;
use crate::{ElfError, PageRange, Segment, MAX_IMAGE_BYTES, MAX_SEGMENTS};

/// A static x86-64 executable that passed every check.
#[derive(Clone, PartialEq, Eq)]
pub struct ProgramImage {
    entry: u64,
    segments: [Segment; MAX_SEGMENTS],
    segment_count: usize,
}

impl ProgramImage {
    /// Validates `bytes` as a static, non-PIE x86-64 ELF64 executable.
    /// `bytes` may sit at any alignment.
    ///
    /// # Errors
    /// The [`ElfError`] for the first rule the file breaks; header rules are
    /// checked before segment rules, segments in table order.
    pub fn parse(bytes: &[u8]) -> Result<Self, ElfError> {
        let headers = Headers::read(bytes)?;
        let mut image = Self {
            entry: headers.entry(),
            segments: [Segment::default(); MAX_SEGMENTS],
            segment_count: 0,
        };
        for header in headers.program_headers() {
            let header = header?;
            match header.kind {
                Type::Load => {
                    let segment = Segment::from_program_header(&header.fields, bytes.len())?;
                    image.push(segment)?;
                }
                Type::Interp | Type::Dynamic => return Err(ElfError::DynamicallyLinked),
                // Nothing else affects loading: PT_PHDR, PT_NOTE,
                // PT_GNU_STACK (stacks are never executable anyway), ...
                _ => {}
            }
        }
        image.check_together()?;
        Ok(image)
    }

    /// The address of the first instruction.
    #[must_use]
    pub const fn entry(&self) -> u64 {
        self.entry
    }

    /// The PT_LOAD segments, in program header order.
    #[must_use]
    pub fn segments(&self) -> &[Segment] {
        self.segments.get(..self.segment_count).unwrap_or_default()
    }

    /// The pages to map, one range per non-empty segment, in segment order.
    /// No two ranges share a page.
    #[must_use]
    pub fn pages(&self) -> Pages<'_> {
        Pages {
            segments: self.segments().iter(),
        }
    }

    /// Bytes of memory the image's pages take.
    #[must_use]
    pub fn mapped_bytes(&self) -> u64 {
        self.pages().fold(0_u64, |total, range| {
            total.saturating_add(range.len_bytes())
        })
    }

    fn push(&mut self, segment: Segment) -> Result<(), ElfError> {
        let slot = self
            .segments
            .get_mut(self.segment_count)
            .ok_or(ElfError::TooManySegments)?;
        *slot = segment;
        self.segment_count = self.segment_count.saturating_add(1);
        Ok(())
    }

    fn check_together(&self) -> Result<(), ElfError> {
        if self.segments().is_empty() {
            return Err(ElfError::NoLoadableSegments);
        }
        for (index, range) in self.pages().enumerate() {
            if self
                .pages()
                .skip(index.saturating_add(1))
                .any(|other| range.overlaps(&other))
            {
                return Err(ElfError::OverlappingSegments);
            }
        }
        if self.mapped_bytes() > MAX_IMAGE_BYTES {
            return Err(ElfError::ImageTooLarge);
        }
        let is_entry_executable = self
            .segments()
            .iter()
            .any(|segment| segment.executable && segment.file_backed().contains(&self.entry));
        if !is_entry_executable {
            return Err(ElfError::EntryNotExecutable);
        }
        Ok(())
    }
}

impl fmt::Debug for ProgramImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgramImage")
            .field("entry", &format_args!("{:#x}", self.entry))
            .field("segments", &self.segments())
            .finish()
    }
}

/// Iterator over an image's [`PageRange`]s; see [`ProgramImage::pages`].
#[derive(Debug, Clone)]
pub struct Pages<'a> {
    segments: core::slice::Iter<'a, Segment>,
}

impl Iterator for Pages<'_> {
    type Item = PageRange;

    fn next(&mut self) -> Option<PageRange> {
        self.segments.by_ref().find_map(Segment::pages)
    }
}

#[cfg(test)]
mod tests;
