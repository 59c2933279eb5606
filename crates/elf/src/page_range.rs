//! A run of whole pages to map, with one set of permissions.
//!
//! Owns [`PageRange`], what [`ProgramImage::pages`](crate::ProgramImage::pages)
//! yields: the loader allocates and maps `start..end`, then copies each
//! segment's file bytes in.

use crate::PAGE_SIZE;

/// Page-aligned addresses `start..end` and how to map them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageRange {
    /// First byte of the first page (page aligned).
    pub start: u64,
    /// One past the last page (page aligned, at most `USER_END`).
    pub end: u64,
    /// Mapped readable.
    pub readable: bool,
    /// Mapped writable.
    pub writable: bool,
    /// Mapped executable.
    pub executable: bool,
}

impl PageRange {
    /// Number of pages in the range.
    #[must_use]
    pub const fn page_count(&self) -> u64 {
        self.len_bytes() / PAGE_SIZE
    }

    /// Size of the range in bytes.
    #[must_use]
    pub const fn len_bytes(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the two ranges share a page.
    #[must_use]
    pub const fn overlaps(&self, other: &Self) -> bool {
        self.start < other.end && other.start < self.end
    }
}
