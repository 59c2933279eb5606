//! SIO calls on the generic path: the kernel side of `sk-sio`.
//!
//! Owns opening (then synthesizing the new SIO's routines: Factoring
//! Invariants at `create`), the chunked read and write with preemption
//! points between pieces (`sk_sio::transfer_in_chunks`), blocking on the
//! console, reconfigure, and the `Routines` query. Each piece looks its
//! handle up again, so a handle closed by another SCPU between pieces ends
//! the transfer with what was moved.

use crate::dispatch::Created;
use crate::share::{self, Access};
use crate::state::{self, Core, Object};
use crate::user_memory::KernelUserMemory;
use crate::{scheduler, synthesis};
use sk_abi::{Handle, OpenFlags, SioReconfigure, SysError};
use sk_fs::Cut;
use sk_sio::{transfer_in_chunks, POutcome, Piece, ReadOutcome, Reconfigured, Sio, Step};
use sk_synth::policy::Op;

pub(crate) fn console_out(bytes: &[u8]) {
    #[cfg(feature = "ktest")]
    crate::testing::capture_console(bytes);
    sk_machine::serial::write_bytes(bytes);
}

/// Installs the two ends of a new pipe or port, opened by the current
/// thread, in SMACH `me` and synthesizes their routines; returns their
/// handles. If the second cannot be installed, neither stays open.
///
/// A port's ends are the current thread's (its routines go in every SCPU's
/// table anyway). A pipe's ends are left without an owner: each belongs
/// to its first user (`Sio::note_caller`), so a pipe made by one SCPU for
/// two others gets synthesized routines in each user's table, instead of
/// going generic at the first use by a thread other than its maker.
///
/// # Errors
/// [`SysError::NotPermitted`] without the SMACH; [`SysError::NoMemory`],
/// [`SysError::TooManyHandles`].
pub(crate) fn install_pair(
    core: &mut Core,
    me: u64,
    mut first: state::Sio,
    mut second: state::Sio,
) -> Result<(Handle, Handle), SysError> {
    if first.pipe_end().is_none() {
        first.set_opener(core.current);
        second.set_opener(core.current);
    }
    let Some(smach) = core.smachs.get_mut(&me) else {
        synthesis::close_sio(core, first);
        synthesis::close_sio(core, second);
        return Err(SysError::NotPermitted);
    };
    let one = match smach.handles.insert(Object::Sio(first)) {
        Ok(handle) => handle,
        Err((e, object)) => {
            if let Object::Sio(sio) = object {
                synthesis::close_sio(core, sio);
            }
            synthesis::close_sio(core, second);
            return Err(e);
        }
    };
    let two = match smach.handles.insert(Object::Sio(second)) {
        Ok(handle) => handle,
        Err((e, object)) => {
            let first = smach.handles.remove(one);
            for object in [Ok(object), first] {
                if let Ok(Object::Sio(sio)) = object {
                    synthesis::close_sio(core, sio);
                }
            }
            return Err(e);
        }
    };
    synthesis::replan(core, me, one);
    synthesis::replan(core, me, two);
    Ok((one, two))
}

/// Opens `path` for the current thread and installs it in SMACH `me`, or,
/// if the open has more than one stretch of work left (a large file opened
/// with `TRUNCATE`), does one bounded step of it
/// ([`Sio::cut_before_open`]) and leaves the open to a later stretch.
pub(crate) fn open_or_step(
    core: &mut Core,
    me: u64,
    path: &str,
    flags: OpenFlags,
) -> Result<Created, SysError> {
    if path == sk_abi::PIPE_PATH {
        return crate::pipe_calls::open(core, me, flags).map(Created::Pipe);
    }
    if path == sk_abi::PORT_PATH {
        return crate::port_calls::open(core, me, flags).map(Created::Port);
    }
    if path == sk_abi::AUDIO_PATH {
        return crate::audio_out::open(core, me, flags).map(Created::Object);
    }
    match state::Sio::cut_before_open(&mut core.fs, path, flags)? {
        Cut::Cutting => Ok(Created::Stepped),
        Cut::Near => open(core, me, path, flags).map(Created::Object),
    }
}

