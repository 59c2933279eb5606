//! A host fake of [`UserMemory`] for this crate's tests and the crates
//! above it.
//!
//! Owns [`FakeUserMemory`]: one mapped range of user bytes; any byte
//! outside it faults, as does the byte at an optional injected fault
//! address, so partial copies can be tested exactly.

use crate::UserMemory;
use alloc::vec;
use alloc::vec::Vec;
use sk_abi::{SysError, USER_END};

/// Mapped user bytes `base..base + bytes.len()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUserMemory {
    /// First mapped address.
    pub base: u64,
    /// The mapped bytes.
    pub bytes: Vec<u8>,
    /// An address inside the range that faults anyway.
    pub fault_at: Option<u64>,
}

impl FakeUserMemory {
    /// `len` zero bytes mapped at `base`.
    pub fn new(base: u64, len: usize) -> Self {
        Self {
            base,
            bytes: vec![0; len],
            fault_at: None,
        }
    }

    fn index(&self, addr: u64) -> Option<usize> {
        if self.fault_at == Some(addr) {
            return None;
        }
        let offset = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        (offset < self.bytes.len()).then_some(offset)
    }

    /// How many bytes from `addr` on are accessible (stopping at the first
    /// fault, capped at `len`).
    fn accessible(&self, addr: u64, len: u64) -> u64 {
        let mut n = 0u64;
        while n < len {
            match addr.checked_add(n) {
                Some(a) if self.index(a).is_some() => n = n.saturating_add(1),
                _ => break,
            }
        }
        n
    }

    /// The mapped bytes at `addr..addr + len` (empty if not all mapped).
    pub fn slice(&self, addr: u64, len: usize) -> &[u8] {
        let range = addr
            .checked_sub(self.base)
            .and_then(|start| usize::try_from(start).ok())
            .and_then(|start| Some(start..start.checked_add(len)?));
        range.and_then(|r| self.bytes.get(r)).unwrap_or(&[])
    }
}

impl UserMemory for FakeUserMemory {
    fn check(&mut self, addr: u64, len: u64) -> Result<(), SysError> {
        match addr.checked_add(len) {
            Some(end) if end <= USER_END => Ok(()),
            _ => Err(SysError::BadAddress),
        }
    }

    fn read(&mut self, dst: &mut [u8], src: u64) -> Result<(), SysError> {
        self.read_prefix(dst, src).map_err(|(_, e)| e)
    }

    fn read_prefix(&mut self, dst: &mut [u8], src: u64) -> Result<(), (usize, SysError)> {
        self.check(src, dst.len() as u64).map_err(|e| (0, e))?;
        let n = usize::try_from(self.accessible(src, dst.len() as u64)).unwrap_or(0);
        for (i, d) in dst.iter_mut().take(n).enumerate() {
            let at = self.index(src.saturating_add(i as u64)).unwrap_or(0);
            *d = self.bytes.get(at).copied().unwrap_or(0);
        }
        if n < dst.len() {
            Err((n, SysError::BadAddress))
        } else {
            Ok(())
        }
    }

    fn write(&mut self, dst: u64, src: &[u8]) -> Result<(), SysError> {
        self.check(dst, src.len() as u64)?;
        // A real copy stores the bytes before the fault: do the same.
        let n = usize::try_from(self.accessible(dst, src.len() as u64)).unwrap_or(0);
        for (i, s) in src.iter().take(n).enumerate() {
            if let Some(at) = self.index(dst.saturating_add(i as u64)) {
                if let Some(b) = self.bytes.get_mut(at) {
                    *b = *s;
                }
            }
        }
        if n < src.len() {
            Err(SysError::BadAddress)
        } else {
            Ok(())
        }
    }

    fn fill(&mut self, dst: u64, byte: u8, len: u64) -> Result<(), SysError> {
        self.check(dst, len)?;
        let n = self.accessible(dst, len);
        for i in 0..n {
            if let Some(at) = self.index(dst.saturating_add(i)) {
                if let Some(b) = self.bytes.get_mut(at) {
                    *b = byte;
                }
            }
        }
        if n < len {
            Err(SysError::BadAddress)
        } else {
            Ok(())
        }
    }
}
