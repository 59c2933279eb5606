//! Linux calls that wait for time or for a signal, and the console's
//! signals (docs/unix.md, "Signals").
//!
//! Owns `nanosleep`/`clock_nanosleep` (relative and `TIMER_ABSTIME`; a
//! signal with a handler cuts them short with `EINTR` and the remaining
//! time, one without a handler continues them through `restart_syscall`),
//! the calls the decoder does not list that signals need
//! ([`answer_unlisted`]: `rt_sigpending`, `pause`, `rt_sigsuspend`,
//! `sigaltstack`, `restart_syscall`), and the console's foreground process
//! group: `TIOCGPGRP`/`TIOCSPGRP` and Ctrl-C ([`console_interrupt`], VINTR
//! with ISIG: `SIGINT` to the foreground group). Without process groups
//! (each Linux process is its own group) and before any `TIOCSPGRP`, the
//! foreground is every Linux process, all of which have the console.

use crate::linux_signals::{current_parts, interrupts_wait_as};
use crate::state::{self, Core, SmachId};
use crate::user_memory::{write_bytes, KernelUserMemory};
use core::sync::atomic::{AtomicU64, Ordering};
use sk_sio::UserMemory;
use sk_unix::linux_flags::ioctl;
use sk_unix::siginfo::SigInfo;
use sk_unix::signal_set::Signal;
use sk_unix::syscall_restart::Interrupted;
use sk_unix::{nr, Errno, TimeSpec};

type Answer = Result<u64, Errno>;

fn sys(e: sk_abi::SysError) -> Errno {
    Errno::from_sys_error(e)
}

/// Calls signals need that `sk_unix::decode` does not list (or that need
/// the caller's `rsp`): their answer, or `None` for every other number.
pub(crate) fn answer_unlisted(number: u64, args: [u64; 6], rsp: u64) -> Option<Answer> {
    let [a0, a1, ..] = args;
    Some(match number {
        nr::RT_SIGPENDING => crate::linux_signals::sigpending(a0, a1),
        nr::PAUSE => crate::linux_signals::pause(),
        nr::RT_SIGSUSPEND => crate::linux_signals::sigsuspend(a0, a1),
        nr::SIGALTSTACK => crate::linux_signals::sigaltstack(a0, a1, rsp),
        nr::RESTART_SYSCALL => restart_syscall(),
        _ => return None,
    })
}

/// `nanosleep(request, remain)` and `clock_nanosleep(clock, flags,
/// request, remain)` (every clock is the TSC's nanoseconds here).
pub(crate) fn nanosleep(absolute: bool, request: u64, remain: u64) -> Answer {
    let mut bytes = [0u8; 16];
    KernelUserMemory.read(&mut bytes, request).map_err(sys)?;
    let span = TimeSpec::from_timespec(bytes)?.as_nanos();
    let now = sk_machine::tsc::now_ns();
    if absolute {
        // Interrupted without a handler it restarts with the same
        // arguments (ERESTARTNOHAND): the deadline does not move.
        sleep_until(span, 0, Interrupted::RestartNoHand)
    } else {
        sleep_until(now.saturating_add(span), remain, Interrupted::RestartBlock)
    }
}

/// `restart_syscall`: the sleep a signal without a handler interrupted
/// goes on to its deadline.
fn restart_syscall() -> Answer {
    let saved =
        state::with(|core| current_parts(core).and_then(|(_, _, t)| t.restart_deadline.take()));
    match saved {
        Some((deadline, remain)) => sleep_until(deadline, remain, Interrupted::RestartBlock),
        None => Err(Errno::EINTR),
    }
}

/// Sleeps until `now_ns() >= deadline` or a signal cuts it short (then
/// `remain`, if not 0, gets the time left, and the call ends as `kind`).
fn sleep_until(deadline: u64, remain: u64, kind: Interrupted) -> Answer {
    loop {
        let mut cut = false;
        let done = crate::scheduler::block_current_unless(|core| {
            let now = sk_machine::tsc::now_ns();
            if now >= deadline {
                return Ok(true);
            }
            if interrupts_wait_as(core, kind) {
                if let Some((_, _, t)) = current_parts(core) {
                    t.restart_deadline = Some((deadline, remain));
                }
                cut = true;
                return Ok(true);
            }
            let tsc = sk_sched::deadline_after(
                sk_machine::cpu::rdtsc(),
                deadline - now,
                sk_machine::tsc::frequency_hz(),
            );
            let current = core.current;
            crate::scheduler::register_sleeper(core, current, tsc)?;
            Ok(false)
        })
        .map_err(sys)?;
        if !done {
            continue;
        }
        if !cut {
            return Ok(0);
        }
        if remain != 0 {
            let left = deadline.saturating_sub(sk_machine::tsc::now_ns());
            write_bytes(remain, &TimeSpec::from_nanos(left).to_bytes()).map_err(sys)?;
        }
        return Err(Errno::EINTR);
    }
}

/// The console's foreground process group (`TIOCSPGRP`); 0: every Linux
/// process.
static FOREGROUND: AtomicU64 = AtomicU64::new(0);

/// The Linux processes in the console's foreground: the group
/// `TIOCSPGRP` set while it lives, else every Linux process.
fn foreground(core: &Core) -> alloc::vec::Vec<SmachId> {
    let fg = FOREGROUND.load(Ordering::Relaxed);
    if core.linux.contains_key(&fg) {
        return alloc::vec![fg];
    }
    core.linux.keys().copied().collect()
}

/// `TIOCGPGRP` and `TIOCSPGRP` on the console.
pub(crate) fn pgrp_ioctl(request: u32, arg: u64) -> Answer {
    if request == ioctl::TIOCGPGRP {
        let fg = state::with(|core| {
            let fg = FOREGROUND.load(Ordering::Relaxed);
            if fg != 0 && core.linux.contains_key(&fg) {
                fg
            } else {
                core.current_smach.unwrap_or(0)
            }
        });
        let pgrp = i32::try_from(fg).unwrap_or(i32::MAX);
        write_bytes(arg, &pgrp.to_le_bytes()).map_err(sys)?;
        return Ok(0);
    }
    let mut bytes = [0u8; 4];
    KernelUserMemory.read(&mut bytes, arg).map_err(sys)?;
    let pgrp = i32::from_le_bytes(bytes);
    if pgrp < 0 {
        return Err(Errno::EINVAL);
    }
    let id = u64::from(pgrp.unsigned_abs());
    if !state::with(|core| core.linux.contains_key(&id)) {
        return Err(Errno::ESRCH);
    }
    FOREGROUND.store(id, Ordering::Relaxed);
    Ok(0)
}

/// Console input byte `byte` with ISIG: if it is VINTR (Ctrl-C) and a
/// Linux process is in the foreground, posts `SIGINT` to it and returns
/// true (the byte is consumed, `^C` echoed). Native programs see the byte
/// as before.
pub(crate) fn console_interrupt(core: &mut Core, byte: u8) -> bool {
    const VINTR: u8 = 0x03;
    // Without ISIG (`cfmakeraw`) the byte is input like any other.
    if byte != VINTR || !crate::linux_terminal::console_signals_on(core) {
        return false;
    }
    let targets = foreground(core);
    if targets.is_empty() {
        return false;
    }
    for id in targets {
        let _ = crate::linux_signals::post_to_process(core, id, SigInfo::kernel(Signal::SIGINT));
    }
    true
}
