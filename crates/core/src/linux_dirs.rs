//! Linux names (docs/unix.md, phase 2): `openat` with a real directory
//! descriptor, the working directory (`getcwd`, `chdir`, `fchdir`),
//! `mkdir[at]`, `rmdir`, `unlink[at]`, `rename[at[2]]`, `readlink[at]`,
//! `access`/`faccessat[2]`, `umask`, `truncate`/`ftruncate`, and `stat`,
//! `newfstatat` and `statx` by path.
//!
//! Owns the step from a Linux path to a native one: [`resolve`] reads the
//! path, picks its base (the working directory, an `*at` call's directory
//! descriptor, or `/`), and lets `sk_unix::path::resolve` walk it over the
//! native file system (plus the device names `sk_sio` opens by name);
//! the native calls then take the normalized absolute path. Under a
//! SMACH's root (`reconfigure(Root)`, docs/views.md) the program's names
//! are walked in its own tree, whose `/` is the root (`..` stops there),
//! and each, every component on the way, is confined to the root
//! (`sk_fs::confine`, the rule native opens follow too); only the open of
//! a private device (`/dev/null`, `/dev/zero`, `/dev/semaphore`) keeps its
//! name, and no file-system call ever takes an unconfined one. Native errors
//! become Linux's through the one `Errno::from_sys_error`. There are no
//! symbolic links: `readlink` of an existing name is `EINVAL`.

use crate::linux_fds;
use crate::state::{self, Core, SmachId};
use crate::user_memory::{write_bytes, KernelUserMemory};
use alloc::string::String;
use sk_abi::{Handle, SysError};
use sk_fs::{FileSystem, NodeKind};
use sk_sio::UserMemory;
use sk_unix::linux_flags::o;
use sk_unix::path::{Last, NameSpace, NodeType, PATH_MAX};
use sk_unix::{DirFd, Errno, FileStat};

type Answer = Result<u64, Errno>;

fn sys(e: SysError) -> Errno {
    Errno::from_sys_error(e)
}

fn fs_err(e: sk_fs::FsError) -> Errno {
    match e {
        // A budget's limit on a file's growth: Linux's "quota exceeded".
        sk_fs::FsError::OverBudget => Errno::EDQUOT,
        other => sys(sk_sio::fs_error(other)),
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

/// The device names `sk_sio` opens without the file system.
const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/mem",
    "/dev/tty",
    "/dev/semaphore",
];

/// The largest size `truncate`/`ftruncate` grows a file to.
const TRUNCATE_GROW_LIMIT: u64 = 64 << 20;

/// Names whose native open makes a new kernel object (two ends, or the
/// sound card's stream) instead of opening a node.
const KERNEL_OBJECTS: [&str; 3] = [sk_abi::PIPE_PATH, sk_abi::PORT_PATH, sk_abi::AUDIO_PATH];

/// The native name space as `sk_unix::path` sees it, through the
/// process's root if its SMACH has one (`root`: the root directory's
/// path, every name confined to it).
struct Names<'a> {
    fs: &'a FileSystem,
    root: Option<&'a str>,
}

impl Names<'_> {
    /// Whether `shown` names a device the process opens by name: any of
    /// [`DEVICES`] without a root, only the private ones under a root
    /// (`/dev/tty` and `/dev/mem` are reached by a share there).
    fn is_device(&self, shown: &str) -> bool {
        DEVICES.contains(&shown) && (self.root.is_none() || sk_sio::is_private_object_path(shown))
    }

    /// The file system's path of `shown`: confined to the root, if any.
    fn native(&self, shown: &str) -> Result<String, Errno> {
        match self.root {
            Some(root) => sk_fs::confine(root, shown).map_err(|e| sys(sk_sio::fs_error(e))),
            None => Ok(String::from(shown)),
        }
    }
}

impl NameSpace for Names<'_> {
    fn node_type(&self, shown: &str) -> Option<NodeType> {
        if self.is_device(shown) {
            return Some(NodeType::Other);
        }
        let path = self.native(shown).ok()?;
        match self.fs.lookup(&path).and_then(|node| self.fs.stat(node)) {
            Ok(stat) if stat.kind == NodeKind::Directory => Some(NodeType::Directory),
            Ok(_) => Some(NodeType::Other),
            // `/dev` holds the devices even where the file system has none.
            Err(_) if shown == "/dev" => Some(NodeType::Directory),
            Err(_) => None,
        }
    }
}

