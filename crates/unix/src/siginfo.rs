//! `siginfo_t`: what a handler with `SA_SIGINFO` learns about a signal.
//!
//! Owns [`SigInfo`], its 128-byte x86-64 wire form ([`SigInfo::to_wire`]),
//! and the `si_code` values the kernel uses ([`code`]). Layout
//! (`<asm-generic/siginfo.h>`): `si_signo`, `si_errno`, `si_code` (three
//! `i32`), padding to 16, then a union: `si_pid`/`si_uid` for `kill`,
//! `si_addr` for faults, and for `SIGCHLD` also `si_status`, `si_utime`,
//! `si_stime`.

use crate::signal_set::Signal;

/// Size of `siginfo_t`.
pub const SIGINFO_SIZE: usize = 128;

/// `si_code` values (`<asm-generic/siginfo.h>`).
pub mod code {
    /// Sent by `kill` (or `raise`).
    pub const SI_USER: i32 = 0;
    /// Sent by the kernel.
    pub const SI_KERNEL: i32 = 0x80;
    /// Sent by `sigqueue`.
    pub const SI_QUEUE: i32 = -1;
    /// Sent by `tkill`/`tgkill`.
    pub const SI_TKILL: i32 = -6;
    /// `SIGSEGV`: no mapping at the address.
    pub const SEGV_MAPERR: i32 = 1;
    /// `SIGSEGV`: the mapping forbids the access.
    pub const SEGV_ACCERR: i32 = 2;
    /// `SIGBUS`: the address is outside the mapped object.
    pub const BUS_ADRERR: i32 = 2;
    /// `SIGFPE`: integer divide by zero.
    pub const FPE_INTDIV: i32 = 1;
    /// `SIGILL`: illegal opcode.
    pub const ILL_ILLOPC: i32 = 1;
    /// `SIGILL`: illegal operand (what Linux reports for `#UD`).
    pub const ILL_ILLOPN: i32 = 2;
    /// `SIGTRAP`: breakpoint.
    pub const TRAP_BRKPT: i32 = 1;
    /// `SIGCHLD`: the child exited.
    pub const CLD_EXITED: i32 = 1;
    /// `SIGCHLD`: the child was killed.
    pub const CLD_KILLED: i32 = 2;
    /// `SIGCHLD`: the child was killed and dumped core.
    pub const CLD_DUMPED: i32 = 3;
    /// `SIGCHLD`: the traced child trapped.
    pub const CLD_TRAPPED: i32 = 4;
    /// `SIGCHLD`: the child stopped.
    pub const CLD_STOPPED: i32 = 5;
    /// `SIGCHLD`: the stopped child continued.
    pub const CLD_CONTINUED: i32 = 6;
}

/// The union part of a [`SigInfo`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SigInfoFields {
    /// Nothing beyond number and code.
    #[default]
    None,
    /// `kill`, `tgkill`, `sigqueue`: who sent it.
    Sender {
        /// `si_pid`.
        pid: i32,
        /// `si_uid`.
        uid: u32,
    },
    /// `SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGTRAP`: where.
    Fault {
        /// `si_addr`.
        addr: u64,
    },
    /// `SIGCHLD`: which child and what became of it.
    Child {
        /// `si_pid`.
        pid: i32,
        /// `si_uid`.
        uid: u32,
        /// `si_status`: the exit code or the signal number.
        status: i32,
        /// `si_utime` in clock ticks.
        utime: u64,
        /// `si_stime` in clock ticks.
        stime: u64,
    },
}

/// One signal instance as a handler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    /// `si_signo`.
    pub signal: Signal,
    /// `si_errno` (0 in practice).
    pub errno: i32,
    /// `si_code` ([`code`]).
    pub code: i32,
    /// The union.
    pub fields: SigInfoFields,
}

impl SigInfo {
    /// A signal sent by the kernel with nothing else to say.
    #[must_use]
    pub fn kernel(signal: Signal) -> Self {
        Self {
            signal,
            errno: 0,
            code: code::SI_KERNEL,
            fields: SigInfoFields::None,
        }
    }

    /// A signal sent by `kill` from `pid` running as `uid`.
    #[must_use]
    pub fn user(signal: Signal, pid: i32, uid: u32) -> Self {
        Self {
            signal,
            errno: 0,
            code: code::SI_USER,
            fields: SigInfoFields::Sender { pid, uid },
        }
    }

    /// A fault at `addr` (`SIGSEGV` with `SEGV_MAPERR`, ...).
    #[must_use]
    pub fn fault(signal: Signal, code: i32, addr: u64) -> Self {
        Self {
            signal,
            errno: 0,
            code,
            fields: SigInfoFields::Fault { addr },
        }
    }

    /// The 128-byte `siginfo_t`.
    #[must_use]
    pub fn to_wire(&self) -> [u8; SIGINFO_SIZE] {
        let mut bytes = [0u8; SIGINFO_SIZE];
        let mut put = |at: usize, value: &[u8]| {
            if let Some(dst) = bytes.get_mut(at..at + value.len()) {
                dst.copy_from_slice(value);
            }
        };
        put(0, &i32::from(self.signal.number()).to_le_bytes());
        put(4, &self.errno.to_le_bytes());
        put(8, &self.code.to_le_bytes());
        match self.fields {
            SigInfoFields::None => {}
            SigInfoFields::Sender { pid, uid } => {
                put(16, &pid.to_le_bytes());
                put(20, &uid.to_le_bytes());
            }
            SigInfoFields::Fault { addr } => put(16, &addr.to_le_bytes()),
            SigInfoFields::Child {
                pid,
                uid,
                status,
                utime,
                stime,
            } => {
                put(16, &pid.to_le_bytes());
                put(20, &uid.to_le_bytes());
                put(24, &status.to_le_bytes());
                put(32, &utime.to_le_bytes());
                put(40, &stime.to_le_bytes());
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_asm_generic_siginfo() {
        let bytes = SigInfo::fault(Signal::SIGSEGV, code::SEGV_MAPERR, 0xdead_b000).to_wire();
        assert_eq!(&bytes[0..4], &11i32.to_le_bytes());
        assert_eq!(&bytes[8..12], &1i32.to_le_bytes());
        assert_eq!(&bytes[16..24], &0xdead_b000u64.to_le_bytes());
        let bytes = SigInfo {
            signal: Signal::SIGCHLD,
            errno: 0,
            code: code::CLD_EXITED,
            fields: SigInfoFields::Child {
                pid: 42,
                uid: 1000,
                status: 3,
                utime: 7,
                stime: 9,
            },
        }
        .to_wire();
        assert_eq!(&bytes[16..20], &42i32.to_le_bytes());
        assert_eq!(&bytes[20..24], &1000u32.to_le_bytes());
        assert_eq!(&bytes[24..28], &3i32.to_le_bytes());
        assert_eq!(&bytes[32..40], &7u64.to_le_bytes());
        assert_eq!(&bytes[40..48], &9u64.to_le_bytes());
        assert!(bytes[48..].iter().all(|&b| b == 0));
    }
}
