//! `poll`, `ppoll`, `select`, `pselect6` (docs/unix.md, phase 2) on the
//! console, pipes and files.
//!
//! Owns what "ready" means for a descriptor ([`readiness`], Linux's bits:
//! a file is always readable and writable; a pipe's read end when its
//! ring holds bytes, hung up when its writer closed; a write end when the
//! ring has room, `POLLERR` when its reader closed; the console when its
//! line discipline has input) and the wait: one look at every descriptor
//! under the kernel lock, and if none is ready the caller registers where
//! a wake will come from and blocks in the same critical section
//! (`scheduler::block_current_unless`): as a console reader, as a pipe's
//! announced reader (the ring's handshake, as a blocking `read`), and on
//! the sleep queue for the timeout. A pipe's write end has no announced
//! poller in the ring's handshake, so a wait for room also wakes every
//! [`RECHECK_NS`] to look again. After each wake the registrations are
//! removed. The `sigmask` of `ppoll`/`pselect6` is the signal helper's
//! (ignored here).

use crate::share::Access;
use crate::state::{self, Core, SmachId};
use crate::user_memory::{write_bytes, KernelUserMemory};
use alloc::vec::Vec;
use sk_abi::{Handle, SioKind, SysError};
use sk_sio::UserMemory;
use sk_unix::{Errno, PollTimeout, TimeSpec};

type Answer = Result<u64, Errno>;

fn sys(e: SysError) -> Errno {
    Errno::from_sys_error(e)
}

/// `poll` bits (Linux's).
pub(crate) mod bits {
    pub(crate) const POLLIN: u16 = 0x1;
    pub(crate) const POLLPRI: u16 = 0x2;
    pub(crate) const POLLOUT: u16 = 0x4;
    pub(crate) const POLLERR: u16 = 0x8;
    pub(crate) const POLLHUP: u16 = 0x10;
    pub(crate) const POLLNVAL: u16 = 0x20;
    pub(crate) const POLLRDNORM: u16 = 0x40;
    pub(crate) const POLLWRNORM: u16 = 0x100;
}
use bits::*;

const READABLE: u16 = POLLIN | POLLRDNORM;
const WRITABLE: u16 = POLLOUT | POLLWRNORM;

/// How often a wait for a pipe's room looks again.
const RECHECK_NS: u64 = 10_000_000;

/// The most descriptors one `poll` or `select` takes (`RLIMIT_NOFILE`).
const MAX_POLL: u64 = crate::linux_fds::MAX_FDS as u64;
/// Bytes of one `select` set for [`MAX_POLL`] descriptors.
const SET_BYTES: usize = MAX_POLL as usize / 8;

/// What `handle` of SMACH `id` is ready for now; with `register`, the
/// current thread is also put where a change will wake it (a pipe's read
/// end announced; the console's readers). `Ok(None)` if the wake for this
/// one must come from the periodic look.
fn readiness(
    core: &mut Core,
    id: SmachId,
    handle: Handle,
    register: bool,
) -> Result<(u16, bool), SysError> {
    let current = core.current;
    let sio = crate::share::sio_mut(core, id, handle, Access::Other)?;
    let kind = sio.kind();
    let mut wakeable = true;
    let ready = match (kind, sio.pipe_end_mut()) {
        (SioKind::PipeRead, Some(sk_sio::PipeEnd::Read { reader, pipe })) => {
            let pipe = *pipe;
            let mut peek = [0u8; 1];
            let mode = if register {
                sk_queue::WaitMode::Blocking
            } else {
                sk_queue::WaitMode::NonBlocking
            };
            match reader.peek_with(&mut peek, mode) {
                sk_queue::ReadOutcome::Read { .. } => {
                    READABLE
                        | if reader.is_writer_closed() {
                            POLLHUP
                        } else {
                            0
                        }
                }
                sk_queue::ReadOutcome::EndOfFile => POLLHUP,
                sk_queue::ReadOutcome::Blocked => {
                    core.devices.pipe_waiters.add(pipe, true, current)?;
                    0
                }
                sk_queue::ReadOutcome::WouldBlock => 0,
            }
        }
        (_, Some(sk_sio::PipeEnd::Write { writer, .. })) => {
            if writer.is_reader_closed() {
                WRITABLE | POLLERR
            } else if writer.free() > 0 {
                WRITABLE
            } else {
                wakeable = false;
                0
            }
        }
        (_, Some(sk_sio::PipeEnd::ToConsole { .. })) => WRITABLE,
        (SioKind::Tty, _) => {
            if core.devices.tty.is_readable() {
                READABLE | WRITABLE
            } else {
                if register {
                    core.devices.wait_for_input(current)?;
                }
                WRITABLE
            }
        }
        _ => READABLE | WRITABLE,
    };
    Ok((ready, wakeable))
}