/// The in-kernel tests' fault: Linux names resolved as if no SMACH had
/// a root (the confinement's self-check).
fn unconfined_by_injection() -> bool {
    #[cfg(feature = "ktest")]
    {
        crate::testing::UNCONFINED_LINUX_NAMES.load(core::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(feature = "ktest"))]
    {
        false
    }
}

/// A Linux name, resolved.
struct Found {
    /// The file system's path, which the native calls take (confined to
    /// the SMACH's root, if it has one).
    path: String,
    /// The name as the program sees it: what `getcwd` says and an `*at`
    /// directory keeps (`/` is its root).
    shown: String,
    /// Whether it names a device the process opens by name (`open` takes
    /// `shown` then; `path` is still the confined name, for everything
    /// else).
    device: bool,
    /// The node there, if any.
    node: Option<NodeType>,
}

/// Reads the NUL-terminated path at `ptr` into `buf`: its bytes
/// (`EFAULT`; `ENAMETOOLONG` past `PATH_MAX`; empty is allowed here).
pub(crate) fn read_path(ptr: u64, buf: &mut [u8; PATH_MAX]) -> Result<&[u8], Errno> {
    let mut len = 0;
    while len < PATH_MAX {
        // Up to the page end at most: the next page may be unmapped.
        let at = ptr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        let chunk = (4096 - (at % 4096) as usize).min(PATH_MAX - len);
        let piece = buf.get_mut(len..len + chunk).ok_or(Errno::EFAULT)?;
        KernelUserMemory.read(piece, at).map_err(sys)?;
        if let Some(end) = piece.iter().position(|&b| b == 0) {
            return buf.get(..len + end).ok_or(Errno::EFAULT);
        }
        len += chunk;
    }
    Err(Errno::ENAMETOOLONG)
}

/// The base a relative path starts from: the working directory, or the
/// directory open at `dirfd` (`EBADF` if not open, `ENOTDIR` if not a
/// directory).
fn base(core: &mut Core, id: SmachId, dirfd: DirFd) -> Result<String, Errno> {
    let files = &core.linux.get(&id).ok_or(Errno::ESRCH)?.files;
    match dirfd {
        DirFd::Cwd => Ok(files.cwd.clone()),
        DirFd::Fd(fd) => {
            let fd = u32::try_from(fd).map_err(|_| Errno::EBADF)?;
            let handle = files.handle(fd).ok_or(Errno::EBADF)?;
            files
                .dir_path(handle)
                .map(String::from)
                .ok_or(Errno::ENOTDIR)
        }
    }
}

/// Resolves the user path at `ptr` relative to `dirfd` for SMACH `id`.
fn resolve_in(
    core: &mut Core,
    id: SmachId,
    dirfd: DirFd,
    path: &[u8],
    last: Last,
) -> Result<Found, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let base = if path.first() == Some(&b'/') {
        String::from("/")
    } else {
        base(core, id, dirfd)?
    };
    // A root that is gone confines to nothing (`ENOENT`).
    let unconfined = unconfined_by_injection();
    let root = if unconfined {
        None
    } else {
        crate::smach::root_path(core, id).map_err(sys)?
    };
    let names = Names {
        fs: &core.fs,
        root: root.as_deref(),
    };
    let resolved = sk_unix::path::resolve(&names, &base, path, last)?;
    Ok(Found {
        path: names.native(&resolved.path)?,
        device: names.is_device(&resolved.path),
        shown: resolved.path,
        node: resolved.node,
    })
}

/// The file system's path of the program `path` names (`execve`):
/// resolved as `open` resolves a name (the working directory, the root).
pub(crate) fn program_file(path: &[u8]) -> Result<String, Errno> {
    state::with(|core| {
        let id = me(core)?;
        resolve_in(core, id, DirFd::Cwd, path, Last::MustExist).map(|found| found.path)
    })
}

/// The last component of `path` as written (`.` and `..` are refused by
/// `rmdir`, `unlink`, `rename` and `mkdir` in Linux's own ways).
fn last_component(path: &[u8]) -> &[u8] {
    path.split(|&b| b == b'/')
        .rfind(|c| !c.is_empty())
        .unwrap_or(b"/")
}

