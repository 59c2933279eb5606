//! One open SIO: what it names, how it was opened, its position, who uses it.
//!
//! Owns [`Sio`] and [`Target`], opening (the generic `create` on an SIO)
//! and closing (`terminate`). The position lives in a cell of its own
//! ([`PositionCell`]: from a static pool, else the heap) that never moves
//! while the SIO is open, so synthesized routines can bake the cell's
//! address in and share it with the generic path. Reads and
//! writes are in `io.rs`, seek and mode changes in `reconfigure.rs`.

use crate::fs_error;
use crate::position_cell::PositionCell;
use crate::{POutcome, PipeEnd, PortEnd, Semaphore};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{OpenFlags, SioInfo, SioKind, SysError};
use sk_fs::{CreateMode, Cut, FileSystem, FsError, NodeKind, OpenNode};

/// What an SIO reads and writes.
#[derive(Debug)]
pub enum Target {
    /// `/dev/null`.
    Null,
    /// `/dev/zero`.
    Zero,
    /// `/dev/mem`, the kernel's window.
    Mem,
    /// `/dev/tty`, the console.
    Tty,
    /// A RAM file.
    File(OpenNode),
    /// A directory (open for `query`; reading it is an error).
    Dir(OpenNode),
    /// `/dev/semaphore`: a counting semaphore, new at each open (`read` is
    /// P, `write` is V: [`Sio::semaphore_p`], [`Sio::semaphore_v`]).
    Semaphore(Semaphore),
    /// One end of a pipe (`/dev/pipe` opens both: [`Sio::open_pipe`]).
    Pipe(PipeEnd),
    /// One end of a port (`/dev/port` opens both: [`Sio::open_port`]).
    Port(PortEnd),
    /// A view of another SIO (a window, read-only or not): its reads and
    /// writes are the kernel's walk (`views.rs`), never this SIO's own.
    View(crate::View),
}

/// An open SIO. `R` is the kernel's synthesized-routine state for it.
#[derive(Debug)]
pub struct Sio<R> {
    serial: u64,
    target: Target,
    flags: OpenFlags,
    position: PositionCell,
    opener: Option<u64>,
    is_shared: bool,
    /// The routines synthesized for this SIO, if any (owned here:
    /// `owner-holds-code`; the kernel retires them when it closes the SIO).
    pub routines: Option<R>,
    /// A semaphore's routines in the tables of the other SCPUs of its
    /// SMACH (thread id, routines); empty for every other SIO. The kernel
    /// takes and retires them before [`close`](Self::close).
    pub sharers: Vec<(u64, R)>,
}

/// Serial numbers of opens: never reused while the kernel runs.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

impl<R> Sio<R> {
    /// One bounded step of what an open of `path` with `flags` must do
    /// before it can open in one stretch: a file opened with `TRUNCATE`
    /// is cut [`sk_fs::GROWTH_STEP_BYTES`] at a time
    /// ([`FileSystem::cut_toward`]) until [`open`](Self::open)'s truncate
    /// zeroes at most one step. The caller runs steps, with a preemption
    /// point between them, until this returns [`Cut::Near`], then opens
    /// in the same stretch as the last step. Anything else (a device, a
    /// missing file, a directory, no `TRUNCATE`) is [`Cut::Near`] at once:
    /// `open` reports its errors.
    ///
    /// # Errors
    /// [`SysError::NoMemory`] if the cut cannot record its event.
    pub fn cut_before_open(
        fs: &mut FileSystem,
        path: &str,
        flags: OpenFlags,
    ) -> Result<Cut, SysError> {
        if !flags.contains(OpenFlags::TRUNCATE) || is_device(path) {
            return Ok(Cut::Near);
        }
        match fs.lookup(path) {
            Ok(node) => match fs.cut_toward(node, 0) {
                Err(FsError::IsDir) => Ok(Cut::Near),
                other => other.map_err(fs_error),
            },
            Err(_) => Ok(Cut::Near),
        }
    }

