//! A Linux process's descriptors and per-process records: `open`,
//! `close`, `stat` by path and by handle, `rt_sigaction` and
//! `rt_sigprocmask` (recorded only: delivery is phase 2), `prlimit64`.
//!
//! Owns the mapping between descriptors and the SMACH's SIO handles
//! (`LinuxProcess::fds`): an `open` is the native open of the SIO (its
//! routines synthesized as for a native program) at the lowest free
//! descriptor; `close` removes the descriptor and, past 0, 1 and 2 (the
//! console, shared), closes the handle.

use crate::dispatch::Created;
use crate::linux_process::MAX_FDS;
use crate::state::{self, Core, Object, SmachId};
use crate::user_memory::{write_bytes, KernelUserMemory};
use sk_abi::{Handle, SysError};
use sk_sio::UserMemory;
use sk_unix::{Errno, FileStat};

type Answer = Result<u64, Errno>;

fn sys(e: SysError) -> Errno {
    Errno::from_sys_error(e)
}

fn me(core: &mut Core) -> Result<SmachId, Errno> {
    let id = core.current_smach_id().map_err(sys)?;
    if core.linux.contains_key(&id) {
        Ok(id)
    } else {
        Err(Errno::ENOSYS)
    }
}

/// Longest path a Linux call may pass (`PATH_MAX`, with its NUL).
const PATH_MAX: usize = 4096;

/// Reads the NUL-terminated path at `ptr` (`EFAULT`, `ENAMETOOLONG`,
/// `ENOENT` for an empty one; not UTF-8: `ENOENT`, no such name here).
fn read_path(ptr: u64, buf: &mut [u8; PATH_MAX]) -> Result<&str, Errno> {
    let mut len = 0;
    while len < PATH_MAX {
        // Up to the page end at most: the next page may be unmapped.
        let at = ptr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        let chunk = (4096 - (at % 4096) as usize).min(PATH_MAX - len);
        let piece = &mut buf[len..len + chunk];
        KernelUserMemory.read(piece, at).map_err(sys)?;
        if let Some(end) = piece.iter().position(|&b| b == 0) {
            len += end;
            if len == 0 {
                return Err(Errno::ENOENT);
            }
            return core::str::from_utf8(&buf[..len]).map_err(|_| Errno::ENOENT);
        }
        len += chunk;
    }
    Err(Errno::ENAMETOOLONG)
}

/// `open`/`openat` (relative paths resolve from `/`: no cwd yet).
pub(crate) fn open(path: u64, flags: u32) -> Answer {
    let mut buf = [0u8; PATH_MAX];
    let path = read_path(path, &mut buf)?;
    // The pipe and port paths make two handles, not a file: refused before
    // anything is created (a program could not close what it never got).
    if path == sk_abi::PIPE_PATH || path == sk_abi::PORT_PATH {
        return Err(Errno::ENOENT);
    }
    let native = crate::linux_calls::open_flags(flags);
    loop {
        let created = state::with(|core| -> Result<Option<u64>, Errno> {
            let id = me(core)?;
            let free = core
                .linux
                .get(&id)
                .and_then(|p| p.fds.iter().position(Option::is_none))
                .ok_or(Errno::EMFILE)?;
            match crate::sio_calls::open_or_step(core, id, path, native).map_err(sys)? {
                Created::Object(handle) => {
                    if let Some(slot) = core.linux.get_mut(&id).and_then(|p| p.fds.get_mut(free)) {
                        *slot = Some(handle);
                    }
                    crate::linux_fast::descriptor_changed(core, id, free as u32);
                    Ok(Some(free as u64))
                }
                Created::Stepped => Ok(None),
                // Refused above; never reached.
                Created::Pipe(_) | Created::Port(_) => Err(Errno::ENOENT),
            }
        })?;
        match created {
            Some(fd) => return Ok(fd),
            None => crate::scheduler::preemption_point(),
        }
    }
}

/// `close`.
pub(crate) fn close(fd: u32) -> Answer {
    state::with(|core| {
        let id = me(core)?;
        let slot = core
            .linux
            .get_mut(&id)
            .and_then(|p| p.fds.get_mut(fd as usize))
            .ok_or(Errno::EBADF)?;
        let handle = slot.take().ok_or(Errno::EBADF)?;
        if handle != Handle::CONSOLE {
            let smach = core.smachs.get_mut(&id).ok_or(Errno::EBADF)?;
            let object = smach.handles.remove(handle).map_err(sys)?;
            crate::smach::close_object(core, id, handle, object);
        }
        crate::linux_fast::descriptor_changed(core, id, fd);
        Ok(0)
    })
}

