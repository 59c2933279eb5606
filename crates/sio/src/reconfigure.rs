//! `reconfigure` on an SIO: seek, and the console's mode.
//!
//! Owns the SIO kind's reconfigure policy (it left the dispatcher): what
//! each request does and which fact it changes, so the kernel knows when to
//! replan synthesized routines ([`Reconfigured`]).

use crate::{Devices, Sio, Target};
use sk_abi::{SioReconfigure, SysError, TtyMode, Whence};
use sk_fs::FileSystem;

/// What a reconfigure changed that synthesized code may depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconfigured {
    /// Nothing baked into code (a seek: both paths share the position cell).
    Nothing,
    /// The console's mode: every console SIO's routines must be replanned.
    ConsoleMode,
}

impl<R> Sio<R> {
    /// Applies `request`; returns the call's result and what changed.
    ///
    /// # Errors
    /// Seek: [`SysError::NotSupported`] on the console and a pipe,
    /// [`SysError::BadOffset`] for a position below 0 or above `i64::MAX`.
    /// Mode: [`SysError::WrongKind`] on anything but the console.
    pub fn reconfigure(
        &self,
        fs: &FileSystem,
        devices: &mut Devices,
        request: SioReconfigure,
    ) -> Result<(u64, Reconfigured), SysError> {
        match request {
            SioReconfigure::Seek { whence, offset } => self
                .seek(fs, whence, offset)
                .map(|p| (p, Reconfigured::Nothing)),
            SioReconfigure::TtyMode(mode) => {
                if !matches!(self.target(), Target::Tty) {
                    // Only the console has a line discipline.
                    return Err(SysError::WrongKind);
                }
                devices.tty.set_mode(if mode.contains(TtyMode::RAW) {
                    sk_tty::Mode::Raw
                } else {
                    sk_tty::Mode::Cooked
                });
                devices.tty.set_echo(mode.contains(TtyMode::ECHO));
                Ok((0, Reconfigured::ConsoleMode))
            }
            // Sharing is between SMACHs: the kernel's (`share.rs`), which
            // never hands these to an SIO.
            SioReconfigure::Share { .. }
            | SioReconfigure::Revoke
            | SioReconfigure::PortSendHandle { .. }
            | SioReconfigure::PortTakeHandle { .. }
            | SioReconfigure::PipeToConsole
            | SioReconfigure::View { .. }
            | SioReconfigure::ViewReshape { .. }
            | SioReconfigure::PrefixView { .. }
            | SioReconfigure::Remove { .. } => Err(SysError::NotSupported),
        }
    }

    /// The generic seek; returns the new position.
    ///
    /// # Errors
    /// As for [`Sio::reconfigure`].
    pub fn seek(&self, fs: &FileSystem, whence: Whence, offset: i64) -> Result<u64, SysError> {
        match self.target() {
            Target::Null | Target::Zero | Target::Semaphore(_) => return Ok(0),
            // No position: as the console (Linux: `ESPIPE`).
            Target::Tty | Target::Pipe(_) | Target::Port(_) => return Err(SysError::NotSupported),
            _ => {}
        }
        let base = match whence {
            Whence::Set => 0,
            Whence::Current => self.position(),
            Whence::End => self.size(fs),
        };
        let new = base.checked_add_signed(offset).ok_or(SysError::BadOffset)?;
        if i64::try_from(new).is_err() {
            return Err(SysError::BadOffset);
        }
        self.set_position(new);
        Ok(new)
    }
}
