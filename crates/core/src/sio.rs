//! SIO objects: open files, directories and devices, with their generic
//! read, write, seek and query.
//!
//! Owns [`Sio`]. Its position lives in a heap cell of its own that never
//! moves while the SIO is open, so synthesized routines can bake the cell's
//! address in and share it with this generic path. This is the path every
//! synthesized routine is checked against and falls back to.

use crate::devices::{self, DEV_MEM_BYTES};
use crate::state::Core;
use crate::user;
use alloc::boxed::Box;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{OpenFlags, SioInfo, SioKind, SysError, Whence};
use sk_fs::{CreateMode, FsError, NodeKind, OpenNode};

/// What an SIO reads and writes.
#[derive(Debug)]
pub(crate) enum Target {
    Null,
    Zero,
    Mem,
    Tty,
    File(OpenNode),
    Dir(OpenNode),
}

/// An open SIO.
#[derive(Debug)]
pub(crate) struct Sio {
    pub(crate) target: Target,
    pub(crate) flags: OpenFlags,
    /// The position, in a cell whose address stays fixed while open.
    pub(crate) position: Box<AtomicU64>,
    /// The thread that opened it (owner of its synthesized routines).
    pub(crate) opener: Option<crate::state::ThreadId>,
    /// Synthesized routines, if any (owned here: `owner-holds-code`).
    pub(crate) routines: Option<Box<crate::synthesis::SioRoutines>>,
    /// Used by a second thread, or its file unlinked: generic for good.
    pub(crate) is_shared: bool,
}

/// Maps a file-system error to the error user space sees.
pub(crate) fn fs_error(e: FsError) -> SysError {
    match e {
        FsError::NotFound => SysError::NotFound,
        FsError::Exists => SysError::Exists,
        FsError::NotDir => SysError::NotDir,
        FsError::IsDir => SysError::IsDir,
        FsError::NotEmpty => SysError::NotEmpty,
        FsError::BadPath | FsError::IntoOwnSubtree => SysError::BadPath,
        FsError::NameTooLong => SysError::NameTooLong,
        FsError::FileTooLarge => SysError::FileTooLarge,
        FsError::BadOffset => SysError::BadOffset,
        FsError::NoSpace => SysError::NoSpace,
        FsError::OutOfMemory => SysError::NoMemory,
        FsError::StaleNode => SysError::BadHandle,
        FsError::Busy => SysError::Busy,
    }
}

/// Bytes moved per step of the generic file write.
const BOUNCE_BYTES: usize = 4096;

impl core::fmt::Debug for crate::synthesis::SioRoutines {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SioRoutines")
            .field("owner", &self.owner)
            .field("handle", &self.handle)
            .finish()
    }
}

impl Sio {
    /// Opens `path` with `flags` (the generic `create` on SIO).
    pub(crate) fn open(core: &mut Core, path: &str, flags: OpenFlags) -> Result<Sio, SysError> {
        let device = match path {
            "/dev/null" => Some(Target::Null),
            "/dev/zero" => Some(Target::Zero),
            "/dev/mem" => Some(Target::Mem),
            "/dev/tty" => Some(Target::Tty),
            _ => None,
        };
        let target = match device {
            Some(Target::Mem) if flags.contains(OpenFlags::WRITE) => {
                return Err(SysError::NotPermitted)
            }
            Some(device) => device,
            None => Self::open_node(core, path, flags)?,
        };
        Ok(Sio {
            target,
            flags,
            position: Box::new(AtomicU64::new(0)),
            opener: None,
            routines: None,
            is_shared: false,
        })
    }

    fn open_node(core: &mut Core, path: &str, flags: OpenFlags) -> Result<Target, SysError> {
        let fs = &mut core.fs;
        let node = if flags.contains(OpenFlags::CREATE) {
            let mode = if flags.contains(OpenFlags::EXCLUSIVE) {
                CreateMode::Exclusive
            } else {
                CreateMode::OpenExisting
            };
            match fs.create(path, mode) {
                Err(FsError::IsDir) => fs.lookup(path).map_err(fs_error)?,
                other => other.map_err(fs_error)?,
            }
        } else {
            fs.lookup(path).map_err(fs_error)?
        };
        let kind = fs.stat(node).map_err(fs_error)?.kind;
        if kind == NodeKind::Directory {
            if flags.contains(OpenFlags::WRITE) {
                return Err(SysError::IsDir);
            }
            return Ok(Target::Dir(fs.open(node).map_err(fs_error)?));
        }
        if flags.contains(OpenFlags::TRUNCATE) {
            fs.truncate(node, 0).map_err(fs_error)?;
        }
        Ok(Target::File(fs.open(node).map_err(fs_error)?))
    }

    /// Closes the SIO (the generic `terminate`).
    pub(crate) fn close(mut self, core: &mut Core) {
        crate::synthesis::unpublish(core, &mut self);
        if let Target::File(open) | Target::Dir(open) = self.target {
            if let Err(e) = core.fs.close(open) {
                log::error!("closing an SIO: {e}");
            }
        }
    }

    pub(crate) fn kind(&self) -> SioKind {
        match self.target {
            Target::Null => SioKind::Null,
            Target::Zero => SioKind::Zero,
            Target::Mem => SioKind::Mem,
            Target::Tty => SioKind::Tty,
            Target::File(_) => SioKind::File,
            Target::Dir(_) => SioKind::Dir,
        }
    }

