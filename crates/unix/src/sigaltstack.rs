//! The alternate signal stack of one thread (sigaltstack(2)).
//!
//! Owns [`AltStack`] (the thread's setting), [`StackT`] (`stack_t` and its
//! 24-byte wire form: `ss_sp` u64, `ss_flags` i32, 4 bytes padding,
//! `ss_size` u64) and the `SS_*` flags. A handler installed with
//! `SA_ONSTACK` runs on this stack unless the thread is already on it.

use crate::errno::Errno;

/// `ss_flags`: the thread is running on the alternate stack.
pub const SS_ONSTACK: i32 = 1;
/// `ss_flags`: the alternate stack is disabled.
pub const SS_DISABLE: i32 = 2;
/// `ss_flags`: disable the alternate stack while a handler runs on it
/// (saved and restored through the signal frame).
pub const SS_AUTODISARM: i32 = i32::MIN; // 1 << 31
/// The smallest alternate stack accepted (x86-64 `MINSIGSTKSZ`).
pub const MINSIGSTKSZ: u64 = 2048;
/// The size libc suggests (`SIGSTKSZ`).
pub const SIGSTKSZ: u64 = 8192;

/// Size of `stack_t` on x86-64.
pub const STACK_T_SIZE: usize = 24;

/// `stack_t`: an alternate stack as `sigaltstack` and `uc_stack` carry it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackT {
    /// `ss_sp`: the lowest address.
    pub sp: u64,
    /// `ss_flags`.
    pub flags: i32,
    /// `ss_size` in bytes.
    pub size: u64,
}

impl StackT {
    /// Decodes a `stack_t` as user space wrote it.
    #[must_use]
    pub fn from_wire(bytes: &[u8; STACK_T_SIZE]) -> Self {
        let mut flags = [0u8; 4];
        if let Some(src) = bytes.get(8..12) {
            flags.copy_from_slice(src);
        }
        Self {
            sp: crate::signal_actions::word(bytes, 0),
            flags: i32::from_le_bytes(flags),
            size: crate::signal_actions::word(bytes, 16),
        }
    }

    /// Encodes it.
    #[must_use]
    pub fn to_wire(&self) -> [u8; STACK_T_SIZE] {
        let mut bytes = [0u8; STACK_T_SIZE];
        crate::signal_actions::put_word(&mut bytes, 0, self.sp);
        if let Some(dst) = bytes.get_mut(8..12) {
            dst.copy_from_slice(&self.flags.to_le_bytes());
        }
        crate::signal_actions::put_word(&mut bytes, 16, self.size);
        bytes
    }
}

/// A thread's alternate signal stack setting (none after `execve`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStack {
    sp: u64,
    /// 0: disabled.
    size: u64,
    autodisarm: bool,
}

impl AltStack {
    /// Lowest address and size, if enabled.
    #[must_use]
    pub fn range(&self) -> Option<(u64, u64)> {
        (self.size != 0).then_some((self.sp, self.size))
    }

    /// True if `sp` lies on the stack (Linux's `on_sig_stack`: above the
    /// base, at most the top; never with `SS_AUTODISARM`).
    #[must_use]
    pub fn on_stack(&self, sp: u64) -> bool {
        !self.autodisarm && self.contains(sp)
    }

    /// `sp` in `(base, base + size]`, ignoring `SS_AUTODISARM`.
    pub(crate) fn contains(&self, sp: u64) -> bool {
        self.size != 0 && sp > self.sp && sp - self.sp <= self.size
    }

    /// The `stack_t` that `sigaltstack`'s `old_ss` and a frame's `uc_stack`
    /// report when the thread's stack pointer is `sp`.
    #[must_use]
    pub fn current(&self, sp: u64) -> StackT {
        let state = if self.size == 0 {
            SS_DISABLE
        } else if self.on_stack(sp) {
            SS_ONSTACK
        } else {
            0
        };
        StackT {
            sp: self.sp,
            flags: state | if self.autodisarm { SS_AUTODISARM } else { 0 },
            size: self.size,
        }
    }

