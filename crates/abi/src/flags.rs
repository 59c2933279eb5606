//! Flag words: memory protection, open flags, tty mode, create flags.
//!
//! Owns [`Prot`], [`OpenFlags`], [`TtyMode`], [`SmachCreateFlags`] and
//! [`SmemCreateFlags`]. Each has a `decode` that is the one place its
//! unknown bits and invalid combinations are rejected
//! ([`SysError::BadFlags`]), so the kernel decodes once and code past the
//! decoder holds only valid flags (STYLE.md §4, `validate-once`).

use crate::SysError;

/// Narrows a register to a 32-bit flag word.
fn flag_word(value: u64) -> Result<u32, SysError> {
    u32::try_from(value).map_err(|_| SysError::BadFlags)
}

bitflags::bitflags! {
    /// SMEM protection (`SmemCreateArgs::prot`, `SmemReconfigure::Protect`).
    ///
    /// x86-64 pages cannot be write-only or execute-only: `WRITE` or `EXEC`
    /// without `READ` still allows reads. No bits means no access (a guard
    /// region).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Prot: u32 {
        /// Readable.
        const READ = 1 << 0;
        /// Writable.
        const WRITE = 1 << 1;
        /// Executable (pages are NX otherwise).
        const EXEC = 1 << 2;
    }
}

impl Prot {
    /// Decodes a protection word.
    ///
    /// # Errors
    /// [`SysError::BadFlags`] for unknown bits, or `WRITE | EXEC` together
    /// (user pages are W^X, as the kernel's own).
    pub fn decode(value: u64) -> Result<Self, SysError> {
        let prot = Self::from_bits(flag_word(value)?).ok_or(SysError::BadFlags)?;
        if prot.contains(Self::WRITE | Self::EXEC) {
            return Err(SysError::BadFlags);
        }
        Ok(prot)
    }
}

bitflags::bitflags! {
    /// How an SIO is opened (`SioCreateArgs::flags`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct OpenFlags: u32 {
        /// Allow `read`.
        const READ = 1 << 0;
        /// Allow `write`.
        const WRITE = 1 << 1;
        /// Create the file if it does not exist (like `O_CREAT`).
        const CREATE = 1 << 2;
        /// With `CREATE`: fail with [`SysError::Exists`] if it exists
        /// (like `O_EXCL`).
        const EXCLUSIVE = 1 << 3;
        /// Cut the file to length 0 on open (like `O_TRUNC`); needs `WRITE`.
        const TRUNCATE = 1 << 4;
        /// Every `write` goes to the end of the file (like `O_APPEND`);
        /// needs `WRITE`.
        const APPEND = 1 << 5;
    }
}

impl OpenFlags {
    /// Decodes an open-flags word.
    ///
    /// # Errors
    /// [`SysError::BadFlags`] for unknown bits, neither `READ` nor `WRITE`,
    /// `EXCLUSIVE` without `CREATE`, or `TRUNCATE`/`APPEND` without `WRITE`.
    pub fn decode(value: u64) -> Result<Self, SysError> {
        let flags = Self::from_bits(flag_word(value)?).ok_or(SysError::BadFlags)?;
        let is_valid = flags.intersects(Self::READ | Self::WRITE)
            && (!flags.contains(Self::EXCLUSIVE) || flags.contains(Self::CREATE))
            && (flags.contains(Self::WRITE) || !flags.intersects(Self::TRUNCATE | Self::APPEND));
        if is_valid {
            Ok(flags)
        } else {
            Err(SysError::BadFlags)
        }
    }
}

bitflags::bitflags! {
    /// Console line discipline (`SioReconfigure::TtyMode`).
    ///
    /// No bits: cooked (line-buffered `read`, backspace edits the line)
    /// without echo.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct TtyMode: u32 {
        /// Raw: `read` returns bytes as they arrive, no line editing.
        const RAW = 1 << 0;
        /// Echo input bytes back to the console.
        const ECHO = 1 << 1;
    }
}

impl TtyMode {
    /// The mode a console starts in: cooked, with echo.
    pub const DEFAULT: Self = Self::ECHO;

    /// Decodes a tty-mode word.
    ///
    /// # Errors
    /// [`SysError::BadFlags`] for unknown bits.
    pub fn decode(value: u64) -> Result<Self, SysError> {
        Self::from_bits(flag_word(value)?).ok_or(SysError::BadFlags)
    }
}

