//! A Linux process's descriptors (docs/unix.md, phase 2): `dup`, `dup2`,
//! `dup3`, `fcntl`, `pipe`, `pipe2`, `close`, and `read`/`write` with the
//! description's status (`O_NONBLOCK`, `O_APPEND`, the access mode).
//!
//! Owns [`Files`], what a process keeps about its files: the descriptor
//! table (`sk_unix::FdTable` over the SMACH's SIO handles: shared
//! descriptions, `FD_CLOEXEC`), the working directory, the `umask`, and
//! the path each open directory was opened at (an `*at` call's base,
//! `fchdir`). **Every change of a descriptor goes through this file's
//! [`install`], [`close`], [`dup_at`], [`close_on_exec`] and
//! [`Files::fork_copy`]**, and each ends in [`changed`], the one place a
//! per-fd synthesized routine is re-pointed (linux2-fast). A native handle
//! is closed only when the last descriptor naming it goes; the console
//! handle never is (every process's 0, 1 and 2 start on it).

use crate::share::Access;
use crate::state::{self, Core, SmachId};
use alloc::string::String;
use alloc::vec::Vec;
use sk_abi::{Handle, OpenFlags, SioKind, SysError};
use sk_unix::fd_table::status;
use sk_unix::linux_flags::{fcntl, o};
use sk_unix::{Errno, FdTable};

type Answer = Result<u64, Errno>;

/// `O_RDONLY` (the access mode 0).
const O_RDONLY: u32 = 0;

fn sys(e: SysError) -> Errno {
    Errno::from_sys_error(e)
}

/// Descriptors a Linux process may have open (its `RLIMIT_NOFILE`).
pub(crate) const MAX_FDS: u32 = 256;

/// What a Linux process keeps about its files.
#[derive(Clone, Debug)]
pub(crate) struct Files {
    /// Descriptors over the SMACH's handles.
    table: FdTable<Handle>,
    /// The working directory: absolute, normalized (`sk_unix::path`).
    pub(crate) cwd: String,
    /// The file mode creation mask (recorded: the native file system has
    /// no modes).
    pub(crate) umask: u32,
    /// The path each open directory handle was opened at.
    dirs: Vec<(Handle, String)>,
}

impl Files {
    /// A new process's: 0, 1 and 2 one description of the console
    /// (`O_RDWR`), the working directory `/`, `umask` 022.
    pub(crate) fn new() -> Self {
        let mut table = FdTable::new(MAX_FDS);
        // An empty table takes 0, and 0 can be shared: never fails.
        let _ = table.install(Handle::CONSOLE, o::RDWR);
        let _ = table.dup2(0, 1);
        let _ = table.dup2(0, 2);
        Self {
            table,
            cwd: String::from("/"),
            umask: 0o022,
            dirs: Vec::new(),
        }
    }

    /// The handle descriptor `fd` names.
    pub(crate) fn handle(&self, fd: u32) -> Option<Handle> {
        self.table.object(fd).ok()
    }

    /// `fd`'s status flags (`F_GETFL`: access mode, `O_APPEND`,
    /// `O_NONBLOCK`).
    pub(crate) fn status(&self, fd: u32) -> Result<u32, Errno> {
        self.table.status(fd)
    }

    /// The path the directory open at `handle` was opened at.
    pub(crate) fn dir_path(&self, handle: Handle) -> Option<&str> {
        self.dirs
            .iter()
            .find(|(h, _)| *h == handle)
            .map(|(_, p)| p.as_str())
    }

    /// `fork`: the child's copy, every description's handle passed through
    /// `translate` once (the child's handle for the parent's: linux2-proc
    /// shares or reopens the SIO), so descriptors that share a description
    /// here share one there, with the same flags, working directory and
    /// `umask`. Call [`changed`] for each of the child's descriptors after
    /// (or [`all_changed`]).
    ///
    /// # Errors
    /// The first error of `translate`.
    #[allow(dead_code)] // linux2-proc's `fork` calls it.
    pub(crate) fn fork_copy<E>(
        &self,
        mut translate: impl FnMut(Handle) -> Result<Handle, E>,
    ) -> Result<Self, E> {
        let mut pairs: Vec<(Handle, Handle)> = Vec::new();
        let table = self.table.map_objects(|h| {
            let new = translate(h)?;
            pairs.push((h, new));
            Ok(new)
        })?;
        let dirs = self
            .dirs
            .iter()
            .filter_map(|(h, path)| {
                let (_, new) = pairs.iter().find(|(old, _)| old == h)?;
                Some((*new, path.clone()))
            })
            .collect();
        Ok(Self {
            table,
            cwd: self.cwd.clone(),
            umask: self.umask,
            dirs,
        })
    }

