//! SMEM handles: regions of the caller's address space.
//!
//! Owns [`Smem`]: map zeroed memory, change its protection, query and free
//! it. Its bytes are reached only through `unsafe` accessors, because
//! another holder of the same handle number could unmap or re-protect the
//! region under a Rust reference.

use sk_abi::{
    Handle, Kind, Prot, QuerySelector, SmemCreateArgs, SmemCreateFlags, SmemInfo, SmemReconfigure,
    SysError,
};

use crate::call;
use crate::route::Route;

/// A mapped SMEM region. Freeing is explicit ([`Smem::free`]).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Smem {
    handle: Handle,
    info: SmemInfo,
}

impl Smem {
    /// Maps `len` bytes (rounded up to pages) of zeroed memory wherever the
    /// kernel chooses.
    ///
    /// # Errors
    /// [`SysError::BadLength`] for 0, [`SysError::NoMemory`],
    /// [`SysError::BadFlags`] (`WRITE | EXEC`), …
    pub fn create(len: u64, prot: Prot) -> Result<Self, SysError> {
        Self::create_with(&SmemCreateArgs {
            addr_hint: 0,
            len,
            prot: prot.bits(),
            flags: 0,
        })
    }

    /// Maps exactly at the page-aligned `addr`.
    ///
    /// # Errors
    /// As for [`Smem::create`]; [`SysError::Exists`] if the range is in use,
    /// [`SysError::BadAddress`] if it is misaligned or not user space.
    pub fn create_at(addr: u64, len: u64, prot: Prot) -> Result<Self, SysError> {
        Self::create_with(&SmemCreateArgs {
            addr_hint: addr,
            len,
            prot: prot.bits(),
            flags: SmemCreateFlags::FIXED.bits(),
        })
    }

    /// Maps with explicit arguments, then queries where the region landed.
    ///
    /// # Errors
    /// As for `create(Kind::Smem)` and `query`.
    pub fn create_with(args: &SmemCreateArgs) -> Result<Self, SysError> {
        let handle = call::create(Kind::Smem, &args.to_bytes(), Route::Table)?;
        let info = query_info(handle).inspect_err(|_| {
            // Do not leak the region if the kernel cannot describe it.
            let _ = call::terminate(handle, 0);
        })?;
        Ok(Self { handle, info })
    }

    /// The handle.
    #[must_use]
    pub const fn handle(&self) -> Handle {
        self.handle
    }

    /// The start address.
    #[must_use]
    pub const fn addr(&self) -> u64 {
        self.info.addr
    }

    /// The length in bytes (whole pages).
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.info.len
    }

    /// Whether the region is empty (never, for a created region).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.info.len == 0
    }

    /// The start as a pointer.
    #[must_use]
    pub fn as_mut_ptr(&self) -> *mut u8 {
        usize::try_from(self.info.addr).map_or(core::ptr::null_mut(), |addr| {
            core::ptr::with_exposed_provenance_mut(addr)
        })
    }

    /// The region as bytes.
    ///
    /// # Safety
    /// While the slice lives, the region must stay mapped and readable and
    /// writable: no code may terminate or re-protect this handle, and the
    /// region must have been created with `READ | WRITE`.
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = call::byte_count(self.info.len);
        // SAFETY: the kernel mapped `len` bytes at `addr` for this SMACH
        // (from `query`); the caller keeps them mapped and writable while the
        // slice lives; `&mut self` makes it the only slice made here.
        unsafe { core::slice::from_raw_parts_mut(self.as_mut_ptr(), len) }
    }

    /// Changes the protection of the whole region.
    ///
    /// # Errors
    /// [`SysError::BadFlags`] for `WRITE | EXEC`, …
    pub fn protect(&mut self, prot: Prot) -> Result<(), SysError> {
        call::reconfigure(self.handle, SmemReconfigure::Protect(prot).to_registers())?;
        self.info.prot = prot.bits();
        Ok(())
    }

    /// Address, length and protection, as the kernel reports them.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn query(&self) -> Result<SmemInfo, SysError> {
        query_info(self.handle)
    }

    /// Unmaps the region and frees the handle.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn free(self) -> Result<(), SysError> {
        call::terminate(self.handle, 0).map(drop)
    }
}

fn query_info(handle: Handle) -> Result<SmemInfo, SysError> {
    let mut bytes = [0_u8; SmemInfo::SIZE];
    call::query(handle, QuerySelector::Info, &mut bytes)?;
    SmemInfo::from_bytes(&bytes)
}