/// Whether `handle` of the current process is ready for a read (`read`)
/// or a write now (`O_NONBLOCK`'s check).
pub(crate) fn is_ready(handle: Handle, read: bool) -> Result<bool, Errno> {
    state::with(|core| {
        let id = core.current_smach_id().map_err(sys)?;
        let (ready, _) = readiness(core, id, handle, false).map_err(sys)?;
        Ok(if read {
            ready & (READABLE | POLLHUP) != 0
        } else {
            ready & (WRITABLE | POLLERR) != 0
        })
    })
}

/// The free bytes in the ring of the pipe write end `handle` of the
/// current process; `None` when a write would not wait (its reader
/// closed: `EPIPE`; its reader is the console).
pub(crate) fn pipe_room(handle: Handle) -> Result<Option<u64>, Errno> {
    state::with(|core| {
        let id = core.current_smach_id().map_err(sys)?;
        let sio = crate::share::sio_mut(core, id, handle, Access::Other).map_err(sys)?;
        Ok(match sio.pipe_end() {
            Some(sk_sio::PipeEnd::Write { writer, .. }) if !writer.is_reader_closed() => {
                Some(writer.free() as u64)
            }
            _ => None,
        })
    })
}

/// One watched descriptor: its number, the events asked, the answer.
#[derive(Clone, Copy, Debug)]
struct Watch {
    fd: i32,
    events: u16,
    revents: u16,
}

/// Looks at every watch once (`register`: and registers the caller);
/// the number with a non-zero answer, and whether every not-ready one
/// can wake the caller by itself.
fn scan(core: &mut Core, watches: &mut [Watch], register: bool) -> Result<(usize, bool), Errno> {
    let id = core.current_smach_id().map_err(sys)?;
    let mut ready = 0;
    let mut wakeable = true;
    for watch in watches.iter_mut() {
        watch.revents = 0;
        if watch.fd < 0 {
            continue;
        }
        let handle = core
            .linux
            .get(&id)
            .and_then(|p| p.files.handle(watch.fd as u32));
        let Some(handle) = handle else {
            watch.revents = POLLNVAL;
            ready += 1;
            continue;
        };
        let (now, can_wake) = readiness(core, id, handle, register).map_err(sys)?;
        watch.revents = now & (watch.events | POLLERR | POLLHUP);
        if watch.revents != 0 {
            ready += 1;
        } else if !can_wake {
            wakeable = false;
        }
    }
    Ok((ready, wakeable))
}

/// Removes the current thread from every list a wait registered it on.
fn unregister(core: &mut Core) {
    let current = core.current;
    core.sleepers.remove(current);
    core.devices.forget_reader(current);
    core.devices.pipe_waiters.forget(current);
}

