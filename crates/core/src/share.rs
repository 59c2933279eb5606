//! Sharing an SIO with another SMACH, and revoking every share of it.
//!
//! Owns [`share`] (the one kernel function that gives another SMACH a
//! handle to an SIO: `reconfigure(Share)` today, handle passing through a
//! port later), [`revoke`], [`locate`] (where the SIO a handle names lives,
//! after the holder's checks: every generic call on an SIO goes through
//! it), the holders' routines ([`replan_holder`], [`holder_facts`]) and the
//! close of a holder's handle ([`close_holder`]).
//!
//! The model: the SIO stays in its owner's table (the SMACH that opened
//! it); a holder's handle is an [`Object::Shared`] record naming the
//! owner's handle and the open's serial, with the holder's rights and a
//! revoked bit. Every call through it is checked here under the kernel
//! lock (revoked: `Revoked`; an op its rights lack: `NotPermitted`), then
//! runs on the owner's SIO, so the position and the object are one.
//!
//! Revocation is one critical section: every holder record of the SIO is
//! marked revoked, every holder SCPU's slots for it are replugged to the
//! error stub returning `Revoked` (the policy's plan for a revoked holder),
//! and holder SCPUs blocked on the object (a semaphore's P, a pipe read or
//! write, a port send or receive, a console read) are taken off its queue and woken; their call looks again and
//! fails with `Revoked`. A long transfer looks its handle up at every piece
//! and ends with `Revoked` at the first piece after it. So no holder call
//! moves anything after `revoke` returns. The owner's close revokes too:
//! the object does not outlive its owner's handle. A revoked holder's handle
//! keeps its number until the holder closes it.

use crate::state::{Core, Object, Sio, SmachId, ThreadId};
use crate::synthesis;
use alloc::vec::Vec;
use sk_abi::{Handle, OpenFlags, SmachState, SysError};
use sk_smach::SharedSio;
use sk_synth::policy::{SioFacts, SioTarget};

/// What a call on an SIO needs its handle to allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// `read`.
    Read,
    /// `write`.
    Write,
    /// Anything else (seek, query): any holder may.
    Other,
}

/// Where the SIO at `handle` of SMACH `me` lives: `(me, handle)` for its
/// own, the owner's table and handle for a shared one.
///
/// # Errors
/// [`SysError::BadHandle`], [`SysError::WrongKind`] (not an SIO);
/// [`SysError::Revoked`] for a revoked share (or one whose SIO is gone);
/// [`SysError::NotPermitted`] for an op the holder's rights lack.
pub(crate) fn locate(
    core: &Core,
    me: SmachId,
    handle: Handle,
    access: Access,
) -> Result<(SmachId, Handle), SysError> {
    locate_in(&core.smachs, me, handle, access)
}

/// [`locate`] in the SMACH table `smachs` (for code that holds the
/// kernel's other parts borrowed: a view's walk in `views.rs`).
///
/// # Errors
/// As [`locate`].
pub(crate) fn locate_in(
    smachs: &sk_smach::IdMap<crate::state::Smach>,
    me: SmachId,
    handle: Handle,
    access: Access,
) -> Result<(SmachId, Handle), SysError> {
    let smach = smachs.get(&me).ok_or(SysError::NotPermitted)?;
    match smach.handles.get(handle)? {
        Object::Sio(_) => Ok((me, handle)),
        Object::Shared(shared) => {
            if shared.is_revoked {
                return Err(SysError::Revoked);
            }
            let allowed = match access {
                Access::Read => shared.rights.contains(OpenFlags::READ),
                Access::Write => shared.rights.contains(OpenFlags::WRITE),
                Access::Other => true,
            };
            if !allowed {
                return Err(SysError::NotPermitted);
            }
            if owner_sio(smachs, shared).is_none() {
                return Err(SysError::Revoked);
            }
            Ok((shared.owner, shared.owner_handle))
        }
        _ => Err(SysError::WrongKind),
    }
}

