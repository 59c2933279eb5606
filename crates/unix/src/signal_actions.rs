//! What a process does with each signal: handler, `SIG_DFL` or `SIG_IGN`,
//! and each signal's default action.
//!
//! Owns [`SigAction`] (and its wire form, x86-64 Linux's
//! `struct kernel_sigaction`: handler, flags, restorer, mask, four `u64`s),
//! the `SA_*` flags ([`sa`]), [`DefaultAction`] per signal (signal(7)),
//! [`ActionTable`] (one action per signal, the checks of sigaction(2)) and
//! [`sigprocmask`] (rt_sigprocmask(2)'s `how`).

use crate::errno::Errno;
use crate::signal_set::{Signal, SignalSet};

/// `sa_flags` bits (`<asm/signal.h>`, x86-64).
pub mod sa {
    /// `SIGCHLD` is not sent when a child stops or continues.
    pub const NOCLDSTOP: u64 = 0x0000_0001;
    /// Children do not become zombies.
    pub const NOCLDWAIT: u64 = 0x0000_0002;
    /// The handler takes `(signo, siginfo *, ucontext *)`.
    pub const SIGINFO: u64 = 0x0000_0004;
    /// Report the tag bits of a fault address (arm64; accepted, no effect).
    pub const EXPOSE_TAGBITS: u64 = 0x0000_0800;
    /// `sa_restorer` holds the return trampoline (every libc sets it).
    pub const RESTORER: u64 = 0x0400_0000;
    /// Run the handler on the alternate signal stack.
    pub const ONSTACK: u64 = 0x0800_0000;
    /// Restart interrupted system calls instead of failing with `EINTR`.
    pub const RESTART: u64 = 0x1000_0000;
    /// Do not block the signal while its handler runs.
    pub const NODEFER: u64 = 0x4000_0000;
    /// Reset the action to `SIG_DFL` when the handler is entered.
    pub const RESETHAND: u64 = 0x8000_0000;
    /// Every flag Linux keeps (`UAPI_SA_FLAGS`); others are dropped on set.
    pub const KNOWN: u64 = NOCLDSTOP
        | NOCLDWAIT
        | SIGINFO
        | EXPOSE_TAGBITS
        | RESTORER
        | ONSTACK
        | RESTART
        | NODEFER
        | RESETHAND;
}

/// The handler value meaning "default action".
pub const SIG_DFL: u64 = 0;
/// The handler value meaning "ignore".
pub const SIG_IGN: u64 = 1;

/// What runs when a signal is delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Handler {
    /// `SIG_DFL`: the signal's [`DefaultAction`].
    #[default]
    Default,
    /// `SIG_IGN`: nothing.
    Ignore,
    /// A user function at this address.
    Function(u64),
}

impl Handler {
    /// The handler whose wire value is `value`.
    #[must_use]
    pub fn from_raw(value: u64) -> Self {
        match value {
            SIG_DFL => Self::Default,
            SIG_IGN => Self::Ignore,
            address => Self::Function(address),
        }
    }

    /// Its wire value.
    #[must_use]
    pub fn raw(self) -> u64 {
        match self {
            Self::Default => SIG_DFL,
            Self::Ignore => SIG_IGN,
            Self::Function(address) => address,
        }
    }
}

/// One signal's action, as `rt_sigaction` sets and reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// The handler, `SIG_DFL` or `SIG_IGN`.
    pub handler: Handler,
    /// `SA_*` bits ([`sa`]).
    pub flags: u64,
    /// Where the handler returns to (with [`sa::RESTORER`]).
    pub restorer: u64,
    /// Signals blocked while the handler runs (besides the signal itself).
    pub mask: SignalSet,
}

/// Size of `struct kernel_sigaction` on x86-64.
pub const SIGACTION_SIZE: usize = 32;

/// Size of the kernel's `sigset_t`: `rt_sigaction` and `rt_sigprocmask`
/// fail with `EINVAL` for any other `sigsetsize`.
pub const SIGSET_SIZE: u64 = 8;

