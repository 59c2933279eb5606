//! Reconfigure requests: a selector and its values, decoded together.
//!
//! Owns [`SmachReconfigure`], [`ScpuReconfigure`], [`SmemReconfigure`],
//! [`SioReconfigure`]. `decode(rdi, rsi, rdx)` is the kernel's one check of
//! a `reconfigure` call's arguments; `to_registers` is how user code builds
//! them, so both sides use one definition. Registers a request does not use
//! are ignored.

use crate::{
    Handle, OpenFlags, Prot, ScpuSelector, SioSelector, SmachSelector, SmemSelector, SubPolicy,
    SysError, TtyMode, Whence,
};

/// Narrows a register to a 32-bit value.
fn value_u32(value: u64) -> Result<u32, SysError> {
    u32::try_from(value).map_err(|_| SysError::BadValue)
}

/// `reconfigure` on an SMACH.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmachReconfigure {
    /// Stop all its SCPUs; returns 0.
    Suspend,
    /// Let them run again; returns 0.
    Resume,
    /// Set the priority of all its SCPUs; returns 0.
    Priority(u32),
    /// Block until the child exits; returns its
    /// [`ExitStatus::to_register`](crate::ExitStatus::to_register).
    Wait,
    /// Count the kernel instructions of the caller's next call.
    TraceNextCall,
    /// The calling SCPU gives up the CPU (own SMACH only): the same as
    /// [`ScpuReconfigure::Yield`] on the caller's own SCPU handle.
    YieldCaller,
    /// The calling SCPU blocks for at least `ns` nanoseconds (own SMACH
    /// only): the same as [`ScpuReconfigure::Sleep`] on its own handle.
    SleepCaller {
        /// Nanoseconds, at most [`MAX_SLEEP_NS`]; 0 is a yield.
        ns: u64,
    },
    /// Parent only: the child's memory budget in frames; returns 0.
    Budget {
        /// 4 KiB frames.
        frames: u64,
    },
    /// Parent only: the child's weight, 1 to [`MAX_WEIGHT`]; returns 0.
    Weight(u32),
    /// Own SMACH or a child: how its share is divided; returns 0.
    SubPolicy(SubPolicy),
    /// Parent only: the directory SIO `directory` (in the caller's table)
    /// becomes the child's root; returns 0.
    /// [`SysError::NotPermitted`] on [`Handle::SELF`];
    /// [`SysError::WrongKind`] if `directory` is no directory.
    Root {
        /// The caller's directory handle (`rsi`).
        directory: Handle,
    },
}

/// Largest [`SmachReconfigure::Weight`].
pub const MAX_WEIGHT: u32 = 1000;

impl SmachReconfigure {
    /// Decodes `rdi` (selector), `rsi`, `rdx`.
    ///
    /// # Errors
    /// [`SysError::BadSelector`] for an unknown selector;
    /// [`SysError::BadValue`] for a priority past `u32::MAX`;
    /// [`SysError::BadHandle`] for a root's directory handle past 32 bits.
    pub fn decode(selector: u64, value: u64, _value2: u64) -> Result<Self, SysError> {
        Ok(match SmachSelector::try_from(selector)? {
            SmachSelector::Suspend => Self::Suspend,
            SmachSelector::Resume => Self::Resume,
            SmachSelector::Priority => Self::Priority(value_u32(value)?),
            SmachSelector::Wait => Self::Wait,
            SmachSelector::TraceNextCall => Self::TraceNextCall,
            SmachSelector::YieldCaller => Self::YieldCaller,
            SmachSelector::SleepCaller if value > MAX_SLEEP_NS => return Err(SysError::BadValue),
            SmachSelector::SleepCaller => Self::SleepCaller { ns: value },
            SmachSelector::Budget => Self::Budget { frames: value },
            SmachSelector::Weight => match value_u32(value)? {
                weight @ 1..=MAX_WEIGHT => Self::Weight(weight),
                _ => return Err(SysError::BadValue),
            },
            SmachSelector::SubPolicy => Self::SubPolicy(SubPolicy::try_from(value)?),
            SmachSelector::Root => Self::Root {
                directory: Handle::new(u32::try_from(value).map_err(|_| SysError::BadHandle)?),
            },
        })
    }