/// The SIO at `handle` of SMACH `me`, for a call needing `access` (see
/// [`locate`]).
///
/// # Errors
/// As [`locate`].
pub(crate) fn sio_mut(
    core: &mut Core,
    me: SmachId,
    handle: Handle,
    access: Access,
) -> Result<&mut Sio, SysError> {
    let (at, at_handle) = locate(core, me, handle, access)?;
    core.smachs
        .get_mut(&at)
        .ok_or(SysError::BadHandle)?
        .handles
        .get_mut(at_handle)?
        .as_sio_mut()
        .ok_or(SysError::WrongKind)
}

/// The owner's SIO a holder's record names, if that open is still there.
fn owner_sio<'a>(
    smachs: &'a sk_smach::IdMap<crate::state::Smach>,
    shared: &SharedSio<crate::state::Routines>,
) -> Option<&'a Sio> {
    smachs
        .get(&shared.owner)?
        .handles
        .get(shared.owner_handle)
        .ok()?
        .as_sio()
        .filter(|sio| sio.serial() == shared.serial)
}

/// Gives SMACH `to` a handle to the SIO at `handle` of SMACH `from`, with
/// `rights`; returns the receiver's handle. Only the SIO's owner may share
/// (not a holder), only with another SMACH that has not exited, and only
/// rights it has (`READ`/`WRITE` of the open).
///
/// # Errors
/// [`SysError::BadHandle`] (no such handle, or `to` is gone or exited),
/// [`SysError::WrongKind`] (not an SIO), [`SysError::NotPermitted`] (a
/// holder's handle, rights the open lacks, sharing with oneself),
/// [`SysError::TooManyHandles`], [`SysError::NoMemory`].
pub(crate) fn share(
    core: &mut Core,
    from: SmachId,
    handle: Handle,
    to: SmachId,
    rights: OpenFlags,
) -> Result<Handle, SysError> {
    if from == to {
        return Err(SysError::NotPermitted);
    }
    let is_live = |id| {
        core.smachs
            .get(&id)
            .is_some_and(|s| s.state() != SmachState::Exited)
    };
    if !is_live(to) {
        return Err(SysError::BadHandle);
    }
    let sio = match core
        .smachs
        .get(&from)
        .ok_or(SysError::NotPermitted)?
        .handles
        .get(handle)?
    {
        Object::Sio(sio) => sio,
        Object::Shared(_) => return Err(SysError::NotPermitted),
        _ => return Err(SysError::WrongKind),
    };
    let has = sio.flags() & (OpenFlags::READ | OpenFlags::WRITE);
    if rights.is_empty() || !has.contains(rights) {
        return Err(SysError::NotPermitted);
    }
    let record = SharedSio {
        owner: from,
        owner_handle: handle,
        serial: sio.serial(),
        rights,
        is_revoked: false,
        routines: Vec::new(),
    };
    let given = core
        .smachs
        .get_mut(&to)
        .ok_or(SysError::BadHandle)?
        .handles
        .insert(Object::Shared(record))
        .map_err(|(e, _)| e)?;
    // The open is used by two machines from now on: the owner's routines
    // that assume one user go (a semaphore's stay).
    let newly = core
        .smachs
        .get_mut(&from)
        .and_then(|s| s.handles.get_mut(handle).ok())
        .and_then(Object::as_sio_mut)
        .is_some_and(Sio::mark_shared);
    if newly {
        synthesis::replan(core, from, handle);
    }
    replan_holder(core, to, given);
    Ok(given)
}

