//! Create arguments: one `repr(C)` struct per kind, and its checked form.
//!
//! Owns [`SmachCreateArgs`], [`ScpuCreateArgs`], [`SmemCreateArgs`],
//! [`SioCreateArgs`] (what user code puts in memory and passes to `create`
//! as `rsi` = pointer, `rdx` = [`SIZE`](SioCreateArgs::SIZE)), and their
//! checked forms [`SmachCreate`], [`ScpuCreate`], [`SmemCreate`],
//! [`SioCreate`], which hold only validated values (`validate-once`).
//! Reserved `_pad` fields must be zero, so they can gain a meaning later.

use crate::{
    OpenFlags, Prot, SmachCreateFlags, SmemCreateFlags, SysError, UserRange, PAGE_SIZE, USER_END,
};

/// The longest path `create` accepts, in bytes (Linux's `PATH_MAX`).
pub const PATH_MAX: u64 = 4096;

/// Alignment the ABI requires of a new SCPU's `stack_top`.
pub const STACK_ALIGN: u64 = 16;

/// Checks a path's pointer and length (not its bytes: those are checked
/// after the kernel copies them in).
fn path_range(path_ptr: u64, path_len: u64) -> Result<UserRange, SysError> {
    if path_len == 0 {
        return Err(SysError::BadPath);
    }
    if path_len > PATH_MAX {
        return Err(SysError::NameTooLong);
    }
    UserRange::new(path_ptr, path_len)
}

/// Rejects a non-zero reserved field.
fn reserved_zero(pad: u32) -> Result<(), SysError> {
    if pad == 0 {
        Ok(())
    } else {
        Err(SysError::BadFlags)
    }
}

wire_struct! {
    /// `create(Kind::Smach)`: start a program from the initrd in a new SMACH.
    ///
    /// Its first SCPU starts at the ELF entry point with `rdi = arg` (see
    /// the crate docs, "Starting code").
    pub struct SmachCreateArgs, size 32 {
        /// Address of the program's path in the initrd (UTF-8, not
        /// NUL-terminated), e.g. `/bin/hello`.
        pub path_ptr: u64,
        /// Length of the path in bytes (1 to [`PATH_MAX`]).
        pub path_len: u64,
        /// Passed to the program's entry in `rdi`.
        pub arg: u64,
        /// [`SmachCreateFlags`] bits.
        pub flags: u32,
        /// Reserved, must be 0.
        pub _pad: u32,
    }
}

/// A checked [`SmachCreateArgs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmachCreate {
    /// The path bytes in user memory.
    pub path: UserRange,
    /// Passed to the program's entry in `rdi`.
    pub arg: u64,
    /// Decoded flags.
    pub flags: SmachCreateFlags,
}

impl SmachCreateArgs {
    /// Validates every field.
    ///
    /// # Errors
    /// [`SysError::BadPath`] (empty path), [`SysError::NameTooLong`],
    /// [`SysError::BadAddress`], [`SysError::BadFlags`] (flags or `_pad`).
    pub fn check(&self) -> Result<SmachCreate, SysError> {
        reserved_zero(self._pad)?;
        Ok(SmachCreate {
            path: path_range(self.path_ptr, self.path_len)?,
            arg: self.arg,
            flags: SmachCreateFlags::decode(self.flags.into())?,
        })
    }
}

wire_struct! {
    /// `create(Kind::Scpu)`: start a new thread in the caller's SMACH.
    ///
    /// The thread starts as if `entry(arg)` had just been called:
    /// `rip = entry`, `rdi = arg`, `rsp = stack_top - 8` (the slot of a
    /// return address; `entry` must never return, it ends with
    /// `terminate`).
    pub struct ScpuCreateArgs, size 32 {
        /// User address of the first instruction.
        pub entry: u64,
        /// One past the top of the thread's stack; a multiple of
        /// [`STACK_ALIGN`].
        pub stack_top: u64,
        /// Passed to `entry` in `rdi`.
        pub arg: u64,
        /// Scheduling priority, 0 (lowest) to 7; it scales the quantum
        /// (3 runs the quantum as set).
        pub priority: u32,
        /// Time slice in microseconds; 0 = the kernel's default.
        pub quantum_us: u32,
    }
}

/// Highest SCPU priority (0 is the lowest).
pub const MAX_PRIORITY: u32 = 7;
/// The priority a program gets unless it asks otherwise: its quantum runs
/// as set (priority scales the quantum: 7 twice as long, 0 a quarter).
pub const DEFAULT_PRIORITY: u32 = 3;

/// A checked [`ScpuCreateArgs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScpuCreate {
    /// User address of the first instruction (non-zero, below [`USER_END`]).
    pub entry: u64,
    /// Stack top (non-zero, aligned, at most [`USER_END`]).
    pub stack_top: u64,
    /// Passed to `entry` in `rdi`.
    pub arg: u64,
    /// Priority, 0 (lowest) to [`MAX_PRIORITY`].
    pub priority: u32,
    /// Time slice in microseconds; 0 = default.
    pub quantum_us: u32,
}

