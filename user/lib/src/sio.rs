//! SIO handles: files, directories, devices and the console.
//!
//! Owns [`Sio`]: open by path, then the five executive calls (`read`,
//! `write`, `reconfigure` as [`Sio::seek`] and [`Sio::set_tty_mode`],
//! `query` (also [`Sio::routines`]), `terminate` as [`Sio::close`]). Each
//! call goes straight to the routines the kernel synthesized for this SIO,
//! unless the `Sio` was made with [`Sio::generic`] or
//! [`Sio::open_generic`] (or [`set_generic_mode`](crate::set_generic_mode)
//! is on): then every call takes the generic path.

use core::fmt;

use sk_abi::{
    Call, Handle, Kind, OpenFlags, QuerySelector, SioCreateArgs, SioInfo, SioReconfigure, SysError,
    TtyMode, Whence,
};

use crate::call::{self, register, Callee};
use crate::route::Route;

/// An open SIO. Closing is explicit ([`Sio::close`]): dropping a `Sio`
/// leaves the handle open until the SMACH exits.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Sio {
    handle: Handle,
    route: Route,
    /// `(handle << 3) | route bits`, computed once: a call ORs in its op,
    /// so the hot path loads one word instead of rebuilding it.
    base_word: u64,
}

impl Sio {
    /// Opens `path` (absolute, e.g. `/tmp/notes`, `/dev/null`).
    ///
    /// # Errors
    /// As for `create(Kind::Sio)`: [`SysError::NotFound`],
    /// [`SysError::Exists`], [`SysError::IsDir`], [`SysError::BadFlags`],
    /// [`SysError::BadPath`], [`SysError::TooManyHandles`], …
    pub fn open(path: &str, flags: OpenFlags) -> Result<Self, SysError> {
        Self::open_by(path, flags, Route::Table)
    }

    /// As [`Sio::open`], but the `create` and every later call on the
    /// returned `Sio` take the kernel's generic path
    /// ([`CallWord::FORCE_GENERIC`](sk_abi::CallWord::FORCE_GENERIC)), even
    /// where a synthesized routine exists: the twin a differential test
    /// compares the synthesized path against.
    ///
    /// # Errors
    /// As for [`Sio::open`].
    pub fn open_generic(path: &str, flags: OpenFlags) -> Result<Self, SysError> {
        Self::open_by(path, flags, Route::Generic)
    }

    fn open_by(path: &str, flags: OpenFlags, route: Route) -> Result<Self, SysError> {
        let args = SioCreateArgs {
            path_ptr: register(path.as_ptr() as usize),
            path_len: register(path.len()),
            flags: flags.bits(),
            _pad: 0,
        };
        let handle = call::create(Kind::Sio, &args.to_bytes(), route)?;
        Ok(Self::with_route(handle, route))
    }

    /// A new pipe: its read end and its write end (`/dev/pipe`). A read
    /// returns what the pipe holds (blocking while it is empty and the
    /// write end is open; 0 once the write end is closed and the pipe
    /// drained); a write of at most 4096 bytes goes in whole, a longer one
    /// in pieces (blocking while the pipe is full); a write after the read
    /// end closed fails with [`SysError::BrokenPipe`].
    ///
    /// # Errors
    /// [`SysError::NoMemory`], [`SysError::TooManyHandles`], …
    pub fn pipe() -> Result<(Self, Self), SysError> {
        Self::pipe_by(Route::Table)
    }

    /// As [`Sio::pipe`], on the generic path.
    ///
    /// # Errors
    /// As for [`Sio::pipe`].
    pub fn pipe_generic() -> Result<(Self, Self), SysError> {
        Self::pipe_by(Route::Generic)
    }

    fn pipe_by(route: Route) -> Result<(Self, Self), SysError> {
        let path = sk_abi::PIPE_PATH;
        let args = SioCreateArgs {
            path_ptr: register(path.as_ptr() as usize),
            path_len: register(path.len()),
            flags: (OpenFlags::READ | OpenFlags::WRITE).bits(),
            _pad: 0,
        };
        let ends = call::create_pipe(&args.to_bytes(), route)?;
        Ok((
            Self::with_route(ends.read, route),
            Self::with_route(ends.write, route),
        ))
    }

