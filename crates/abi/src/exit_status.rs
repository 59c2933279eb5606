//! Exit status: how a program's `main` result reaches its parent.
//!
//! Owns [`ExitStatus`]. `terminate` takes the status in the low 32 bits of
//! `rdi`; `reconfigure(Wait)` returns it zero-extended in `rax` (so it is
//! never mistaken for an error); `SmachInfo::exit_status` holds it
//! sign-extended.

/// A program's exit status: an `i32`, 0 for success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ExitStatus(i32);

impl ExitStatus {
    /// Success.
    pub const SUCCESS: Self = Self(0);

    /// What `sk-user`'s panic handler exits with (as Rust's `std` does).
    pub const PANIC: Self = Self(101);

    /// What an SMACH terminated by its parent (or killed by a fault) reports
    /// (as a shell reports `SIGKILL`: 128 + 9).
    pub const KILLED: Self = Self(137);

    /// The status `status`.
    #[must_use]
    pub const fn new(status: i32) -> Self {
        Self(status)
    }

    /// The status as an `i32`.
    #[must_use]
    pub const fn get(self) -> i32 {
        self.0
    }

    /// Decodes `terminate`'s `rdi`: its low 32 bits (upper bits ignored).
    #[must_use]
    pub const fn from_register(value: u64) -> Self {
        let [b0, b1, b2, b3, ..] = value.to_le_bytes();
        Self(i32::from_le_bytes([b0, b1, b2, b3]))
    }

    /// Encodes for a register: the 32 bits, zero-extended (`Wait`'s `rax`,
    /// `terminate`'s `rdi`). Always `< 2^32`, so never a negative `rax`.
    #[must_use]
    pub const fn to_register(self) -> u64 {
        u32::from_le_bytes(self.0.to_le_bytes()) as u64
    }

    /// The sign-extended form stored in `SmachInfo::exit_status`.
    #[must_use]
    pub const fn to_info(self) -> i64 {
        self.0 as i64
    }
}

impl From<i32> for ExitStatus {
    fn from(status: i32) -> Self {
        Self(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_encoding_is_zero_extended_and_round_trips() {
        for status in [0, 1, 101, -1, i32::MIN, i32::MAX] {
            let exit = ExitStatus::new(status);
            assert!(exit.to_register() <= u64::from(u32::MAX));
            assert_eq!(ExitStatus::from_register(exit.to_register()), exit);
            assert_eq!(exit.to_info(), i64::from(status));
        }
        // Upper bits of `rdi` are ignored.
        assert_eq!(ExitStatus::from_register(0xdead_0000_0000_0007).get(), 7);
    }
}
