//! A Linux process's file descriptors over native handles.
//!
//! Owns [`FdTable`]: descriptor numbers (lowest free first, up to the
//! `RLIMIT_NOFILE` limit) pointing at open file descriptions, each holding
//! one native object (an SIO handle, `H`) and its status flags
//! (`O_APPEND`, `O_NONBLOCK`, the access mode). `dup`, `dup2`, `dup3` and
//! `fcntl(F_DUPFD*)` make descriptors share a description, as in Linux,
//! so they share the file position (the native SIO's); the native handle
//! is closed when the last descriptor of its description goes: the
//! operations that drop one return it for the kernel to close.

use crate::errno::Errno;
use alloc::vec::Vec;

/// `open` flag bits the descriptions keep (Linux's values).
pub mod status {
    /// Access mode mask (`O_RDONLY` 0, `O_WRONLY` 1, `O_RDWR` 2).
    pub const O_ACCMODE: u32 = 0o3;
    /// Writes go to the end.
    pub const O_APPEND: u32 = 0o2000;
    /// Calls that would block fail with `EAGAIN`.
    pub const O_NONBLOCK: u32 = 0o4000;
    /// Close on `execve` (a descriptor flag, given at open).
    pub const O_CLOEXEC: u32 = 0o2_000_000;
    /// What `F_SETFL` may change.
    pub const SETTABLE: u32 = O_APPEND | O_NONBLOCK;

    /// Whether a `read` (`is_write` false) or `write` on a description
    /// with `status` is the object's plain transfer, nothing more: the
    /// access mode permits it (a `read` on `O_WRONLY` or a `write` on
    /// `O_RDONLY` is `EBADF`), it is not `O_NONBLOCK` (`EAGAIN` instead of
    /// a wait), and a `write` is not `O_APPEND` (a seek to the end first).
    /// A synthesized per-descriptor routine may serve exactly these.
    pub const fn direct_io_allowed(status: u32, is_write: bool) -> bool {
        let mode = status & O_ACCMODE;
        let permitted = if is_write { mode != 0 } else { mode != 1 };
        let plain = status & O_NONBLOCK == 0 && !(is_write && status & O_APPEND != 0);
        permitted && plain
    }
}

/// `FD_CLOEXEC`, the one descriptor flag.
pub const FD_CLOEXEC: u32 = 1;

