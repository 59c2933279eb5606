//! Probes of `program | tty` for the in-kernel tests (split from
//! `testing.rs`): the pieces the generic console-bound pipe write moved,
//! and sharing, revoking and switching a program's pipe end from the
//! test (the revocation race and the heap-full switch).

use crate::state::{self, Object};
use crate::ProgramId;
use sk_abi::{Handle, OpenFlags, SysError};

/// Pieces `pipe_calls::write_to_console` has handed to the console so far
/// (counted in the piece's critical section).
pub fn console_pipe_pieces() -> u64 {
    crate::pipe_calls::CONSOLE_PIECES.load(core::sync::atomic::Ordering::Relaxed)
}

/// The first pipe write end in program `id`'s table whose reader is the
/// console (`to_console`) or not.
pub fn find_pipe_write_end(id: ProgramId, to_console: bool) -> Option<u32> {
    state::with(|core| {
        let smach = core.smachs.get(&id.0)?;
        smach.handles.iter().find_map(|(handle, object)| {
            let end = object.as_sio()?.pipe_end()?;
            (!end.is_read_end() && end.is_to_console() == to_console).then_some(handle.index())
        })
    })
}

/// Shares `owner`'s SIO at `handle` with program `holder` (as
/// `reconfigure(Share)` does); returns the holder's handle.
///
/// # Errors
/// As `reconfigure(Share)`.
pub fn share_sio(
    owner: ProgramId,
    handle: u32,
    holder: ProgramId,
    rights: OpenFlags,
) -> Result<u32, SysError> {
    state::with(|core| {
        crate::share::share(core, owner.0, Handle::new(handle), holder.0, rights).map(|h| h.index())
    })
}

/// Revokes every share of `owner`'s SIO at `handle` (as
/// `reconfigure(Revoke)` does); returns how many.
///
/// # Errors
/// As `reconfigure(Revoke)`.
pub fn revoke_sio(owner: ProgramId, handle: u32) -> Result<u64, SysError> {
    state::with(|core| crate::share::revoke(core, owner.0, Handle::new(handle)))
}

/// `reconfigure(PipeToConsole)` on `owner`'s handle, as its own call.
///
/// # Errors
/// As `reconfigure(PipeToConsole)`.
pub fn pipe_to_console(owner: ProgramId, handle: u32) -> Result<u64, SysError> {
    state::with(|core| crate::pipe_calls::to_console(core, owner.0, Handle::new(handle)))
}

/// The template of the write routine installed for `owner`'s SIO at
/// `handle` (`None`: generic or no slot), and whether that end's reader
/// is the console.
pub fn pipe_end_write_routine(owner: ProgramId, handle: u32) -> (Option<&'static str>, bool) {
    state::with(|core| {
        let Some(Ok(Object::Sio(sio))) = core
            .smachs
            .get(&owner.0)
            .map(|s| s.handles.get(Handle::new(handle)))
        else {
            return (None, false);
        };
        let routine = sio
            .routines
            .as_ref()
            .and_then(|r| r.installed(sk_synth::policy::Op::Write))
            .map(|i| i.spec().template().name);
        (routine, sio.pipe_end().is_some_and(|e| e.is_to_console()))
    })
}

/// Closes program `id`'s console-bound end at `handle` and puts a new
/// console-bound pipe write end at the same handle, in one critical
/// section (the worst interleaving for a write in progress on it);
/// returns [`console_pipe_pieces`] at that moment.
///
/// # Errors
/// [`SysError::BadHandle`] if the new end did not land at `handle`;
/// [`SysError::NoMemory`].
pub fn swap_console_end(id: ProgramId, handle: u32) -> Result<u64, SysError> {
    state::with(|core| {
        let smach = core.smachs.get_mut(&id.0).ok_or(SysError::BadHandle)?;
        let old = smach.handles.remove(Handle::new(handle))?;
        crate::smach::close_object(core, id.0, Handle::new(handle), old);
        let (read_end, mut write_end) = state::Sio::open_pipe(crate::pipe_calls::next_pipe())?;
        if let Some(end) = write_end.pipe_end_mut() {
            let _ = end.send_to_console()?;
        }
        crate::synthesis::close_sio(core, read_end);
        let smach = core.smachs.get_mut(&id.0).ok_or(SysError::BadHandle)?;
        let at = smach
            .handles
            .insert(Object::Sio(write_end))
            .map_err(|(e, _)| e)?;
        if at.index() != handle {
            return Err(SysError::BadHandle);
        }
        Ok(console_pipe_pieces())
    })
}

/// The hook armed by [`inject_between_console_pieces`].
static BETWEEN_PIECES: spin::Mutex<Option<fn()>> = spin::Mutex::new(None);

/// Fault injection: the next console-bound pipe write to finish a piece
/// with more to go runs `hook` there, once, with the kernel lock free
/// (another SCPU closing or swapping the end exactly between two pieces).
/// For in-kernel tests only.
pub fn inject_between_console_pieces(hook: fn()) {
    sk_machine::cpu::without_interrupts(|| *BETWEEN_PIECES.lock() = Some(hook));
}

/// `pipe_calls::write_to_console` calls this between two pieces.
pub(crate) fn between_console_pieces() {
    let hook = sk_machine::cpu::without_interrupts(|| BETWEEN_PIECES.lock().take());
    if let Some(hook) = hook {
        hook();
    }
}

/// Sets the console's mode (raw or cooked) as `reconfigure(TtyMode)` does,
/// replanning every console SIO and console-bound pipe end.
pub fn set_console_mode(raw: bool) {
    state::with(|core| {
        core.devices.tty.set_mode(if raw {
            sk_tty::Mode::Raw
        } else {
            sk_tty::Mode::Cooked
        });
        crate::synthesis::on_tty_mode_change(core);
    });
}