/// `fstat`'s answer for a handle.
pub(crate) fn stat_handle(handle: Handle) -> Result<FileStat, Errno> {
    state::with(|core| {
        let id = me(core)?;
        let smach = core.smachs.get(&id).ok_or(Errno::EBADF)?;
        match smach.handles.get(handle).map_err(sys)? {
            Object::Sio(sio) => Ok(crate::linux_calls::file_stat(&sio.info(&core.fs))),
            _ => Err(Errno::EBADF),
        }
    })
}

/// `stat`/`newfstatat` by path (absolute: no cwd yet): the node's stat.
pub(crate) fn stat_path(path: u64) -> Result<FileStat, Errno> {
    let mut buf = [0u8; PATH_MAX];
    let path = read_path(path, &mut buf)?;
    state::with(|core| {
        let node = core.fs.lookup(path).map_err(|e| sys(sk_sio::fs_error(e)))?;
        let stat = core.fs.stat(node).map_err(|e| sys(sk_sio::fs_error(e)))?;
        let info = sk_abi::SioInfo {
            kind: if stat.kind == sk_fs::NodeKind::Directory {
                1
            } else {
                0
            },
            flags: 0,
            size: stat.size_bytes,
            position: 0,
        };
        Ok(crate::linux_calls::file_stat(&info))
    })
}

/// Signal numbers are 1..=64; SIGKILL (9) and SIGSTOP (19) keep theirs.
fn signal_index(sig: u32) -> Result<usize, Errno> {
    match sig {
        1..=64 => Ok(sig as usize - 1),
        _ => Err(Errno::EINVAL),
    }
}

/// `rt_sigaction`: records the action (delivery is phase 2).
pub(crate) fn sigaction(sig: u32, act: u64, oldact: u64) -> Answer {
    let index = signal_index(sig)?;
    let mut new = [0u8; 32];
    if act != 0 {
        if sig == 9 || sig == 19 {
            return Err(Errno::EINVAL);
        }
        KernelUserMemory.read(&mut new, act).map_err(sys)?;
    }
    let old = state::with(|core| -> Result<[u8; 32], Errno> {
        let id = me(core)?;
        let p = core.linux.get_mut(&id).ok_or(Errno::ESRCH)?;
        let slot = p.actions.get_mut(index).ok_or(Errno::EINVAL)?;
        let old = *slot;
        if act != 0 {
            *slot = new;
        }
        Ok(old)
    })?;
    if oldact != 0 {
        write_bytes(oldact, &old).map_err(sys)?;
    }
    Ok(0)
}

/// `rt_sigprocmask`: records the mask (SIGKILL and SIGSTOP never
/// blocked).
pub(crate) fn sigprocmask(how: u32, set: u64, oldset: u64) -> Answer {
    let mut change = None;
    if set != 0 {
        let mut bytes = [0u8; 8];
        KernelUserMemory.read(&mut bytes, set).map_err(sys)?;
        change = Some(u64::from_le_bytes(bytes));
        if how > 2 {
            return Err(Errno::EINVAL);
        }
    }
    let old = state::with(|core| -> Result<u64, Errno> {
        let id = me(core)?;
        let p = core.linux.get_mut(&id).ok_or(Errno::ESRCH)?;
        let old = p.sigmask;
        if let Some(bits) = change {
            let unblockable = (1 << 8) | (1 << 18);
            p.sigmask = match how {
                0 => old | bits,
                1 => old & !bits,
                _ => bits,
            } & !unblockable;
        }
        Ok(old)
    })?;
    if oldset != 0 {
        write_bytes(oldset, &old.to_le_bytes()).map_err(sys)?;
    }
    Ok(0)
}

/// Resources `prlimit64` answers (the rest `EINVAL` past `RLIM_NLIMITS`).
const RLIM_NLIMITS: u32 = 16;
/// `RLIMIT_STACK`, `RLIMIT_NOFILE`.
const RLIMIT_STACK: u32 = 3;
const RLIMIT_NOFILE: u32 = 7;

/// `prlimit64`/`getrlimit` on the caller: reads only (setting is
/// accepted and ignored, as the kernel enforces its own limits).
pub(crate) fn prlimit(pid: i32, resource: u32, old_limit: u64) -> Answer {
    if resource >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let own = state::with(me)?;
    if pid != 0 && u64::try_from(pid).ok() != Some(own) {
        return Err(Errno::ESRCH);
    }
    let (cur, max) = match resource {
        RLIMIT_STACK => (sk_smach::USER_STACK_BYTES, sk_smach::USER_STACK_BYTES),
        RLIMIT_NOFILE => (MAX_FDS as u64, MAX_FDS as u64),
        _ => (u64::MAX, u64::MAX),
    };
    if old_limit != 0 {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&cur.to_le_bytes());
        bytes[8..].copy_from_slice(&max.to_le_bytes());
        write_bytes(old_limit, &bytes).map_err(sys)?;
    }
    Ok(0)
}
