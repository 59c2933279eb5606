//! A Linux process's user address map: `mmap`, `munmap`, `mprotect`.
//!
//! Owns [`AddressMap`]: the sorted, disjoint, page-aligned [`Region`]s of
//! one process, all inside `[MMAP_MIN_ADDR, MAP_END)`, the base below
//! which `mmap` looks for free space top-down, and the `brk` heap
//! (`crate::brk`; `mremap` is in `crate::mremap`). Each call checks its
//! arguments as Linux does (mmap(2), munmap(2), mprotect(2)), updates the
//! map, and returns the [`MapAction`]s the kernel must then perform on the
//! page tables; the kernel decides nothing itself.
//!
//! Adjacent regions with the same attributes are merged, as Linux merges
//! VMAs. One deviation: `mprotect` over a range with a hole fails with
//! `ENOMEM` without changing anything (Linux may already have changed the
//! part before the hole).

use crate::errno::Errno;
use crate::vma::{
    is_page_aligned, map, page_align_up, Backing, MapAction, Prot, Region, RegionKind, MAP_END,
    MMAP_MIN_ADDR,
};
use alloc::vec::Vec;
use sk_abi::PAGE_SIZE;

/// The largest file offset a mapping may reach (`MAX_LFS_FILESIZE`).
pub const MAX_FILE_OFFSET: u64 = i64::MAX as u64;

/// A process's address map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressMap {
    /// Sorted by `start`, disjoint, none empty, adjacent ones not joinable.
    pub(crate) regions: Vec<Region>,
    /// `mmap` without a usable hint searches top-down below this first.
    pub(crate) mmap_base: u64,
    /// Where the heap starts (page aligned); `brk` never goes below it.
    pub(crate) brk_start: u64,
    /// The current break, exactly as last set (the heap's pages end at it
    /// rounded up).
    pub(crate) brk: u64,
}

/// A kind of memory access (from a page fault's error code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Execute,
}

/// The open file behind a file mapping, as the kernel found the fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRef {
    /// The kernel's identity for the open file (opaque here).
    pub file: u64,
    /// Opened for reading (else `EACCES`).
    pub readable: bool,
    /// Opened for writing (a shared mapping may then be writable).
    pub writable: bool,
}

/// The arguments of `mmap(addr, len, prot, flags, fd, offset)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapRequest {
    /// The hint, or the exact address with `MAP_FIXED`.
    pub addr: u64,
    /// Length in bytes (rounded up to pages).
    pub len: u64,
    /// `PROT_*` bits (unknown ones ignored, as Linux).
    pub prot: u64,
    /// `MAP_*` bits.
    pub flags: u64,
    /// File offset (page aligned, even for anonymous mappings).
    pub offset: u64,
    /// The file, unless `MAP_ANONYMOUS` (then ignored).
    pub file: Option<FileRef>,
}

/// A successful `mmap` or `mremap`: the address to return and the work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapped {
    /// The mapping's address (the call's result).
    pub addr: u64,
    /// What the kernel must do, in order.
    pub actions: Vec<MapAction>,
}

impl AddressMap {
    /// An empty map whose `mmap` searches below `mmap_base` and whose heap
    /// starts at `brk_start` (both page aligned, inside
    /// `[MMAP_MIN_ADDR, MAP_END]`).
    ///
    /// # Errors
    /// `EINVAL` otherwise.
    pub fn new(mmap_base: u64, brk_start: u64) -> Result<Self, Errno> {
        let ok = |a: u64| is_page_aligned(a) && (MMAP_MIN_ADDR..=MAP_END).contains(&a);
        if !ok(mmap_base) || !ok(brk_start) {
            return Err(Errno::EINVAL);
        }
        Ok(Self {
            regions: Vec::new(),
            mmap_base,
            brk_start,
            brk: brk_start,
        })
    }

