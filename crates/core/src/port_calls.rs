//! Port calls on the generic path: the kernel side of `sk_sio::PortEnd`.
//!
//! Owns opening a port (two SIOs, two handles: [`open`]), the blocking
//! receive and send ([`receive`], [`send`], where `sio_calls` sends a
//! `read` or `write` it found is on a port end; the synthesized
//! `port_send`/`port_receive` enter them through the slow path whenever
//! their fast path does not apply) and waking a port's sleepers
//! ([`wake`]). As for pipes, the look at the queue, the registration of a
//! sleeper and its block happen in one critical section
//! (`scheduler::block_current_unless`), and every transfer and close
//! delivers the wake the queue's handshake says it owes. Handles travel
//! through ports as grants ([`send_handle`], [`take_handle`];
//! `sk_sio::PortGrants`): the message carries a token, taking it shares
//! the sender's open with the taker (`share::share`).

use crate::scheduler;
use crate::state::{Core, Object};
use crate::user_memory::KernelUserMemory;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{Handle, OpenFlags, PortHandles, SysError};
use sk_sio::{PortStep, Sio, Wake};

/// Port numbers (keys of their sleepers): never reused while the kernel
/// runs.
static NEXT_PORT: AtomicU64 = AtomicU64::new(1);

/// Makes a port for SMACH `me`: its receive end and send end, each at a
/// new handle. `flags` must be `READ | WRITE` (the pair).
///
/// # Errors
/// [`SysError::BadFlags`] for other flags; [`SysError::NoMemory`],
/// [`SysError::TooManyHandles`] (nothing is left open).
pub(crate) fn open(core: &mut Core, me: u64, flags: OpenFlags) -> Result<PortHandles, SysError> {
    if flags != OpenFlags::READ | OpenFlags::WRITE {
        return Err(SysError::BadFlags);
    }
    let port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    let (receive_end, send_end) = Sio::open_port(port)?;
    let (receive, send) = crate::sio_calls::install_pair(core, me, receive_end, send_end)?;
    Ok(PortHandles { receive, send })
}

/// Wakes the sleepers `wake` names on `port`.
pub(crate) fn wake(core: &mut Core, port: u64, wake: Wake) {
    for thread in core.devices.port_waiters.take(port, wake) {
        scheduler::wake(core, thread);
    }
}

/// One look at the port end at `handle` (the same open as `serial`
/// names, once set): `step` runs on it; a `Blocked` registers the caller
/// as a sleeper of that end.
fn look(
    core: &mut Core,
    handle: Handle,
    serial: &mut Option<u64>,
    is_send: bool,
    (buf, len): (u64, u64),
    step: impl FnOnce(&mut sk_sio::PortEnd) -> Result<PortStep, SysError>,
) -> Result<(u64, PortStep), SysError> {
    // A holder's handle (an SIO shared with this SMACH) reaches the
    // owner's port end through the holder's checks (revoked, rights), as
    // a pipe's does.
    let me = core.current_smach_id()?;
    let access = if is_send {
        crate::share::Access::Write
    } else {
        crate::share::Access::Read
    };
    let sio = crate::share::sio_mut(core, me, handle, access)?;
    if *serial.get_or_insert(sio.serial()) != sio.serial() {
        // Closed (and reused) while the caller slept.
        return Err(SysError::BadHandle);
    }
    sio.check_transfer(is_send, &mut KernelUserMemory, buf, len)?;
    let end = sio.port_end_mut().ok_or(SysError::WrongKind)?;
    let port = end.port();
    Ok((port, step(end)?))
}

/// Runs one call (`is_send`) until it moves a message, ends, or fails,
/// blocking while it cannot proceed.
fn transfer(handle: Handle, buf: u64, len: u64, is_send: bool) -> Result<u64, SysError> {
    let mut serial = None;
    loop {
        let mut moved = 0;
        let done = scheduler::block_current_unless(|core| {
            let (port, step) = look(core, handle, &mut serial, is_send, (buf, len), |end| {
                if is_send {
                    end.send_from(&mut KernelUserMemory, buf, len)
                } else {
                    end.receive_into(&mut KernelUserMemory, buf, len)
                }
            })?;
            match step {
                PortStep::Moved { len, wake: owed } => {
                    moved = len;
                    wake(core, port, owed);
                    Ok(true)
                }
                PortStep::Blocked => {
                    let current = core.current;
                    core.devices.port_waiters.add(port, !is_send, current)?;
                    Ok(false)
                }
            }
        })?;
        if done {
            return Ok(moved);
        }
    }
}