/// Opens `path` for the current thread and installs it in SMACH `me`.
pub(crate) fn open(
    core: &mut Core,
    me: u64,
    path: &str,
    flags: OpenFlags,
) -> Result<Handle, SysError> {
    // A budgeted SMACH pays for the files it makes (nest_memory).
    let is_made_here = flags.contains(OpenFlags::CREATE)
        && crate::nest_memory::budgeted(core, me)
        && core.fs.lookup(path).is_err();
    let mut sio = Sio::open(&mut core.fs, path, flags)?;
    if let Some(node) = sio.node().filter(|_| is_made_here) {
        crate::nest_memory::pay_for_new_file(core, me, node);
    }
    sio.set_opener(core.current);
    let smach = core.smachs.get_mut(&me).ok_or(SysError::NotPermitted)?;
    match smach.handles.insert(Object::Sio(sio)) {
        Ok(handle) => {
            // Factoring Invariants: synthesize this SIO's routines now.
            synthesis::replan(core, me, handle);
            Ok(handle)
        }
        Err((e, object)) => {
            if let Object::Sio(sio) = object {
                synthesis::close_sio(core, sio);
            }
            Err(e)
        }
    }
}

/// Runs `f` on the SIO at `handle` of the caller's SMACH with the file
/// system and devices, after noting the caller as a user of it (a second
/// SCPU's first use replans its routines: the single-owner fact is gone).
/// A handle shared with the caller's SMACH runs `f` on the owner's SIO
/// once [`share::locate`] allowed `access` (not revoked, within rights).
///
/// `count`: this is the first piece of a call of that op on the generic
/// path: the SIO's count goes up (lazy synthesis), and at its routine's
/// `K` the SIO is replanned before `f` runs (the call itself stays
/// generic). Only the caller's own opens count (a holder's plan is eager).
fn with_sio<R>(
    core: &mut Core,
    handle: Handle,
    access: Access,
    count: Option<Op>,
    f: impl FnOnce(&crate::state::Sio, &mut sk_fs::FileSystem, &mut sk_sio::Devices) -> R,
) -> Result<R, SysError> {
    let current = core.current;
    let caller = core.current_smach_id()?;
    // The common case, the caller's own open, takes one lookup; a holder's
    // (`Object::Shared`) goes through the sharing rules first.
    let mut first_use = false;
    {
        let Core {
            fs,
            devices,
            smachs,
            ..
        } = &mut *core;
        let own = smachs.get_mut(&caller).ok_or(SysError::NotPermitted)?;
        if let Object::Sio(sio) = own.handles.get_mut(handle)? {
            let is_due = count.is_some_and(|op| {
                sio.routines
                    .as_mut()
                    .is_some_and(|r| r.usage.note_generic(op))
            });
            if !sio.note_caller(current) && !is_due {
                return Ok(f(sio, fs, devices));
            }
            first_use = true;
        }
    }
    let (me, handle) = if first_use {
        (caller, handle)
    } else {
        let (me, handle) = share::locate(core, caller, handle, access)?;
        let Core {
            fs,
            devices,
            smachs,
            ..
        } = &mut *core;
        let sio = smachs
            .get_mut(&me)
            .ok_or(SysError::NotPermitted)?
            .handles
            .get_mut(handle)?
            .as_sio_mut()
            .ok_or(SysError::WrongKind)?;
        if !sio.note_caller(current) {
            return Ok(f(sio, fs, devices));
        }
        (me, handle)
    };
    // Rare: the SIO just became shared, or its calls reached the point
    // where its routine pays.
    synthesis::replan(core, me, handle);
    let Core {
        fs,
        devices,
        smachs,
        ..
    } = core;
    let sio = smachs
        .get(&me)
        .ok_or(SysError::NotPermitted)?
        .handles
        .get(handle)?
        .as_sio()
        .ok_or(SysError::WrongKind)?;
    Ok(f(sio, fs, devices))
}