    /// A new port: its receive end and its send end (`/dev/port`, see
    /// [`sk_abi::port`]). Every `read` and `write` on a port end moves one
    /// message of [`PORT_MESSAGE_BYTES`](sk_abi::PORT_MESSAGE_BYTES): a
    /// receive blocks while the queue is empty and the send end is open
    /// (0 once it is closed and the queue drained); a send blocks while
    /// the queue is full and fails with [`SysError::BrokenPipe`] once the
    /// receive end is closed; another length is [`SysError::MessageSize`].
    ///
    /// # Errors
    /// [`SysError::NoMemory`], [`SysError::TooManyHandles`], …
    pub fn port() -> Result<(Self, Self), SysError> {
        Self::port_by(Route::Table)
    }

    /// As [`Sio::port`], on the generic path.
    ///
    /// # Errors
    /// As for [`Sio::port`].
    pub fn port_generic() -> Result<(Self, Self), SysError> {
        Self::port_by(Route::Generic)
    }

    fn port_by(route: Route) -> Result<(Self, Self), SysError> {
        let path = sk_abi::PORT_PATH;
        let args = SioCreateArgs {
            path_ptr: register(path.as_ptr() as usize),
            path_len: register(path.len()),
            flags: (OpenFlags::READ | OpenFlags::WRITE).bits(),
            _pad: 0,
        };
        // Two handles in one `rax`, laid out as a pipe's.
        let ends = call::create_pipe(&args.to_bytes(), route)?;
        let ends = sk_abi::PortHandles::from_return(ends.to_return());
        Ok((
            Self::with_route(ends.receive, route),
            Self::with_route(ends.send, route),
        ))
    }

    /// The console (handle 1), open in every SMACH.
    #[must_use]
    pub const fn console() -> Self {
        Self::from_handle(Handle::CONSOLE)
    }

    /// Wraps a handle known to name an SIO (one passed by a parent, say).
    /// A wrong kind is not unsafe: calls then fail with
    /// [`SysError::WrongKind`] or [`SysError::BadCall`].
    #[must_use]
    pub const fn from_handle(handle: Handle) -> Self {
        Self::with_route(handle, Route::Table)
    }

    const fn with_route(handle: Handle, route: Route) -> Self {
        Self {
            handle,
            route,
            base_word: ((handle.index() as u64) << Call::BITS) | route.bits(),
        }
    }

    /// The same SIO, with every later call on the returned `Sio` taking
    /// the kernel's generic path (see [`Sio::open_generic`]). For one
    /// generic call on a handle, `Sio::from_handle(handle).generic()`.
    #[must_use]
    pub const fn generic(self) -> Self {
        Self::with_route(self.handle, Route::Generic)
    }

    /// Whether calls on this `Sio` are forced down the generic path
    /// ([`Sio::generic`], [`Sio::open_generic`]; the process-wide
    /// [`set_generic_mode`](crate::set_generic_mode) is separate).
    #[must_use]
    pub const fn is_generic(&self) -> bool {
        matches!(self.route, Route::Generic)
    }

    /// The handle.
    #[must_use]
    pub const fn handle(&self) -> Handle {
        self.handle
    }

    /// Where this `Sio`'s calls go.
    #[inline]
    fn callee(&self) -> Callee {
        Callee {
            handle: self.handle,
            route: self.route,
        }
    }

