//! A Linux process's per-process records: `stat` by handle and
//! `prlimit64`. Descriptors are `linux_fds.rs`; names and `open` are
//! `linux_dirs.rs`; signals are `linux_signals.rs`.

use crate::linux_fds::MAX_FDS;
use crate::state::{self, Core, Object, SmachId};
use crate::user_memory::write_bytes;
use sk_abi::{Handle, SysError};
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
