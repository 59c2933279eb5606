//! How Linux processes end and are waited for (docs/unix.md, phase 2):
//! `exit`, `exit_group`, the end of a process however it comes,
//! `wait4`, `waitid`, and the group and session calls.
//!
//! Owns [`exit_process`] (the one way to end a whole Linux process with a
//! wait status: `exit_group`, and the signals code's default actions),
//! [`process_gone`] (every Linux SMACH's teardown passes here: the
//! process table's exit, orphans to `init`, waiters woken, `SIGCHLD`),
//! [`wait4`], [`waitid`] and the group calls. The rules (who matches,
//! zombies, reparenting, `EPERM`s) are `sk_unix::process_table`'s; the
//! blocking is `scheduler::block_current_unless`, registering in
//! `LinuxWorld::child_waiters` in the same critical section.

use crate::linux_pids::{my_pid, reap_init_zombies};
use crate::state::{self, Core, SmachId};
use crate::user_memory::write_bytes;
use sk_abi::ExitStatus;
use sk_unix::linux_flags::wait;
use sk_unix::process_table::{Pid, WaitOutcome, INIT};
use sk_unix::signal_set::Signal;
use sk_unix::syscall_restart::Interrupted;
use sk_unix::wait_status::WaitStatus;
use sk_unix::Errno;

type Answer = Result<u64, Errno>;

/// `struct rusage`'s size.
const RUSAGE_SIZE: usize = 144;
/// `waitid`'s `idtype`s.
const P_ALL: u32 = 0;
const P_PID: u32 = 1;
const P_PGID: u32 = 2;
/// `siginfo_t.si_code` for a child that exited / was killed / dumped core.
const CLD_EXITED: i32 = 1;
const CLD_KILLED: i32 = 2;
const CLD_DUMPED: i32 = 3;

/// The SMACH exit status (what the kernel's `wait_program` reports) for
/// a Linux wait status: the code, or 128 + the signal as a shell says it.
fn smach_status(status: WaitStatus) -> ExitStatus {
    ExitStatus::new(status.shell_status() as i32)
}

/// Ends Linux process `id` with `status`: every thread stops, its
/// descriptors close, its memory goes; its parent's `wait4` sees `status`
/// (exited(n), or killed by a signal). The caller, if it belonged to the
/// process, must then leave with `scheduler::exit_current` (as
/// [`exit_group`] does). The signals code calls this for a default action
/// that terminates.
pub(crate) fn exit_process(core: &mut Core, id: SmachId, status: WaitStatus) {
    if let Some(p) = core.linux_world.proc_mut(id) {
        if p.status.is_none() {
            p.status = Some(status);
        }
    }
    crate::smach::exit(core, id, smach_status(status));
}

/// `exit_group(code)`: the whole process ends.
pub(crate) fn exit_group(code: i32) -> ! {
    state::with(|core| {
        if let Some(id) = core.current_smach {
            exit_process(core, id, WaitStatus::exited(code as u64));
        }
    });
    crate::scheduler::exit_current()
}

