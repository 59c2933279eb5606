//! Errors of the host executor: mapping, protection, process and crash reports.
//!
//! Owns [`ExecError`]; produced by [`crate::Sandbox`].

use core::fmt;

/// Everything that can go wrong when mapping or running generated code.
#[derive(Debug)]
pub enum ExecError {
    /// `mmap` failed.
    Map(std::io::Error),
    /// `mprotect` failed.
    Protect(std::io::Error),
    /// `fork` or `waitpid` failed.
    Process(std::io::Error),
    /// The code region is sealed (RX); it can no longer be written.
    Sealed,
    /// The code region is still writable; seal it before calling into it.
    NotSealed,
    /// The entry address lies outside the code region.
    EntryOutOfRange {
        /// The requested entry address.
        entry: u64,
    },
    /// The generated code was killed by a signal (a fault with no fixup, `#UD`, ...).
    Crashed {
        /// The signal number (`SIGSEGV`, `SIGILL`, ...).
        signal: i32,
    },
    /// The generated code ran longer than the child's alarm (5 s).
    TimedOut,
    /// The child exited in an unexpected way.
    UnexpectedExit {
        /// The raw `waitpid` status.
        status: i32,
    },
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Map(e) => write!(f, "mmap failed: {e}"),
            Self::Protect(e) => write!(f, "mprotect failed: {e}"),
            Self::Process(e) => write!(f, "fork/waitpid failed: {e}"),
            Self::Sealed => f.write_str("code region is sealed (RX)"),
            Self::NotSealed => f.write_str("code region is not sealed yet"),
            Self::EntryOutOfRange { entry } => {
                write!(f, "entry {entry:#x} outside the code region")
            }
            Self::Crashed { signal } => write!(f, "generated code crashed with signal {signal}"),
            Self::TimedOut => f.write_str("generated code timed out"),
            Self::UnexpectedExit { status } => write!(f, "child exited with status {status:#x}"),
        }
    }
}

impl std::error::Error for ExecError {}
