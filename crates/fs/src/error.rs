//! The file system's one error type.
//!
//! Owns [`FsError`], the closed list of every way an `sk-fs` operation can
//! fail. `sk-core` maps it to `sk_abi::SysError` at the syscall boundary; the
//! POSIX errno each variant corresponds to is given as a doc alias so the
//! `sk-unix` table is easy to check.

/// Every way a file-system operation can fail.
///
/// A failed operation changes nothing: each mutating call checks and
/// allocates everything it needs before it touches the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FsError {
    /// A path component, or the node a [`NodeId`](crate::NodeId) named, does not exist.
    #[doc(alias = "ENOENT")]
    #[error("no such file or directory")]
    NotFound,
    /// The name is already taken (`mkdir`, exclusive `create`).
    #[doc(alias = "EEXIST")]
    #[error("file exists")]
    Exists,
    /// A directory was expected: an inner path component, `readdir` or
    /// `rmdir` on a file, or renaming a directory over a file.
    #[doc(alias = "ENOTDIR")]
    #[error("not a directory")]
    NotDir,
    /// A file was expected: data access, `unlink` on a directory, or renaming
    /// a file over a directory.
    #[doc(alias = "EISDIR")]
    #[error("is a directory")]
    IsDir,
    /// `rmdir`, or a rename over a directory, found the directory not empty.
    #[doc(alias = "ENOTEMPTY")]
    #[error("directory not empty")]
    NotEmpty,
    /// The path is malformed: not absolute, an empty component (`//`, a
    /// trailing `/`), a NUL byte, or a `.` / `..` component (rejected, not
    /// interpreted).
    #[doc(alias = "EINVAL")]
    #[error("malformed path")]
    BadPath,
    /// A component exceeds [`MAX_NAME_BYTES`](crate::MAX_NAME_BYTES) or the
    /// path exceeds [`MAX_PATH_BYTES`](crate::MAX_PATH_BYTES).
    #[doc(alias = "ENAMETOOLONG")]
    #[error("file name too long")]
    NameTooLong,
    /// The operation would make a file larger than
    /// [`Limits::max_file_bytes`](crate::Limits::max_file_bytes).
    #[doc(alias = "EFBIG")]
    #[error("file too large")]
    FileTooLarge,
    /// `offset + length` overflows a `u64`.
    #[doc(alias = "EINVAL")]
    #[error("offset out of range")]
    BadOffset,
    /// A file-system limit is exhausted: the byte quota
    /// ([`Limits::max_total_bytes`](crate::Limits::max_total_bytes)), the
    /// node count, or a reference counter.
    #[doc(alias = "ENOSPC")]
    #[error("no space left in the file system")]
    NoSpace,
    /// The file's payer may not grow its files by that much (its memory
    /// budget, granted by the kernel: `FileSystem::with_growth_grant`).
    #[doc(alias = "EDQUOT")]
    #[error("the payer's memory budget cannot hold the growth")]
    OverBudget,
    /// The heap refused an allocation.
    #[doc(alias = "ENOMEM")]
    #[error("out of memory")]
    OutOfMemory,
    /// The [`NodeId`](crate::NodeId) names a node that has been freed (its
    /// slot may since hold another node).
    #[doc(alias = "ESTALE")]
    #[error("stale node reference")]
    StaleNode,
    /// The root directory cannot be removed, renamed or replaced.
    #[doc(alias = "EBUSY")]
    #[error("the root directory cannot be removed or renamed")]
    Busy,
    /// A directory cannot be moved into its own subtree.
    #[doc(alias = "EINVAL")]
    #[error("cannot move a directory into its own subtree")]
    IntoOwnSubtree,
}

impl From<alloc::collections::TryReserveError> for FsError {
    fn from(_: alloc::collections::TryReserveError) -> Self {
        Self::OutOfMemory
    }
}

#[cfg(test)]
mod tests {
    use super::FsError;
    use alloc::string::ToString;

    #[test]
    fn display_is_lowercase_prose() {
        assert_eq!(FsError::NotFound.to_string(), "no such file or directory");
        assert_eq!(FsError::IsDir.to_string(), "is a directory");
        let as_error: &dyn core::error::Error = &FsError::NoSpace;
        assert!(as_error.source().is_none());
    }
}