/// A Linux SMACH is being torn down (from `smach::finish_teardown`,
/// whatever ended it): the process table records its wait status, its
/// children go to `init`, its parent's waiters wake, and the parent gets
/// `SIGCHLD`. A forked process's SMACH record is released (its zombie is
/// the table's); a process the kernel started keeps its record for
/// `wait_program`.
pub(crate) fn process_gone(core: &mut Core, id: SmachId) {
    let Some(info) = core.linux_world.proc(id).copied() else {
        return;
    };
    let status = info.status.unwrap_or_else(|| {
        let code = core.smachs.get(&id).map_or(0, |s| s.exit_status().get());
        if code == ExitStatus::KILLED.get() {
            WaitStatus::Signaled {
                signal: Signal::SIGKILL,
                core: false,
            }
        } else {
            WaitStatus::exited(u64::from(code.to_le_bytes()[0]))
        }
    });
    let world = &mut core.linux_world;
    world.forget_process(id);
    for tid in world.futexes.forget_process(id) {
        crate::scheduler::wake(core, tid);
    }
    let world = &mut core.linux_world;
    // Its own waits are over.
    world.child_waiters.remove(&info.pid);
    let parent = world.table.exit(info.pid, status.encode()).unwrap_or(INIT);
    reap_init_zombies(world);
    let waiters = world.child_waiters.remove(&parent).unwrap_or_default();
    if world.child_waiters.is_empty() {
        // An emptied BTreeMap keeps its root node: let it go too, so no
        // process leaves heap behind (the leak checks see it).
        world.child_waiters = alloc::collections::BTreeMap::new();
    }
    for tid in waiters {
        crate::scheduler::wake(core, tid);
    }
    if let Some(parent_id) = (parent != INIT)
        .then(|| core.linux_world.smach_of(parent))
        .flatten()
    {
        let (code, value) = cld_code(status.encode());
        crate::linux_signals::post_sigchld(core, parent_id, info.pid, code, value);
        // `SIGCHLD` ignored or `SA_NOCLDWAIT`: no zombie (Linux reaps it
        // at once; a waiting parent then sees `ECHILD`).
        let reaps = core
            .linux
            .get(&parent_id)
            .is_some_and(|p| p.signals.process.reaps_children());
        if reaps {
            let _ = core.linux_world.table.wait(parent, info.pid);
        }
    }
    if info.forked {
        if let Some(s) = core.smachs.get_mut(&id) {
            s.release();
        }
    }
}

/// One exited child found by a wait: its pid and status.
struct Found {
    pid: Pid,
    status: i32,
}

/// Waits (unless `nohang`) for a child of the caller matching `spec`
/// (`wait4`'s `pid` argument shapes); None: `WNOHANG` and none yet.
fn wait_child(spec: Pid, nohang: bool, reap: bool) -> Result<Option<Found>, Errno> {
    let mut found = None;
    let mut error = None;
    loop {
        let done = crate::scheduler::block_current_unless(|core| {
            let me = match my_pid(core) {
                Ok(pid) => pid,
                Err(e) => {
                    error = Some(e);
                    return Ok(true);
                }
            };
            let outcome = core.linux_world.table.wait_with(me, spec, reap);
            match outcome {
                Ok(WaitOutcome::Reaped { pid, status }) => {
                    found = Some(Found { pid, status });
                    Ok(true)
                }
                Ok(WaitOutcome::NotYet) if nohang => Ok(true),
                Ok(WaitOutcome::NotYet)
                    if crate::linux_signals::interrupts_wait_as(core, Interrupted::RestartSys) =>
                {
                    // A child that is already there wins; else a signal
                    // ends the wait (`EINTR`, or restarted: `SA_RESTART`).
                    error = Some(Errno::EINTR);
                    Ok(true)
                }
                Ok(WaitOutcome::NotYet) => {
                    let current = core.current;
                    let list = core.linux_world.child_waiters.entry(me).or_default();
                    list.try_reserve(1)
                        .map_err(|_| sk_abi::SysError::NoMemory)?;
                    if !list.contains(&current) {
                        list.push(current);
                    }
                    Ok(false)
                }
                Err(e) => {
                    error = Some(e);
                    Ok(true)
                }
            }
        })
        .map_err(Errno::from_sys_error)?;
        if let Some(e) = error {
            return Err(e);
        }
        if done {
            return Ok(found);
        }
        // Woken: a child changed state, a signal came (seen above), or
        // a spurious wake; look again.
    }
}

/// `wait4(pid, wstatus, options, rusage)`.
pub(crate) fn wait4(pid: i32, wstatus: u64, options: u32, rusage: u64) -> Answer {
    let found = wait_child(pid, options & wait::NOHANG != 0, true)?;
    let Some(found) = found else {
        return Ok(0);
    };
    if wstatus != 0 {
        write_bytes(wstatus, &found.status.to_le_bytes()).map_err(Errno::from_sys_error)?;
    }
    if rusage != 0 {
        write_bytes(rusage, &[0u8; RUSAGE_SIZE]).map_err(Errno::from_sys_error)?;
    }
    Ok(found.pid as u64)
}