    /// The regions, lowest first.
    #[must_use]
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The region holding `addr`, if any (for page faults).
    #[must_use]
    pub fn lookup(&self, addr: u64) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| r.start <= addr && addr < r.end)
    }

    /// What a user page fault at `addr` for `access` means: the region, if
    /// the access is allowed (the kernel maps the page), else the
    /// `SIGSEGV` code (`SEGV_MAPERR`: nothing mapped; `SEGV_ACCERR`: the
    /// protection forbids it). As on x86-64, any protection but
    /// `PROT_NONE` can be read; writing needs `PROT_WRITE`, executing
    /// `PROT_EXEC`.
    ///
    /// # Errors
    /// The `si_code` for the `SIGSEGV`.
    pub fn check_access(&self, addr: u64, access: Access) -> Result<&Region, i32> {
        let region = self.lookup(addr).ok_or(crate::siginfo::code::SEGV_MAPERR)?;
        let allowed = match access {
            Access::Read => region.prot != Prot::NONE,
            Access::Write => region.prot.contains(Prot::WRITE),
            Access::Execute => region.prot.contains(Prot::EXEC),
        };
        if allowed {
            Ok(region)
        } else {
            Err(crate::siginfo::code::SEGV_ACCERR)
        }
    }

    /// True if no region overlaps `start..end`.
    #[must_use]
    pub fn is_free(&self, start: u64, end: u64) -> bool {
        !self.regions.iter().any(|r| r.start < end && start < r.end)
    }

    /// Removes `start..end` from every region (splitting them) and returns
    /// an `Unmap` for each part that was mapped.
    pub(crate) fn carve(&mut self, start: u64, end: u64) -> Vec<MapAction> {
        let mut actions = Vec::new();
        if start >= end {
            return actions;
        }
        let mut kept = Vec::with_capacity(self.regions.len() + 1);
        for region in self.regions.drain(..) {
            if region.end <= start || end <= region.start {
                kept.push(region);
                continue;
            }
            let cut_start = region.start.max(start);
            let cut_end = region.end.min(end);
            actions.push(MapAction::Unmap {
                range: cut_start..cut_end,
            });
            if region.start < cut_start {
                kept.push(region.slice(region.start, cut_start));
            }
            if cut_end < region.end {
                kept.push(region.slice(cut_end, region.end));
            }
        }
        self.regions = kept;
        actions
    }

    /// Adds `region` (its range free) and merges neighbours.
    pub(crate) fn insert(&mut self, region: Region) {
        let at = self.regions.partition_point(|r| r.start < region.start);
        self.regions.insert(at, region);
        self.normalize();
    }

    /// Merges adjacent joinable regions.
    pub(crate) fn normalize(&mut self) {
        let mut merged: Vec<Region> = Vec::with_capacity(self.regions.len());
        for region in self.regions.drain(..) {
            match merged.last_mut() {
                Some(last) if last.joins(&region) => last.end = region.end,
                _ => merged.push(region),
            }
        }
        self.regions = merged;
    }

    /// The highest `len`-byte free range inside `lo..hi`.
    pub(crate) fn highest_fit(&self, len: u64, lo: u64, hi: u64) -> Option<u64> {
        let mut gap_end = hi;
        for region in self.regions.iter().rev() {
            if region.start >= gap_end {
                continue;
            }
            let gap_start = region.end.max(lo);
            if region.end < gap_end && gap_end.saturating_sub(gap_start) >= len {
                return Some(gap_end - len);
            }
            gap_end = region.start;
            if gap_end <= lo {
                return None;
            }
        }
        (gap_end.saturating_sub(lo) >= len).then(|| gap_end - len)
    }

    /// A free `len`-byte range for a mapping without a usable hint:
    /// top-down below the mmap base, else top-down above it.
    pub(crate) fn find_free(&self, len: u64) -> Option<u64> {
        self.highest_fit(len, MMAP_MIN_ADDR, self.mmap_base)
            .or_else(|| self.highest_fit(len, self.mmap_base, MAP_END))
    }

    /// `mmap`, its checks in Linux's order (x86 `sys_mmap`,
    /// `ksys_mmap_pgoff`, `do_mmap`, `__get_unmapped_area`).
    ///
    /// # Errors
    /// In that order: `EINVAL` for an unaligned `offset`; `EBADF` for a
    /// file mapping without a file; `EINVAL` for `MAP_HUGETLB` (not
    /// supported) or `len` 0; `ENOMEM` if `len` exceeds user space; with
    /// `MAP_FIXED`/`MAP_FIXED_NOREPLACE`, `ENOMEM` past the end of user
    /// space, `EINVAL` for an unaligned `addr`, `EPERM` below
    /// `MMAP_MIN_ADDR`; without, `ENOMEM` if no range is free; `EEXIST`
    /// for `MAP_FIXED_NOREPLACE` over a mapping; for a file, `EOVERFLOW`
    /// if `offset + len` passes the largest file offset, `EOPNOTSUPP` for
    /// unknown flags with `MAP_SHARED_VALIDATE`, `EACCES` for a writable
    /// shared mapping of a file not open for writing or any mapping of a
    /// file not open for reading; `EINVAL` for a bad sharing type (for an
    /// anonymous mapping also `MAP_SHARED_VALIDATE`, and `MAP_SHARED` with
    /// `MAP_GROWSDOWN`). Nothing changes on error.
    pub fn mmap(&mut self, req: &MmapRequest) -> Result<Mapped, Errno> {
        if !is_page_aligned(req.offset) {
            return Err(Errno::EINVAL);
        }
        let anonymous = req.flags & map::ANONYMOUS != 0;
        let file = if anonymous {
            None
        } else {
            Some(req.file.ok_or(Errno::EBADF)?)
        };
        if req.flags & map::HUGETLB != 0 || req.len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_align_up(req.len)
            .filter(|&len| len <= MAP_END - MMAP_MIN_ADDR)
            .ok_or(Errno::ENOMEM)?;
        let fixed = req.flags & (map::FIXED | map::FIXED_NOREPLACE) != 0;
        let addr = if fixed {
            if req.addr > MAP_END - len {
                return Err(Errno::ENOMEM);
            }
            if !is_page_aligned(req.addr) {
                return Err(Errno::EINVAL);
            }
            if req.addr < MMAP_MIN_ADDR {
                return Err(Errno::EPERM);
            }
            req.addr
        } else {
            self.hint(req.addr, len)
                .or_else(|| self.find_free(len))
                .ok_or(Errno::ENOMEM)?
        };
        let end = addr + len;
        if req.flags & map::FIXED_NOREPLACE != 0 && !self.is_free(addr, end) {
            return Err(Errno::EEXIST);
        }
        let prot = Prot::from_bits_truncate(req.prot);
        let kind = req.flags & map::TYPE;
        let (shared, backing, max_prot) = match file {
            None => match kind {
                map::SHARED if req.flags & map::GROWSDOWN != 0 => return Err(Errno::EINVAL),
                map::SHARED => (true, Backing::Anonymous, Prot::ALL),
                map::PRIVATE => (false, Backing::Anonymous, Prot::ALL),
                _ => return Err(Errno::EINVAL),
            },
            Some(file) => {
                if req
                    .offset
                    .checked_add(len)
                    .is_none_or(|end| end > MAX_FILE_OFFSET)
                {
                    return Err(Errno::EOVERFLOW);
                }
                let shared = match kind {
                    map::SHARED_VALIDATE if req.flags & !map::KNOWN != 0 => {
                        return Err(Errno::EOPNOTSUPP)
                    }
                    map::SHARED | map::SHARED_VALIDATE => true,
                    map::PRIVATE => false,
                    _ => return Err(Errno::EINVAL),
                };
                if shared && !file.writable && prot.contains(Prot::WRITE) {
                    return Err(Errno::EACCES);
                }
                if !file.readable {
                    return Err(Errno::EACCES);
                }
                let max_prot = if shared && !file.writable {
                    Prot::from_bits_truncate(u64::from(Prot::READ.bits() | Prot::EXEC.bits()))
                } else {
                    Prot::ALL
                };
                let backing = Backing::File {
                    file: file.file,
                    offset: req.offset,
                };
                (shared, backing, max_prot)
            }
        };

        let mut actions = if fixed {
            self.carve(addr, end)
        } else {
            Vec::new()
        };
        let region = Region {
            start: addr,
            end,
            prot,
            max_prot,
            shared,
            backing,
            grows_down: req.flags & map::GROWSDOWN != 0,
            kind: RegionKind::Mapping,
        };
        actions.push(MapAction::Map {
            range: region.range(),
            prot,
            shared,
            backing,
        });
        self.insert(region);
        Ok(Mapped { addr, actions })
    }

    /// The hint as Linux takes it (`round_hint_to_min`: rounded down to a
    /// page, raised to `MMAP_MIN_ADDR` if below), if the range there is
    /// inside user space and free. A zero hint is no hint.
    fn hint(&self, addr: u64, len: u64) -> Option<u64> {
        let addr = match addr & !(PAGE_SIZE - 1) {
            0 => return None,
            low if low < MMAP_MIN_ADDR => MMAP_MIN_ADDR,
            aligned => aligned,
        };
        (addr <= MAP_END - len && self.is_free(addr, addr + len)).then_some(addr)
    }

    /// `munmap`: unmapping a range with nothing in it succeeds.
    ///
    /// # Errors
    /// `EINVAL`: `addr` unaligned, `len` 0, or the range leaves user space.
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<Vec<MapAction>, Errno> {
        if !is_page_aligned(addr) || len == 0 || addr > MAP_END {
            return Err(Errno::EINVAL);
        }
        let len = page_align_up(len)
            .filter(|&len| len <= MAP_END - addr)
            .ok_or(Errno::EINVAL)?;
        Ok(self.carve(addr, addr + len))
    }

    /// `mprotect`: changes the protection of every page of the range.
    ///
    /// # Errors
    /// In Linux's order: `EINVAL` if `addr` is unaligned (a zero `len` then
    /// succeeds); `ENOMEM` if the range wraps; `EINVAL` for unknown `prot`
    /// bits; `ENOMEM` if any page of it is unmapped, `EACCES` if a region's
    /// file does not allow `prot` (the first problem from the low end wins;
    /// nothing changes on error).
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> Result<Vec<MapAction>, Errno> {
        // Linux's order: alignment, zero length, wrap, then `prot`.
        if !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let end = page_align_up(len)
            .and_then(|len| addr.checked_add(len))
            .ok_or(Errno::ENOMEM)?;
        let prot = Prot::from_bits(prot).ok_or(Errno::EINVAL)?;
        // Every page mapped, every region allowing `prot`, before changing any.
        let mut covered = addr;
        for region in self
            .regions
            .iter()
            .filter(|r| r.start < end && addr < r.end)
        {
            if region.start > covered {
                return Err(Errno::ENOMEM);
            }
            if !region.max_prot.contains(prot) {
                return Err(Errno::EACCES);
            }
            covered = region.end;
        }
        if covered < end {
            return Err(Errno::ENOMEM);
        }
        let mut actions = Vec::new();
        let mut result = Vec::with_capacity(self.regions.len() + 2);
        for region in self.regions.drain(..) {
            if region.end <= addr || end <= region.start {
                result.push(region);
                continue;
            }
            let (from, to) = (region.start.max(addr), region.end.min(end));
            if region.start < from {
                result.push(region.slice(region.start, from));
            }
            if region.prot != prot {
                actions.push(MapAction::Protect {
                    range: from..to,
                    prot,
                });
            }
            result.push(Region {
                prot,
                ..region.slice(from, to)
            });
            if to < region.end {
                result.push(region.slice(to, region.end));
            }
        }
        self.regions = result;
        self.normalize();
        Ok(actions)
    }
}
