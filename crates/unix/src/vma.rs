//! One region of a Linux process's address map, and the flag words of the
//! calls that make regions.
//!
//! Owns [`Region`] (a page-aligned `start..end` with protection, sharing,
//! backing, grows-down and kind), [`Prot`] (`PROT_READ`/`WRITE`/`EXEC`),
//! [`Backing`] (anonymous, or a file at an offset), the `MAP_*` and
//! `MREMAP_*` values ([`map`], [`mremap_flags`]) and [`MapAction`], the
//! page-level work an operation leaves to the kernel.

use core::ops::Range;
use sk_abi::{PAGE_SIZE, USER_END};

/// The lowest address a mapping may use (Linux's default
/// `vm.mmap_min_addr`); nothing is ever mapped below it, so page 0 stays
/// empty.
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// One past the highest user address ([`sk_abi::USER_END`]).
pub const MAP_END: u64 = USER_END;

/// Page protection (`PROT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prot(u8);

impl Prot {
    /// `PROT_NONE`.
    pub const NONE: Self = Self(0);
    /// `PROT_READ`.
    pub const READ: Self = Self(1);
    /// `PROT_WRITE`.
    pub const WRITE: Self = Self(2);
    /// `PROT_EXEC`.
    pub const EXEC: Self = Self(4);
    /// Read, write and execute.
    pub const ALL: Self = Self(7);
    /// `PROT_SEM` (accepted, no effect).
    pub const SEM_BIT: u64 = 0x8;

    /// The protection in a `prot` argument, unknown bits rejected
    /// (`mprotect`: `EINVAL`). `PROT_SEM` is accepted and dropped;
    /// `PROT_GROWSDOWN`/`PROT_GROWSUP` are not supported (`EINVAL`).
    #[must_use]
    pub fn from_bits(bits: u64) -> Option<Self> {
        if bits & !(7 | Self::SEM_BIT) != 0 {
            return None;
        }
        u8::try_from(bits & 7).ok().map(Self)
    }

    /// The R/W/X bits of `bits`, others ignored (what `mmap` does).
    #[must_use]
    pub fn from_bits_truncate(bits: u64) -> Self {
        Self(bits.to_le_bytes()[0] & 7)
    }

    /// The bits.
    #[must_use]
    pub fn bits(self) -> u8 {
        self.0
    }

    /// True if every bit of `other` is in `self`.
    #[must_use]
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// `mmap` flag bits (`<asm-generic/mman-common.h>`, x86-64).
pub mod map {
    /// Changes are shared.
    pub const SHARED: u64 = 0x01;
    /// Changes are private (copy on write).
    pub const PRIVATE: u64 = 0x02;
    /// `SHARED`, with unknown flags rejected.
    pub const SHARED_VALIDATE: u64 = 0x03;
    /// The sharing type field.
    pub const TYPE: u64 = 0x0f;
    /// Place exactly at `addr`, replacing what is there.
    pub const FIXED: u64 = 0x10;
    /// Not backed by a file.
    pub const ANONYMOUS: u64 = 0x20;
    /// A stack: grows down (recorded).
    pub const GROWSDOWN: u64 = 0x0100;
    /// Ignored.
    pub const DENYWRITE: u64 = 0x0800;
    /// Ignored.
    pub const EXECUTABLE: u64 = 0x1000;
    /// Lock the pages (accepted; everything is resident here).
    pub const LOCKED: u64 = 0x2000;
    /// Do not reserve swap (accepted).
    pub const NORESERVE: u64 = 0x4000;
    /// Prefault the pages (accepted).
    pub const POPULATE: u64 = 0x8000;
    /// With `POPULATE`: do not block (accepted).
    pub const NONBLOCK: u64 = 0x1_0000;
    /// A thread stack (accepted).
    pub const STACK: u64 = 0x2_0000;
    /// Huge pages (not supported here: `EINVAL`).
    pub const HUGETLB: u64 = 0x4_0000;
    /// Like `FIXED`, but fail with `EEXIST` instead of replacing.
    pub const FIXED_NOREPLACE: u64 = 0x10_0000;
    /// Not zeroed (accepted; pages are always zeroed here).
    pub const UNINITIALIZED: u64 = 0x400_0000;
    /// Every flag accepted with `SHARED_VALIDATE` for a file (the others
    /// are `EOPNOTSUPP`).
    pub const KNOWN: u64 = TYPE
        | UNINITIALIZED
        | FIXED
        | ANONYMOUS
        | GROWSDOWN
        | DENYWRITE
        | EXECUTABLE
        | LOCKED
        | NORESERVE
        | POPULATE
        | NONBLOCK
        | STACK
        | FIXED_NOREPLACE;
}

/// `mremap` flag bits.
pub mod mremap_flags {
    /// The mapping may move if it cannot grow in place.
    pub const MAYMOVE: u64 = 1;
    /// Move to exactly `new_address` (needs `MAYMOVE`).
    pub const FIXED: u64 = 2;
    /// Keep the old range mapped (not supported here: `EINVAL`).
    pub const DONTUNMAP: u64 = 4;
}

/// What backs a region's pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backing {
    /// Zero-filled memory.
    Anonymous,
    /// A file's bytes, `offset` being the file position of the page at the
    /// region's (or action's) start. `file` is the kernel's name for the
    /// open file (opaque here).
    File {
        /// The kernel's file identity.
        file: u64,
        /// File offset at the start (page aligned).
        offset: u64,
    },
}

