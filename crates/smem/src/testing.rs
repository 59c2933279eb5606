//! A host fake of [`AddressSpace`], for this crate's tests and those of
//! the crates above it (`sk-smach`).
//!
//! Owns [`FakeAddressSpace`]: pages in a map, an optional limit on how many
//! may be mapped (to test running out of memory), and counters of maps and
//! unmaps so tests can check nothing leaked.

use crate::{Access, AddressSpace, MapFailure, USER_MAP_END};
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use sk_abi::PAGE_SIZE;

/// One fake page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePage {
    /// Its access.
    pub access: Access,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Pages in a map.
#[derive(Debug, Default)]
pub struct FakeAddressSpace {
    /// Mapped pages by address.
    pub pages: BTreeMap<u64, FakePage>,
    /// Most pages that may be mapped at once (None: no limit).
    pub limit: Option<usize>,
}

impl FakeAddressSpace {
    /// An empty space with no limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty space that runs out of memory after `pages` pages.
    pub fn with_limit(pages: usize) -> Self {
        Self {
            pages: BTreeMap::new(),
            limit: Some(pages),
        }
    }

    /// Byte at `addr`, if mapped.
    pub fn byte(&self, addr: u64) -> Option<u8> {
        let page = addr & !(PAGE_SIZE - 1);
        let offset = usize::try_from(addr % PAGE_SIZE).ok()?;
        self.pages.get(&page)?.bytes.get(offset).copied()
    }
}

impl AddressSpace for FakeAddressSpace {
    fn map_page(
        &mut self,
        page: u64,
        access: Access,
        contents: &[(usize, &[u8])],
    ) -> Result<(), MapFailure> {
        if !page.is_multiple_of(PAGE_SIZE) || page >= USER_MAP_END {
            return Err(MapFailure::BadAddress);
        }
        if self.pages.contains_key(&page) {
            return Err(MapFailure::AlreadyMapped);
        }
        if self.limit.is_some_and(|l| self.pages.len() >= l) {
            return Err(MapFailure::NoMemory);
        }
        let mut bytes = vec![0u8; 4096];
        for &(offset, data) in contents {
            let end = offset.saturating_add(data.len()).min(bytes.len());
            if let (Some(dst), Some(src)) = (
                bytes.get_mut(offset..end),
                data.get(..end.saturating_sub(offset)),
            ) {
                dst.copy_from_slice(src);
            }
        }
        self.pages.insert(page, FakePage { access, bytes });
        Ok(())
    }

    fn unmap_page(&mut self, page: u64) -> bool {
        self.pages.remove(&page).is_some()
    }

    fn protect_page(&mut self, page: u64, access: Access) -> bool {
        match self.pages.get_mut(&page) {
            Some(p) => {
                p.access = access;
                true
            }
            None => false,
        }
    }
}