    /// The open descriptors, ascending.
    #[allow(dead_code)] // Through `all_changed`, after `fork_copy`.
    pub(crate) fn open_fds(&self) -> impl Iterator<Item = u32> + '_ {
        self.table.open_fds()
    }
}

/// The hook of every descriptor change: `fd` of SMACH `id` now names
/// another description, or none, or its status changed. The process's
/// per-fd `read`/`write` routines are re-pointed here
/// (`linux_fast::descriptor_changed`); nothing else needs to know.
pub(crate) fn changed(core: &mut Core, id: SmachId, fd: u32) {
    crate::linux_fast::descriptor_changed(core, id, fd);
}

/// [`changed`] for every open descriptor of `id` (after `fork_copy`).
#[allow(dead_code)] // linux2-proc's `fork` calls it.
pub(crate) fn all_changed(core: &mut Core, id: SmachId) {
    let fds: Vec<u32> = core
        .linux
        .get(&id)
        .map(|p| p.files.open_fds().collect())
        .unwrap_or_default();
    for fd in fds {
        changed(core, id, fd);
    }
}

fn files(core: &mut Core, id: SmachId) -> Result<&mut Files, Errno> {
    core.linux
        .get_mut(&id)
        .map(|p| &mut p.files)
        .ok_or(Errno::ESRCH)
}

/// Closes the native `handle` of SMACH `id` (its last descriptor went).
fn release(core: &mut Core, id: SmachId, handle: Handle) {
    if let Ok(f) = files(core, id) {
        f.dirs.retain(|(h, _)| *h != handle);
    }
    if handle == Handle::CONSOLE || crate::linux_pids::keep_for_holders(core, id, handle) {
        return;
    }
    let Some(smach) = core.smachs.get_mut(&id) else {
        return;
    };
    if let Ok(object) = smach.handles.remove(handle) {
        crate::smach::close_object(core, id, handle, object);
    }
}

/// A new descriptor (the lowest free) for the just opened `handle` with
/// the Linux `open` flags (`O_CLOEXEC` marks it; the access mode and
/// `O_APPEND`/`O_NONBLOCK` are its description's); `dir_path` for a
/// directory. On failure the handle is closed.
///
/// # Errors
/// `EMFILE`, `ENOMEM`.
pub(crate) fn install(
    core: &mut Core,
    id: SmachId,
    handle: Handle,
    flags: u32,
    dir_path: Option<String>,
) -> Result<u32, Errno> {
    let installed = files(core, id).and_then(|f| {
        let fd = f.table.install(handle, flags)?;
        if let Some(path) = dir_path {
            f.dirs.push((handle, path));
        }
        Ok(fd)
    });
    match installed {
        Ok(fd) => {
            changed(core, id, fd);
            Ok(fd)
        }
        Err(e) => {
            release(core, id, handle);
            Err(e)
        }
    }
}

/// `close(fd)`.
///
/// # Errors
/// `EBADF`.
pub(crate) fn close(core: &mut Core, id: SmachId, fd: u32) -> Result<(), Errno> {
    let released = files(core, id)?.table.close(fd)?;
    if let Some(handle) = released {
        release(core, id, handle);
    }
    changed(core, id, fd);
    Ok(())
}

/// How [`dup_at`] picks the new descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DupTo {
    /// The lowest free at or above this (`dup`, `F_DUPFD`), with
    /// `FD_CLOEXEC` or not.
    Lowest(u32, bool),
    /// `dup2`.
    Exactly(u32),
    /// `dup3` with its flags.
    ExactlyWith(u32, u32),
}

