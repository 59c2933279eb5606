//! The seam between the generic path and user memory.
//!
//! Owns [`UserMemory`]. Every user pointer the generic path touches goes
//! through it: the kernel's implementation copies with `stac`/`clac` and a
//! fault-fixup table (`sk-machine`), so a bad pointer is an error, never a
//! kernel fault; the host fake in [`crate::testing`] injects faults.

use sk_abi::SysError;

/// User memory of the calling SMACH, as the generic path may touch it.
pub trait UserMemory {
    /// Checks `len` bytes at `addr` are user addresses (no wrap, below the
    /// user end) without touching them.
    ///
    /// # Errors
    /// [`SysError::BadAddress`].
    fn check(&mut self, addr: u64, len: u64) -> Result<(), SysError>;

    /// Copies `dst.len()` bytes from user address `src`.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] on a bad range or a fault.
    fn read(&mut self, dst: &mut [u8], src: u64) -> Result<(), SysError>;

    /// Copies from user address `src` into `dst`; on a fault, reports how
    /// many bytes came before it.
    ///
    /// # Errors
    /// `(bytes copied, SysError::BadAddress)`.
    fn read_prefix(&mut self, dst: &mut [u8], src: u64) -> Result<(), (usize, SysError)>;

    /// Copies `src` to user address `dst`.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] on a bad range or a fault.
    fn write(&mut self, dst: u64, src: &[u8]) -> Result<(), SysError>;

    /// Fills `len` user bytes at `dst` with `byte`.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] on a bad range or a fault.
    fn fill(&mut self, dst: u64, byte: u8, len: u64) -> Result<(), SysError>;
}