/// One piece of a read: at most the SIO's piece size of `remaining`, of
/// the same open SIO as the transfer's first piece (`serial`).
fn read_piece(
    handle: Handle,
    whole: (u64, u64),
    offset: u64,
    serial: &mut Option<u64>,
    other: &mut Option<Blocking>,
) -> Result<Step, SysError> {
    let (buf, len) = (whole.0.wrapping_add(offset), whole.1.saturating_sub(offset));
    state::with(|core| {
        let count = serial.is_none().then_some(Op::Read);
        let (outcome, asked) = with_sio(core, handle, Access::Read, count, |sio, fs, devices| {
            if let Some(kind) = Blocking::of(sio) {
                // P or a pipe read (both block on their own terms), not
                // this byte transfer: end it at once.
                *other = Some(kind);
                return Ok((ReadOutcome::Data(0), 1));
            }
            same_open(sio, false, whole, serial)?;
            let asked = sio.piece_len(false, len);
            sio.read(fs, devices, &mut KernelUserMemory, buf, asked)
                .map(|outcome| (outcome, asked))
        })??;
        // A console with no input: the caller registers and blocks in one
        // critical section ([`wait_for_console_input`]), not here.
        let outcome = match outcome {
            ReadOutcome::Data(n) => Piece::Done(n),
            ReadOutcome::WouldBlock => Piece::WouldBlock,
        };
        Ok(Step { outcome, asked })
    })
}

/// An SIO whose `read` and `write` are no byte transfer of this module:
/// they block on their own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Blocking {
    /// A semaphore: P and V.
    Semaphore,
    /// A pipe end: `pipe_calls`.
    Pipe,
    /// A port end: `port_calls`.
    Port,
    /// A view: the walk through its layers, `views.rs`.
    View,
}

impl Blocking {
    fn of(sio: &crate::state::Sio) -> Option<Self> {
        if sio.semaphore().is_some() {
            Some(Self::Semaphore)
        } else if sio.pipe_end().is_some() {
            Some(Self::Pipe)
        } else if sio.port_end().is_some() {
            Some(Self::Port)
        } else if sio.view().is_some() {
            Some(Self::View)
        } else {
            None
        }
    }
}

/// The first piece of a transfer checks the whole range (`whole`: buffer
/// and length) and notes its SIO's serial; a later piece that finds the
/// handle closed and reused by another open (between pieces, another SCPU
/// may run) ends the transfer with what was moved.
fn same_open(
    sio: &crate::state::Sio,
    is_write: bool,
    whole: (u64, u64),
    serial: &mut Option<u64>,
) -> Result<(), SysError> {
    match *serial {
        None => {
            // A transfer of one piece is checked by that piece itself.
            if whole.1 > sio.chunk_bytes(is_write) {
                sio.check_transfer(is_write, &mut KernelUserMemory, whole.0, whole.1)?;
            }
            *serial = Some(sio.serial());
            Ok(())
        }
        Some(s) if s == sio.serial() => Ok(()),
        Some(_) => Err(SysError::BadHandle),
    }
}

/// The generic read: pieces of at most the SIO's chunk size
/// ([`Sio::chunk_bytes`]), blocking on the console until input arrives.
pub(crate) fn read(handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    // The SIO the read started on: a handle closed and reused while the
    // reader was blocked must not move the read to another object.
    let mut serial = None;
    loop {
        let mut other = None;
        let mut revoked = false;
        let moved = transfer_in_chunks(
            len,
            |offset, _| {
                let step = read_piece(handle, (buf, len), offset, &mut serial, &mut other);
                revoked |= step == Err(SysError::Revoked);
                step
            },
            scheduler::preemption_point,
        )?;
        // Revoked between two pieces: the call fails, it does not return
        // the bytes of the pieces before (no holder call completes after
        // a revoke).
        if revoked {
            return Err(SysError::Revoked);
        }
        match other {
            Some(Blocking::Semaphore) => return semaphore_p(handle),
            Some(Blocking::Pipe) => return crate::pipe_calls::read(handle, buf, len),
            Some(Blocking::Port) => return crate::port_calls::receive(handle, buf, len),
            Some(Blocking::View) => return crate::views::read(handle, buf, len),
            None => {}
        }
        match moved {
            Piece::Done(n) => return Ok(n),
            Piece::WouldBlock => wait_for_console_input()?,
            // Never: a read does not prepare, nor does a transfer end so.
            Piece::Prepared => return Ok(0),
        }
    }
}