    /// The selector.
    #[must_use]
    pub const fn selector(self) -> SmachSelector {
        match self {
            Self::Suspend => SmachSelector::Suspend,
            Self::Resume => SmachSelector::Resume,
            Self::Priority(_) => SmachSelector::Priority,
            Self::Wait => SmachSelector::Wait,
            Self::TraceNextCall => SmachSelector::TraceNextCall,
            Self::YieldCaller => SmachSelector::YieldCaller,
            Self::SleepCaller { .. } => SmachSelector::SleepCaller,
            Self::Budget { .. } => SmachSelector::Budget,
            Self::Weight(_) => SmachSelector::Weight,
            Self::SubPolicy(_) => SmachSelector::SubPolicy,
            Self::Root { .. } => SmachSelector::Root,
        }
    }

    /// `[rdi, rsi, rdx]` for the call.
    #[must_use]
    pub const fn to_registers(self) -> [u64; 3] {
        let value = match self {
            Self::Priority(priority) => priority as u64,
            Self::SleepCaller { ns } => ns,
            Self::Budget { frames } => frames,
            Self::Weight(weight) => weight as u64,
            Self::SubPolicy(policy) => policy.number() as u64,
            Self::Root { directory } => directory.index() as u64,
            Self::Suspend | Self::Resume | Self::Wait | Self::TraceNextCall | Self::YieldCaller => {
                0
            }
        };
        [self.selector().number() as u64, value, 0]
    }
}

/// Longest [`ScpuReconfigure::Sleep`]: 2^48 ns (about 3.3 days of guest
/// time). Longer requests fail with [`SysError::BadValue`] rather than
/// mean "forever": a thread that wants to wait for an event waits on a
/// semaphore.
pub const MAX_SLEEP_NS: u64 = 1 << 48;

/// `reconfigure` on an SCPU. Each returns 0.
///
/// `Yield` and `Sleep` act on the caller itself: on another SCPU's handle
/// (or a kernel thread) they fail with [`SysError::NotPermitted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScpuReconfigure {
    /// Stop the thread.
    Suspend,
    /// Let it run again.
    Resume,
    /// Set its priority.
    Priority(u32),
    /// Set its time slice.
    Quantum {
        /// Microseconds, non-zero.
        quantum_us: u32,
    },
    /// Give up the CPU to the other ready SCPUs (own SCPU only).
    Yield,
    /// Block for at least `ns` nanoseconds of guest time (own SCPU only).
    Sleep {
        /// Nanoseconds, at most [`MAX_SLEEP_NS`]; 0 is a yield.
        ns: u64,
    },
}

impl ScpuReconfigure {
    /// Decodes `rdi` (selector), `rsi`, `rdx`.
    ///
    /// # Errors
    /// [`SysError::BadSelector`] for an unknown selector;
    /// [`SysError::BadValue`] for a value past `u32::MAX`, a zero quantum
    /// or a sleep past [`MAX_SLEEP_NS`].
    pub fn decode(selector: u64, value: u64, _value2: u64) -> Result<Self, SysError> {
        Ok(match ScpuSelector::try_from(selector)? {
            ScpuSelector::Yield => Self::Yield,
            ScpuSelector::Sleep if value > MAX_SLEEP_NS => return Err(SysError::BadValue),
            ScpuSelector::Sleep => Self::Sleep { ns: value },
            ScpuSelector::Suspend => Self::Suspend,
            ScpuSelector::Resume => Self::Resume,
            ScpuSelector::Priority => Self::Priority(value_u32(value)?),
            ScpuSelector::Quantum => match value_u32(value)? {
                0 => return Err(SysError::BadValue),
                quantum_us => Self::Quantum { quantum_us },
            },
        })
    }

    /// The selector.
    #[must_use]
    pub const fn selector(self) -> ScpuSelector {
        match self {
            Self::Suspend => ScpuSelector::Suspend,
            Self::Resume => ScpuSelector::Resume,
            Self::Priority(_) => ScpuSelector::Priority,
            Self::Quantum { .. } => ScpuSelector::Quantum,
            Self::Yield => ScpuSelector::Yield,
            Self::Sleep { .. } => ScpuSelector::Sleep,
        }
    }

    /// `[rdi, rsi, rdx]` for the call.
    #[must_use]
    pub const fn to_registers(self) -> [u64; 3] {
        let value = match self {
            Self::Priority(value) | Self::Quantum { quantum_us: value } => value as u64,
            Self::Sleep { ns } => ns,
            Self::Suspend | Self::Resume | Self::Yield => 0,
        };
        [self.selector().number() as u64, value, 0]
    }
}