    /// Opens `path` with `flags`: a device by its `/dev` name, else a file
    /// or directory of `fs`.
    ///
    /// # Errors
    /// As the file system reports them, [`SysError::NotPermitted`] for
    /// `/dev/mem` opened for writing, [`SysError::IsDir`] for a directory
    /// opened for writing, [`SysError::NoMemory`].
    pub fn open(fs: &mut FileSystem, path: &str, flags: OpenFlags) -> Result<Self, SysError> {
        let position = PositionCell::new()?;
        let target = match path {
            "/dev/null" => Target::Null,
            "/dev/zero" => Target::Zero,
            "/dev/mem" if flags.contains(OpenFlags::WRITE) => return Err(SysError::NotPermitted),
            "/dev/mem" => Target::Mem,
            "/dev/tty" => Target::Tty,
            SEMAPHORE_PATH => Target::Semaphore(Semaphore::new()?),
            // Two ends, two handles: the kernel's pipe open
            // ([`Sio::open_pipe`]), never one SIO.
            sk_abi::PIPE_PATH | sk_abi::PORT_PATH | sk_abi::AUDIO_PATH => {
                return Err(SysError::NotSupported)
            }
            _ => open_node(fs, path, flags)?,
        };
        Ok(Self::with_target(target, flags, position))
    }

    /// A new open of `target` with `flags` and its position cell.
    pub(crate) fn with_target(target: Target, flags: OpenFlags, position: PositionCell) -> Self {
        Self {
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            target,
            flags,
            position,
            opener: None,
            is_shared: false,
            routines: None,
            sharers: Vec::new(),
        }
    }

    /// One end of a new pipe or port.
    fn end(target: Target, flags: OpenFlags) -> Result<Self, SysError> {
        Ok(Self::with_target(target, flags, PositionCell::new()?))
    }

    /// A new pipe numbered `pipe` (the caller's count of pipes; the key of
    /// its waiters): its read end (open for reading) and its write end
    /// (open for writing).
    ///
    /// # Errors
    /// [`SysError::NoMemory`].
    pub fn open_pipe(pipe: u64) -> Result<(Self, Self), SysError> {
        let (read_end, write_end) = crate::pipe::new_pipe(pipe)?;
        Ok((
            Self::end(Target::Pipe(read_end), OpenFlags::READ)?,
            Self::end(Target::Pipe(write_end), OpenFlags::WRITE)?,
        ))
    }

    /// An SIO for the write end of a pipe whose read end the kernel keeps
    /// (a device's feed, such as `/dev/audio`), open for writing. Like
    /// any pipe end it belongs to its first user.
    ///
    /// # Errors
    /// [`SysError::WrongKind`] for a read end; [`SysError::NoMemory`].
    pub fn pipe_write_end(end: PipeEnd) -> Result<Self, SysError> {
        if end.is_read_end() {
            return Err(SysError::WrongKind);
        }
        Self::end(Target::Pipe(end), OpenFlags::WRITE)
    }

    /// A new port numbered `port` (the key of its waiters): its receive
    /// end (open for reading) and its send end (open for writing).
    ///
    /// # Errors
    /// [`SysError::NoMemory`].
    pub fn open_port(port: u64) -> Result<(Self, Self), SysError> {
        let (receive_end, send_end) = crate::port::new_port(port)?;
        Ok((
            Self::end(Target::Port(receive_end), OpenFlags::READ)?,
            Self::end(Target::Port(send_end), OpenFlags::WRITE)?,
        ))
    }

    /// The port end, if this SIO is one.
    pub fn port_end(&self) -> Option<&PortEnd> {
        match &self.target {
            Target::Port(end) => Some(end),
            _ => None,
        }
    }

    /// The port end, if this SIO is one, for a transfer.
    pub fn port_end_mut(&mut self) -> Option<&mut PortEnd> {
        match &mut self.target {
            Target::Port(end) => Some(end),
            _ => None,
        }
    }

    /// Closes a port end; returns the port's number and whom to wake
    /// (`None` for any other SIO).
    pub fn close_port_end(&mut self) -> Option<(u64, sk_queue::Wake)> {
        let Target::Port(_) = &self.target else {
            return None;
        };
        match core::mem::replace(&mut self.target, Target::Null) {
            Target::Port(end) => Some((end.port(), end.close())),
            _ => None,
        }
    }

    /// The pipe end, if this SIO is one.
    pub fn pipe_end(&self) -> Option<&PipeEnd> {
        match &self.target {
            Target::Pipe(end) => Some(end),
            _ => None,
        }
    }

    /// The pipe end, if this SIO is one, for a transfer.
    pub fn pipe_end_mut(&mut self) -> Option<&mut PipeEnd> {
        match &mut self.target {
            Target::Pipe(end) => Some(end),
            _ => None,
        }
    }