/// Revokes every share of the SIO at `handle` of SMACH `owner` (its
/// owner); returns how many holders' handles were revoked now.
///
/// # Errors
/// [`SysError::BadHandle`], [`SysError::WrongKind`];
/// [`SysError::NotPermitted`] on a handle held by a share (only the owner
/// revokes).
pub(crate) fn revoke(core: &mut Core, owner: SmachId, handle: Handle) -> Result<u64, SysError> {
    let serial = match core
        .smachs
        .get(&owner)
        .ok_or(SysError::NotPermitted)?
        .handles
        .get(handle)?
    {
        Object::Sio(sio) => sio.serial(),
        Object::Shared(_) => return Err(SysError::NotPermitted),
        _ => return Err(SysError::WrongKind),
    };
    let (count, threads) = revoke_holders(core, serial);
    let (wake, sleep) = match core
        .smachs
        .get_mut(&owner)
        .and_then(|s| s.handles.get_mut(handle).ok())
        .and_then(Object::as_sio_mut)
    {
        Some(sio) => cancel_waiters(sio, &threads),
        None => (Vec::new(), Sleep::Nothing),
    };
    finish_unblock(core, sleep, &threads, wake);
    Ok(count)
}

/// The owner closes `sio` (taken out of its table): every share of it is
/// revoked and holders blocked on it woken, before the close.
pub(crate) fn revoke_for_close(core: &mut Core, sio: &mut Sio) {
    // A share marks the SIO shared before anyone can hold it (`share`),
    // so an SIO never shared has no holder record to look for: its close
    // skips the walk over every SMACH's handles.
    if !sio.is_shared() {
        return;
    }
    let (count, threads) = revoke_holders(core, sio.serial());
    if count == 0 {
        return;
    }
    let (wake, sleep) = cancel_waiters(sio, &threads);
    finish_unblock(core, sleep, &threads, wake);
}

/// Marks every live holder record of open `serial` revoked and replugs its
/// slots; returns how many, and every SCPU of their SMACHs.
///
/// One record at a time, with no list of them: a revoke with the heap
/// full must still replug every holder (a record marked revoked but left
/// with its synthesized routine would keep the holder's fast path, a
/// semaphore's V or a port's send, after the revoke, and on the freed
/// object after the owner's close, which skips records already revoked).
/// Only the list of SCPUs to wake may come up short then.
fn revoke_holders(core: &mut Core, serial: u64) -> (u64, Vec<ThreadId>) {
    let mut count = 0;
    let mut threads: Vec<ThreadId> = Vec::new();
    while let Some((id, handle)) = next_live_holder(core, serial) {
        count += 1;
        if let Some(smach) = core.smachs.get(&id) {
            let new: usize = smach
                .threads
                .iter()
                .filter(|t| !threads.contains(t))
                .count();
            if reserve(&mut threads, new) {
                for &t in &smach.threads {
                    if !threads.contains(&t) {
                        threads.push(t);
                    }
                }
            }
        }
        if !replug_injected_off() {
            replan_holder(core, id, handle);
        }
    }
    (count, threads)
}

/// The first holder record of open `serial` not yet revoked, marked
/// revoked now (before anything can fail: the generic path refuses the
/// handle from here on).
fn next_live_holder(core: &mut Core, serial: u64) -> Option<(SmachId, Handle)> {
    for smach in core.smachs.values_mut() {
        let id = smach.id();
        for (handle, object) in smach.handles.iter_mut() {
            if let Some(shared) = object.as_shared_mut() {
                if shared.serial == serial && !shared.is_revoked {
                    shared.is_revoked = true;
                    return Some((id, handle));
                }
            }
        }
    }
    None
}

/// Reserves room for `more` in `list`, unless test builds inject the
/// failure (`testing::inject_revoke_reserve_failure`).
fn reserve<T>(list: &mut Vec<T>, more: usize) -> bool {
    #[cfg(feature = "ktest")]
    if crate::testing::FAIL_REVOKE_RESERVE.load(core::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    list.try_reserve(more).is_ok()
}

/// Test builds: the fault injected by
/// `testing::inject_skip_revoke_replug` (revoke leaves holders' slots).
pub(crate) fn replug_injected_off() -> bool {
    #[cfg(feature = "ktest")]
    {
        crate::testing::SKIP_REVOKE_REPLUG.load(core::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(feature = "ktest"))]
    {
        false
    }
}

/// What else a holder SCPU may sleep on for an SIO: a pipe, a port or the
/// console's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sleep {
    Pipe,
    Port,
    Console,
    Nothing,
}