/// A console read found no input: blocks until input arrives, unless it
/// arrived meanwhile. The look at the line discipline, the registration as
/// a reader and the block are one critical section
/// ([`scheduler::block_current_unless`]): input that arrives between the
/// read's piece and here (the timer's console poll, with interrupts on in a
/// kernel thread's call, or another CPU) is seen by the look, and input
/// after it finds the thread registered and Blocked, so its wake is never
/// lost. The caller reads again in either case.
fn wait_for_console_input() -> Result<(), SysError> {
    // Test builds: a waker injected exactly here (after the piece's look,
    // before the block) must not be lost.
    #[cfg(feature = "ktest")]
    crate::testing::in_wake_window(crate::testing::WakeWindow::ConsoleRead);
    scheduler::block_current_unless(|core| {
        // `WouldBlock` comes only from the console, exactly when it is
        // not readable (`LineDiscipline::read`).
        if core.devices.tty.is_readable() {
            return Ok(true);
        }
        if crate::linux_signals::interrupts_wait(core) {
            return Err(SysError::Interrupted);
        }
        let current = core.current;
        core.devices.wait_for_input(current)?;
        Ok(false)
    })
    .map(drop)
}

/// The generic write: pieces of at most the SIO's chunk size (the
/// console's are small: each byte is polled out of the UART with
/// interrupts masked). A piece that must first grow a file by more than
/// `sk_fs::GROWTH_STEP_BYTES` grows it that much and moves nothing
/// (`Piece::Prepared`); the next piece goes on after the preemption point.
/// A fault in the first piece fails the call with `BadAddress` (the bytes
/// before it written, as by a synthesized write); a fault in a later piece
/// ends the call with the count of every byte written, so the result
/// always matches the file position's move.
pub(crate) fn write(handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    #[cfg(feature = "ktest")]
    crate::testing::leak_if_injected();
    let mut serial = None;
    let mut other = None;
    let mut revoked = false;
    let moved = transfer_in_chunks(
        len,
        |offset, remaining| {
            let step = state::with(|core| {
                let refused = |r: &Result<Step, SysError>| *r == Err(SysError::OverBudget);
                crate::nest_memory::with_file_growth(core, refused, |core| {
                    let count = serial.is_none().then_some(Op::Write);
                    with_sio(core, handle, Access::Write, count, |sio, fs, devices| {
                        if let Some(kind) = Blocking::of(sio) {
                            // V or a pipe write, not this byte transfer: end
                            // it at once.
                            other = Some(kind);
                            return Ok(Step {
                                outcome: Piece::Done(0),
                                asked: 1,
                            });
                        }
                        same_open(sio, true, (buf, len), &mut serial)?;
                        let asked = sio.piece_len(true, remaining);
                        let outcome = match sio.write_step(
                            fs,
                            devices,
                            &mut KernelUserMemory,
                            &mut console_out,
                            buf.wrapping_add(offset),
                            asked,
                        ) {
                            Ok(outcome) => outcome,
                            // A later piece that stops part-way: the call
                            // returns every byte written, as the position says
                            // (a paid file's growth refused for want of a grant
                            // is retried first, below; it wrote nothing).
                            Err(stop) if offset > 0 && stop.error != SysError::OverBudget => {
                                Piece::Done(stop.written)
                            }
                            Err(stop) => return Err(stop.error),
                        };
                        Ok(Step { outcome, asked })
                    })?
                })
            });
            let step = match step {
                Err(SysError::OverBudget) if offset > 0 => Ok(Step {
                    outcome: Piece::Done(0),
                    asked: 1,
                }),
                other => other,
            };
            revoked |= step == Err(SysError::Revoked);
            step
        },
        scheduler::preemption_point,
    )?;
    // As for a read: a revoke between pieces fails the call.
    if revoked {
        return Err(SysError::Revoked);
    }
    match other {
        Some(Blocking::Semaphore) => return semaphore_v(handle),
        Some(Blocking::Pipe) => return crate::pipe_calls::write(handle, buf, len),
        Some(Blocking::Port) => return crate::port_calls::send(handle, buf, len),
        Some(Blocking::View) => return crate::views::write(handle, buf, len),
        None => {}
    }
    match moved {
        Piece::Done(n) => Ok(n),
        Piece::WouldBlock | Piece::Prepared => Ok(0),
    }
}

/// The generic P on the semaphore at `handle` (the synthesized P's slow
/// path too): takes a unit or the grant a V left, else queues the caller
/// and blocks until a V hands it a unit. Returns 0. The buffer and length
/// of the `read` are ignored, as by the synthesized P.
///
/// A handle closed while the caller waits (or closed and reused by another
/// open) fails the P with [`SysError::BadHandle`]: the close woke it.
fn semaphore_p(handle: Handle) -> Result<u64, SysError> {
    let mut serial = None;
    loop {
        let acquired = scheduler::block_current_unless(|core| {
            let current = core.current;
            let me = core.current_smach_id()?;
            let sio = share::sio_mut(core, me, handle, Access::Read)?;
            if *serial.get_or_insert(sio.serial()) != sio.serial() {
                return Err(SysError::BadHandle);
            }
            Ok(sio.semaphore_p(current)? == POutcome::Acquired)
        })?;
        if acquired {
            return Ok(0);
        }
    }
}