/// `EINVAL` unless `sigsetsize` is [`SIGSET_SIZE`].
///
/// # Errors
/// `EINVAL`.
pub fn check_sigset_size(sigsetsize: u64) -> Result<(), Errno> {
    if sigsetsize == SIGSET_SIZE {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// Reads the `u64` at `at` of a fixed-size wire record.
pub(crate) fn word<const N: usize>(bytes: &[u8; N], at: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        word.copy_from_slice(src);
    }
    u64::from_le_bytes(word)
}

/// Writes `value` at `at` of a fixed-size wire record.
pub(crate) fn put_word<const N: usize>(bytes: &mut [u8; N], at: usize, value: u64) {
    if let Some(dst) = bytes.get_mut(at..at + 8) {
        dst.copy_from_slice(&value.to_le_bytes());
    }
}

impl SigAction {
    /// Decodes a `struct kernel_sigaction` as user space wrote it.
    #[must_use]
    pub fn from_wire(bytes: &[u8; SIGACTION_SIZE]) -> Self {
        Self {
            handler: Handler::from_raw(word(bytes, 0)),
            flags: word(bytes, 8),
            restorer: word(bytes, 16),
            mask: SignalSet::from_bits(word(bytes, 24)),
        }
    }

    /// Encodes it as the `struct kernel_sigaction` `oldact` receives.
    #[must_use]
    pub fn to_wire(&self) -> [u8; SIGACTION_SIZE] {
        let mut bytes = [0u8; SIGACTION_SIZE];
        put_word(&mut bytes, 0, self.handler.raw());
        put_word(&mut bytes, 8, self.flags);
        put_word(&mut bytes, 16, self.restorer);
        put_word(&mut bytes, 24, self.mask.bits());
        bytes
    }

    /// True if delivering `signal` under this action does nothing: `SIG_IGN`,
    /// or `SIG_DFL` for a signal whose default is "Ign" or "Cont" (Linux's
    /// `SIG_KERNEL_IGNORE_MASK`: `SIGCONT` resumes the process when it is
    /// sent, not when it is delivered).
    #[must_use]
    pub fn ignores(&self, signal: Signal) -> bool {
        match self.handler {
            Handler::Ignore => true,
            Handler::Default => matches!(
                default_action(signal),
                DefaultAction::Ignore | DefaultAction::Continue
            ),
            Handler::Function(_) => false,
        }
    }
}

/// A signal's default action (signal(7), "Standard signals").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefaultAction {
    /// Terminate the process ("Term").
    Terminate,
    /// Terminate the process and dump core ("Core"; the wait status gets the
    /// core flag).
    Core,
    /// Ignore the signal ("Ign").
    Ignore,
    /// Stop the process ("Stop").
    Stop,
    /// Continue the process if stopped ("Cont").
    Continue,
}

/// `signal`'s default action.
#[must_use]
pub fn default_action(signal: Signal) -> DefaultAction {
    use DefaultAction::{Continue, Core, Ignore, Stop, Terminate};
    match signal.number() {
        3..=8 | 11 | 24 | 25 | 31 => Core,
        17 | 23 | 28 => Ignore,
        18 => Continue,
        19..=22 => Stop,
        // HUP INT KILL USR1 USR2 PIPE ALRM TERM STKFLT VTALRM PROF IO PWR,
        // and every real-time signal.
        _ => Terminate,
    }
}

/// The process's action for every signal (shared by its threads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionTable {
    actions: [SigAction; 64],
}

impl Default for ActionTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ActionTable {
    /// Every signal at `SIG_DFL`, as after `execve`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            actions: [SigAction::default(); 64],
        }
    }

    /// `signal`'s action.
    #[must_use]
    pub fn get(&self, signal: Signal) -> SigAction {
        self.actions
            .get(usize::from(signal.number() - 1))
            .copied()
            .unwrap_or_default()
    }

    /// Stores `action` for `signal` as given (no checks; see [`Self::sigaction`]).
    pub(crate) fn put(&mut self, signal: Signal, action: SigAction) {
        if let Some(slot) = self.actions.get_mut(usize::from(signal.number() - 1)) {
            *slot = action;
        }
    }

    /// `rt_sigaction(signum, act, oldact)`: returns the old action (for
    /// `oldact`) and, if `new` is given, installs it with unknown flags and
    /// `SIGKILL`/`SIGSTOP` dropped from its mask.
    ///
    /// The caller must also discard `signum` from every pending set if the
    /// new action ignores it (see
    /// [`crate::signal_state::ProcessSignals::sigaction`], which does).
    ///
    /// # Errors
    /// `EINVAL` if `signum` is not `1..=64`, or if `new` is given for
    /// `SIGKILL` or `SIGSTOP` (reading their action is allowed).
    pub fn sigaction(&mut self, signum: u64, new: Option<SigAction>) -> Result<SigAction, Errno> {
        let signal = Signal::new(signum).ok_or(Errno::EINVAL)?;
        let old = self.get(signal);
        if let Some(new) = new {
            if !signal.is_catchable() {
                return Err(Errno::EINVAL);
            }
            self.put(
                signal,
                SigAction {
                    flags: new.flags & sa::KNOWN,
                    mask: new.mask.blockable(),
                    ..new
                },
            );
        }
        Ok(old)
    }

    /// What `execve` does: handled signals go back to `SIG_DFL`; ignored
    /// ones stay ignored (execve(2)).
    pub fn reset_for_exec(&mut self) {
        for action in &mut self.actions {
            *action = match action.handler {
                Handler::Ignore => SigAction {
                    handler: Handler::Ignore,
                    ..SigAction::default()
                },
                _ => SigAction::default(),
            };
        }
    }
}

/// `how` for `rt_sigprocmask`.
pub mod how {
    /// Add the given signals to the mask.
    pub const SIG_BLOCK: u64 = 0;
    /// Remove the given signals from the mask.
    pub const SIG_UNBLOCK: u64 = 1;
    /// Replace the mask.
    pub const SIG_SETMASK: u64 = 2;
}

