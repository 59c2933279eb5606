//! What happens to a system call a signal interrupted (signal(7),
//! "Interruption of system calls and library functions by signal
//! handlers").
//!
//! Owns [`Interrupted`] (the kernel-internal "restart" results a blocking
//! call reports instead of an errno; Linux's `ERESTARTSYS`,
//! `ERESTARTNOINTR`, `ERESTARTNOHAND`, `ERESTART_RESTARTBLOCK`, never seen
//! by user space) and [`Resume`], decided as Linux's x86 `handle_signal`
//! (a handler runs) and `arch_do_signal_or_restart` (none does): with a
//! handler, only `SA_RESTART` or `ERESTARTNOINTR` restart, the rest fail
//! with `EINTR`; without one, every kind restarts.

use crate::errno::Errno;
use crate::signal_actions::sa;

/// Length of the `syscall` instruction: a restart moves `rip` back by this
/// and puts the call number back in `rax`.
pub const SYSCALL_INSN_LEN: u64 = 2;

/// Linux's `restart_syscall` call number (for [`Resume::RestartBlock`]).
pub const RESTART_SYSCALL_NR: u64 = 219;

/// How a blocking call that a signal interrupted wants to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interrupted {
    /// `ERESTARTSYS` (512): restart if the handler has `SA_RESTART`
    /// (`read`, `write`, `wait4`, ...).
    RestartSys,
    /// `ERESTARTNOINTR` (513): always restart.
    RestartNoIntr,
    /// `ERESTARTNOHAND` (514): restart only if no handler ran (`pause`,
    /// `sigsuspend`, `poll`, `select`).
    RestartNoHand,
    /// `ERESTART_RESTARTBLOCK` (516): no handler ran: continue through
    /// `restart_syscall` with the remaining time (`nanosleep`).
    RestartBlock,
}

/// What to put in the user registers before returning to user mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// Re-execute the call: `rax` = the original call number, `rip` -=
    /// [`SYSCALL_INSN_LEN`] (done before the handler's frame is pushed, so
    /// the call restarts after the handler returns).
    Restart,
    /// Re-execute as `restart_syscall`: `rax` = [`RESTART_SYSCALL_NR`],
    /// `rip` -= [`SYSCALL_INSN_LEN`].
    RestartBlock,
    /// The call fails: `rax` = `-errno`.
    Fail(Errno),
}

/// The outcome when a handler with `sa_flags` is about to run.
#[must_use]
pub fn with_handler(interrupted: Interrupted, sa_flags: u64) -> Resume {
    match interrupted {
        Interrupted::RestartNoIntr => Resume::Restart,
        Interrupted::RestartSys if sa_flags & sa::RESTART != 0 => Resume::Restart,
        Interrupted::RestartSys | Interrupted::RestartNoHand | Interrupted::RestartBlock => {
            Resume::Fail(Errno::EINTR)
        }
    }
}

/// The outcome when no handler runs (the signal was ignored, stopped the
/// process which then continued, or the call was interrupted spuriously).
#[must_use]
pub fn without_handler(interrupted: Interrupted) -> Resume {
    match interrupted {
        Interrupted::RestartBlock => Resume::RestartBlock,
        Interrupted::RestartSys | Interrupted::RestartNoIntr | Interrupted::RestartNoHand => {
            Resume::Restart
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_rules_follow_handle_signal() {
        use Interrupted::*;
        let eintr = Resume::Fail(Errno::EINTR);
        assert_eq!(with_handler(RestartSys, sa::RESTART), Resume::Restart);
        assert_eq!(with_handler(RestartSys, 0), eintr);
        assert_eq!(with_handler(RestartNoIntr, 0), Resume::Restart);
        assert_eq!(with_handler(RestartNoHand, sa::RESTART), eintr);
        assert_eq!(with_handler(RestartBlock, sa::RESTART), eintr);
        for kind in [RestartSys, RestartNoIntr, RestartNoHand] {
            assert_eq!(without_handler(kind), Resume::Restart);
        }
        assert_eq!(without_handler(RestartBlock), Resume::RestartBlock);
    }
}