/// Waits until a watch is ready or `deadline` (TSC; `None`: forever)
/// passes; the number ready.
fn wait(watches: &mut [Watch], deadline: Option<u64>) -> Result<usize, Errno> {
    let hz = sk_machine::tsc::frequency_hz();
    loop {
        let mut outcome = Ok(0);
        let done = crate::scheduler::block_current_unless(|core| {
            let now = sk_machine::cpu::rdtsc();
            let expired = deadline.is_some_and(|d| now >= d);
            match scan(core, watches, !expired) {
                Ok((n, wakeable)) if n == 0 && !expired => {
                    // A signal to deliver ends the wait (`ERESTARTNOHAND`:
                    // restarted only if no handler runs), as on Linux; a
                    // wait no signal ends could never be killed.
                    if crate::linux_signals::interrupts_wait_as(
                        core,
                        sk_unix::syscall_restart::Interrupted::RestartNoHand,
                    ) {
                        unregister(core);
                        outcome = Err(Errno::EINTR);
                        return Ok(true);
                    }
                    let recheck =
                        (!wakeable).then(|| sk_sched::deadline_after(now, RECHECK_NS, hz));
                    let at = match (deadline, recheck) {
                        (Some(d), Some(r)) => Some(d.min(r)),
                        (d, r) => d.or(r),
                    };
                    if let Some(at) = at {
                        if let Err(e) = crate::scheduler::wake_current_at(core, at) {
                            // No stale registration may outlive the wait.
                            unregister(core);
                            return Err(e);
                        }
                    }
                    Ok(false)
                }
                Ok((n, _)) => {
                    unregister(core);
                    outcome = Ok(n);
                    Ok(true)
                }
                Err(e) => {
                    unregister(core);
                    outcome = Err(e);
                    Ok(true)
                }
            }
        })
        .map_err(sys)?;
        if done {
            return outcome;
        }
        state::with(unregister);
    }
}

/// The TSC deadline `ns` from now.
fn deadline_in(ns: u64) -> u64 {
    sk_sched::deadline_after(
        sk_machine::cpu::rdtsc(),
        ns,
        sk_machine::tsc::frequency_hz(),
    )
}

fn read_user<const N: usize>(at: u64) -> Result<[u8; N], Errno> {
    let mut bytes = [0u8; N];
    KernelUserMemory.read(&mut bytes, at).map_err(sys)?;
    Ok(bytes)
}

/// `poll`, `ppoll`.
pub(crate) fn poll(fds: u64, nfds: u64, timeout: PollTimeout) -> Answer {
    if nfds > MAX_POLL {
        return Err(Errno::EINVAL);
    }
    let deadline = match timeout {
        PollTimeout::Never => None,
        PollTimeout::Millis(ms) => Some(deadline_in(u64::from(ms) * 1_000_000)),
        PollTimeout::TimeSpec(at) => {
            let spec = TimeSpec::from_timespec(read_user::<16>(at)?)?;
            Some(deadline_in(spec.as_nanos()))
        }
    };
    // No heap across the wait: a thread killed while it waits (a
    // sibling's `exit_group`, `execve`) never returns to free it.
    let len = (nfds * 8) as usize;
    let mut raw_buf = [0u8; MAX_POLL as usize * 8];
    let raw = raw_buf.get_mut(..len).ok_or(Errno::EINVAL)?;
    KernelUserMemory.read(raw, fds).map_err(sys)?;
    let mut watch_buf = [Watch {
        fd: 0,
        events: 0,
        revents: 0,
    }; MAX_POLL as usize];
    let watches = watch_buf.get_mut(..len / 8).ok_or(Errno::EINVAL)?;
    for (c, watch) in raw.chunks_exact(8).zip(watches.iter_mut()) {
        *watch = Watch {
            fd: i32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            events: u16::from_le_bytes([c[4], c[5]]),
            revents: 0,
        };
    }
    let n = wait(watches, deadline)?;
    for (chunk, watch) in raw.chunks_exact_mut(8).zip(watches.iter()) {
        chunk[6..8].copy_from_slice(&watch.revents.to_le_bytes());
    }
    write_bytes(fds, raw).map_err(sys)?;
    Ok(n as u64)
}

