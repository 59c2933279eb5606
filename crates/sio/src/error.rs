//! File-system errors as user space sees them.

use sk_abi::SysError;
use sk_fs::FsError;

/// Maps a file-system error to the error user space sees (the one table).
pub fn fs_error(e: FsError) -> SysError {
    match e {
        FsError::NotFound => SysError::NotFound,
        FsError::Exists => SysError::Exists,
        FsError::NotDir => SysError::NotDir,
        FsError::IsDir => SysError::IsDir,
        FsError::NotEmpty => SysError::NotEmpty,
        FsError::BadPath | FsError::IntoOwnSubtree => SysError::BadPath,
        FsError::NameTooLong => SysError::NameTooLong,
        FsError::FileTooLarge => SysError::FileTooLarge,
        FsError::BadOffset => SysError::BadOffset,
        FsError::NoSpace => SysError::NoSpace,
        FsError::OverBudget => SysError::OverBudget,
        FsError::OutOfMemory => SysError::NoMemory,
        FsError::StaleNode => SysError::BadHandle,
        FsError::Busy => SysError::Busy,
    }
}
