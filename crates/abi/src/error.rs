//! `SysError`: the only error user space sees, and how it travels in `rax`.
//!
//! Owns [`SysError`] with its stable numeric codes, and the return-value
//! convention: `rax >= 0` is success, `rax < 0` is `-code`
//! ([`SysError::to_return`], [`SysError::decode_return`]). Kernel crates
//! convert their own errors into it with `From` at the syscall boundary;
//! `sk-unix` maps it to Linux errno (each variant's `doc(alias)` names the
//! errno it corresponds to).

/// Why a kernel call failed.
///
/// Codes are stable: they start at 1, a new error takes the next free code,
/// and a retired code is never reused. [`SysError::Unknown`] is not sent by
/// the kernel; it stands for a code this build of `sk-abi` does not know.
#[repr(u32)]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
pub enum SysError {
    /// The call number in the call word is 7 (no such call), or the call
    /// does not apply to the handle's kind (`read` on an SMEM).
    #[doc(alias = "ENOSYS")]
    #[error("no such call")]
    BadCall = 1,
    /// The handle names no object in the caller's table, or the call word's
    /// handle does not fit in 32 bits.
    #[doc(alias = "EBADF")]
    #[error("bad handle")]
    BadHandle = 2,
    /// The handle's object, or the `kind` argument of `create`, is not a
    /// kind this call takes (also: an unknown kind number).
    #[doc(alias = "EINVAL")]
    #[error("wrong or unknown object kind")]
    WrongKind = 3,
    /// A user pointer range wraps around, reaches past [`USER_END`](crate::USER_END),
    /// is misaligned where alignment is required, or faults.
    #[doc(alias = "EFAULT")]
    #[error("bad user address")]
    BadAddress = 4,
    /// A length argument is wrong: an argument struct's size differs from
    /// the kind's struct, an output buffer is too small, a length is zero
    /// where it must not be.
    #[doc(alias = "EINVAL")]
    #[error("bad length")]
    BadLength = 5,
    /// A flag word has unknown bits, or a combination the call rejects; or
    /// a reserved (`_pad`) field is not zero.
    #[doc(alias = "EINVAL")]
    #[error("bad flags")]
    BadFlags = 6,
    /// A file position would be negative or overflow.
    #[doc(alias = "EINVAL", alias = "EOVERFLOW")]
    #[error("bad offset")]
    BadOffset = 7,
    /// A `reconfigure` or `query` selector is unknown for the handle's kind.
    #[doc(alias = "EINVAL")]
    #[error("bad selector")]
    BadSelector = 8,
    /// A path names nothing, or a program is not in the initrd.
    #[doc(alias = "ENOENT")]
    #[error("no such file or directory")]
    NotFound = 9,
    /// An exclusive create found the name taken, or a fixed address range
    /// is already in use.
    #[doc(alias = "EEXIST")]
    #[error("already exists")]
    Exists = 10,
    /// A path component that must be a directory is not one.
    #[doc(alias = "ENOTDIR")]
    #[error("not a directory")]
    NotDir = 11,
    /// A directory was opened for writing, or read as a file.
    #[doc(alias = "EISDIR")]
    #[error("is a directory")]
    IsDir = 12,
    /// A directory to remove is not empty.
    #[doc(alias = "ENOTEMPTY")]
    #[error("directory not empty")]
    NotEmpty = 13,
    /// A path is malformed: empty, not absolute, a NUL byte, an empty
    /// component.
    #[doc(alias = "EINVAL")]
    #[error("malformed path")]
    BadPath = 14,
    /// The kernel could not allocate memory (frames, heap, code arena).
    #[doc(alias = "ENOMEM")]
    #[error("out of memory")]
    NoMemory = 15,
    /// A write would grow a file past its size limit.
    #[doc(alias = "EFBIG")]
    #[error("file too large")]
    FileTooLarge = 16,
    /// A program in the initrd is not a loadable static x86-64 ELF.
    #[doc(alias = "ENOEXEC")]
    #[error("bad ELF image")]
    BadElf = 17,
    /// The handle lacks the right for this call (write on a read-only SIO,
    /// writing through a read-only SMEM protection change), or the target
    /// may not be changed by the caller.
    #[doc(alias = "EPERM", alias = "EACCES", alias = "EBADF")]
    #[error("operation not permitted")]
    NotPermitted = 18,
    /// The call would block and the object is non-blocking.
    #[doc(alias = "EAGAIN", alias = "EWOULDBLOCK")]
    #[error("operation would block")]
    WouldBlock = 19,
    /// The object is in use in a way that forbids the call (waiting on an
    /// SMACH another thread already waits on, removing a busy object).
    #[doc(alias = "EBUSY")]
    #[error("resource busy")]
    Busy = 20,
    /// The caller's handle table is full.
    #[doc(alias = "EMFILE")]
    #[error("too many handles")]
    TooManyHandles = 21,
    /// The call is valid but not implemented for this object (yet), such as
    /// the reserved [`QuerySelector::Routines`](crate::QuerySelector::Routines).
    #[doc(alias = "EOPNOTSUPP", alias = "ENOTSUP")]
    #[error("not supported")]
    NotSupported = 22,
    /// A blocking call was cut short (its SCPU was suspended or its SMACH
    /// terminated).
    #[doc(alias = "EINTR")]
    #[error("interrupted")]
    Interrupted = 23,
    /// The file system is full (byte quota or node count).
    #[doc(alias = "ENOSPC")]
    #[error("no space left")]
    NoSpace = 24,
    /// A path or one of its components is too long (see [`PATH_MAX`](crate::PATH_MAX)).
    #[doc(alias = "ENAMETOOLONG")]
    #[error("name too long")]
    NameTooLong = 25,
    /// An argument value is outside its field's range (a `whence` that is
    /// not 0–2, a quantum of 0 where one is required, a priority too large).
    #[doc(alias = "EINVAL")]
    #[error("bad argument value")]
    BadValue = 26,
    /// A write to a pipe whose read end is closed.
    #[doc(alias = "EPIPE")]
    #[error("broken pipe")]
    BrokenPipe = 27,
    /// The handle names an SIO shared with the caller's SMACH whose owner
    /// revoked it (or closed it): every call on it fails so until the
    /// holder closes the handle.
    #[doc(alias = "EBADF", alias = "EIO")]
    #[error("revoked")]
    Revoked = 28,
    /// A `read` or `write` on a port end whose length is not the message
    /// size ([`PORT_MESSAGE_BYTES`](crate::PORT_MESSAGE_BYTES)).
    #[doc(alias = "EMSGSIZE")]
    #[error("wrong message size")]
    MessageSize = 30,
    /// The SMACH's memory budget (set by its parent, see
    /// [`SmachSelector::Budget`](crate::SmachSelector::Budget)) does not
    /// cover the request: an SMEM create past it, a child's budget past
    /// what the parent has left, or a budget below what is in use.
    #[doc(alias = "ENOMEM", alias = "EDQUOT")]
    #[error("over the memory budget")]
    OverBudget = 34,
    /// A code this build of `sk-abi` does not know (a newer kernel); made
    /// only by [`SysError::decode_return`] and [`SysError::from_code`], never
    /// sent by the kernel.
    #[error("unknown error code")]
    Unknown = u32::MAX,
}