/// `select`'s sets as Linux reads them (`POLLIN_SET`, `POLLOUT_SET`,
/// `POLLEX_SET`).
const SELECT_SETS: [u16; 3] = [READABLE | POLLHUP | POLLERR, WRITABLE | POLLERR, POLLPRI];

/// `select`, `pselect6`.
pub(crate) fn select(nfds: i32, sets: [u64; 3], timeout: u64, is_timespec: bool) -> Answer {
    // Linux looks at no more descriptors than the process can have.
    let nfds = u32::try_from(nfds)
        .map_err(|_| Errno::EINVAL)?
        .min(crate::linux_fds::MAX_FDS);
    let deadline = if timeout == 0 {
        None
    } else {
        let raw = read_user::<16>(timeout)?;
        let spec = if is_timespec {
            TimeSpec::from_timespec(raw)?
        } else {
            let sec = i64::from_le_bytes(raw[..8].try_into().unwrap_or_default());
            let usec = i64::from_le_bytes(raw[8..].try_into().unwrap_or_default());
            // Linux carries whole seconds out of `tv_usec`; only a
            // negative time is refused.
            if sec < 0 || usec < 0 {
                return Err(Errno::EINVAL);
            }
            let sec = sec.saturating_add(usec / 1_000_000);
            let mut ts = [0u8; 16];
            ts[..8].copy_from_slice(&sec.to_le_bytes());
            ts[8..].copy_from_slice(&((usec % 1_000_000) * 1000).to_le_bytes());
            TimeSpec::from_timespec(ts)?
        };
        Some(deadline_in(spec.as_nanos()))
    };
    // No heap across the wait (as in `poll`).
    let bytes = nfds.div_ceil(64) as usize * 8;
    let mut in_sets = [[0u8; SET_BYTES]; 3];
    for (set, &at) in in_sets.iter_mut().zip(&sets) {
        if at != 0 {
            KernelUserMemory
                .read(set.get_mut(..bytes).ok_or(Errno::EINVAL)?, at)
                .map_err(sys)?;
        }
    }
    let bit = |set: &[u8], fd: u32| set[(fd / 8) as usize] & (1 << (fd % 8)) != 0;
    let mut watch_buf = [Watch {
        fd: 0,
        events: 0,
        revents: 0,
    }; MAX_POLL as usize];
    let mut count_watched = 0usize;
    for fd in 0..nfds {
        let mut events = 0;
        for (set, mask) in in_sets.iter().zip(SELECT_SETS) {
            if bit(set, fd) {
                events |= mask;
            }
        }
        if events != 0 {
            if let Some(slot) = watch_buf.get_mut(count_watched) {
                *slot = Watch {
                    fd: fd as i32,
                    events,
                    revents: 0,
                };
                count_watched += 1;
            }
        }
    }
    let watches = watch_buf.get_mut(..count_watched).unwrap_or_default();
    // A closed descriptor in a set is `EBADF`, not an answer.
    state::with(|core| {
        let id = core.current_smach_id().map_err(sys)?;
        let files = &core.linux.get(&id).ok_or(Errno::ESRCH)?.files;
        if watches.iter().any(|w| files.handle(w.fd as u32).is_none()) {
            return Err(Errno::EBADF);
        }
        Ok(())
    })?;
    wait(watches, deadline)?;
    let mut out: [Vec<u8>; 3] = [
        alloc::vec![0; bytes],
        alloc::vec![0; bytes],
        alloc::vec![0; bytes],
    ];
    let mut count = 0u64;
    for watch in watches.iter() {
        let fd = watch.fd as u32;
        for ((set, input), mask) in out.iter_mut().zip(&in_sets).zip(SELECT_SETS) {
            if bit(input, fd) && watch.revents & mask != 0 {
                set[(fd / 8) as usize] |= 1 << (fd % 8);
                count += 1;
            }
        }
    }
    for (set, &at) in out.iter().zip(&sets) {
        if at != 0 {
            write_bytes(at, set).map_err(sys)?;
        }
    }
    Ok(count)
}