/// `dup`, `dup2`, `dup3`, `F_DUPFD[_CLOEXEC]`: the new descriptor.
///
/// # Errors
/// `EBADF`, `EINVAL`, `EMFILE` as Linux says.
pub(crate) fn dup_at(core: &mut Core, id: SmachId, fd: u32, to: DupTo) -> Result<u32, Errno> {
    let table = &mut files(core, id)?.table;
    let (new, released) = match to {
        DupTo::Lowest(min, cloexec) => (table.dup(fd, min, cloexec)?, None),
        DupTo::Exactly(new) => table.dup2(fd, new)?,
        DupTo::ExactlyWith(new, flags) => table.dup3(fd, new, flags)?,
    };
    if let Some(handle) = released {
        release(core, id, handle);
    }
    changed(core, id, new);
    Ok(new)
}

/// `execve`: closes every close-on-exec descriptor of `id` (linux2-proc
/// calls it once the new image is in).
#[allow(dead_code)] // linux2-proc's `execve` calls it.
pub(crate) fn close_on_exec(core: &mut Core, id: SmachId) {
    let Ok(f) = files(core, id) else {
        return;
    };
    let before: Vec<u32> = f.table.open_fds().collect();
    let released = f.table.exec();
    let after: Vec<u32> = f.table.open_fds().collect();
    for handle in released {
        release(core, id, handle);
    }
    for fd in before.into_iter().filter(|fd| !after.contains(fd)) {
        changed(core, id, fd);
    }
}

fn me(core: &mut Core) -> Result<SmachId, Errno> {
    let id = core.current_smach_id().map_err(sys)?;
    if core.linux.contains_key(&id) {
        Ok(id)
    } else {
        Err(Errno::ENOSYS)
    }
}

/// `close` for the current process.
pub(crate) fn close_call(fd: u32) -> Answer {
    state::with(|core| {
        let id = me(core)?;
        close(core, id, fd).map(|()| 0)
    })
}

/// `dup`, `dup2`, `dup3` for the current process.
pub(crate) fn dup_call(fd: u32, to: DupTo) -> Answer {
    state::with(|core| {
        let id = me(core)?;
        dup_at(core, id, fd, to).map(u64::from)
    })
}

/// `fcntl`: the dup commands, `F_GETFD`/`F_SETFD`, `F_GETFL`/`F_SETFL`.
pub(crate) fn fcntl(fd: u32, cmd: u32, arg: u64) -> Answer {
    state::with(|core| {
        let id = me(core)?;
        let table = &mut files(core, id)?.table;
        match cmd {
            fcntl::DUPFD | fcntl::DUPFD_CLOEXEC => {
                // The minimum is an `int`: a negative one is `EINVAL`.
                let min = u32::try_from(arg as i32).map_err(|_| Errno::EINVAL)?;
                let to = DupTo::Lowest(min, cmd == fcntl::DUPFD_CLOEXEC);
                dup_at(core, id, fd, to).map(u64::from)
            }
            fcntl::GETFD => table.fd_flags(fd).map(u64::from),
            fcntl::SETFD => table.set_fd_flags(fd, arg as u32).map(|()| 0),
            fcntl::GETFL => table.status(fd).map(u64::from),
            fcntl::SETFL => {
                table.set_status(fd, arg as u32)?;
                // Status flags are the description's: every descriptor a
                // `dup` made of it changes with this one.
                all_changed(core, id);
                Ok(0)
            }
            _ => Err(Errno::EINVAL),
        }
    })
}