/// Takes `threads` off `sio`'s semaphore queue (a grant they held passes
/// on); returns whom to wake and what else they may sleep on.
fn cancel_waiters(sio: &mut Sio, threads: &[ThreadId]) -> (Vec<ThreadId>, Sleep) {
    let mut wake = Vec::new();
    if let Some(semaphore) = sio.semaphore_mut() {
        for &t in threads {
            if semaphore.involves(t) && wake.try_reserve(2).is_ok() {
                if let Some(next) = semaphore.cancel(t) {
                    wake.push(next);
                }
                wake.push(t);
            }
        }
    }
    let sleep = match sio.target() {
        sk_sio::Target::Pipe(_) => Sleep::Pipe,
        sk_sio::Target::Port(_) => Sleep::Port,
        sk_sio::Target::Tty => Sleep::Console,
        _ => Sleep::Nothing,
    };
    (wake, sleep)
}

/// Wakes `wake`, and those of `threads` asleep on a pipe, a port or the console
/// (a thread sleeps on one thing at a time: it is taken off the sleepers
/// and looks again; one asleep on another pipe or its own console just
/// sleeps again).
fn finish_unblock(core: &mut Core, sleep: Sleep, threads: &[ThreadId], wake: Vec<ThreadId>) {
    for &t in threads {
        let asleep = match sleep {
            Sleep::Pipe if core.devices.pipe_waiters.involves(t) => {
                core.devices.pipe_waiters.forget(t);
                true
            }
            Sleep::Port if core.devices.port_waiters.involves(t) => {
                core.devices.port_waiters.forget(t);
                true
            }
            Sleep::Console if core.devices.tty_readers.contains(&t) => {
                core.devices.forget_reader(t);
                true
            }
            _ => false,
        };
        if asleep {
            crate::scheduler::wake(core, t);
        }
    }
    for t in wake {
        crate::scheduler::wake(core, t);
    }
}

/// A holder closed its handle (or exited): its routines are retired and
/// its SCPUs blocked on the object are woken (their call finds the handle
/// gone).
pub(crate) fn close_holder(
    core: &mut Core,
    holder: SmachId,
    shared: SharedSio<crate::state::Routines>,
) {
    let SharedSio {
        owner,
        owner_handle,
        serial,
        routines,
        ..
    } = shared;
    for (_, r) in routines {
        synthesis::retire(core, Some(r));
    }
    let threads: Vec<ThreadId> = core
        .smachs
        .get(&holder)
        .map(|s| s.threads.clone())
        .unwrap_or_default();
    let Some(sio) = core
        .smachs
        .get_mut(&owner)
        .and_then(|s| s.handles.get_mut(owner_handle).ok())
        .and_then(Object::as_sio_mut)
        .filter(|sio| sio.serial() == serial)
    else {
        return;
    };
    let (wake, sleep) = cancel_waiters(sio, &threads);
    finish_unblock(core, sleep, &threads, wake);
}