/// `waitid(idtype, id, infop, options)`: `P_ALL`, `P_PID`, `P_PGID`;
/// `WEXITED` is the only state change there is (no stops yet).
pub(crate) fn waitid(idtype: u32, id: i32, infop: u64, options: u32) -> Answer {
    if options & (wait::EXITED | wait::UNTRACED | wait::CONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let spec = match idtype {
        P_ALL => -1,
        P_PID if id > 0 => id,
        P_PGID if id == 0 => 0,
        P_PGID if id > 1 => -id,
        _ => return Err(Errno::EINVAL),
    };
    if options & wait::EXITED == 0 {
        // Only stops or continues asked for: none ever happen here.
        wait_child(spec, true, false)?;
        return if options & wait::NOHANG != 0 {
            clear_siginfo(infop)
        } else {
            Err(Errno::ECHILD)
        };
    }
    let reap = options & wait::NOWAIT == 0;
    match wait_child(spec, options & wait::NOHANG != 0, reap)? {
        None => clear_siginfo(infop),
        Some(found) => {
            if infop != 0 {
                write_bytes(infop, &child_siginfo(&found)).map_err(Errno::from_sys_error)?;
            }
            Ok(0)
        }
    }
}

/// `WNOHANG` with no child ready: Linux zeroes `si_signo` and `si_pid`.
fn clear_siginfo(infop: u64) -> Answer {
    if infop != 0 {
        write_bytes(infop, &[0u8; sk_unix::siginfo::SIGINFO_SIZE])
            .map_err(Errno::from_sys_error)?;
    }
    Ok(0)
}

/// `si_code` and `si_status` for a child that ended with wait status
/// `status` (`waitid`, `SIGCHLD`).
fn cld_code(status: i32) -> (i32, i32) {
    if sk_unix::wait_status::wifexited(status) {
        (CLD_EXITED, sk_unix::wait_status::wexitstatus(status))
    } else if sk_unix::wait_status::wcoredump(status) {
        (CLD_DUMPED, sk_unix::wait_status::wtermsig(status))
    } else {
        (CLD_KILLED, sk_unix::wait_status::wtermsig(status))
    }
}

/// The `siginfo_t` `waitid` fills for an exited child.
fn child_siginfo(found: &Found) -> [u8; sk_unix::siginfo::SIGINFO_SIZE] {
    let mut info = [0u8; sk_unix::siginfo::SIGINFO_SIZE];
    let status = found.status;
    let (code, value) = cld_code(status);
    let mut put = |offset: usize, v: i32| {
        if let Some(slot) = info.get_mut(offset..offset + 4) {
            slot.copy_from_slice(&v.to_le_bytes());
        }
    };
    put(0, i32::from(Signal::SIGCHLD.number()));
    put(8, code);
    put(16, found.pid);
    put(20, 0);
    put(24, value);
    info
}

/// `getpgid(pid)` (`getpgrp`: pid 0).
pub(crate) fn getpgid(pid: i32) -> Answer {
    state::with(|core| {
        let me = my_pid(core)?;
        let pid = if pid == 0 { me } else { pid };
        let group = core.linux_world.table.group(pid)?;
        Ok(group as u64)
    })
}

/// `getsid(pid)`.
pub(crate) fn getsid(pid: i32) -> Answer {
    state::with(|core| {
        let me = my_pid(core)?;
        let pid = if pid == 0 { me } else { pid };
        Ok(core.linux_world.table.session(pid)? as u64)
    })
}

/// `setpgid(pid, pgid)`.
pub(crate) fn setpgid(pid: i32, pgid: i32) -> Answer {
    state::with(|core| {
        let me = my_pid(core)?;
        core.linux_world.table.set_group(me, pid, pgid)?;
        Ok(0)
    })
}

/// `setsid()`.
pub(crate) fn setsid() -> Answer {
    state::with(|core| {
        let me = my_pid(core)?;
        Ok(core.linux_world.table.new_session(me)? as u64)
    })
}

/// `getppid()`: the parent's pid (1: `init`, the kernel).
pub(crate) fn getppid() -> Answer {
    state::with(|core| {
        let me = my_pid(core)?;
        Ok(core.linux_world.table.parent(me)? as u64)
    })
}
