//! The Linux personality's synthesized `read`/`write` (docs/unix.md,
//! "Entry"): which SIOs of a Linux process get routines, and the holes of
//! the per-thread dispatcher and the per-op slow path.
//!
//! Owns [`LinuxEnv`], [`linux_plan`], [`plan_for`], [`is_linux_kind`],
//! [`dispatcher`], [`slow_path`] and [`LINUX_EFAULT`]. A Linux process's
//! SIO routines are the native templates instantiated with the personality
//! as one more fact: their `bad_address` is Linux's `-EFAULT`, their
//! `slow_path` (and a RAM-file write's fallback trampoline's target) is the
//! op's `linux_slow_path`, which rebuilds Linux's `(fd, buf, count)` and
//! enters the Linux generic entry. Everything else is [`plan()`]'s: the same
//! facts, the same events, the same replug rules; only the kinds whose
//! native results mean the same under Linux are synthesized
//! ([`is_linux_kind`]). Neighbours: the kernel's `linux_fast.rs` keeps the
//! per-fd arrays the dispatcher indexes.

use crate::templates::{LinuxFdDispatchHoles, LinuxSlowPathHoles};
use crate::{Imm32, Imm64};

use super::{plan, Env, Op, SioFacts, SioPlan, SioTarget, SlotPlan};

/// Linux's `-EFAULT`: a Linux routine's `bad_address`.
pub const LINUX_EFAULT: i32 = -14;

/// Where a Linux process's routines go when they cannot finish a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinuxEnv {
    /// The `linux_slow_path` instance for `read` (number 0).
    pub read_slow_path: u64,
    /// The `linux_slow_path` instance for `write` (number 1).
    pub write_slow_path: u64,
}

impl LinuxEnv {
    /// The slow path of `op`.
    pub const fn slow_path(&self, op: Op) -> u64 {
        match op {
            Op::Read => self.read_slow_path,
            Op::Write => self.write_slow_path,
        }
    }
}

/// Whether a Linux process's SIO of this kind may get synthesized
/// routines: those whose native results are Linux's too (a count, or the
/// bad-address error this personality rewrites to `-EFAULT`; every other
/// case takes the slow path). A semaphore's P/V and a port's messages are
/// not Linux files: generic (their calls are the generic entry's errors).
pub const fn is_linux_kind(target: &SioTarget) -> bool {
    matches!(
        target,
        SioTarget::Null
            | SioTarget::Zero
            | SioTarget::Mem { .. }
            | SioTarget::Tty { .. }
            | SioTarget::File(_)
            | SioTarget::Pipe { .. }
    )
}

/// What a Linux process's SIO with `facts` calls for: [`plan()`] in `env`
/// with `-EFAULT` and each op's slow path, for the kinds
/// [`is_linux_kind`] accepts (others generic). An error stub (a holder's
/// `NotPermitted`, a revoked `Revoked`) would return a native code: the
/// Linux slot goes generic instead, whose answer is the mapped errno.
pub fn linux_plan(facts: &SioFacts, env: &Env, linux: &LinuxEnv) -> SioPlan {
    let for_op = |op: Op| {
        let env = Env {
            bad_address: LINUX_EFAULT,
            slow_path: linux.slow_path(op),
            // A RAM-file write's fallback trampoline jumps here.
            generic_entry: linux.write_slow_path,
            ..*env
        };
        let planned = *plan(facts, &env).slot(op);
        match planned {
            SlotPlan::NotInTable => SlotPlan::NotInTable,
            SlotPlan::ErrorStub(_) => SlotPlan::Generic,
            SlotPlan::Routine(_) if !is_linux_kind(&facts.target) => SlotPlan::Generic,
            other => other,
        }
    };
    SioPlan {
        read: for_op(Op::Read),
        write: for_op(Op::Write),
    }
}

/// The plan for an SIO of a native process (`linux` = `None`) or of a
/// Linux one: the one place the kernel (replans and the debug freshness
/// check alike) chooses between [`plan()`] and [`linux_plan`].
pub fn plan_for(facts: &SioFacts, env: &Env, linux: Option<&LinuxEnv>) -> SioPlan {
    match linux {
        Some(linux) => linux_plan(facts, env, linux),
        None => plan(facts, env),
    }
}

/// The dispatcher of `op`'s slot for a thread whose per-fd array for `op`
/// (`fd_limit` entries) is at `routines`.
pub fn dispatcher(routines: u64, fd_limit: u32, generic_entry: u64) -> LinuxFdDispatchHoles {
    LinuxFdDispatchHoles {
        fd_limit: Imm32(i32::try_from(fd_limit).unwrap_or(i32::MAX)),
        routines: Imm64(routines),
        generic_entry: Imm64(generic_entry),
    }
}

/// The slow path of `op` (the Linux call number is the op's: 0 `read`, 1
/// `write`).
pub const fn slow_path(op: Op, generic_entry: u64) -> LinuxSlowPathHoles {
    let number = match op {
        Op::Read => 0,
        Op::Write => 1,
    };
    LinuxSlowPathHoles {
        number: Imm32(number),
        generic_entry: Imm64(generic_entry),
    }
}

/// The Linux call number of `op` (`read` 0, `write` 1): the slot of the
/// Linux table the op's dispatcher sits in.
pub const fn linux_number(op: Op) -> u64 {
    match op {
        Op::Read => 0,
        Op::Write => 1,
    }
}
