//! The file system's configurable limits.
//!
//! Owns [`Limits`]. Limits make resource exhaustion a typed error
//! ([`FsError::FileTooLarge`](crate::FsError::FileTooLarge),
//! [`FsError::NoSpace`](crate::FsError::NoSpace)) before the kernel heap runs
//! dry, and let tests reach those paths with small numbers.

/// Bounds one [`FileSystem`](crate::FileSystem) enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file size (and buffer capacity), in bytes.
    pub max_file_bytes: u64,
    /// Sum of all file buffer capacities, in bytes (the quota; capacity,
    /// not size, because capacity is what the heap holds).
    pub max_total_bytes: u64,
    /// Most nodes (files and directories, the root included) alive at once.
    pub max_nodes: usize,
}

impl Limits {
    /// 1 GiB files, no byte quota beyond the heap itself, 1 Mi nodes.
    pub const DEFAULT: Self = Self {
        max_file_bytes: 1 << 30,
        max_total_bytes: u64::MAX,
        max_nodes: 1 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
