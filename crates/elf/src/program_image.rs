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

use crate::headers::{FileTypes, Headers};
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
        let headers = Headers::read(bytes, FileTypes::Executable)?;
        Self::load(bytes, &headers, 0).map(|(image, _)| image)
    }

    /// Validates `bytes` as a static Linux x86-64 program: `ET_EXEC`, or a
    /// static-PIE `ET_DYN` (a `PT_DYNAMIC` for its self-relocation, no
    /// `PT_INTERP`) loaded at `pie_base` (page-aligned). Returns the image
    /// (addresses already biased) and what its auxiliary vector needs.
    ///
    /// # Errors
    /// As [`parse`](Self::parse); [`ElfError::DynamicallyLinked`] for a
    /// `PT_INTERP`, or a `PT_DYNAMIC` in an `ET_EXEC`;
    /// [`ElfError::BadProgramHeaders`] if the program headers are not in
    /// loaded memory; [`ElfError::OutsideUserSpace`] for a bad base.
    pub fn parse_linux(bytes: &[u8], pie_base: u64) -> Result<(Self, LinuxLoad), ElfError> {
        let headers = Headers::read(bytes, FileTypes::ExecutableOrPie)?;
        let bias = if headers.is_position_independent() {
            if !pie_base.is_multiple_of(crate::PAGE_SIZE) {
                return Err(ElfError::OutsideUserSpace);
            }
            pie_base
        } else {
            0
        };
        let (image, phdr) = Self::load(bytes, &headers, bias)?;
        let phdr = match phdr {
            Some(address) => address,
            None => image.address_of_file_offset(headers.program_header_offset())?,
        };
        Ok((
            image,
            LinuxLoad {
                phdr,
                phnum: u64::from(headers.program_header_count()),
                phent: 56,
                bias,
            },
        ))
    }

    /// Whether `bytes` (a program [`parse_linux`](Self::parse_linux)
    /// accepts) carries what a Linux toolchain puts in a program and this
    /// kernel's native programs lack: a static-PIE `ET_DYN`, a `PT_NOTE`
    /// (glibc's ABI tag, the GNU property note) or a `PT_TLS`. `execve`
    /// refuses a program without any (`ENOEXEC`): a native program would
    /// otherwise run with Linux call numbers. False for a file that does
    /// not parse.
    #[must_use]
    pub fn has_linux_marks(bytes: &[u8]) -> bool {
        let Ok(headers) = Headers::read(bytes, FileTypes::ExecutableOrPie) else {
            return false;
        };
        if headers.is_position_independent() {
            return true;
        }
        let marked = headers
            .program_headers()
            .any(|h| h.is_ok_and(|h| matches!(h.kind, Type::Note | Type::Tls)));
        marked
    }

    /// Reads the segments of a checked file loaded `bias` above its link
    /// addresses; the `PT_PHDR` address (biased) if it has one.
    fn load(bytes: &[u8], headers: &Headers, bias: u64) -> Result<(Self, Option<u64>), ElfError> {
        let mut image = Self {
            entry: headers
                .entry()
                .checked_add(bias)
                .ok_or(ElfError::OutsideUserSpace)?,
            segments: [Segment::default(); MAX_SEGMENTS],
            segment_count: 0,
        };
        let mut phdr = None;
        for header in headers.program_headers() {
            let header = header?;
            match header.kind {
                Type::Load => {
                    let segment = Segment::from_program_header(&header.fields, bytes.len(), bias)?;
                    image.push(segment)?;
                }
                Type::Interp => return Err(ElfError::DynamicallyLinked),
                // A static-PIE program relocates itself from its dynamic
                // section; anywhere else it means a dynamic linker.
                Type::Dynamic if !headers.is_position_independent() => {
                    return Err(ElfError::DynamicallyLinked)
                }
                Type::Phdr => {
                    phdr = Some(
                        header
                            .fields
                            .virtual_addr
                            .checked_add(bias)
                            .ok_or(ElfError::BadProgramHeaders)?,
                    );
                }
                // Nothing else affects loading: PT_NOTE, PT_TLS (the C
                // library sets up its own thread pointer), PT_GNU_STACK
                // (stacks are never executable anyway), ...
                _ => {}
            }
        }
        image.check_together()?;
        Ok((image, phdr))
    }

    /// Where file offset `offset` is in memory: inside a segment's file
    /// bytes.
    fn address_of_file_offset(&self, offset: u64) -> Result<u64, ElfError> {
        self.segments()
            .iter()
            .find_map(|s| {
                let into = offset.checked_sub(s.file_offset)?;
                (into < s.file_size)
                    .then(|| s.vaddr.checked_add(into))
                    .flatten()
            })
            .ok_or(ElfError::BadProgramHeaders)
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

/// What a Linux program's auxiliary vector needs from its loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinuxLoad {
    /// Where the program headers are in memory (`AT_PHDR`).
    pub phdr: u64,
    /// How many (`AT_PHNUM`).
    pub phnum: u64,
    /// Size of one (`AT_PHENT`).
    pub phent: u64,
    /// How far above its link addresses it was loaded (0 for `ET_EXEC`).
    pub bias: u64,
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