/// The facts of the holder's handle `handle` for `thread`'s table: the
/// owner's SIO's facts with the holder's rights, shared, revoked or not.
/// A record whose SIO is gone is planned revoked.
pub(crate) fn holder_facts(
    core_fs: (&sk_fs::FileSystem, &sk_sio::Devices),
    smachs: &sk_smach::IdMap<crate::state::Smach>,
    threads: &sk_smach::IdMap<crate::thread::Thread>,
    shared: &SharedSio<crate::state::Routines>,
    handle: Handle,
) -> SioFacts {
    let (fs, devices) = core_fs;
    let sio = smachs
        .get(&shared.owner)
        .and_then(|s| s.handles.get(shared.owner_handle).ok())
        .and_then(Object::as_sio)
        .filter(|sio| sio.serial() == shared.serial);
    let base = match sio {
        Some(sio) => synthesis::facts(fs, devices, threads, smachs, sio, handle),
        None => SioFacts {
            target: SioTarget::Null,
            can_read: false,
            can_write: false,
            is_append: false,
            position_cell: 0,
            owner: None,
            is_shared: true,
            handle: handle.index(),
            is_holder: true,
            is_revoked: true,
        },
    };
    SioFacts {
        can_read: base.can_read && shared.rights.contains(OpenFlags::READ),
        can_write: base.can_write && shared.rights.contains(OpenFlags::WRITE),
        owner: None,
        is_shared: true,
        is_holder: true,
        is_revoked: shared.is_revoked || sio.is_none(),
        ..base
    }
}

/// Brings the holder's slots for its handle `handle` (one set per SCPU of
/// SMACH `holder` with a table) in line with the plan of its facts.
pub(crate) fn replan_holder(core: &mut Core, holder: SmachId, handle: Handle) {
    let is_linux = core.linux.contains_key(&holder);
    let Core {
        fs,
        devices,
        smachs,
        threads,
        ..
    } = core;
    let Some(smach) = smachs.get(&holder) else {
        return;
    };
    let mut members: Vec<ThreadId> = Vec::new();
    if members.try_reserve(smach.threads.len()).is_ok() {
        members.extend(
            smach
                .threads
                .iter()
                .copied()
                .filter(|t| threads.get(t).is_some_and(|t| t.synth.is_some())),
        );
    }
    let Ok(Object::Shared(shared)) = smach.handles.get(handle) else {
        return;
    };
    let facts = holder_facts((fs, devices), smachs, threads, shared, handle);
    let Some(Object::Shared(shared)) = smachs
        .get_mut(&holder)
        .and_then(|s| s.handles.get_mut(handle).ok())
    else {
        return;
    };
    let env = synthesis::env();
    let mut mech = crate::code_memory::KernelMechanism { threads };
    for &member in &members {
        if !shared.routines.iter().any(|(t, _)| *t == member)
            && shared.routines.try_reserve(1).is_ok()
        {
            shared.routines.push((member, Default::default()));
        }
    }
    shared.routines.retain_mut(|(thread, routines)| {
        let is_member = members.contains(thread);
        let facts = SioFacts {
            owner: is_member.then_some(*thread),
            ..facts
        };
        // Not a member any more: its slots are left and its code retired.
        let plan = synthesis::plan_of(&facts, &env, is_linux);
        if let Err(e) = routines.apply(&plan, facts.owner, facts.handle, &mut mech) {
            log::debug!("no holder routine for thread {thread}: {e}");
        }
        is_member
    });
}

/// Replans every holder record of SMACH `smach` (an SCPU joined it).
pub(crate) fn on_thread_joined(core: &mut Core, smach: SmachId) {
    let mut hits: Vec<Handle> = Vec::new();
    if let Some(s) = core.smachs.get(&smach) {
        for (handle, object) in s.handles.iter() {
            if object.as_shared().is_some() && hits.try_reserve(1).is_ok() {
                hits.push(handle);
            }
        }
    }
    for handle in hits {
        replan_holder(core, smach, handle);
    }
}

/// Thread `tid` is gone: the holder records with routines in its table are
/// replanned (its code retired).
pub(crate) fn on_thread_gone(core: &mut Core, tid: ThreadId) {
    let mut hits: Vec<(SmachId, Handle)> = Vec::new();
    for (id, smach) in &core.smachs {
        for (handle, object) in smach.handles.iter() {
            let uses = object
                .as_shared()
                .is_some_and(|s| s.routines.iter().any(|(t, _)| *t == tid));
            if uses && hits.try_reserve(1).is_ok() {
                hits.push((*id, handle));
            }
        }
    }
    for (id, handle) in hits {
        replan_holder(core, id, handle);
    }
}