/// `open`/`openat`/`creat`.
pub(crate) fn open(dirfd: DirFd, path: u64, flags: u32) -> Answer {
    let mut buf = [0u8; PATH_MAX];
    let path = read_path(path, &mut buf)?;
    let last = if flags & o::CREAT != 0 {
        Last::MayBeMissing
    } else {
        Last::MustExist
    };
    let native = crate::linux_calls::open_flags(flags);
    loop {
        let created = state::with(|core| -> Result<Option<u64>, Errno> {
            let id = me(core)?;
            let resolved = resolve_in(core, id, dirfd, path, last)?;
            let is_dir = resolved.node == Some(NodeType::Directory);
            if flags & o::DIRECTORY != 0 && !is_dir {
                return Err(if resolved.node.is_none() {
                    Errno::ENOENT
                } else {
                    Errno::ENOTDIR
                });
            }
            if is_dir && (flags & (o::CREAT | o::TRUNC) != 0 || flags & 3 != 0) {
                return Err(Errno::EISDIR);
            }
            if resolved.node.is_none() && path.last() == Some(&b'/') {
                // `O_CREAT` of "name/": Linux will not make a file so named.
                return Err(Errno::EISDIR);
            }
            // Names the native open takes as a new object whatever the
            // file system holds there (a Linux program can make a file
            // called `/dev/pipe`): not Linux devices, never opened here.
            if KERNEL_OBJECTS.contains(&resolved.path.as_str()) {
                return Err(Errno::ENOENT);
            }
            // A device by its name; anything else by its confined path.
            let target = if resolved.device {
                &resolved.shown
            } else {
                &resolved.path
            };
            let created = crate::sio_calls::open_or_step(core, id, target, native).map_err(sys)?;
            match created {
                crate::dispatch::Created::Object(handle) => {
                    let dir = is_dir.then(|| resolved.shown.clone());
                    linux_fds::install(core, id, handle, flags, dir).map(|fd| Some(u64::from(fd)))
                }
                crate::dispatch::Created::Stepped => Ok(None),
                // Never here: those names are refused above.
                crate::dispatch::Created::Pipe(_) | crate::dispatch::Created::Port(_) => {
                    Err(Errno::ENOENT)
                }
            }
        })?;
        match created {
            Some(fd) => return Ok(fd),
            None => crate::scheduler::preemption_point(),
        }
    }
}

/// Runs `f` on the resolved path (`last` as the call needs) for the
/// current process.
fn with_path<R>(
    dirfd: DirFd,
    path: u64,
    last: Last,
    f: impl FnOnce(&mut Core, SmachId, &[u8], Found) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let mut buf = [0u8; PATH_MAX];
    let raw = read_path(path, &mut buf)?;
    state::with(|core| {
        let id = me(core)?;
        let resolved = resolve_in(core, id, dirfd, raw, last)?;
        f(core, id, raw, resolved)
    })
}

/// A `FileStat` for the node at a resolved path.
fn stat_resolved(core: &Core, resolved: &Found) -> Result<FileStat, Errno> {
    if resolved.device {
        let info = sk_abi::SioInfo {
            kind: sk_abi::SioKind::Tty.number(),
            flags: 0,
            size: 0,
            position: 0,
        };
        return Ok(crate::linux_calls::file_stat(&info));
    }
    if resolved.shown == "/dev" && core.fs.lookup(&resolved.path).is_err() {
        return Ok(directory_stat(0));
    }
    let node = core.fs.lookup(&resolved.path).map_err(fs_err)?;
    let stat = core.fs.stat(node).map_err(fs_err)?;
    let info = sk_abi::SioInfo {
        kind: if stat.kind == NodeKind::Directory {
            sk_abi::SioKind::Dir.number()
        } else {
            sk_abi::SioKind::File.number()
        },
        flags: 0,
        size: stat.size_bytes,
        position: 0,
    };
    let mut out = crate::linux_calls::file_stat(&info);
    out.ino = (node.to_bits() & 0xffff_ffff) + 1;
    Ok(out)
}

fn directory_stat(size: u64) -> FileStat {
    crate::linux_calls::file_stat(&sk_abi::SioInfo {
        kind: sk_abi::SioKind::Dir.number(),
        flags: 0,
        size,
        position: 0,
    })
}