/// `reconfigure` on an SMEM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmemReconfigure {
    /// Change the protection of the whole region; returns 0.
    Protect(Prot),
}

impl SmemReconfigure {
    /// Decodes `rdi` (selector), `rsi`, `rdx`.
    ///
    /// # Errors
    /// [`SysError::BadSelector`]; [`SysError::BadFlags`] (see [`Prot::decode`]).
    pub fn decode(selector: u64, value: u64, _value2: u64) -> Result<Self, SysError> {
        Ok(match SmemSelector::try_from(selector)? {
            SmemSelector::Protect => Self::Protect(Prot::decode(value)?),
        })
    }

    /// The selector.
    #[must_use]
    pub const fn selector(self) -> SmemSelector {
        match self {
            Self::Protect(_) => SmemSelector::Protect,
        }
    }

    /// `[rdi, rsi, rdx]` for the call.
    #[must_use]
    pub const fn to_registers(self) -> [u64; 3] {
        let Self::Protect(prot) = self;
        [self.selector().number() as u64, prot.bits() as u64, 0]
    }
}

/// `reconfigure` on an SIO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SioReconfigure {
    /// Move the position; returns the new position. A result below 0 or
    /// past `i64::MAX` fails with [`SysError::BadOffset`] (the kernel's check).
    Seek {
        /// What `offset` is relative to.
        whence: Whence,
        /// Signed byte offset (`rdx`, two's complement).
        offset: i64,
    },
    /// Set the console's line discipline; returns 0.
    /// [`SysError::WrongKind`] on an SIO that is not the tty.
    TtyMode(TtyMode),
    /// Owner only (the SMACH that opened the SIO): share it with the SMACH
    /// at handle `smach` of the caller's table; returns the receiver's new
    /// handle number. The receiver's handle names the same open SIO (same
    /// position, same object) with `rights`, which must be a non-empty
    /// subset of `READ | WRITE` and of how the SIO was opened
    /// ([`SysError::NotPermitted`] otherwise: read-only stays read-only).
    /// A holder cannot share further. [`SysError::BadFlags`] for other
    /// bits; [`SysError::NotPermitted`] on a handle the caller holds by a
    /// share, or sharing with itself.
    Share {
        /// The receiving SMACH, by the caller's handle to it (`rsi`).
        smach: Handle,
        /// What the receiver may do (`rdx`).
        rights: OpenFlags,
    },
    /// Owner only: every other SMACH's handle to this SIO is dead from now
    /// on. Their calls fail with [`SysError::Revoked`] (a blocked one wakes
    /// and fails so) until they close the handle; returns the number of
    /// handles revoked. Closing the SIO by its owner revokes too.
    /// [`SysError::NotPermitted`] from a holder.
    Revoke,
    /// On a port's send end: send one message that carries the caller's
    /// SIO `handle` with `rights` ([`crate::port`]); returns 0.
    PortSendHandle {
        /// The SIO to pass (`rsi`), owned by the caller.
        handle: Handle,
        /// What the receiver may do (`rdx`).
        rights: OpenFlags,
    },
    /// On a port's receive end: take the handle a received message
    /// carried; returns the caller's new handle.
    PortTakeHandle {
        /// The message's token (`rsi`).
        token: u64,
    },
    /// On a pipe's write end (its owner): the console becomes the pipe's
    /// reader (`program | tty`); every later write goes to the console
    /// through its line discipline (cooked: `\n` becomes `\r\n`). Its
    /// synthesized write is the console's collapsed routine: pipe, line
    /// discipline and UART in one. Bytes already in the pipe stay for the
    /// read end, which sees end of file when the write end closes.
    /// [`SysError::WrongKind`] on anything but a pipe's write end.
    PipeToConsole,
    /// A new *view* of this SIO (a file, `/dev/mem`, or a view): a window
    /// of `length` bytes from `offset` of it, in the caller's table,
    /// with the caller's rights on it (`read_only`: without `WRITE`).
    /// Returns the caller's new handle. The view has its own position
    /// (0 at its window's start); a read or write through it is clipped
    /// to its window (a read past the end is end of file, a write there
    /// writes nothing), then to its parent's window, and so on down to
    /// the base SIO, whose position it never moves. A view of a file
    /// never grows the file. A view can be viewed again (at most
    /// [`MAX_VIEW_DEPTH`] deep) and shared like any SIO. Revoking a view
    /// ([`Revoke`](Self::Revoke) by its maker) kills it for every user,
    /// and every view below it; closing its parent does too (calls fail
    /// with [`SysError::Revoked`]). [`SysError::BadOffset`] if `offset +
    /// length` overflows; [`SysError::WrongKind`] on an SIO of another
    /// kind; [`SysError::BadValue`] past the depth limit.
    View {
        /// First byte, in the parent's coordinates (`rsi`).
        offset: u64,
        /// Bytes (`rdx`).
        length: u64,
        /// Without `WRITE` (selector [`SioSelector::ReadOnlyView`]).
        read_only: bool,
    },
    /// On a view, by the SMACH that made it: its window becomes `length`
    /// bytes from `offset` of its parent. Every routine of it and of the
    /// views below it (in any SMACH) is replugged before this returns.
    /// [`SysError::WrongKind`] on an SIO that is no view;
    /// [`SysError::NotPermitted`] on a view held by a share;
    /// [`SysError::BadOffset`] if `offset + length` overflows.
    ViewReshape {
        /// New first byte in the parent's coordinates (`rsi`).
        offset: u64,
        /// New length (`rdx`).
        length: u64,
    },
    /// On the tty, or on a prefix view of it: a new *prefix view* in the
    /// caller's table, with the caller's rights. Every line written
    /// through it starts with the prefix (the first write's start and
    /// after every `\n`); a prefix view of a prefix view writes the
    /// chain's prefixes concatenated, the one nearest the tty first
    /// (`[a] [x] hello`). Reads go to the tty as through the base.
    /// Shared and revoked like any view. The kernel copies the prefix
    /// when the call is made. [`SysError::BadValue`] for a length of 0 or
    /// past [`MAX_PREFIX_LEN`] (at decode); [`SysError::BadAddress`] for a
    /// bad pointer; [`SysError::WrongKind`] on any other SIO.
    PrefixView {
        /// User address of the prefix bytes (`rsi`).
        prefix: u64,
        /// Its length in bytes (`rdx`), 1 to [`MAX_PREFIX_LEN`].
        len: u64,
    },
    /// On a directory SIO (the caller's own open, or a share with
    /// `WRITE`): removes the directory's entry `name` (one component: no
    /// `/`, no NUL, not `.` or `..`), a file or an empty directory; returns
    /// 0. A removed file's data goes once no SIO has it open (and with it
    /// its charge to a budget). [`SysError::BadValue`] for a length of 0
    /// or past [`MAX_NAME_LEN`] (at decode); [`SysError::BadAddress`] for
    /// a bad pointer; [`SysError::BadPath`] for a name that is not one
    /// component; [`SysError::WrongKind`] on an SIO that is no directory;
    /// [`SysError::NotFound`]; [`SysError::NotEmpty`] for a directory with
    /// entries; [`SysError::NotPermitted`] through a share without
    /// `WRITE`.
    Remove {
        /// User address of the name's bytes (`rsi`).
        name: u64,
        /// Its length in bytes (`rdx`), 1 to [`MAX_NAME_LEN`].
        len: u64,
    },
}