impl SysError {
    /// Every error, in code order ([`SysError::Unknown`] last).
    pub const ALL: &'static [Self] = &[
        Self::BadCall,
        Self::BadHandle,
        Self::WrongKind,
        Self::BadAddress,
        Self::BadLength,
        Self::BadFlags,
        Self::BadOffset,
        Self::BadSelector,
        Self::NotFound,
        Self::Exists,
        Self::NotDir,
        Self::IsDir,
        Self::NotEmpty,
        Self::BadPath,
        Self::NoMemory,
        Self::FileTooLarge,
        Self::BadElf,
        Self::NotPermitted,
        Self::WouldBlock,
        Self::Busy,
        Self::TooManyHandles,
        Self::NotSupported,
        Self::Interrupted,
        Self::NoSpace,
        Self::NameTooLong,
        Self::BadValue,
        Self::BrokenPipe,
        Self::Revoked,
        Self::MessageSize,
        Self::OverBudget,
        Self::Unknown,
    ];

    /// The stable numeric code (`>= 1`).
    #[must_use]
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The error with this code; `None` for 0 (not an error). An unknown
    /// non-zero code gives [`SysError::Unknown`], so a program built against
    /// an older `sk-abi` still sees a failure as a failure.
    #[must_use]
    #[inline]
    pub const fn from_code(code: u32) -> Option<Self> {
        let error = match code {
            0 => return None,
            1 => Self::BadCall,
            2 => Self::BadHandle,
            3 => Self::WrongKind,
            4 => Self::BadAddress,
            5 => Self::BadLength,
            6 => Self::BadFlags,
            7 => Self::BadOffset,
            8 => Self::BadSelector,
            9 => Self::NotFound,
            10 => Self::Exists,
            11 => Self::NotDir,
            12 => Self::IsDir,
            13 => Self::NotEmpty,
            14 => Self::BadPath,
            15 => Self::NoMemory,
            16 => Self::FileTooLarge,
            17 => Self::BadElf,
            18 => Self::NotPermitted,
            19 => Self::WouldBlock,
            20 => Self::Busy,
            21 => Self::TooManyHandles,
            22 => Self::NotSupported,
            23 => Self::Interrupted,
            24 => Self::NoSpace,
            25 => Self::NameTooLong,
            26 => Self::BadValue,
            27 => Self::BrokenPipe,
            28 => Self::Revoked,
            30 => Self::MessageSize,
            34 => Self::OverBudget,
            _ => Self::Unknown,
        };
        Some(error)
    }

    /// The `rax` value the kernel returns for this error: `-code`.
    #[must_use]
    #[inline]
    pub const fn to_return(self) -> i64 {
        // A u32 code always fits in the negative half of i64; `0 - x` with
        // `x <= u32::MAX` cannot overflow.
        0_i64.wrapping_sub(self.code() as i64)
    }

    /// Splits a kernel call's `rax` into success value or error.
    ///
    /// # Errors
    /// The error whose code is `-rax` when `rax < 0`; [`SysError::Unknown`]
    /// for a negative value that is no known code.
    #[inline]
    pub fn decode_return(rax: i64) -> Result<u64, SysError> {
        match u64::try_from(rax) {
            Ok(value) => Ok(value),
            Err(_) => Err(u32::try_from(rax.unsigned_abs())
                .ok()
                .and_then(Self::from_code)
                .unwrap_or(Self::Unknown)),
        }
    }

    /// Packs a call's result into `rax` (kernel side): the success value, or
    /// `-code`.
    ///
    /// A success value must be below 2^63; one that is not (a kernel bug)
    /// is reported as [`SysError::BadValue`] rather than as a
    /// negative number that would decode as some other error.
    #[must_use]
    pub fn encode_result(result: Result<u64, SysError>) -> i64 {
        match result {
            Ok(value) => i64::try_from(value).unwrap_or(Self::BadValue.to_return()),
            Err(error) => error.to_return(),
        }
    }
}

#[cfg(test)]
mod tests;