impl ScpuCreateArgs {
    /// Validates every field.
    ///
    /// # Errors
    /// [`SysError::BadAddress`] if `entry` is 0 or not below [`USER_END`],
    /// or `stack_top` is 0, past [`USER_END`] or not a multiple of
    /// [`STACK_ALIGN`].
    pub fn check(&self) -> Result<ScpuCreate, SysError> {
        let is_entry_ok = self.entry != 0 && self.entry < USER_END;
        let is_stack_ok = self.stack_top != 0
            && self.stack_top <= USER_END
            && self.stack_top.is_multiple_of(STACK_ALIGN);
        if !(is_entry_ok && is_stack_ok) {
            return Err(SysError::BadAddress);
        }
        Ok(ScpuCreate {
            entry: self.entry,
            stack_top: self.stack_top,
            arg: self.arg,
            priority: self.priority,
            quantum_us: self.quantum_us,
        })
    }
}

wire_struct! {
    /// `create(Kind::Smem)`: map zeroed memory into the caller's SMACH.
    pub struct SmemCreateArgs, size 24 {
        /// Where to map it: 0 = the kernel chooses; otherwise a
        /// page-aligned address, a hint unless [`SmemCreateFlags::FIXED`].
        pub addr_hint: u64,
        /// Length in bytes (non-zero; rounded up to whole pages).
        pub len: u64,
        /// [`Prot`] bits.
        pub prot: u32,
        /// [`SmemCreateFlags`] bits.
        pub flags: u32,
    }
}

/// A checked [`SmemCreateArgs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmemCreate {
    /// The page-aligned range asked for, or `None` to let the kernel choose.
    pub placement: Option<UserRange>,
    /// Length in bytes, rounded up to whole pages.
    pub len: u64,
    /// Protection.
    pub prot: Prot,
    /// Decoded flags.
    pub flags: SmemCreateFlags,
}

impl SmemCreateArgs {
    /// Validates every field.
    ///
    /// # Errors
    /// - [`SysError::BadLength`] if `len` is 0 or rounds up past [`USER_END`].
    /// - [`SysError::BadAddress`] if `addr_hint` is misaligned, the range
    ///   leaves user space, or `FIXED` comes with no address.
    /// - [`SysError::BadFlags`] for bad `prot` or `flags`.
    pub fn check(&self) -> Result<SmemCreate, SysError> {
        let prot = Prot::decode(self.prot.into())?;
        let flags = SmemCreateFlags::decode(self.flags.into())?;
        let len = round_up_to_page(self.len)
            .filter(|&len| len != 0 && len <= USER_END)
            .ok_or(SysError::BadLength)?;
        let placement = match self.addr_hint {
            0 if flags.contains(SmemCreateFlags::FIXED) => return Err(SysError::BadAddress),
            0 => None,
            start => Some(UserRange::new_aligned(start, len, PAGE_SIZE)?),
        };
        Ok(SmemCreate {
            placement,
            len,
            prot,
            flags,
        })
    }
}

/// `len` rounded up to a multiple of [`PAGE_SIZE`], if that fits.
fn round_up_to_page(len: u64) -> Option<u64> {
    let mask = PAGE_SIZE.checked_sub(1)?;
    Some(len.checked_add(mask)? & !mask)
}

wire_struct! {
    /// `create(Kind::Sio)`: open a file, directory or device by path.
    pub struct SioCreateArgs, size 24 {
        /// Address of the path (UTF-8, absolute, not NUL-terminated), e.g.
        /// `/tmp/notes` or `/dev/null`.
        pub path_ptr: u64,
        /// Length of the path in bytes (1 to [`PATH_MAX`]).
        pub path_len: u64,
        /// [`OpenFlags`] bits.
        pub flags: u32,
        /// Reserved, must be 0.
        pub _pad: u32,
    }
}

/// A checked [`SioCreateArgs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SioCreate {
    /// The path bytes in user memory.
    pub path: UserRange,
    /// Decoded open flags.
    pub flags: OpenFlags,
}

impl SioCreateArgs {
    /// Validates every field.
    ///
    /// # Errors
    /// [`SysError::BadPath`] (empty path), [`SysError::NameTooLong`],
    /// [`SysError::BadAddress`], [`SysError::BadFlags`] (see
    /// [`OpenFlags::decode`], or a non-zero `_pad`).
    pub fn check(&self) -> Result<SioCreate, SysError> {
        reserved_zero(self._pad)?;
        Ok(SioCreate {
            path: path_range(self.path_ptr, self.path_len)?,
            flags: OpenFlags::decode(self.flags.into())?,
        })
    }
}

#[cfg(test)]
mod tests;