    /// Closes a pipe end; returns the pipe's number and whom to wake
    /// (`None` for any other SIO, which [`close`](Self::close) closes).
    pub fn close_pipe_end(&mut self) -> Option<(u64, sk_queue::Wake)> {
        let Target::Pipe(_) = &self.target else {
            return None;
        };
        match core::mem::replace(&mut self.target, Target::Null) {
            Target::Pipe(end) => Some((end.pipe(), end.close())),
            _ => None,
        }
    }

    /// Closes the SIO (the generic `terminate`): the file system drops its
    /// open reference. Returns the routine state for the kernel to retire.
    /// A pipe or port end must have been closed with
    /// [`close_pipe_end`](Self::close_pipe_end) or
    /// [`close_port_end`](Self::close_port_end) first (its wake is the
    /// kernel's); here it is just dropped.
    pub fn close(mut self, fs: &mut FileSystem) -> Option<R> {
        self.close_in_place(fs);
        self.routines
    }

    /// [`close`](Self::close) where the record lies (it is a few hundred
    /// bytes with its routine state: moving it costs more than closing
    /// it): the file system drops its open reference and the target
    /// becomes [`Target::Null`]. The routine state stays in
    /// [`routines`](Self::routines) (the kernel retires it first); the
    /// owner drops the record next (it is no open SIO any more).
    pub fn close_in_place(&mut self, fs: &mut FileSystem) {
        if let Target::File(open) | Target::Dir(open) =
            core::mem::replace(&mut self.target, Target::Null)
        {
            if let Err(e) = fs.close(open) {
                log::error!("closing an SIO: {e}");
            }
        }
    }

    /// This open's serial number, unique while the kernel runs: a handle
    /// number is reused by the next open, a serial never is. A call that
    /// looks its SIO up more than once (a long transfer, piece by piece)
    /// checks it still has the same one.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// What it names.
    pub fn target(&self) -> &Target {
        &self.target
    }

    pub(crate) fn target_mut(&mut self) -> &mut Target {
        &mut self.target
    }

    /// How it was opened.
    pub fn flags(&self) -> OpenFlags {
        self.flags
    }

    /// The position cell (its address is baked into synthesized routines).
    pub fn position_cell(&self) -> &AtomicU64 {
        self.position.cell()
    }

    /// The current position.
    pub fn position(&self) -> u64 {
        self.position_cell().load(Ordering::Relaxed)
    }

    pub(crate) fn set_position(&self, position: u64) {
        self.position_cell().store(position, Ordering::Relaxed);
    }

    /// The thread that owns it (whose routine table gets its routines):
    /// the opener, or for an SIO opened without one, its first user
    /// ([`note_caller`](Self::note_caller)); `None` until then.
    pub fn opener(&self) -> Option<u64> {
        self.opener
    }

    /// Records the thread that opened it.
    pub fn set_opener(&mut self, thread: u64) {
        self.opener = Some(thread);
    }

    /// True once a thread other than the opener used it: from then on its
    /// position is shared between threads and it stays on the generic path.
    pub fn is_shared(&self) -> bool {
        self.is_shared
    }

    /// Notes that `thread` uses the SIO; returns true if that changed a
    /// fact synthesized routines depend on: it made the SIO shared (a
    /// thread other than the owner), or, for an SIO opened without an
    /// owner (a pipe end: both ends are made by one thread, and one of
    /// them is usually for another), it made `thread` the owner (its first
    /// user), whose table then gets the routines.
    pub fn note_caller(&mut self, thread: u64) -> bool {
        if self.is_shared {
            return false;
        }
        match self.opener {
            None => {
                self.opener = Some(thread);
                true
            }
            Some(owner) if owner != thread => {
                self.is_shared = true;
                true
            }
            Some(_) => false,
        }
    }

    /// Notes that another SMACH holds it (a share): its position and
    /// object are no longer one thread's, as after [`note_caller`](Self::note_caller).
    /// Returns true if that made it shared.
    pub fn mark_shared(&mut self) -> bool {
        let newly = !self.is_shared;
        self.is_shared = true;
        newly
    }

    /// The node of a file or directory.
    pub fn node(&self) -> Option<sk_fs::NodeId> {
        match &self.target {
            Target::File(open) | Target::Dir(open) => Some(open.node()),
            _ => None,
        }
    }