/// `newfstatat`/`statx`'s node: the path's, or with `empty_path`
/// (`AT_EMPTY_PATH`) and "" the descriptor's (the working directory's
/// for `AT_FDCWD`).
pub(crate) fn fstatat(dirfd: DirFd, path: u64, empty_path: bool) -> Result<FileStat, Errno> {
    let mut bytes = [0u8; PATH_MAX];
    let raw = read_path(path, &mut bytes)?;
    if !(raw.is_empty() && empty_path) {
        return state::with(|core| {
            let id = me(core)?;
            let r = resolve_in(core, id, dirfd, raw, Last::MustExist)?;
            stat_resolved(core, &r)
        });
    }
    let handle = state::with(|core| {
        let id = me(core)?;
        match dirfd {
            DirFd::Cwd => {
                let cwd = base(core, id, DirFd::Cwd)?;
                let r = resolve_in(core, id, DirFd::Cwd, cwd.as_bytes(), Last::MustExist)?;
                stat_resolved(core, &r).map(Err)
            }
            DirFd::Fd(fd) => {
                let fd = u32::try_from(fd).map_err(|_| Errno::EBADF)?;
                core.linux
                    .get(&id)
                    .and_then(|p| p.files.handle(fd))
                    .ok_or(Errno::EBADF)
                    .map(Ok)
            }
        }
    })?;
    match handle {
        Ok(handle) => crate::linux_files::stat_handle(handle),
        Err(stat) => Ok(stat),
    }
}

/// `statx`.
pub(crate) fn statx(dirfd: DirFd, path: u64, flags: u32, buf: u64) -> Answer {
    let empty_path = flags & sk_unix::linux_flags::at::EMPTY_PATH != 0;
    let stat = fstatat(dirfd, path, empty_path)?;
    write_bytes(buf, &stat.to_statx()).map_err(sys)?;
    Ok(0)
}

/// `mkdir`, `mkdirat`.
pub(crate) fn mkdir(dirfd: DirFd, path: u64) -> Answer {
    with_path(dirfd, path, Last::MayBeMissing, |core, _, raw, r| {
        if r.node.is_some() || matches!(last_component(raw), b"." | b"..") {
            return Err(Errno::EEXIST);
        }
        core.fs.mkdir(&r.path).map_err(fs_err)?;
        Ok(0)
    })
}