/// Linux's default `RLIMIT_NOFILE` soft limit.
pub const DEFAULT_LIMIT: u32 = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fd {
    description: usize,
    is_cloexec: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Description<H> {
    object: H,
    status: u32,
    refs: usize,
}

/// A process's descriptors.
#[derive(Clone, Debug)]
pub struct FdTable<H> {
    fds: Vec<Option<Fd>>,
    descriptions: Vec<Option<Description<H>>>,
    limit: u32,
}

impl<H: Copy> FdTable<H> {
    /// An empty table allowing descriptors `0..limit`.
    #[must_use]
    pub const fn new(limit: u32) -> Self {
        Self {
            fds: Vec::new(),
            descriptions: Vec::new(),
            limit,
        }
    }

    /// The descriptor limit.
    #[must_use]
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    fn fd(&self, fd: u32) -> Result<Fd, Errno> {
        let at = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        self.fds.get(at).copied().flatten().ok_or(Errno::EBADF)
    }

    fn description(&self, fd: u32) -> Result<&Description<H>, Errno> {
        let at = self.fd(fd)?.description;
        self.descriptions
            .get(at)
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    /// The native object behind `fd`.
    ///
    /// # Errors
    /// `EBADF` if `fd` is not open.
    pub fn object(&self, fd: u32) -> Result<H, Errno> {
        Ok(self.description(fd)?.object)
    }

    /// `fd`'s status flags (`F_GETFL`).
    ///
    /// # Errors
    /// `EBADF`.
    pub fn status(&self, fd: u32) -> Result<u32, Errno> {
        Ok(self.description(fd)?.status)
    }

    /// `F_SETFL`: only `O_APPEND` and `O_NONBLOCK` change; other bits are
    /// ignored, as in Linux. Every descriptor of the description sees it.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn set_status(&mut self, fd: u32, flags: u32) -> Result<(), Errno> {
        let at = self.fd(fd)?.description;
        let description = self
            .descriptions
            .get_mut(at)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)?;
        description.status = (description.status & !status::SETTABLE) | (flags & status::SETTABLE);
        Ok(())
    }

    /// `F_GETFD`: `FD_CLOEXEC` or 0.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn fd_flags(&self, fd: u32) -> Result<u32, Errno> {
        Ok(if self.fd(fd)?.is_cloexec {
            FD_CLOEXEC
        } else {
            0
        })
    }

    /// `F_SETFD`.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn set_fd_flags(&mut self, fd: u32, flags: u32) -> Result<(), Errno> {
        self.fd(fd)?;
        if let Some(Some(entry)) = usize::try_from(fd).ok().and_then(|at| self.fds.get_mut(at)) {
            entry.is_cloexec = flags & FD_CLOEXEC != 0;
        }
        Ok(())
    }

    /// The lowest closed descriptor at or above `min`.
    fn lowest_free(&self, min: u32) -> Result<u32, Errno> {
        let start = usize::try_from(min).map_err(|_| Errno::EMFILE)?;
        let free = (start..)
            .find(|&at| self.fds.get(at).is_none_or(Option::is_none))
            .ok_or(Errno::EMFILE)?;
        let fd = u32::try_from(free).map_err(|_| Errno::EMFILE)?;
        if fd >= self.limit {
            return Err(Errno::EMFILE);
        }
        Ok(fd)
    }

    /// Points `fd` (closed, below the limit) at `description`.
    fn set(&mut self, fd: u32, entry: Fd) -> Result<(), Errno> {
        let at = usize::try_from(fd).map_err(|_| Errno::EMFILE)?;
        if self.fds.len() <= at {
            let grow = at.saturating_add(1).saturating_sub(self.fds.len());
            self.fds.try_reserve(grow).map_err(|_| Errno::ENOMEM)?;
            self.fds.resize(at.saturating_add(1), None);
        }
        if let Some(slot) = self.fds.get_mut(at) {
            *slot = Some(entry);
        }
        Ok(())
    }

    /// A new description for `object` with `flags` (the `open` flags: the
    /// access mode and status bits are kept, `O_CLOEXEC` marks the
    /// descriptor) at the lowest free descriptor.
    ///
    /// # Errors
    /// `EMFILE` at the limit; `ENOMEM`.
    pub fn install(&mut self, object: H, flags: u32) -> Result<u32, Errno> {
        let fd = self.lowest_free(0)?;
        let description = Description {
            object,
            status: flags & (status::O_ACCMODE | status::SETTABLE),
            refs: 1,
        };
        let at = match self.descriptions.iter().position(Option::is_none) {
            Some(at) => at,
            None => {
                self.descriptions
                    .try_reserve(1)
                    .map_err(|_| Errno::ENOMEM)?;
                self.descriptions.push(None);
                self.descriptions.len().saturating_sub(1)
            }
        };
        let entry = Fd {
            description: at,
            is_cloexec: flags & status::O_CLOEXEC != 0,
        };
        self.set(fd, entry)?;
        if let Some(slot) = self.descriptions.get_mut(at) {
            *slot = Some(description);
        }
        Ok(fd)
    }

    /// Closes `fd`; the native object to close if it was its
    /// description's last descriptor.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn close(&mut self, fd: u32) -> Result<Option<H>, Errno> {
        let entry = self.fd(fd)?;
        if let Some(slot) = usize::try_from(fd).ok().and_then(|at| self.fds.get_mut(at)) {
            *slot = None;
        }
        while self.fds.last().is_some_and(Option::is_none) {
            self.fds.pop();
        }
        let slot = self
            .descriptions
            .get_mut(entry.description)
            .ok_or(Errno::EBADF)?;
        let Some(description) = slot.as_mut() else {
            return Err(Errno::EBADF);
        };
        description.refs = description.refs.saturating_sub(1);
        if description.refs == 0 {
            let object = description.object;
            *slot = None;
            return Ok(Some(object));
        }
        Ok(None)
    }

    /// Another descriptor for `old`'s description at `new` (closed first).
    fn share(&mut self, old: u32, new: u32, is_cloexec: bool) -> Result<Option<H>, Errno> {
        let description = self.fd(old)?.description;
        // `new` may be closed already: nothing to release then.
        let closed = self.close(new).unwrap_or_default();
        self.set(
            new,
            Fd {
                description,
                is_cloexec,
            },
        )?;
        if let Some(Some(d)) = self.descriptions.get_mut(description) {
            d.refs = d.refs.saturating_add(1);
        }
        Ok(closed)
    }

    /// `dup` and `fcntl(F_DUPFD[_CLOEXEC], min)`: the lowest free
    /// descriptor at or above `min` shares `fd`'s description.
    ///
    /// # Errors
    /// `EBADF`; `EINVAL` if `min` is at or above the limit; `EMFILE`.
    pub fn dup(&mut self, fd: u32, min: u32, is_cloexec: bool) -> Result<u32, Errno> {
        self.fd(fd)?;
        if min >= self.limit {
            return Err(Errno::EINVAL);
        }
        let new = self.lowest_free(min)?;
        self.share(fd, new, is_cloexec)?;
        Ok(new)
    }

    /// `dup2(old, new)`: `new` (closed first, silently) shares `old`'s
    /// description; `old == new` only checks `old`. Returns `new` and the
    /// native object to close if closing `new` released one.
    ///
    /// # Errors
    /// `EBADF` if `old` is not open or `new` is at or above the limit.
    pub fn dup2(&mut self, old: u32, new: u32) -> Result<(u32, Option<H>), Errno> {
        self.fd(old)?;
        if new >= self.limit {
            return Err(Errno::EBADF);
        }
        if old == new {
            return Ok((new, None));
        }
        Ok((new, self.share(old, new, false)?))
    }

    /// `dup3(old, new, flags)`: as `dup2`, but `old == new` is `EINVAL`
    /// and `flags` may only be `O_CLOEXEC`.
    ///
    /// # Errors
    /// `EINVAL`; `EBADF` as for `dup2`.
    pub fn dup3(&mut self, old: u32, new: u32, flags: u32) -> Result<(u32, Option<H>), Errno> {
        if flags & !status::O_CLOEXEC != 0 || old == new {
            return Err(Errno::EINVAL);
        }
        self.fd(old)?;
        if new >= self.limit {
            return Err(Errno::EBADF);
        }
        let closed = self.share(old, new, flags & status::O_CLOEXEC != 0)?;
        Ok((new, closed))
    }

    /// `execve`: closes every close-on-exec descriptor; the native objects
    /// released.
    pub fn exec(&mut self) -> Vec<H> {
        let doomed: Vec<u32> = self
            .open_fds()
            .filter(|&fd| self.fd(fd).is_ok_and(|entry| entry.is_cloexec))
            .collect();
        doomed
            .into_iter()
            .filter_map(|fd| self.close(fd).ok().flatten())
            .collect()
    }

    /// Closes everything (process exit); the native objects released.
    pub fn close_all(&mut self) -> Vec<H> {
        let all: Vec<u32> = self.open_fds().collect();
        all.into_iter()
            .filter_map(|fd| self.close(fd).ok().flatten())
            .collect()
    }

    /// The open descriptors, ascending.
    pub fn open_fds(&self) -> impl Iterator<Item = u32> + '_ {
        self.fds
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.is_some())
            .filter_map(|(at, _)| u32::try_from(at).ok())
    }

    /// The same table with every description's object passed through
    /// `translate` once (`fork`: the child's handles for the parent's), so
    /// descriptors that share a description in `self` share one in the
    /// copy, with the same status and close-on-exec flags.
    ///
    /// # Errors
    /// The first error of `translate` (the objects translated before it
    /// are the caller's to release: they are returned in none of the
    /// tables).
    pub fn map_objects<K: Copy, E>(
        &self,
        mut translate: impl FnMut(H) -> Result<K, E>,
    ) -> Result<FdTable<K>, E> {
        let mut descriptions = Vec::new();
        for description in &self.descriptions {
            descriptions.push(match description {
                Some(d) => Some(Description {
                    object: translate(d.object)?,
                    status: d.status,
                    refs: d.refs,
                }),
                None => None,
            });
        }
        Ok(FdTable {
            fds: self.fds.clone(),
            descriptions,
            limit: self.limit,
        })
    }

    /// The native objects of the open descriptions, each once.
    pub fn objects(&self) -> impl Iterator<Item = H> + '_ {
        self.descriptions.iter().flatten().map(|d| d.object)
    }

    /// True if `a` and `b` are open and share one description.
    #[must_use]
    pub fn same_description(&self, a: u32, b: u32) -> bool {
        matches!((self.fd(a), self.fd(b)), (Ok(x), Ok(y)) if x.description == y.description)
    }
}