    /// Its kind as `query` reports it.
    pub fn kind(&self) -> SioKind {
        match &self.target {
            Target::Null => SioKind::Null,
            Target::Zero => SioKind::Zero,
            Target::Mem => SioKind::Mem,
            Target::Tty => SioKind::Tty,
            Target::File(_) => SioKind::File,
            Target::Dir(_) => SioKind::Dir,
            Target::Semaphore(_) => SioKind::Semaphore,
            Target::Pipe(end) if end.is_read_end() => SioKind::PipeRead,
            Target::Pipe(_) => SioKind::PipeWrite,
            Target::Port(end) if end.is_receive_end() => SioKind::PortReceive,
            Target::Port(_) => SioKind::PortSend,
            Target::View(view) => view.base_kind(),
        }
    }

    /// The semaphore, if this SIO is one.
    pub fn semaphore(&self) -> Option<&Semaphore> {
        match &self.target {
            Target::Semaphore(s) => Some(s),
            _ => None,
        }
    }

    /// The semaphore, if this SIO is one, for a change.
    pub fn semaphore_mut(&mut self) -> Option<&mut Semaphore> {
        match &mut self.target {
            Target::Semaphore(s) => Some(s),
            _ => None,
        }
    }

    /// The generic P (`read` on a semaphore) by `thread`.
    ///
    /// # Errors
    /// [`SysError::WrongKind`] if this SIO is no semaphore;
    /// [`SysError::NotPermitted`] if not opened for reading;
    /// [`SysError::NoMemory`].
    pub fn semaphore_p(&mut self, thread: u64) -> Result<POutcome, SysError> {
        if !self.flags.contains(OpenFlags::READ) {
            return Err(SysError::NotPermitted);
        }
        self.semaphore_mut().ok_or(SysError::WrongKind)?.p(thread)
    }

    /// The generic V (`write` on a semaphore); returns the thread to wake.
    ///
    /// # Errors
    /// [`SysError::WrongKind`] if this SIO is no semaphore;
    /// [`SysError::NotPermitted`] if not opened for writing;
    /// [`SysError::BadValue`] if the count is already `u32::MAX`.
    pub fn semaphore_v(&mut self) -> Result<Option<u64>, SysError> {
        if !self.flags.contains(OpenFlags::WRITE) {
            return Err(SysError::NotPermitted);
        }
        self.semaphore_mut().ok_or(SysError::WrongKind)?.v()
    }

    /// Size as `query` and `seek(End)` see it.
    pub(crate) fn size(&self, fs: &FileSystem) -> u64 {
        match &self.target {
            Target::Mem => crate::DEV_MEM_BYTES,
            // What `query` reports as a semaphore's size: its count.
            Target::Semaphore(s) => u64::from(s.count()),
            // A pipe's size: the bytes in it now.
            Target::Pipe(end) => end.len() as u64,
            // A port's size: the bytes of the messages in it now.
            Target::Port(end) => {
                (end.len() as u64).saturating_mul(crate::PORT_MESSAGE_BYTES as u64)
            }
            Target::File(open) | Target::Dir(open) => {
                fs.stat(open.node()).map_or(0, |s| s.size_bytes)
            }
            // A view's size: its window's length.
            Target::View(view) => view.length(),
            _ => 0,
        }
    }

    /// What `query` reports.
    pub fn info(&self, fs: &FileSystem) -> SioInfo {
        SioInfo {
            kind: self.kind().number(),
            flags: self.flags.bits(),
            size: self.size(fs),
            position: self.position(),
        }
    }
}

/// Whether `path` names a device rather than the file system.
fn is_device(path: &str) -> bool {
    matches!(
        path,
        "/dev/null"
            | "/dev/zero"
            | "/dev/mem"
            | "/dev/tty"
            | SEMAPHORE_PATH
            | sk_abi::PIPE_PATH
            | sk_abi::PORT_PATH
            | sk_abi::AUDIO_PATH
    )
}

/// The path whose every open makes a new semaphore.
pub const SEMAPHORE_PATH: &str = "/dev/semaphore";

/// Whether `path` names a kernel object that every open makes fresh and
/// private (a semaphore, a pipe, a port) or a stateless device
/// (`/dev/null`, `/dev/zero`): a SMACH with its own root directory still
/// opens these by name. Every other path it names, the shared devices
/// (`/dev/tty`, `/dev/mem`, `/dev/audio`) included, is confined to its
/// root (`sk_fs::confine`): it gets those only by a share.
pub fn is_private_object_path(path: &str) -> bool {
    matches!(
        path,
        "/dev/null" | "/dev/zero" | SEMAPHORE_PATH | sk_abi::PIPE_PATH | sk_abi::PORT_PATH
    )
}

fn open_node(fs: &mut FileSystem, path: &str, flags: OpenFlags) -> Result<Target, SysError> {
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
