//! Handles: indices into the caller's SMACH handle table.
//!
//! Owns [`Handle`] and the two handles every SMACH starts with:
//! [`Handle::SELF`] and [`Handle::CONSOLE`]. The kernel's table (in
//! `sk-core`) maps a handle to an object; the thread's routine table maps a
//! [`CallWord`](crate::CallWord) to the routine synthesized for it.

use core::fmt;

/// An index into the calling SMACH's handle table.
///
/// A handle is a plain number; holding one grants nothing by itself. The
/// kernel checks it on every call (an empty slot's routines return
/// [`SysError::BadHandle`](crate::SysError::BadHandle)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Handle(u32);

impl Handle {
    /// Handle 0: the caller's own SMACH ("self"). `create` is called on it;
    /// `terminate` on it exits the caller.
    pub const SELF: Self = Self(0);

    /// Handle 1: the console SIO (`/dev/tty`), pre-opened for every SMACH.
    pub const CONSOLE: Self = Self(1);

    /// The first handle `create` can return.
    pub const FIRST_FREE: Self = Self(2);

    /// The handle with this table index.
    #[must_use]
    pub const fn new(index: u32) -> Self {
        Self(index)
    }

    /// This handle's table index.
    #[must_use]
    pub const fn index(self) -> u32 {
        self.0
    }

    /// Decodes a handle returned in `rax` by `create`.
    ///
    /// # Errors
    /// [`SysError::BadHandle`](crate::SysError::BadHandle) if `value` does
    /// not fit in 32 bits.
    #[inline]
    pub fn from_return(value: u64) -> Result<Self, crate::SysError> {
        u32::try_from(value)
            .map(Self)
            .map_err(|_| crate::SysError::BadHandle)
    }
}

/// The path whose `create(Kind::Sio)` makes a new pipe: its two ends come
/// back as [`PipeHandles`] (the open's flags must be `READ | WRITE`).
pub const PIPE_PATH: &str = "/dev/pipe";

/// The audio output (issue 14, docs/audio.md): opened write-only, it is
/// the write end of a pipe whose reader is the sound card's DAC; its
/// bytes are 16-bit little-endian stereo frames (left, right) at
/// [`AUDIO_RATE_HZ`]. One open at a time ([`crate::SysError::Busy`]);
/// [`crate::SysError::NotFound`] without a sound card.
pub const AUDIO_PATH: &str = "/dev/audio";

/// Frames per second `/dev/audio` plays (the AC'97 codec takes it exactly).
pub const AUDIO_RATE_HZ: u32 = 25_000;

/// The two handles a pipe's `create` returns in one `rax`: the read end in
/// bits 31..0, the write end in bits 63..32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PipeHandles {
    /// The read end (open for `read`).
    pub read: Handle,
    /// The write end (open for `write`).
    pub write: Handle,
}

impl PipeHandles {
    /// The `rax` value.
    #[must_use]
    pub const fn to_return(self) -> u64 {
        (self.write.0 as u64) << 32 | self.read.0 as u64
    }

    /// Splits a pipe create's `rax`.
    #[must_use]
    pub const fn from_return(value: u64) -> Self {
        let [r0, r1, r2, r3, w0, w1, w2, w3] = value.to_le_bytes();
        Self {
            read: Handle(u32::from_le_bytes([r0, r1, r2, r3])),
            write: Handle(u32::from_le_bytes([w0, w1, w2, w3])),
        }
    }
}

impl From<Handle> for u64 {
    fn from(handle: Handle) -> u64 {
        u64::from(handle.0)
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "#{}", self.0)
    }
}