/// `unlink`, `rmdir`, `unlinkat` (`AT_REMOVEDIR`).
pub(crate) fn unlink(dirfd: DirFd, path: u64, remove_dir: bool) -> Answer {
    with_path(dirfd, path, Last::MustExist, |core, _, raw, r| {
        if remove_dir {
            match last_component(raw) {
                b"." => return Err(Errno::EINVAL),
                b".." => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
            if r.shown == "/" {
                return Err(Errno::EBUSY);
            }
            if r.node != Some(NodeType::Directory) {
                return Err(Errno::ENOTDIR);
            }
            core.fs.rmdir(&r.path).map_err(fs_err)?;
        } else {
            if r.node == Some(NodeType::Directory) {
                return Err(Errno::EISDIR);
            }
            if r.device {
                return Err(Errno::EACCES);
            }
            core.fs.unlink(&r.path).map_err(fs_err)?;
        }
        Ok(0)
    })
}

/// `rename`, `renameat`, `renameat2` (flags 0).
pub(crate) fn rename(old_dirfd: DirFd, old: u64, new_dirfd: DirFd, new: u64) -> Answer {
    let mut old_buf = [0u8; PATH_MAX];
    let mut new_buf = [0u8; PATH_MAX];
    let old_raw = read_path(old, &mut old_buf)?;
    let new_raw = read_path(new, &mut new_buf)?;
    state::with(|core| {
        let id = me(core)?;
        let from = resolve_in(core, id, old_dirfd, old_raw, Last::MustExist)?;
        let to = resolve_in(core, id, new_dirfd, new_raw, Last::MayBeMissing)?;
        if [last_component(old_raw), last_component(new_raw)]
            .iter()
            .any(|c| matches!(*c, b"." | b".."))
        {
            return Err(Errno::EBUSY);
        }
        // The root (the process's `/`) is not moved, nor replaced.
        if from.shown == "/" || to.shown == "/" {
            return Err(Errno::EBUSY);
        }
        if from.node == Some(NodeType::Other) && old_raw.last() == Some(&b'/') {
            return Err(Errno::ENOTDIR);
        }
        core.fs.rename(&from.path, &to.path).map_err(fs_err)?;
        Ok(0)
    })
}

/// `readlink`, `readlinkat`: no symbolic links here, so an existing name
/// is `EINVAL` (as Linux says of a name that is not a link).
pub(crate) fn readlink(dirfd: DirFd, path: u64, bufsiz: u64) -> Answer {
    if bufsiz == 0 || bufsiz > i32::MAX as u64 {
        return Err(Errno::EINVAL);
    }
    with_path(dirfd, path, Last::MustExist, |_, _, _, _| {
        Err(Errno::EINVAL)
    })
}

/// `access`, `faccessat`, `faccessat2`: the caller is root and the file
/// system has no modes, so an existing name allows everything.
pub(crate) fn access(dirfd: DirFd, path: u64) -> Answer {
    with_path(dirfd, path, Last::MustExist, |_, _, _, _| Ok(0))
}

/// `getcwd`: the length with its NUL; `ERANGE` if `size` is short.
pub(crate) fn getcwd(buf: u64, size: u64) -> Answer {
    let cwd = state::with(|core| {
        let id = me(core)?;
        base(core, id, DirFd::Cwd)
    })?;
    let len = cwd.len() as u64 + 1;
    if size < len {
        return Err(Errno::ERANGE);
    }
    let mut bytes = alloc::vec::Vec::new();
    bytes
        .try_reserve(cwd.len() + 1)
        .map_err(|_| Errno::ENOMEM)?;
    bytes.extend_from_slice(cwd.as_bytes());
    bytes.push(0);
    write_bytes(buf, &bytes).map_err(sys)?;
    Ok(len)
}

fn set_cwd(core: &mut Core, id: SmachId, path: String) -> Answer {
    core.linux.get_mut(&id).ok_or(Errno::ESRCH)?.files.cwd = path;
    Ok(0)
}

/// `chdir`.
pub(crate) fn chdir(path: u64) -> Answer {
    with_path(DirFd::Cwd, path, Last::MustExist, |core, id, _, r| {
        if r.node != Some(NodeType::Directory) {
            return Err(Errno::ENOTDIR);
        }
        set_cwd(core, id, r.shown)
    })
}

/// `fchdir`: the directory open at `fd` (`ENOTDIR` for anything else).
pub(crate) fn fchdir(fd: u32) -> Answer {
    state::with(|core| {
        let id = me(core)?;
        let path = base(
            core,
            id,
            DirFd::Fd(i32::try_from(fd).map_err(|_| Errno::EBADF)?),
        )?;
        set_cwd(core, id, path)
    })
}

/// `umask`: the old mask.
pub(crate) fn umask(mask: u32) -> Answer {
    state::with(|core| {
        let id = me(core)?;
        let files = &mut core.linux.get_mut(&id).ok_or(Errno::ESRCH)?.files;
        let old = files.umask;
        files.umask = mask & 0o777;
        Ok(u64::from(old))
    })
}

/// `truncate` (by path) and `ftruncate` (`fd` open for writing): the
/// native file system's truncate (`EISDIR` on a directory, `EINVAL` for
/// a negative length or what is not a file).
pub(crate) fn truncate(target: Result<(DirFd, u64), u32>, length: i64) -> Answer {
    let length = u64::try_from(length).map_err(|_| Errno::EINVAL)?;
    let node = match target {
        Ok((dirfd, path)) => with_path(dirfd, path, Last::MustExist, |core, _, _, r| {
            if r.node == Some(NodeType::Directory) {
                return Err(Errno::EISDIR);
            }
            core.fs.lookup(&r.path).map_err(|_| Errno::EINVAL)
        })?,
        Err(fd) => state::with(|core| {
            let id = me(core)?;
            let files = &core.linux.get(&id).ok_or(Errno::ESRCH)?.files;
            let handle: Handle = files.handle(fd).ok_or(Errno::EBADF)?;
            if files.status(fd)? & 3 == 0 {
                return Err(Errno::EINVAL);
            }
            let sio = crate::share::sio_mut(core, id, handle, crate::share::Access::Other)
                .map_err(sys)?;
            match sio.target() {
                sk_sio::Target::File(open) => Ok(open.node()),
                _ => Err(Errno::EINVAL),
            }
        })?,
    };
    // Growth happens in one stretch with interrupts masked (the file's
    // data is contiguous: it is reallocated and copied), so it is bounded:
    // a file grown past the limit is `EFBIG` (Linux's answer past
    // RLIMIT_FSIZE). Writes still grow a file step by step beyond it.
    if length > TRUNCATE_GROW_LIMIT
        && state::with(|core| core.fs.stat(node).map(|s| s.size_bytes < length)).map_err(fs_err)?
    {
        return Err(Errno::EFBIG);
    }
    // A large cut goes in bounded steps, others running between them.
    while state::with(|core| core.fs.cut_toward(node, length).map_err(fs_err))?
        == sk_fs::Cut::Cutting
    {
        crate::scheduler::preemption_point();
    }
    state::with(|core| {
        let refused = |r: &Result<(), sk_fs::FsError>| *r == Err(sk_fs::FsError::OverBudget);
        crate::nest_memory::with_file_growth(core, refused, |core| core.fs.truncate(node, length))
            .map_err(fs_err)
    })?;
    Ok(0)
}

/// The most one `getdents64` fills (Linux takes any size; the records
/// are built in a kernel buffer of at most this much).
const DIRENTS_MAX: usize = 32 * 1024;

/// The directory open at `fd`: its node and position cell's value.
fn open_dir(core: &mut Core, id: SmachId, fd: u32) -> Result<(Handle, sk_fs::NodeId, u64), Errno> {
    let handle = core
        .linux
        .get(&id)
        .and_then(|p| p.files.handle(fd))
        .ok_or(Errno::EBADF)?;
    let sio = crate::share::sio_mut(core, id, handle, crate::share::Access::Other).map_err(sys)?;
    match sio.target() {
        sk_sio::Target::Dir(open) => Ok((handle, open.node(), sio.position())),
        _ => Err(Errno::ENOTDIR),
    }
}

/// `getdents64`: the entries from the directory's position (an entry
/// index: `.` is 0, `..` 1, then the native entries in name order), as
/// many whole records as fit in `count`; 0 at the end.
pub(crate) fn getdents64(fd: u32, dirp: u64, count: u32) -> Answer {
    let size = (count as usize).min(DIRENTS_MAX);
    let mut buffer = alloc::vec::Vec::new();
    buffer.try_reserve(size).map_err(|_| Errno::ENOMEM)?;
    buffer.resize(size, 0);
    let used = state::with(|core| -> Result<usize, Errno> {
        let id = me(core)?;
        let (handle, node, position) = open_dir(core, id, fd)?;
        let ino = (node.to_bits() & 0xffff_ffff) + 1;
        let mut writer = sk_unix::DirentWriter::new(&mut buffer);
        let mut index = position;
        let dots: [(&str, u64); 2] = [(".", ino), ("..", ino)];
        let entries = core.fs.readdir(node).map_err(fs_err)?;
        let named = entries.map(|e| {
            let kind = if e.kind == NodeKind::Directory {
                sk_unix::dirent::d_type::DT_DIR
            } else {
                sk_unix::dirent::d_type::DT_REG
            };
            (e.name, (e.node.to_bits() & 0xffff_ffff) + 1, kind)
        });
        let all = dots
            .into_iter()
            .map(|(name, ino)| (name, ino, sk_unix::dirent::d_type::DT_DIR))
            .chain(named);
        for (name, ino, kind) in all.skip(usize::try_from(position).unwrap_or(usize::MAX)) {
            if !writer.push(ino, index + 1, kind, name.as_bytes())? {
                break;
            }
            index += 1;
        }
        let used = writer.used();
        let sio =
            crate::share::sio_mut(core, id, handle, crate::share::Access::Other).map_err(sys)?;
        sio.position_cell()
            .store(index, core::sync::atomic::Ordering::Relaxed);
        Ok(used)
    })?;
    write_bytes(dirp, buffer.get(..used).unwrap_or(&[])).map_err(sys)?;
    Ok(used as u64)
}

/// `lseek` on a directory: its position is an entry index (`SEEK_SET`,
/// `SEEK_CUR`; `SEEK_END` is `EINVAL`, as on most Linux file systems'
/// directories).
pub(crate) fn lseek_dir(fd: u32, offset: i64, whence: u32) -> Answer {
    state::with(|core| {
        let id = me(core)?;
        let (handle, _, position) = open_dir(core, id, fd)?;
        let new = match whence {
            0 => offset,
            1 => (position as i64).checked_add(offset).ok_or(Errno::EINVAL)?,
            _ => return Err(Errno::EINVAL),
        };
        let new = u64::try_from(new).map_err(|_| Errno::EINVAL)?;
        let sio =
            crate::share::sio_mut(core, id, handle, crate::share::Access::Other).map_err(sys)?;
        sio.position_cell()
            .store(new, core::sync::atomic::Ordering::Relaxed);
        Ok(new)
    })
}
