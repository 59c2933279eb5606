//! User address spaces for the portable kinds: `sk-smem`'s
//! [`AddressSpace`] seam over `sk-machine`'s page tables.
//!
//! Owns [`KernelAddressSpace`]. Each mapped page is a fresh zeroed
//! [`UserFrame`], which refuses when only the kernel's frame reserve is
//! left, so user memory can never starve the kernel.

use sk_machine::address_space::{AddressSpace as Tables, UserAccess};
use sk_machine::paging::MapError;
use sk_machine::user_frame::UserFrame;
use sk_smem::{Access, AddressSpace, MapFailure};

/// One SMACH's page tables.
#[derive(Debug)]
pub(crate) struct KernelAddressSpace(pub(crate) Tables);

impl KernelAddressSpace {
    pub(crate) fn new() -> Result<Self, sk_abi::SysError> {
        Tables::new()
            .map(Self)
            .map_err(|_| sk_abi::SysError::NoMemory)
    }
}

fn access(a: Access) -> UserAccess {
    UserAccess {
        write: a.write,
        execute: a.execute,
    }
}

impl AddressSpace for KernelAddressSpace {
    fn map_page(
        &mut self,
        page: u64,
        a: Access,
        contents: &[(usize, &[u8])],
    ) -> Result<(), MapFailure> {
        let mut frame = UserFrame::new().ok_or(MapFailure::NoMemory)?;
        for &(offset, bytes) in contents {
            frame.write(offset, bytes);
        }
        self.0.map(page, frame, access(a)).map_err(|e| match e {
            MapError::AlreadyMapped => MapFailure::AlreadyMapped,
            MapError::BadAddress => MapFailure::BadAddress,
            _ => MapFailure::NoMemory,
        })
    }

    fn unmap_page(&mut self, page: u64) -> bool {
        self.0.unmap(page).is_ok()
    }

    fn protect_page(&mut self, page: u64, a: Access) -> bool {
        self.0.protect(page, access(a)).is_ok()
    }
}
