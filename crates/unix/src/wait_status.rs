//! The status word `wait4` reports, and libc's macros that read it.
//!
//! Owns [`WaitStatus`] (exited with a code, killed by a signal with or
//! without core, stopped, continued) and its encoding as Linux builds it:
//! exit `(code & 0xff) << 8`; killed `signal | 0x80 if core`; stopped
//! `(signal << 8) | 0x7f`; continued `0xffff`. The decoders are glibc's
//! `WIFEXITED`, `WEXITSTATUS`, `WIFSIGNALED`, `WTERMSIG`, `WCOREDUMP`,
//! `WIFSTOPPED`, `WSTOPSIG`, `WIFCONTINUED`, so tests can check the
//! encoding against what programs will read.

use crate::signal_set::Signal;

/// How a child changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// It called `exit(code)` (only the low 8 bits survive).
    Exited(u8),
    /// A signal killed it; `core` if the default action was "Core".
    Signaled {
        /// The signal.
        signal: Signal,
        /// The core-dump flag (0x80).
        core: bool,
    },
    /// A signal stopped it.
    Stopped(Signal),
    /// `SIGCONT` resumed it (`WCONTINUED`).
    Continued,
}

impl WaitStatus {
    /// The status for `exit(code)` / `exit_group(code)`: its low 8 bits.
    #[must_use]
    pub fn exited(code: u64) -> Self {
        Self::Exited(code.to_le_bytes()[0])
    }

    /// The status word (`*wstatus`).
    #[must_use]
    pub fn encode(self) -> i32 {
        match self {
            Self::Exited(code) => i32::from(code) << 8,
            Self::Signaled { signal, core } => {
                i32::from(signal.number()) | if core { 0x80 } else { 0 }
            }
            Self::Stopped(signal) => (i32::from(signal.number()) << 8) | 0x7f,
            Self::Continued => 0xffff,
        }
    }

    /// The shell's `$?` for this status: the code, or 128 + the signal.
    #[must_use]
    pub fn shell_status(self) -> u32 {
        match self {
            Self::Exited(code) => u32::from(code),
            Self::Signaled { signal, .. } | Self::Stopped(signal) => {
                128 + u32::from(signal.number())
            }
            Self::Continued => 0,
        }
    }
}

/// glibc's `WIFEXITED`.
#[must_use]
pub fn wifexited(status: i32) -> bool {
    status & 0x7f == 0
}

/// glibc's `WEXITSTATUS`.
#[must_use]
pub fn wexitstatus(status: i32) -> i32 {
    (status & 0xff00) >> 8
}

/// glibc's `WIFSIGNALED`: `((signed char)((status & 0x7f) + 1) >> 1) > 0`.
#[must_use]
pub fn wifsignaled(status: i32) -> bool {
    let low = ((status & 0x7f) + 1).to_le_bytes()[0];
    (i8::from_le_bytes([low]) >> 1) > 0
}

/// glibc's `WTERMSIG`.
#[must_use]
pub fn wtermsig(status: i32) -> i32 {
    status & 0x7f
}

/// glibc's `WCOREDUMP`.
#[must_use]
pub fn wcoredump(status: i32) -> bool {
    status & 0x80 != 0
}

/// glibc's `WIFSTOPPED`.
#[must_use]
pub fn wifstopped(status: i32) -> bool {
    status & 0xff == 0x7f
}

/// glibc's `WSTOPSIG`.
#[must_use]
pub fn wstopsig(status: i32) -> i32 {
    wexitstatus(status)
}

/// glibc's `WIFCONTINUED`.
#[must_use]
pub fn wifcontinued(status: i32) -> bool {
    status == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_through_the_libc_macros() {
        for code in 0..=255u8 {
            let s = WaitStatus::Exited(code).encode();
            assert!(wifexited(s) && !wifsignaled(s) && !wifstopped(s) && !wifcontinued(s));
            assert_eq!(wexitstatus(s), i32::from(code));
        }
        assert_eq!(WaitStatus::exited(259), WaitStatus::Exited(3));
        for signal in Signal::all() {
            for core in [false, true] {
                let s = WaitStatus::Signaled { signal, core }.encode();
                assert!(!wifexited(s) && wifsignaled(s) && !wifstopped(s) && !wifcontinued(s));
                assert_eq!(wtermsig(s), i32::from(signal.number()));
                assert_eq!(wcoredump(s), core);
            }
            let s = WaitStatus::Stopped(signal).encode();
            assert!(!wifexited(s) && !wifsignaled(s) && wifstopped(s) && !wifcontinued(s));
            assert_eq!(wstopsig(s), i32::from(signal.number()));
        }
        let s = WaitStatus::Continued.encode();
        assert!(!wifexited(s) && !wifsignaled(s) && !wifstopped(s) && wifcontinued(s));
        // Known values: exit(3) is 0x300, SIGSEGV with core 0x8b, stopped
        // by SIGTSTP 0x147f.
        assert_eq!(WaitStatus::Exited(3).encode(), 0x300);
        let segv = WaitStatus::Signaled {
            signal: Signal::SIGSEGV,
            core: true,
        };
        assert_eq!(segv.encode(), 0x8b);
        assert_eq!(WaitStatus::Stopped(Signal::SIGTSTP).encode(), 0x147f);
        assert_eq!(segv.shell_status(), 139);
    }
}
