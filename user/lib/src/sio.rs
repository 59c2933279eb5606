//! SIO handles: files, directories, devices and the console.
//!
//! Owns [`Sio`]: open by path, then the five executive calls (`read`,
//! `write`, `reconfigure` as [`Sio::seek`] and [`Sio::set_tty_mode`],
//! `query`, `terminate` as [`Sio::close`]). Each call goes straight to the
//! routines the kernel synthesized for this SIO.

use core::fmt;

use sk_abi::{
    Handle, Kind, OpenFlags, QuerySelector, SioCreateArgs, SioInfo, SioReconfigure, SysError,
    TtyMode, Whence,
};

use crate::call::{self, register};

/// An open SIO. Closing is explicit ([`Sio::close`]): dropping a `Sio`
/// leaves the handle open until the SMACH exits.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Sio {
    handle: Handle,
}

impl Sio {
    /// Opens `path` (absolute, e.g. `/tmp/notes`, `/dev/null`).
    ///
    /// # Errors
    /// As for `create(Kind::Sio)`: [`SysError::NotFound`],
    /// [`SysError::Exists`], [`SysError::IsDir`], [`SysError::BadFlags`],
    /// [`SysError::BadPath`], [`SysError::TooManyHandles`], …
    pub fn open(path: &str, flags: OpenFlags) -> Result<Self, SysError> {
        let args = SioCreateArgs {
            path_ptr: register(path.as_ptr() as usize),
            path_len: register(path.len()),
            flags: flags.bits(),
            _pad: 0,
        };
        let handle = call::create(Kind::Sio, &args.to_bytes())?;
        Ok(Self { handle })
    }

    /// The console (handle 1), open in every SMACH.
    #[must_use]
    pub const fn console() -> Self {
        Self {
            handle: Handle::CONSOLE,
        }
    }

    /// Wraps a handle known to name an SIO (one passed by a parent, say).
    /// A wrong kind is not unsafe: calls then fail with
    /// [`SysError::WrongKind`] or [`SysError::BadCall`].
    #[must_use]
    pub const fn from_handle(handle: Handle) -> Self {
        Self { handle }
    }

    /// The handle.
    #[must_use]
    pub const fn handle(&self) -> Handle {
        self.handle
    }

    /// Reads into `buf`; returns the bytes read, 0 at end of file.
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] if not opened for reading,
    /// [`SysError::IsDir`], [`SysError::WouldBlock`], …
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, SysError> {
        call::read(self.handle, buf)
    }

    /// Writes from `buf`; returns the bytes written (possibly fewer).
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] if not opened for writing,
    /// [`SysError::FileTooLarge`], [`SysError::NoSpace`], …
    pub fn write(&self, buf: &[u8]) -> Result<usize, SysError> {
        call::write(self.handle, buf)
    }

    /// Writes all of `buf`, calling `write` until done.
    ///
    /// # Errors
    /// As for [`Sio::write`]; [`SysError::WouldBlock`] if a write accepts
    /// no bytes.
    pub fn write_all(&self, mut buf: &[u8]) -> Result<(), SysError> {
        while !buf.is_empty() {
            let written = self.write(buf)?;
            buf = buf
                .get(written..)
                .filter(|_| written != 0)
                .ok_or(SysError::WouldBlock)?;
        }
        Ok(())
    }

    /// Moves the position; returns the new position.
    ///
    /// # Errors
    /// [`SysError::BadOffset`] if it would be negative or overflow;
    /// [`SysError::NotSupported`] on a device without positions.
    pub fn seek(&self, whence: Whence, offset: i64) -> Result<u64, SysError> {
        self.reconfigure(SioReconfigure::Seek { whence, offset })
    }

    /// Sets the console's line discipline.
    ///
    /// # Errors
    /// [`SysError::WrongKind`] if this SIO is not the console.
    pub fn set_tty_mode(&self, mode: TtyMode) -> Result<(), SysError> {
        self.reconfigure(SioReconfigure::TtyMode(mode)).map(drop)
    }

    /// Any reconfigure request; returns the call's value.
    ///
    /// # Errors
    /// As for the request.
    pub fn reconfigure(&self, request: SioReconfigure) -> Result<u64, SysError> {
        call::reconfigure(self.handle, request.to_registers())
    }

    /// The SIO's kind, size, position and flags.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn query(&self) -> Result<SioInfo, SysError> {
        let mut bytes = [0_u8; SioInfo::SIZE];
        call::query(self.handle, QuerySelector::Info, &mut bytes)?;
        SioInfo::from_bytes(&bytes)
    }

    /// Closes the SIO (its handle may be reused by a later `create`).
    ///
    /// # Errors
    /// [`SysError::BadHandle`] if already closed.
    pub fn close(self) -> Result<(), SysError> {
        call::terminate(self.handle, 0).map(drop)
    }
}

impl fmt::Write for Sio {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.write_all(text.as_bytes()).map_err(|_| fmt::Error)
    }
}