/// Longest prefix of one [`SioReconfigure::PrefixView`] level.
pub const MAX_PREFIX_LEN: u64 = 32;

/// Longest name [`SioReconfigure::Remove`] takes (one path component).
pub const MAX_NAME_LEN: u64 = 255;

/// How many views may be stacked on one base SIO (a view of a view ...).
pub const MAX_VIEW_DEPTH: u32 = 16;

impl SioReconfigure {
    /// Decodes `rdi` (selector), `rsi`, `rdx`.
    ///
    /// # Errors
    /// [`SysError::BadSelector`]; [`SysError::BadValue`] for an unknown
    /// whence; [`SysError::BadFlags`] for unknown tty-mode bits or share
    /// rights other than a non-empty set of `READ | WRITE`;
    /// [`SysError::BadHandle`] for a share's SMACH handle or a passed
    /// handle past 32 bits; [`SysError::BadValue`] for a prefix length of
    /// 0 or past [`MAX_PREFIX_LEN`], a name length of 0 or past
    /// [`MAX_NAME_LEN`].
    pub fn decode(selector: u64, value: u64, value2: u64) -> Result<Self, SysError> {
        Ok(match SioSelector::try_from(selector)? {
            SioSelector::PortAttachHandle => Self::PortSendHandle {
                handle: Handle::new(u32::try_from(value).map_err(|_| SysError::BadHandle)?),
                rights: share_rights(value2)?,
            },
            SioSelector::PortTakeHandle => Self::PortTakeHandle { token: value },
            SioSelector::PipeToConsole => Self::PipeToConsole,
            SioSelector::Seek => Self::Seek {
                whence: Whence::try_from(value)?,
                offset: i64::from_ne_bytes(value2.to_ne_bytes()),
            },
            SioSelector::TtyMode => Self::TtyMode(TtyMode::decode(value)?),
            SioSelector::Share => Self::Share {
                smach: Handle::new(u32::try_from(value).map_err(|_| SysError::BadHandle)?),
                rights: share_rights(value2)?,
            },
            SioSelector::Revoke => Self::Revoke,
            kind @ (SioSelector::View | SioSelector::ReadOnlyView) => Self::View {
                offset: value,
                length: value2,
                read_only: kind == SioSelector::ReadOnlyView,
            },
            SioSelector::ViewReshape => Self::ViewReshape {
                offset: value,
                length: value2,
            },
            SioSelector::PrefixView if value2 == 0 || value2 > MAX_PREFIX_LEN => {
                return Err(SysError::BadValue)
            }
            SioSelector::PrefixView => Self::PrefixView {
                prefix: value,
                len: value2,
            },
            SioSelector::Remove if value2 == 0 || value2 > MAX_NAME_LEN => {
                return Err(SysError::BadValue)
            }
            SioSelector::Remove => Self::Remove {
                name: value,
                len: value2,
            },
        })
    }