    /// Reads into `buf`; returns the bytes read, 0 at end of file.
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] if not opened for reading,
    /// [`SysError::IsDir`], [`SysError::WouldBlock`], …
    #[inline]
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, SysError> {
        call::read_word(self.base_word | u64::from(Call::Read.number()), buf)
    }

    /// Writes from `buf`; returns the bytes written (possibly fewer).
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] if not opened for writing,
    /// [`SysError::FileTooLarge`], [`SysError::NoSpace`], …
    #[inline]
    pub fn write(&self, buf: &[u8]) -> Result<usize, SysError> {
        call::write_word(self.base_word | u64::from(Call::Write.number()), buf)
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

    /// A new counting semaphore (count 0), open for P and V: `/dev/semaphore`.
    ///
    /// # Errors
    /// [`SysError::NoMemory`], [`SysError::TooManyHandles`], …
    pub fn semaphore() -> Result<Self, SysError> {
        Self::open("/dev/semaphore", OpenFlags::READ | OpenFlags::WRITE)
    }

    /// P on a semaphore (`read`): takes a unit, blocking while the count is 0.
    ///
    /// # Errors
    /// [`SysError::BadHandle`] if the semaphore is (or gets) closed;
    /// [`SysError::NotPermitted`] if not opened for reading, …
    #[inline]
    pub fn p(&self) -> Result<(), SysError> {
        self.read(&mut []).map(drop)
    }

    /// V on a semaphore (`write`): gives a unit (to the first waiter, if any).
    ///
    /// # Errors
    /// [`SysError::BadValue`] if the count is already `u32::MAX`;
    /// [`SysError::NotPermitted`] if not opened for writing, …
    #[inline]
    pub fn v(&self) -> Result<(), SysError> {
        self.write(&[]).map(drop)
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

    /// Shares this SIO (the caller must have opened it) with the SMACH
    /// `smach` (a child, say) with `rights` (`READ` and/or `WRITE`, a
    /// subset of how it was opened); returns the handle the receiver got.
    /// The receiver uses it as `Sio::from_handle(handle)`; a child made
    /// with [`Smach::spawn_suspended`](crate::Smach::spawn_suspended) gets
    /// handles 2, 3, … for its first shares, before it runs.
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] (a shared handle, rights the open lacks,
    /// sharing with oneself), [`SysError::BadFlags`] (other rights),
    /// [`SysError::BadHandle`], [`SysError::WrongKind`] (`smach` is no
    /// SMACH), [`SysError::TooManyHandles`], …
    pub fn share(&self, smach: &crate::Smach, rights: OpenFlags) -> Result<Handle, SysError> {
        let handle = self.reconfigure(SioReconfigure::Share {
            smach: smach.handle(),
            rights,
        })?;
        Ok(Handle::new(
            u32::try_from(handle).map_err(|_| SysError::BadValue)?,
        ))
    }

    /// Revokes every share of this SIO (the caller must have opened it):
    /// from when this returns, every holder's call on it fails with
    /// [`SysError::Revoked`]. Returns how many holders' handles it revoked.
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] on a handle held by a share, …
    pub fn revoke(&self) -> Result<u64, SysError> {
        self.reconfigure(SioReconfigure::Revoke)
    }

    /// On a port's send end: sends one message carrying `passed` (an SIO
    /// this SMACH opened) with `rights` (see [`sk_abi::port`]).
    ///
    /// # Errors
    /// `WouldBlock` if the queue is full; `NotPermitted`, `BadFlags`,
    /// `BadHandle`, `WrongKind`, `BrokenPipe` as the kernel answers.
    pub fn send_handle(&self, passed: &Sio, rights: OpenFlags) -> Result<(), SysError> {
        self.reconfigure(SioReconfigure::PortSendHandle {
            handle: passed.handle(),
            rights,
        })
        .map(drop)
    }

    /// On a port's receive end: takes the handle whose token a received
    /// message carried ([`sk_abi::PortHandleMessage`]).
    ///
    /// # Errors
    /// `NotFound` for a token this port does not hold; `BadHandle` if the
    /// sender closed it since; as for a share.
    pub fn take_handle(&self, token: u64) -> Result<Sio, SysError> {
        let handle = self.reconfigure(SioReconfigure::PortTakeHandle { token })?;
        Ok(Sio::from_handle(Handle::new(
            u32::try_from(handle).map_err(|_| SysError::BadValue)?,
        )))
    }

    /// On a pipe's write end: the console becomes the pipe's reader
    /// (`program | tty`, see [`SioReconfigure::PipeToConsole`]).
    ///
    /// # Errors
    /// `WrongKind` on anything but a pipe's write end; `NotPermitted` from
    /// a holder.
    pub fn pipe_to_console(&self) -> Result<(), SysError> {
        self.reconfigure(SioReconfigure::PipeToConsole).map(drop)
    }

    /// A new view of this SIO (a RAM file, `/dev/mem`, or a view): a
    /// window of `length` bytes from `offset`, with this handle's rights
    /// (without `WRITE` if `read_only`), at a position of its own; calls
    /// on it take the same route as this `Sio`'s. See
    /// [`SioReconfigure::View`].
    ///
    /// # Errors
    /// `BadOffset` if `offset + length` overflows, `WrongKind` for a kind
    /// no view is made of, `BadValue` past the depth limit, `Revoked`, …
    pub fn view(&self, offset: u64, length: u64, read_only: bool) -> Result<Sio, SysError> {
        let handle = self.reconfigure(SioReconfigure::View {
            offset,
            length,
            read_only,
        })?;
        Ok(Self::with_route(
            Handle::new(u32::try_from(handle).map_err(|_| SysError::BadValue)?),
            self.route,
        ))
    }

    /// A new prefix view of this tty (or prefix view): every line written
    /// through it starts with `prefix` (1 to 32 bytes, no `\n`). See
    /// [`SioReconfigure::PrefixView`].
    ///
    /// # Errors
    /// `BadValue` for a bad length or a `\n`, `BadAddress`, `WrongKind`
    /// on another kind, `NotPermitted` without `WRITE`, `Revoked`, …
    pub fn prefix_view(&self, prefix: &[u8]) -> Result<Sio, SysError> {
        let handle = self.reconfigure(SioReconfigure::PrefixView {
            prefix: prefix.as_ptr() as u64,
            len: prefix.len() as u64,
        })?;
        Ok(Self::with_route(
            Handle::new(u32::try_from(handle).map_err(|_| SysError::BadValue)?),
            self.route,
        ))
    }

    /// On a directory: removes its entry `name` (one component), a file or
    /// an empty directory. See [`SioReconfigure::Remove`].
    ///
    /// # Errors
    /// `BadValue` for an empty or too long name, `BadPath` for one that is
    /// not one component, `WrongKind` on an SIO that is no directory,
    /// `NotFound`, `NotEmpty`, `NotPermitted` through a share without
    /// `WRITE`, …
    pub fn remove(&self, name: &str) -> Result<(), SysError> {
        self.reconfigure(SioReconfigure::Remove {
            name: name.as_ptr() as u64,
            len: name.len() as u64,
        })
        .map(|_| ())
    }

    /// On a view this SMACH made: its window becomes `length` bytes from
    /// `offset` of its parent (every routine depending on it is replugged
    /// before this returns).
    ///
    /// # Errors
    /// `WrongKind` on an SIO that is no view, `NotPermitted` on a shared
    /// one, `BadOffset`.
    pub fn reshape_view(&self, offset: u64, length: u64) -> Result<(), SysError> {
        self.reconfigure(SioReconfigure::ViewReshape { offset, length })
            .map(drop)
    }

    /// Any reconfigure request; returns the call's value.
    ///
    /// # Errors
    /// As for the request.
    pub fn reconfigure(&self, request: SioReconfigure) -> Result<u64, SysError> {
        call::reconfigure(self.callee(), request.to_registers())
    }

    /// The SIO's kind, size, position and flags.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn query(&self) -> Result<SioInfo, SysError> {
        let mut bytes = [0_u8; SioInfo::SIZE];
        call::query(self.callee(), QuerySelector::Info, &mut bytes)?;
        SioInfo::from_bytes(&bytes)
    }

    /// The kernel's description of this SIO's routines
    /// ([`QuerySelector::Routines`]): UTF-8 text written into `buf`,
    /// truncated to it; returns the bytes written. Its first lines are one
    /// per op with a routine slot, `read: synthesized <template>` or
    /// `read: generic` (likewise `write:`), then details; parse them with
    /// [`routine_of`](crate::routine_of).
    ///
    /// # Errors
    /// [`SysError::BadHandle`], [`SysError::WrongKind`] on a non-SIO,
    /// [`SysError::BadAddress`], …
    pub fn routines(&self, buf: &mut [u8]) -> Result<usize, SysError> {
        call::query(self.callee(), QuerySelector::Routines, buf)
    }

    /// Closes the SIO (its handle may be reused by a later `create`).
    ///
    /// # Errors
    /// [`SysError::BadHandle`] if already closed.
    pub fn close(self) -> Result<(), SysError> {
        call::terminate(self.callee(), 0).map(drop)
    }
}

impl fmt::Write for Sio {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.write_all(text.as_bytes()).map_err(|_| fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_is_per_sio_and_keeps_the_handle() {
        let plain = Sio::from_handle(Handle::new(5));
        assert!(!plain.is_generic() && !Sio::console().is_generic());
        let generic = plain.generic();
        assert!(generic.is_generic());
        assert_eq!(generic.handle(), Handle::new(5));
        assert_eq!(
            generic.callee().route.bits(),
            sk_abi::CallWord::FORCE_GENERIC
        );
        assert_eq!(Sio::console().callee().route.bits(), 0);
    }
}