bitflags::bitflags! {
    /// `SmachCreateArgs::flags`. Unknown bits are rejected, so bits can
    /// gain a meaning later without changing old programs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct SmachCreateFlags: u32 {
        /// The child starts suspended: nothing of it runs until the parent
        /// resumes it (`SmachReconfigure::Resume`). A parent shares SIOs
        /// with it in between, so the child finds them at handles known
        /// before it runs (a new SMACH's handles are 0, 1, then the lowest
        /// free from 2: its first share gets 2, the next 3, ...).
        const SUSPENDED = 1 << 0;
        /// The program is a static Linux x86-64 binary: the SMACH gets the
        /// Linux personality (docs/unix.md): the Linux initial stack, Linux
        /// call numbers through its own entry stub and table, `errno`s.
        const LINUX = 1 << 1;
    }
}

impl SmachCreateFlags {
    /// Decodes an SMACH create-flags word.
    ///
    /// # Errors
    /// [`SysError::BadFlags`] for unknown bits.
    pub fn decode(value: u64) -> Result<Self, SysError> {
        Self::from_bits(flag_word(value)?).ok_or(SysError::BadFlags)
    }
}

bitflags::bitflags! {
    /// `SmemCreateArgs::flags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct SmemCreateFlags: u32 {
        /// `addr_hint` is not a hint: map exactly there or fail with
        /// [`SysError::Exists`] (like `MAP_FIXED_NOREPLACE`).
        const FIXED = 1 << 0;
    }
}

impl SmemCreateFlags {
    /// Decodes an SMEM create-flags word.
    ///
    /// # Errors
    /// [`SysError::BadFlags`] for unknown bits.
    pub fn decode(value: u64) -> Result<Self, SysError> {
        Self::from_bits(flag_word(value)?).ok_or(SysError::BadFlags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_reject_unknown_bits_and_bad_combinations() {
        let read_write = OpenFlags::READ | OpenFlags::WRITE;
        assert_eq!(OpenFlags::decode(read_write.bits().into()), Ok(read_write));
        let all = OpenFlags::all();
        assert_eq!(OpenFlags::decode(all.bits().into()), Ok(all));
        for bad in [
            1_u64 << 6,
            1 << 32,
            0,
            OpenFlags::CREATE.bits().into(),
            (OpenFlags::READ | OpenFlags::EXCLUSIVE).bits().into(),
            (OpenFlags::READ | OpenFlags::TRUNCATE).bits().into(),
            (OpenFlags::READ | OpenFlags::APPEND).bits().into(),
        ] {
            assert_eq!(OpenFlags::decode(bad), Err(SysError::BadFlags), "{bad:#x}");
        }
    }

    #[test]
    fn open_flag_bits_are_pinned() {
        let bits = [
            OpenFlags::READ,
            OpenFlags::WRITE,
            OpenFlags::CREATE,
            OpenFlags::EXCLUSIVE,
            OpenFlags::TRUNCATE,
            OpenFlags::APPEND,
        ]
        .map(|flag| flag.bits());
        assert_eq!(bits, [1, 2, 4, 8, 16, 32]);
        assert_eq!(
            [Prot::READ, Prot::WRITE, Prot::EXEC].map(|p| p.bits()),
            [1, 2, 4]
        );
    }

    #[test]
    fn prot_tty_and_create_flags_decode() {
        assert_eq!(Prot::decode(0), Ok(Prot::empty()));
        assert_eq!(Prot::decode(5), Ok(Prot::READ | Prot::EXEC));
        assert_eq!(Prot::decode(7), Err(SysError::BadFlags));
        assert_eq!(TtyMode::decode(3), Ok(TtyMode::RAW | TtyMode::ECHO));
        assert_eq!(TtyMode::decode(4), Err(SysError::BadFlags));
        assert_eq!(SmachCreateFlags::decode(0), Ok(SmachCreateFlags::empty()));
        assert_eq!(SmachCreateFlags::decode(1), Ok(SmachCreateFlags::SUSPENDED));
        assert_eq!(SmachCreateFlags::decode(2), Ok(SmachCreateFlags::LINUX));
        assert_eq!(SmachCreateFlags::decode(4), Err(SysError::BadFlags));
        assert_eq!(SmemCreateFlags::decode(1), Ok(SmemCreateFlags::FIXED));
        assert_eq!(SmemCreateFlags::decode(1 << 40), Err(SysError::BadFlags));
    }
}