    /// The selector.
    #[must_use]
    pub const fn selector(self) -> SioSelector {
        match self {
            Self::Seek { .. } => SioSelector::Seek,
            Self::TtyMode(_) => SioSelector::TtyMode,
            Self::Share { .. } => SioSelector::Share,
            Self::Revoke => SioSelector::Revoke,
            Self::PortSendHandle { .. } => SioSelector::PortAttachHandle,
            Self::PortTakeHandle { .. } => SioSelector::PortTakeHandle,
            Self::PipeToConsole => SioSelector::PipeToConsole,
            Self::View {
                read_only: false, ..
            } => SioSelector::View,
            Self::View {
                read_only: true, ..
            } => SioSelector::ReadOnlyView,
            Self::ViewReshape { .. } => SioSelector::ViewReshape,
            Self::PrefixView { .. } => SioSelector::PrefixView,
            Self::Remove { .. } => SioSelector::Remove,
        }
    }

    /// `[rdi, rsi, rdx]` for the call.
    #[must_use]
    pub const fn to_registers(self) -> [u64; 3] {
        let selector = self.selector().number() as u64;
        match self {
            Self::Seek { whence, offset } => [
                selector,
                whence.number() as u64,
                u64::from_ne_bytes(offset.to_ne_bytes()),
            ],
            Self::TtyMode(mode) => [selector, mode.bits() as u64, 0],
            Self::Share { smach, rights } => [selector, smach.index() as u64, rights.bits() as u64],
            Self::Revoke => [selector, 0, 0],
            Self::PortSendHandle { handle, rights } => {
                [selector, handle.index() as u64, rights.bits() as u64]
            }
            Self::PortTakeHandle { token } => [selector, token, 0],
            Self::PipeToConsole => [selector, 0, 0],
            Self::View { offset, length, .. } | Self::ViewReshape { offset, length } => {
                [selector, offset, length]
            }
            Self::PrefixView { prefix, len } => [selector, prefix, len],
            Self::Remove { name, len } => [selector, name, len],
        }
    }
}

/// The rights of a share: a non-empty set of `READ | WRITE`, nothing else.
fn share_rights(value: u64) -> Result<OpenFlags, SysError> {
    let rights = u32::try_from(value)
        .ok()
        .and_then(OpenFlags::from_bits)
        .ok_or(SysError::BadFlags)?;
    let allowed = OpenFlags::READ | OpenFlags::WRITE;
    if rights.is_empty() || !allowed.contains(rights) {
        return Err(SysError::BadFlags);
    }
    Ok(rights)
}

#[cfg(test)]
mod tests;