/// The generic V on the semaphore at `handle`: hands the unit to the
/// first waiter and wakes it, else adds it to the count. Returns 0; the
/// buffer and length are ignored.
fn semaphore_v(handle: Handle) -> Result<u64, SysError> {
    state::with(|core| {
        let me = core.current_smach_id()?;
        let sio = share::sio_mut(core, me, handle, Access::Write)?;
        if let Some(waiter) = sio.semaphore_v()? {
            scheduler::wake(core, waiter);
        }
        Ok(0)
    })
}

/// `reconfigure` on an SIO: seek, or the console's mode.
pub(crate) fn reconfigure(
    core: &mut Core,
    handle: Handle,
    request: SioReconfigure,
) -> Result<u64, SysError> {
    let me = core.current_smach_id()?;
    match request {
        SioReconfigure::Share { smach, rights } => {
            let to = match core.current_smach()?.handles.get(smach)? {
                Object::Smach(id) => *id,
                _ => return Err(SysError::WrongKind),
            };
            return share::share(core, me, handle, to, rights).map(|h| u64::from(h.index()));
        }
        SioReconfigure::Revoke => return crate::views::revoke(core, me, handle),
        SioReconfigure::View {
            offset,
            length,
            read_only,
        } => {
            return crate::views::make(core, me, handle, (offset, length), read_only)
                .map(|h| u64::from(h.index()))
        }
        SioReconfigure::ViewReshape { offset, length } => {
            return crate::views::reshape(core, me, handle, offset, length)
        }
        SioReconfigure::PrefixView { prefix, len } => {
            return crate::prefix_views::make(core, me, handle, prefix, len)
                .map(|h| u64::from(h.index()))
        }
        SioReconfigure::Remove { name, len } => {
            return crate::dir_entries::remove(core, me, handle, name, len).map(|()| 0)
        }
        SioReconfigure::PortSendHandle {
            handle: passed,
            rights,
        } => return crate::port_calls::send_handle(core, me, handle, passed, rights),
        SioReconfigure::PortTakeHandle { token } => {
            return crate::port_calls::take_handle(core, me, handle, token)
        }
        SioReconfigure::PipeToConsole => return crate::pipe_calls::to_console(core, me, handle),
        SioReconfigure::TtyMode(_)
            if core
                .current_smach()?
                .handles
                .get(handle)?
                .as_shared()
                .is_some() =>
        {
            // The console's mode is its owner's to set.
            return Err(SysError::NotPermitted);
        }
        SioReconfigure::Seek { .. } | SioReconfigure::TtyMode(_) => {}
    }
    let (result, changed) = with_sio(core, handle, Access::Other, None, |sio, fs, devices| {
        sio.reconfigure(fs, devices, request)
    })??;
    if changed == Reconfigured::ConsoleMode {
        synthesis::on_tty_mode_change(core);
    }
    Ok(result)
}

/// `query(Routines)`: the SIO's routines as text.
pub(crate) fn describe(
    core: &mut Core,
    handle: Handle,
    ptr: u64,
    len: u64,
) -> Result<u64, SysError> {
    // At most what the caller's buffer takes, and 64 KiB.
    let max = len.min(64 << 10) as usize;
    let current = core.current;
    if let Some(shared) = core.current_smach()?.handles.get(handle)?.as_shared() {
        // A holder: its own slots, in the calling SCPU's table.
        let mine = shared
            .routines
            .iter()
            .find(|(t, _)| *t == current)
            .map(|(_, r)| r);
        let text = crate::routines_text::describe_holder(mine, max)?;
        crate::user_memory::write_bytes(ptr, text.as_bytes())?;
        return Ok(text.as_bytes().len() as u64);
    }
    let text = with_sio(core, handle, Access::Other, None, |sio, _, _| {
        crate::routines_text::describe(sio, max)
    })??;
    crate::user_memory::write_bytes(ptr, text.as_bytes())?;
    Ok(text.as_bytes().len() as u64)
}