/// `pipe`, `pipe2`: a native pipe, its read end at the lowest free
/// descriptor and its write end at the next, written to `pipefd` as two
/// `int`s. A fault there closes both (Linux: `EFAULT`, nothing left
/// open).
pub(crate) fn pipe(pipefd: u64, flags: u32) -> Answer {
    let keep = flags & (o::CLOEXEC | o::NONBLOCK);
    let (id, read_fd, write_fd) = state::with(|core| -> Result<_, Errno> {
        let id = me(core)?;
        let ends =
            crate::pipe_calls::open(core, id, OpenFlags::READ | OpenFlags::WRITE).map_err(sys)?;
        let read_fd = match install(core, id, ends.read, O_RDONLY | keep, None) {
            Ok(fd) => fd,
            Err(e) => {
                release(core, id, ends.write);
                return Err(e);
            }
        };
        let write_fd = match install(core, id, ends.write, o::WRONLY | keep, None) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = close(core, id, read_fd);
                return Err(e);
            }
        };
        Ok((id, read_fd, write_fd))
    })?;
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&read_fd.to_le_bytes());
    bytes[4..].copy_from_slice(&write_fd.to_le_bytes());
    if let Err(e) = crate::user_memory::write_bytes(pipefd, &bytes) {
        state::with(|core| {
            let _ = close(core, id, read_fd);
            let _ = close(core, id, write_fd);
        });
        return Err(sys(e));
    }
    Ok(0)
}

/// What a `read` or `write` on `fd` needs: its handle, status, kind.
fn describe(fd: u32) -> Result<(Handle, u32, SioKind), Errno> {
    state::with(|core| {
        let id = me(core)?;
        let f = files(core, id)?;
        let handle = f.table.object(fd)?;
        let flags = f.table.status(fd)?;
        let sio = crate::share::sio_mut(core, id, handle, Access::Other).map_err(sys)?;
        Ok((handle, flags, sio.kind()))
    })
}

/// `read` on `fd`: `EBADF` on a write-only descriptor; with `O_NONBLOCK`
/// a pipe or the console with nothing to read is `EAGAIN`.
pub(crate) fn read(fd: u32, buf: u64, count: u64) -> Answer {
    let (handle, flags, kind) = describe(fd)?;
    if flags & status::O_ACCMODE == o::WRONLY {
        return Err(Errno::EBADF);
    }
    if flags & status::O_NONBLOCK != 0
        && matches!(kind, SioKind::PipeRead | SioKind::Tty)
        && count > 0
        && !crate::linux_poll::is_ready(handle, true)?
    {
        return Err(Errno::EAGAIN);
    }
    crate::sio_calls::read(handle, buf, count).map_err(sys)
}

/// `write` on `fd`: `EBADF` on a read-only descriptor; `O_APPEND` set by
/// `F_SETFL` on a file moves to its end first; `EPIPE` with no reader;
/// with `O_NONBLOCK` on a pipe, as Linux: a write of at most
/// `PIPE_BUF` bytes goes in whole or is `EAGAIN`, a longer one takes
/// what fits (`EAGAIN` if nothing does).
pub(crate) fn write(fd: u32, buf: u64, count: u64) -> Answer {
    let (handle, flags, kind) = describe(fd)?;
    if flags & status::O_ACCMODE == O_RDONLY {
        return Err(Errno::EBADF);
    }
    let mut count = count;
    if flags & status::O_NONBLOCK != 0 && kind == SioKind::PipeWrite && count > 0 {
        if let Some(room) = crate::linux_poll::pipe_room(handle)? {
            let atomic = sk_sio::PIPE_ATOMIC_BYTES as u64;
            count = match (count <= atomic, room) {
                (true, room) if room >= count => count,
                (false, room) if room > 0 => count.min(room),
                _ => return Err(Errno::EAGAIN),
            };
        }
    }
    if flags & status::O_APPEND != 0 && kind == SioKind::File {
        let end = sk_abi::SioReconfigure::Seek {
            whence: sk_abi::Whence::End,
            offset: 0,
        };
        state::with(|core| crate::sio_calls::reconfigure(core, handle, end)).map_err(sys)?;
    }
    // SIGPIPE goes with EPIPE at the end of the call
    // (`linux_signal_delivery::after_call`).
    crate::sio_calls::write(handle, buf, count).map_err(write_errno)
}

/// A native write's error as Linux's (`write`, `pwrite64`, `writev`): a
/// file's growth past its payer's budget is "quota exceeded" (`EDQUOT`,
/// where a mapping's is `ENOMEM`), the rest as `Errno::from_sys_error`.
pub(crate) fn write_errno(e: SysError) -> Errno {
    match e {
        SysError::OverBudget => Errno::EDQUOT,
        other => sys(other),
    }
}
