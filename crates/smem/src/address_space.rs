//! The seam between user-memory policy and page tables.
//!
//! Owns [`AddressSpace`], [`Access`] and [`MapFailure`]. The kernel's
//! implementation (in `sk-core`, over `sk-machine`) allocates a zeroed frame
//! per mapped page, charged to user memory (it fails when only the kernel's
//! reserve is left); the host fake in [`crate::testing`] keeps pages in a map.

use sk_abi::Prot;

/// Access rights of a user page. Never writable and executable at once
/// (`sk_abi::Prot::decode` rejects `WRITE | EXEC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Access {
    /// Writable by user code.
    pub write: bool,
    /// Executable by user code.
    pub execute: bool,
}

impl Access {
    /// Read-only data.
    pub const READ: Self = Self {
        write: false,
        execute: false,
    };
    /// Read-write data.
    pub const READ_WRITE: Self = Self {
        write: true,
        execute: false,
    };
    /// Read-execute code.
    pub const READ_EXECUTE: Self = Self {
        write: false,
        execute: true,
    };
}

impl From<Prot> for Access {
    fn from(prot: Prot) -> Self {
        Self {
            write: prot.contains(Prot::WRITE),
            execute: prot.contains(Prot::EXEC),
        }
    }
}

/// Why a page could not be mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapFailure {
    /// No memory for the page or its page tables.
    NoMemory,
    /// The page is already mapped.
    AlreadyMapped,
    /// Not a user page address (kernel half, the unmapped top page, or
    /// not page aligned).
    BadAddress,
}

/// One SMACH's user address space, page by page.
pub trait AddressSpace {
    /// Maps a fresh zeroed page at `page` with `access`, after copying
    /// `contents` (offset in the page, bytes) into it.
    ///
    /// # Errors
    /// [`MapFailure`]; nothing is mapped then.
    fn map_page(
        &mut self,
        page: u64,
        access: Access,
        contents: &[(usize, &[u8])],
    ) -> Result<(), MapFailure>;

    /// Unmaps the page at `page` and frees its frame; false if it was not
    /// mapped.
    fn unmap_page(&mut self, page: u64) -> bool;

    /// Changes the access of the mapped page at `page`; false if it is not
    /// mapped.
    fn protect_page(&mut self, page: u64, access: Access) -> bool;
}