/// The generic port receive: one message ([`sk_abi::PORT_MESSAGE_BYTES`]),
/// blocking while the queue is empty and the send end open; 0 at the end
/// of the stream.
pub(crate) fn receive(handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    transfer(handle, buf, len, false)
}

/// The generic port send: one message, blocking while the queue is full;
/// [`SysError::BrokenPipe`] once the receive end closed.
pub(crate) fn send(handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    transfer(handle, buf, len, true)
}

/// `reconfigure(PortSendHandle)` on the send end at `send` (owned or
/// held by SMACH `me`): sends one message carrying a grant of `me`'s SIO
/// `passed` with `rights` (checked now as a share would check them).
///
/// # Errors
/// [`SysError::WrongKind`] if `send` is not a port's send end or `passed`
/// not an SIO; [`SysError::NotPermitted`] if `me` does not own `passed` or
/// lacks the rights; [`SysError::WouldBlock`] if the queue is full or too
/// many grants wait; [`SysError::BrokenPipe`] once the receive end closed;
/// [`SysError::Revoked`] through a revoked share of the send end.
pub(crate) fn send_handle(
    core: &mut Core,
    me: u64,
    send: Handle,
    passed: Handle,
    rights: OpenFlags,
) -> Result<u64, SysError> {
    let grant = {
        let sio = match core.current_smach()?.handles.get(passed)? {
            Object::Sio(sio) => sio,
            Object::Shared(_) => return Err(SysError::NotPermitted),
            _ => return Err(SysError::WrongKind),
        };
        let has = sio.flags() & (OpenFlags::READ | OpenFlags::WRITE);
        if rights.is_empty() || !has.contains(rights) {
            return Err(SysError::NotPermitted);
        }
        sk_sio::Grant {
            owner: me,
            handle: passed.index(),
            serial: sio.serial(),
            rights: rights.bits(),
        }
    };
    let end = crate::share::sio_mut(core, me, send, crate::share::Access::Write)?
        .port_end_mut()
        .ok_or(SysError::WrongKind)?;
    if end.is_receive_end() {
        return Err(SysError::WrongKind);
    }
    let port = end.port();
    let token = core.devices.port_grants.add(port, grant)?;
    let message = sk_abi::PortHandleMessage {
        token,
        rights: rights.bits(),
    }
    .to_bytes();
    let sent = crate::share::sio_mut(core, me, send, crate::share::Access::Write)?
        .port_end_mut()
        .ok_or(SysError::WrongKind)
        .and_then(|end| end.send_kernel_message(&message));
    match sent {
        Ok(Some(owed)) => {
            wake(core, port, owed);
            Ok(0)
        }
        Ok(None) => {
            core.devices.port_grants.cancel(port, token);
            Err(SysError::WouldBlock)
        }
        Err(e) => {
            core.devices.port_grants.cancel(port, token);
            Err(e)
        }
    }
}

/// `reconfigure(PortTakeHandle)` on the receive end at `receive`: takes
/// the grant `token` of that port and gives SMACH `me` its handle (a
/// share of the sender's open; the sender's own handle if `me` sent it).
///
/// # Errors
/// [`SysError::WrongKind`] if `receive` is not a port's receive end;
/// [`SysError::NotFound`] for a token this port does not hold (taken
/// already, never sent, another port's); [`SysError::BadHandle`] if the
/// sender closed the SIO since; what `share::share` answers.
pub(crate) fn take_handle(
    core: &mut Core,
    me: u64,
    receive: Handle,
    token: u64,
) -> Result<u64, SysError> {
    let end = crate::share::sio_mut(core, me, receive, crate::share::Access::Read)?
        .port_end_mut()
        .ok_or(SysError::WrongKind)?;
    if !end.is_receive_end() {
        return Err(SysError::WrongKind);
    }
    let port = end.port();
    let grant = core
        .devices
        .port_grants
        .take(port, token)
        .ok_or(SysError::NotFound)?;
    let handle = Handle::new(grant.handle);
    let still_open = core
        .smachs
        .get(&grant.owner)
        .and_then(|owner| owner.handles.get(handle).ok())
        .and_then(Object::as_sio)
        .is_some_and(|sio| sio.serial() == grant.serial);
    if !still_open {
        return Err(SysError::BadHandle);
    }
    if grant.owner == me {
        return Ok(u64::from(grant.handle));
    }
    let rights = OpenFlags::from_bits(grant.rights).ok_or(SysError::BadFlags)?;
    match crate::share::share(core, grant.owner, handle, me, rights) {
        Ok(h) => Ok(u64::from(h.index())),
        Err(e) => {
            // Not taken after all (a full handle table, say): the same
            // token works again once the taker has room.
            core.devices.port_grants.restore(port, token, grant);
            Err(e)
        }
    }
}