    fn size(&self, core: &Core) -> u64 {
        match &self.target {
            Target::Mem => DEV_MEM_BYTES,
            Target::File(open) | Target::Dir(open) => {
                core.fs.stat(open.node()).map_or(0, |s| s.size_bytes)
            }
            _ => 0,
        }
    }

    /// The generic read. `Ok(None)` means the call would block (console).
    pub(crate) fn read(
        &self,
        core: &mut Core,
        buf: u64,
        len: u64,
    ) -> Result<Option<u64>, SysError> {
        if !self.flags.contains(OpenFlags::READ) {
            return Err(SysError::NotPermitted);
        }
        user::check(buf, len)?;
        match &self.target {
            Target::Null => Ok(Some(0)),
            Target::Zero => user::fill(buf, 0, len).map(|()| Some(len)),
            Target::Mem => {
                let pos = self.position.load(Ordering::Relaxed);
                let n = len.min(DEV_MEM_BYTES.saturating_sub(pos));
                let window = core.devices.mem;
                let bytes = window.get(pos as usize..(pos + n) as usize).unwrap_or(&[]);
                user::write_bytes(buf, bytes)?;
                self.position.store(pos + n, Ordering::Relaxed);
                Ok(Some(n))
            }
            Target::Tty => {
                let mut chunk = [0u8; 512];
                let want = (len as usize).min(chunk.len());
                match devices::tty_read(&mut core.devices, &mut chunk[..want]) {
                    Some(n) => user::write_bytes(buf, &chunk[..n]).map(|()| Some(n as u64)),
                    None => Ok(None),
                }
            }
            Target::File(open) => {
                let pos = self.position.load(Ordering::Relaxed);
                let n = core
                    .fs
                    .read_with(open.node(), pos, len, |bytes| {
                        user::write_bytes(buf, bytes).map(|()| bytes.len() as u64)
                    })
                    .map_err(fs_error)??;
                self.position.store(pos + n, Ordering::Relaxed);
                Ok(Some(n))
            }
            Target::Dir(_) => Err(SysError::IsDir),
        }
    }

    /// The generic write.
    pub(crate) fn write(&self, core: &mut Core, buf: u64, len: u64) -> Result<u64, SysError> {
        if !self.flags.contains(OpenFlags::WRITE) {
            return Err(SysError::NotPermitted);
        }
        user::check(buf, len)?;
        match &self.target {
            Target::Null | Target::Zero => Ok(len),
            Target::Mem => Err(SysError::NotPermitted),
            Target::Dir(_) => Err(SysError::IsDir),
            Target::Tty => {
                let mut chunk = [0u8; 512];
                let mut done = 0u64;
                while done < len {
                    let n = ((len - done) as usize).min(chunk.len());
                    // Bytes before a fault in the buffer still go out.
                    let copied = user::read_prefix(&mut chunk[..n], buf + done);
                    let good = copied.map_or_else(|(k, _)| k, |()| n);
                    devices::tty_write(&core.devices, &chunk[..good]);
                    copied.map_err(|(_, e)| e)?;
                    done += n as u64;
                }
                Ok(len)
            }
            Target::File(open) => {
                let node = open.node();
                let mut pos = if self.flags.contains(OpenFlags::APPEND) {
                    core.fs.stat(node).map_err(fs_error)?.size_bytes
                } else {
                    self.position.load(Ordering::Relaxed)
                };
                pos.checked_add(len).ok_or(SysError::BadOffset)?;
                let mut chunk = [0u8; BOUNCE_BYTES];
                let mut done = 0u64;
                while done < len {
                    let n = ((len - done) as usize).min(chunk.len());
                    // A fault in the buffer: the bytes before it are written
                    // and counted (as by a synthesized write), then the call
                    // fails with BadAddress.
                    let copied = user::read_prefix(&mut chunk[..n], buf + done);
                    let good = copied.map_or_else(|(k, _)| k, |()| n);
                    core.fs.write(node, pos, &chunk[..good]).map_err(fs_error)?;
                    pos += good as u64;
                    done += good as u64;
                    self.position.store(pos, Ordering::Relaxed);
                    copied.map_err(|(_, e)| e)?;
                }
                Ok(len)
            }
        }
    }

    /// The generic seek; returns the new position.
    pub(crate) fn seek(&self, core: &Core, whence: Whence, offset: i64) -> Result<u64, SysError> {
        match self.target {
            Target::Null | Target::Zero => return Ok(0),
            Target::Tty => return Err(SysError::NotSupported),
            _ => {}
        }
        let base = match whence {
            Whence::Set => 0,
            Whence::Current => self.position.load(Ordering::Relaxed),
            Whence::End => self.size(core),
        };
        let new = base.checked_add_signed(offset).ok_or(SysError::BadOffset)?;
        if new > i64::MAX as u64 {
            return Err(SysError::BadOffset);
        }
        self.position.store(new, Ordering::Relaxed);
        Ok(new)
    }

    /// The generic query.
    pub(crate) fn query(&self, core: &Core) -> SioInfo {
        SioInfo {
            kind: self.kind().number(),
            flags: self.flags.bits(),
            size: self.size(core),
            position: self.position.load(Ordering::Relaxed),
        }
    }
}
