//! The scheduler's one error type.
//!
//! Owns [`SchedError`], every way a run-queue operation can fail. `sk-core`
//! maps it to `sk_abi::SysError` when a syscall (set priority) caused it.

/// Every way a scheduling operation can fail.
///
/// A failed operation leaves the run queue unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SchedError {
    /// A priority above [`Priority::MAX`](crate::Priority::MAX).
    #[doc(alias = "EINVAL")]
    #[error("priority {0} out of range 0..=7")]
    BadPriority(u8),
    /// The id is already in the run queue; an id is queued at most once.
    #[doc(alias = "EEXIST")]
    #[error("id already queued")]
    AlreadyQueued,
    /// The heap refused to grow a priority level.
    #[doc(alias = "ENOMEM")]
    #[error("out of memory")]
    OutOfMemory,
}

impl From<alloc::collections::TryReserveError> for SchedError {
    fn from(_: alloc::collections::TryReserveError) -> Self {
        Self::OutOfMemory
    }
}
