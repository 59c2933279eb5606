//! A Linux process's per-process records: `stat` by handle,
//! `rt_sigaction` and `rt_sigprocmask` (recorded only: delivery is the
//! signal helper's), `prlimit64`. Descriptors are `linux_fds.rs`; names
//! and `open` are `linux_dirs.rs`.

use crate::linux_fds::MAX_FDS;
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
        RLIMIT_NOFILE => (u64::from(MAX_FDS), u64::from(MAX_FDS)),
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