impl Backing {
    /// The backing of the part of a region starting `delta` bytes in.
    #[must_use]
    pub fn advanced(self, delta: u64) -> Self {
        match self {
            Self::Anonymous => Self::Anonymous,
            Self::File { file, offset } => Self::File {
                file,
                offset: offset.wrapping_add(delta),
            },
        }
    }
}

/// What a region is for (reporting and `brk`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// Made by `mmap` (or by the loader).
    Mapping,
    /// The `brk` heap.
    Heap,
}

/// One mapped region: page-aligned, non-empty, inside
/// `[MMAP_MIN_ADDR, MAP_END)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Current protection.
    pub prot: Prot,
    /// The most `mprotect` may grant (a file opened read-only cannot
    /// become writable through a shared mapping: `EACCES`).
    pub max_prot: Prot,
    /// `MAP_SHARED` (else private).
    pub shared: bool,
    /// What backs it (offset at `start`).
    pub backing: Backing,
    /// `MAP_GROWSDOWN`.
    pub grows_down: bool,
    /// What it is for.
    pub kind: RegionKind,
}

impl Region {
    /// Its addresses.
    #[must_use]
    pub fn range(&self) -> Range<u64> {
        self.start..self.end
    }

    /// The part `start..end` of it (inside it, or just beyond its end for a
    /// growing region), with the file offset adjusted.
    #[must_use]
    pub fn slice(&self, start: u64, end: u64) -> Self {
        Self {
            start,
            end,
            backing: self.backing.advanced(start - self.start),
            ..*self
        }
    }

    /// True if `next` starts where this ends and could be one region with
    /// it (same attributes, file offsets continuing).
    #[must_use]
    pub fn joins(&self, next: &Self) -> bool {
        self.end == next.start
            && self.prot == next.prot
            && self.max_prot == next.max_prot
            && self.shared == next.shared
            && self.grows_down == next.grows_down
            && self.kind == next.kind
            && self.backing.advanced(self.end - self.start) == next.backing
    }
}

/// Page-level work an operation leaves to the kernel, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapAction {
    /// Remove the pages of `range` (all mapped before).
    Unmap {
        /// The pages.
        range: Range<u64>,
    },
    /// Create the pages of `range` (none mapped before): zero-filled, or
    /// the file's bytes from the backing's offset (private: a copy).
    Map {
        /// The pages.
        range: Range<u64>,
        /// Their protection.
        prot: Prot,
        /// Shared with other mappings of the same object.
        shared: bool,
        /// What fills them.
        backing: Backing,
    },
    /// Change the protection of `range` (all mapped).
    Protect {
        /// The pages.
        range: Range<u64>,
        /// The new protection.
        prot: Prot,
    },
    /// Move the pages `from..from + len`, contents and all, to
    /// `to..to + len` (which is unmapped); the old range ends unmapped.
    Move {
        /// Old start.
        from: u64,
        /// New start.
        to: u64,
        /// Length in bytes.
        len: u64,
    },
}

/// `len` rounded up to whole pages; `None` on overflow.
#[must_use]
pub fn page_align_up(len: u64) -> Option<u64> {
    len.checked_add(PAGE_SIZE - 1).map(|l| l & !(PAGE_SIZE - 1))
}

/// True if `addr` is page aligned.
#[must_use]
pub fn is_page_aligned(addr: u64) -> bool {
    addr.is_multiple_of(PAGE_SIZE)
}