/// The mask after `rt_sigprocmask(how, set)` given the current one; with no
/// `set`, the mask is unchanged (and `how` is not checked, as Linux).
/// `SIGKILL` and `SIGSTOP` are silently never blocked.
///
/// # Errors
/// `EINVAL` for a `how` other than [`how::SIG_BLOCK`],
/// [`how::SIG_UNBLOCK`] or [`how::SIG_SETMASK`] when `set` is given.
pub fn sigprocmask(
    current: SignalSet,
    how: u64,
    set: Option<SignalSet>,
) -> Result<SignalSet, Errno> {
    let Some(set) = set else {
        return Ok(current);
    };
    let new = match how {
        how::SIG_BLOCK => current.union(set),
        how::SIG_UNBLOCK => current.difference(set),
        how::SIG_SETMASK => set,
        _ => return Err(Errno::EINVAL),
    };
    Ok(new.blockable())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may panic.
mod tests {
    use super::*;

    #[test]
    fn default_actions_follow_signal_7() {
        use DefaultAction::*;
        let table = [
            (Signal::SIGHUP, Terminate),
            (Signal::SIGINT, Terminate),
            (Signal::SIGQUIT, Core),
            (Signal::SIGILL, Core),
            (Signal::SIGTRAP, Core),
            (Signal::SIGABRT, Core),
            (Signal::SIGBUS, Core),
            (Signal::SIGFPE, Core),
            (Signal::SIGKILL, Terminate),
            (Signal::SIGUSR1, Terminate),
            (Signal::SIGSEGV, Core),
            (Signal::SIGUSR2, Terminate),
            (Signal::SIGPIPE, Terminate),
            (Signal::SIGALRM, Terminate),
            (Signal::SIGTERM, Terminate),
            (Signal::SIGSTKFLT, Terminate),
            (Signal::SIGCHLD, Ignore),
            (Signal::SIGCONT, Continue),
            (Signal::SIGSTOP, Stop),
            (Signal::SIGTSTP, Stop),
            (Signal::SIGTTIN, Stop),
            (Signal::SIGTTOU, Stop),
            (Signal::SIGURG, Ignore),
            (Signal::SIGXCPU, Core),
            (Signal::SIGXFSZ, Core),
            (Signal::SIGVTALRM, Terminate),
            (Signal::SIGPROF, Terminate),
            (Signal::SIGWINCH, Ignore),
            (Signal::SIGIO, Terminate),
            (Signal::SIGPWR, Terminate),
            (Signal::SIGSYS, Core),
        ];
        for (signal, action) in table {
            assert_eq!(default_action(signal), action, "{signal:?}");
        }
        for n in 32..=64 {
            assert_eq!(default_action(Signal::new(n).unwrap()), Terminate);
        }
    }

    #[test]
    fn wire_layout_is_handler_flags_restorer_mask() {
        let action = SigAction {
            handler: Handler::Function(0x40_1000),
            flags: sa::SIGINFO | sa::RESTORER,
            restorer: 0x40_2000,
            mask: SignalSet::of(Signal::SIGUSR1),
        };
        let bytes = action.to_wire();
        assert_eq!(&bytes[0..8], &0x40_1000u64.to_le_bytes());
        assert_eq!(&bytes[8..16], &0x0400_0004u64.to_le_bytes());
        assert_eq!(&bytes[16..24], &0x40_2000u64.to_le_bytes());
        assert_eq!(&bytes[24..32], &(1u64 << 9).to_le_bytes());
        assert_eq!(SigAction::from_wire(&bytes), action);
    }

    #[test]
    fn sigaction_errors() {
        let mut table = ActionTable::new();
        let ignore = SigAction {
            handler: Handler::Ignore,
            ..SigAction::default()
        };
        assert_eq!(table.sigaction(0, Some(ignore)), Err(Errno::EINVAL));
        assert_eq!(table.sigaction(65, None), Err(Errno::EINVAL));
        assert_eq!(table.sigaction(9, Some(ignore)), Err(Errno::EINVAL));
        assert_eq!(table.sigaction(19, Some(ignore)), Err(Errno::EINVAL));
        assert_eq!(table.sigaction(9, None), Ok(SigAction::default()));
        assert_eq!(table.sigaction(64, Some(ignore)), Ok(SigAction::default()));
        assert_eq!(table.sigaction(64, None), Ok(ignore));
        assert_eq!(check_sigset_size(8), Ok(()));
        assert_eq!(check_sigset_size(16), Err(Errno::EINVAL));
    }

    #[test]
    fn exec_keeps_ignored_and_resets_handled() {
        let mut table = ActionTable::new();
        let handled = SigAction {
            handler: Handler::Function(0x1000),
            flags: sa::RESTART,
            ..SigAction::default()
        };
        table.sigaction(2, Some(handled)).unwrap();
        table
            .sigaction(
                13,
                Some(SigAction {
                    handler: Handler::Ignore,
                    ..handled
                }),
            )
            .unwrap();
        table.reset_for_exec();
        assert_eq!(table.get(Signal::SIGINT), SigAction::default());
        assert_eq!(table.get(Signal::SIGPIPE).handler, Handler::Ignore);
    }
}
