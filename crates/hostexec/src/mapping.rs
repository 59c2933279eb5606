//! One anonymous `mmap` region, unmapped on drop.
//!
//! Owns [`Mapping`]: the only place that calls `mmap`, `mprotect` and
//! `munmap`. Used by [`crate::Sandbox`] for its code, data and result pages.

use crate::ExecError;

/// Access rights of a mapping. There is deliberately no read-write-execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// No access: a guard page.
    None,
    /// Readable and writable, not executable.
    ReadWrite,
    /// Readable and executable, not writable.
    ReadExecute,
}

impl Access {
    fn prot(self) -> libc::c_int {
        match self {
            Self::None => libc::PROT_NONE,
            Self::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
            Self::ReadExecute => libc::PROT_READ | libc::PROT_EXEC,
        }
    }
}

/// Whether a fork child's writes are visible to the parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sharing {
    /// `MAP_PRIVATE`: the child writes its own copy.
    Private,
    /// `MAP_SHARED`: parent and child see the same frames.
    Shared,
}

/// An owned anonymous mapping of `len` bytes (rounded up to pages).
#[derive(Debug)]
pub(crate) struct Mapping {
    base: *mut u8,
    len: usize,
    access: Access,
}

pub(crate) const PAGE_SIZE: usize = 4096;

impl Mapping {
    /// Maps `len` bytes (at least one page) read-write.
    pub(crate) fn new(len: usize, sharing: Sharing) -> Result<Self, ExecError> {
        let len = len.max(1).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let flags = libc::MAP_ANONYMOUS
            | match sharing {
                Sharing::Private => libc::MAP_PRIVATE,
                Sharing::Shared => libc::MAP_SHARED,
            };
        // SAFETY: an anonymous mapping at an address of the kernel's choosing
        // aliases no Rust object; the arguments are a valid length and flags.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                Access::ReadWrite.prot(),
                flags,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(ExecError::Map(std::io::Error::last_os_error()));
        }
        Ok(Self {
            base: base.cast(),
            len,
            access: Access::ReadWrite,
        })
    }

    /// The first byte's address.
    pub(crate) fn address(&self) -> u64 {
        self.base as u64
    }

    /// Length in bytes (whole pages).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Current access rights.
    pub(crate) fn access(&self) -> Access {
        self.access
    }

    /// Changes the rights of `len` bytes at `offset` (page-aligned), or of
    /// the whole mapping when `range` is `None`.
    pub(crate) fn protect(
        &mut self,
        access: Access,
        range: Option<(usize, usize)>,
    ) -> Result<(), ExecError> {
        let (offset, len) = range.unwrap_or((0, self.len));
        assert!(
            offset % PAGE_SIZE == 0 && offset + len <= self.len,
            "protect range inside the mapping"
        );
        // SAFETY: `base + offset .. + len` lies inside this mapping (asserted
        // above), which we own; no Rust reference into it outlives this call
        // because slices are only handed out borrowing `self`.
        let rc = unsafe { libc::mprotect(self.base.add(offset).cast(), len, access.prot()) };
        if rc != 0 {
            return Err(ExecError::Protect(std::io::Error::last_os_error()));
        }
        if range.is_none() {
            self.access = access;
        }
        Ok(())
    }

    /// The bytes, while the first page is readable.
    pub(crate) fn bytes(&self, len: usize) -> &[u8] {
        assert!(len <= self.len && self.access != Access::None);
        // SAFETY: the range lies inside our live mapping, which is readable;
        // the slice borrows `self`, so the mapping outlives it and cannot be
        // re-protected meanwhile (`protect` needs `&mut self`).
        unsafe { core::slice::from_raw_parts(self.base, len) }
    }

    /// The bytes, mutably, while the mapping is writable.
    pub(crate) fn bytes_mut(&mut self, len: usize) -> &mut [u8] {
        assert!(len <= self.len && self.access == Access::ReadWrite);
        // SAFETY: as in `bytes`, plus: the mapping is writable and the
        // exclusive borrow of `self` makes this the only live slice.
        unsafe { core::slice::from_raw_parts_mut(self.base, len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` came from our own successful `mmap`; no slice
        // borrowing `self` can be alive during `drop`.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