    /// `sigaltstack(ss, old_ss)` with the thread at `sp`: returns `old_ss`
    /// and installs `new` if given.
    ///
    /// # Errors
    /// `EPERM` if changing it while running on it; `EINVAL` for flags other
    /// than `0`, `SS_ONSTACK` or `SS_DISABLE` (each optionally with
    /// `SS_AUTODISARM`); `ENOMEM` if enabling one smaller than
    /// [`MINSIGSTKSZ`].
    pub fn sigaltstack(&mut self, new: Option<StackT>, sp: u64) -> Result<StackT, Errno> {
        let old = self.current(sp);
        if let Some(new) = new {
            if self.on_stack(sp) {
                return Err(Errno::EPERM);
            }
            let mode = new.flags & !SS_AUTODISARM;
            *self = match mode {
                SS_DISABLE => Self::default(),
                0 | SS_ONSTACK if new.size < MINSIGSTKSZ => return Err(Errno::ENOMEM),
                0 | SS_ONSTACK => Self {
                    sp: new.sp,
                    size: new.size,
                    autodisarm: new.flags & SS_AUTODISARM != 0,
                },
                _ => return Err(Errno::EINVAL),
            };
        }
        Ok(old)
    }

    /// Disables it (a handler entered with `SS_AUTODISARM`; also `execve`).
    pub fn disarm(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may panic.
mod tests {
    use super::*;

    #[test]
    fn sigaltstack_semantics() {
        let mut alt = AltStack::default();
        let enable = StackT {
            sp: 0x10_0000,
            flags: 0,
            size: SIGSTKSZ,
        };
        // Fresh: disabled.
        assert_eq!(
            alt.sigaltstack(None, 0x7000_0000).unwrap().flags,
            SS_DISABLE
        );
        // Too small.
        let small = StackT {
            size: MINSIGSTKSZ - 1,
            ..enable
        };
        assert_eq!(
            alt.sigaltstack(Some(small), 0x7000_0000),
            Err(Errno::ENOMEM)
        );
        // Bad flags.
        let bad = StackT { flags: 4, ..enable };
        assert_eq!(alt.sigaltstack(Some(bad), 0x7000_0000), Err(Errno::EINVAL));
        // Enable, then read back off and on it.
        alt.sigaltstack(Some(enable), 0x7000_0000).unwrap();
        assert_eq!(alt.current(0x7000_0000), enable);
        let on = 0x10_0000 + 100;
        assert_eq!(alt.current(on).flags, SS_ONSTACK);
        assert!(alt.on_stack(0x10_0000 + SIGSTKSZ));
        assert!(!alt.on_stack(0x10_0000));
        // Changing it while on it: EPERM; reading is fine.
        let disable = StackT {
            flags: SS_DISABLE,
            ..enable
        };
        assert_eq!(alt.sigaltstack(Some(disable), on), Err(Errno::EPERM));
        assert_eq!(alt.sigaltstack(None, on).unwrap().flags, SS_ONSTACK);
        // Disabling ignores size.
        alt.sigaltstack(Some(StackT { size: 0, ..disable }), 0x7000_0000)
            .unwrap();
        assert_eq!(alt.range(), None);
        // Autodisarm: never "on" it, so it may be changed from a handler.
        let auto = StackT {
            flags: SS_AUTODISARM,
            ..enable
        };
        alt.sigaltstack(Some(auto), 0x7000_0000).unwrap();
        assert_eq!(alt.current(on).flags, SS_AUTODISARM);
        assert!(alt.sigaltstack(Some(disable), on).is_ok());
    }

    #[test]
    fn stack_t_wire_layout() {
        let stack = StackT {
            sp: 0x1122_3344_5566_7788,
            flags: SS_DISABLE,
            size: 0x2000,
        };
        let bytes = stack.to_wire();
        assert_eq!(&bytes[0..8], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&bytes[8..12], &2i32.to_le_bytes());
        assert_eq!(&bytes[12..16], &[0; 4]);
        assert_eq!(&bytes[16..24], &0x2000u64.to_le_bytes());
        assert_eq!(StackT::from_wire(&bytes), stack);
    }
}
