//! SIO views on the kernel side: making, reshaping and revoking them, the
//! generic path's walk through their layers, their facts for the policy,
//! and replugging every dependent view when one changes.
//!
//! A view is an open SIO of its own (`Target::View`, an `sk_sio::View`
//! level) in its maker's table, naming its parent by SMACH, handle and
//! open serial. The generic path ([`read`], [`write`]) walks the levels
//! honestly, one at a time: each checks its revocation and rights, clips
//! the transfer to its window and translates the position, then resolves
//! its parent through the sharing rules (`share::locate_in`), down to the
//! base SIO (`Sio::read_at`, `Sio::write_at`). The synthesized path gets
//! the folded chain ([`facts`] → `sk_synth::policy::collapse`): the same
//! template as the base's, with other constants.
//!
//! Precedence on both paths: a revoked level anywhere (`Revoked`), then
//! a level lacking the op's right (`NotPermitted`), then a bad buffer
//! (`BadAddress`), then the bytes (end of file past a window's end).
//!
//! Invalidation: after anything that can change a chain (a reshape, a
//! revoke, a share revoked, a close, a file-system event on a base file)
//! the views on the affected base, and their holders, are replanned before
//! the kernel lock is released ([`replan_base`]), so no stale routine
//! runs. The dependency index (`sk_sio::ViewIndex`: base SIO -> views on
//! it) names them: an event on a base with no view touches nothing, and
//! with no view open at all this costs one atomic load.

use crate::share::{self, Access};
use crate::state::{self, Core, Object, Sio, Smach, SmachId};
use crate::user_memory::KernelUserMemory;
use crate::{scheduler, synthesis};
use core::sync::atomic::{AtomicUsize, Ordering};
use sk_abi::{Handle, OpenFlags, SysError, MAX_VIEW_DEPTH};
use sk_fs::FileSystem;
use sk_sio::{
    transfer_in_chunks, Devices, IndexedView, Piece, Step, Target, UserMemory, View, ViewIndex,
    ViewParent,
};
use sk_smach::IdMap;
use sk_synth::policy::{collapse, FileFacts, LevelPrefix, ViewBase, ViewFacts, ViewLevel};

/// Views open now (gates the replans).
static OPEN_VIEWS: AtomicUsize = AtomicUsize::new(0);

/// Every open view, by the base SIO its chain ends on.
static INDEX: spin::Mutex<ViewIndex> = spin::Mutex::new(ViewIndex::new());

/// `reconfigure(View)`: a new view of the SIO at `handle` of SMACH `me`
/// (its own or a share), `length` bytes from `offset`, with the caller's
/// rights on it (without `WRITE` if `read_only`); returns the new handle.
///
/// # Errors
/// As `locate`; [`SysError::WrongKind`] for a kind no view is made of;
/// [`SysError::BadOffset`], [`SysError::BadValue`] (`View::new`);
/// [`SysError::NoMemory`], [`SysError::TooManyHandles`].
pub(crate) fn make(
    core: &mut Core,
    me: SmachId,
    handle: Handle,
    window: (u64, u64),
    read_only: bool,
) -> Result<Handle, SysError> {
    let (at, at_handle) = share::locate(core, me, handle, Access::Other)?;
    let parent = sio_at(&core.smachs, at, at_handle).ok_or(SysError::BadHandle)?;
    if !parent.is_viewable() {
        return Err(SysError::WrongKind);
    }
    // The caller's rights on the handle: the open's, cut by a share's.
    let mut rights = parent.flags() & (OpenFlags::READ | OpenFlags::WRITE);
    for (access, flag) in [
        (Access::Read, OpenFlags::READ),
        (Access::Write, OpenFlags::WRITE),
    ] {
        if share::locate(core, me, handle, access).is_err() {
            rights.remove(flag);
        }
    }
    if read_only {
        rights.remove(OpenFlags::WRITE);
    }
    // A window is a fixed region: writes through it cannot honour
    // APPEND (every write at the end), so a writable view of an APPEND
    // open is refused; a read-only one is fine.
    if rights.contains(OpenFlags::WRITE) && parent.flags().contains(OpenFlags::APPEND) {
        return Err(SysError::NotPermitted);
    }
    let (depth, base_kind, base_node) = match parent.view() {
        Some(v) => (v.depth(), v.base_kind(), v.base_node()),
        None => (0, parent.kind(), parent.node()),
    };
    let link = ViewParent {
        smach: me,
        handle: handle.index(),
        serial: parent.serial(),
    };
    let view = View::new(link, depth, window, base_kind, base_node)?;
    install(core, me, view, rights, parent.serial())
}

/// Opens `view` (of the SIO whose open serial is `parent_serial`) with
/// `rights` in SMACH `me`'s table, indexes and counts it and plans its
/// routines; returns its handle.
///
/// # Errors
/// [`SysError::NoMemory`], [`SysError::TooManyHandles`],
/// [`SysError::NotPermitted`] if `me` is gone.
pub(crate) fn install(
    core: &mut Core,
    me: SmachId,
    view: View,
    rights: OpenFlags,
    parent_serial: u64,
) -> Result<Handle, SysError> {
    let node = view.base_node();
    let mut sio = Sio::open_view(view, rights)?;
    sio.set_opener(core.current);
    let serial = sio.serial();
    let base = {
        let mut index = INDEX.lock();
        index.reserve_one()?;
        index.base_of(parent_serial)
    };
    let smach = core.smachs.get_mut(&me).ok_or(SysError::NotPermitted)?;
    match smach.handles.insert(Object::Sio(sio)) {
        Ok(new) if unindexed_by_injection() => {
            OPEN_VIEWS.fetch_add(1, Ordering::Relaxed);
            synthesis::replan(core, me, new);
            Ok(new)
        }
        Ok(new) => {
            INDEX.lock().insert(IndexedView {
                base,
                node,
                serial,
                smach: me,
                handle: new.index(),
            });
            OPEN_VIEWS.fetch_add(1, Ordering::Relaxed);
            synthesis::replan(core, me, new);
            Ok(new)
        }
        Err((e, object)) => {
            if let Object::Sio(sio) = object {
                // Not counted yet: `after_close` must not uncount it.
                drop(sio.close(&mut core.fs));
            }
            Err(e)
        }
    }
}

/// The in-kernel tests' fault: views left out of the index.
fn unindexed_by_injection() -> bool {
    #[cfg(feature = "ktest")]
    {
        crate::testing::SKIP_VIEW_INDEX.load(Ordering::Relaxed)
    }
    #[cfg(not(feature = "ktest"))]
    {
        false
    }
}

/// `reconfigure(ViewReshape)` on the caller's own view at `handle`; every
/// dependent routine is replugged before it returns.
///
/// # Errors
/// [`SysError::NotPermitted`] on a share; [`SysError::WrongKind`] on an
/// SIO that is no view; [`SysError::BadOffset`].
pub(crate) fn reshape(
    core: &mut Core,
    me: SmachId,
    handle: Handle,
    offset: u64,
    length: u64,
) -> Result<u64, SysError> {
    own_view(core, me, handle)?.reshape(offset, length)?;
    let serial = sio_at(&core.smachs, me, handle).map_or(0, Sio::serial);
    let base = INDEX.lock().base_of(serial);
    replan_base(core, base);
    Ok(0)
}

/// `reconfigure(Revoke)`: every share of the SIO at `handle` is revoked
/// (`share::revoke`), and if it is a view, the view itself dies for every
/// user and every view below it; dependent routines are replugged.
///
/// # Errors
/// As `share::revoke`.
pub(crate) fn revoke(core: &mut Core, me: SmachId, handle: Handle) -> Result<u64, SysError> {
    let count = share::revoke(core, me, handle)?;
    if let Ok(view) = own_view(core, me, handle) {
        view.revoke();
    }
    // Views made through the revoked shares, or below this view: all on
    // this SIO's base.
    let serial = sio_at(&core.smachs, me, handle).map_or(0, Sio::serial);
    let base = INDEX.lock().base_of(serial);
    replan_base(core, base);
    Ok(count)
}

/// The caller's own view at `handle`, for a change.
fn own_view(core: &mut Core, me: SmachId, handle: Handle) -> Result<&mut View, SysError> {
    let smach = core.smachs.get_mut(&me).ok_or(SysError::NotPermitted)?;
    match smach.handles.get_mut(handle)? {
        Object::Sio(sio) => sio.view_mut().ok_or(SysError::WrongKind),
        Object::Shared(_) => Err(SysError::NotPermitted),
        _ => Err(SysError::WrongKind),
    }
}

/// The open SIO at `handle` of SMACH `at`.
pub(crate) fn sio_at(smachs: &IdMap<Smach>, at: SmachId, handle: Handle) -> Option<&Sio> {
    smachs.get(&at)?.handles.get(handle).ok()?.as_sio()
}

/// A view's parent SIO, through the sharing rules for `access`: a parent
/// gone (SMACH, handle, or the open it named) is `Revoked`.
pub(crate) fn parent_of<'a>(
    smachs: &'a IdMap<Smach>,
    view: &View,
    access: Access,
) -> Result<&'a Sio, SysError> {
    let link = view.parent();
    if !smachs.contains_key(&link.smach) {
        return Err(SysError::Revoked);
    }
    let (at, handle) = share::locate_in(smachs, link.smach, Handle::new(link.handle), access)
        .map_err(|e| match e {
            SysError::BadHandle | SysError::WrongKind => SysError::Revoked,
            e => e,
        })?;
    sio_at(smachs, at, handle)
        .filter(|sio| sio.serial() == link.serial)
        .ok_or(SysError::Revoked)
}

/// Where an honest walk ends: the base SIO, its byte and how many bytes
/// may move (0: end of file).
struct Walked {
    base: (SmachId, Handle),
    pos: u64,
    len: u64,
    /// The view called, and its position before the transfer.
    top: (SmachId, Handle),
    top_pos: u64,
}

/// The generic path's walk for a transfer of `len` bytes by SMACH `me`
/// through its handle `handle` (`access`: read or write): one level at a
/// time, each checking its revocation and rights, clipping and
/// translating, then resolving its parent; the errors by precedence.
fn walk(
    smachs: &IdMap<Smach>,
    me: SmachId,
    handle: Handle,
    access: Access,
    len: u64,
) -> Result<Walked, SysError> {
    let needed = if access == Access::Write {
        OpenFlags::WRITE
    } else {
        OpenFlags::READ
    };
    let top = share::locate_in(smachs, me, handle, Access::Other)?;
    let mut forbidden = share::locate_in(smachs, me, handle, access).is_err();
    let mut revoked = false;
    let mut sio = sio_at(smachs, top.0, top.1).ok_or(SysError::BadHandle)?;
    let top_pos = sio.position();
    let (mut pos, mut len, mut at_end) = (top_pos, len, false);
    let mut base = top;
    for _ in 0..=MAX_VIEW_DEPTH {
        let Some(view) = sio.view() else {
            break;
        };
        revoked |= view.is_revoked();
        forbidden |= !sio.flags().contains(needed);
        match view.clip(pos, len) {
            Some((p, n)) if !at_end => (pos, len) = (p, n),
            _ => at_end = true,
        }
        // The parent, with the op's rights checked on its handle.
        let parent = match parent_of(smachs, view, access) {
            Ok(parent) => parent,
            Err(SysError::NotPermitted) => {
                forbidden = true;
                match parent_of(smachs, view, Access::Other) {
                    Ok(parent) => parent,
                    Err(_) => return Err(SysError::Revoked),
                }
            }
            Err(_) => return Err(SysError::Revoked),
        };
        let link = view.parent();
        base = share::locate_in(smachs, link.smach, Handle::new(link.handle), Access::Other)?;
        sio = parent;
    }
    if revoked {
        return Err(SysError::Revoked);
    }
    if forbidden {
        return Err(SysError::NotPermitted);
    }
    Ok(Walked {
        base,
        pos,
        len: if at_end { 0 } else { len },
        top,
        top_pos,
    })
}

/// The generic read through the view at `handle` (`sio_calls::read` hands
/// it over): pieces of at most `CHUNK_BYTES`, preemption points between.
pub(crate) fn read(handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    transfer(handle, buf, len, Access::Read)
}

/// The generic write through the view at `handle`: clipped to every
/// window and to the base file's size.
pub(crate) fn write(handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    transfer(handle, buf, len, Access::Write)
}

fn transfer(handle: Handle, buf: u64, len: u64, access: Access) -> Result<u64, SysError> {
    let mut serial = None;
    let mut revoked = false;
    let moved = transfer_in_chunks(
        len,
        |offset, remaining| {
            let step = state::with(|core| {
                piece(
                    core,
                    handle,
                    access,
                    (buf, len),
                    offset,
                    remaining,
                    &mut serial,
                )
            });
            revoked |= step == Err(SysError::Revoked);
            step
        },
        scheduler::preemption_point,
    )?;
    // Revoked between two pieces: the call fails (as `sio_calls::read`).
    if revoked {
        return Err(SysError::Revoked);
    }
    match moved {
        Piece::Done(n) => Ok(n),
        Piece::WouldBlock | Piece::Prepared => Ok(0),
    }
}

/// One piece: the walk, then the base's transfer, then the view's
/// position. The first piece checks the whole buffer; a later piece that
/// finds the handle reused by another open ends the transfer.
fn piece(
    core: &mut Core,
    handle: Handle,
    access: Access,
    whole: (u64, u64),
    offset: u64,
    remaining: u64,
    serial: &mut Option<u64>,
) -> Result<Step, SysError> {
    let me = core.current_smach_id()?;
    let asked = remaining.min(sk_sio::CHUNK_BYTES);
    let walked = walk(&core.smachs, me, handle, access, asked)?;
    let top = sio_at(&core.smachs, walked.top.0, walked.top.1).ok_or(SysError::BadHandle)?;
    match *serial {
        None => {
            KernelUserMemory.check(whole.0, whole.1)?;
            *serial = Some(top.serial());
        }
        Some(s) if s == top.serial() => {}
        Some(_) => return Err(SysError::BadHandle),
    }
    let buf = whole.0.wrapping_add(offset);
    if crate::prefix_views::is_prefix_view(top) {
        if access != Access::Write {
            return Err(SysError::NotPermitted);
        }
        return crate::prefix_views::write_piece(core, walked.top, buf, asked, offset == 0);
    }
    let Core {
        fs,
        devices,
        smachs,
        ..
    } = core;
    let base = sio_at(smachs, walked.base.0, walked.base.1).ok_or(SysError::Revoked)?;
    let (moved, stop) = if walked.len == 0 {
        (0, None)
    } else if access == Access::Write {
        match base.write_at(fs, &mut KernelUserMemory, walked.pos, buf, walked.len) {
            Ok(n) => (n, None),
            Err(partial) => (partial.written, Some(partial.error)),
        }
    } else {
        (
            base.read_at(
                fs,
                devices,
                &mut KernelUserMemory,
                walked.pos,
                buf,
                walked.len,
            )?,
            None,
        )
    };
    let top = sio_at(smachs, walked.top.0, walked.top.1).ok_or(SysError::BadHandle)?;
    top.move_view_position(walked.top_pos.saturating_add(moved));
    if let Some(error) = stop {
        if offset == 0 {
            return Err(error);
        }
    }
    // A short piece ends the transfer (end of a window, or of the file).
    Ok(Step {
        outcome: Piece::Done(moved),
        asked,
    })
}

/// The folded chain of the view `sio` for the policy: each level's window,
/// rights (its open's and its parent handle's) and revocation, then the
/// base's facts, through `sk_synth::policy::collapse`.
pub(crate) fn facts(
    fs: &FileSystem,
    devices: &Devices,
    smachs: &IdMap<Smach>,
    sio: &Sio,
) -> ViewFacts {
    const EMPTY: ViewLevel = ViewLevel {
        offset: 0,
        length: 0,
        can_read: false,
        can_write: false,
        is_revoked: true,
        prefix: None,
        line_state_cell: 0,
    };
    let mut levels = [EMPTY; MAX_VIEW_DEPTH as usize + 1];
    let mut count = 0;
    let mut at = sio;
    let mut base = ViewBase::Other;
    while let Some(view) = at.view() {
        let Some(level) = levels.get_mut(count) else {
            break;
        };
        count += 1;
        *level = ViewLevel {
            offset: view.offset(),
            length: view.length(),
            can_read: at.flags().contains(OpenFlags::READ)
                && parent_of(smachs, view, Access::Read).is_ok(),
            can_write: at.flags().contains(OpenFlags::WRITE)
                && parent_of(smachs, view, Access::Write).is_ok(),
            is_revoked: view.is_revoked(),
            prefix: view.prefix().and_then(|p| LevelPrefix::new(p.bytes())),
            line_state_cell: core::ptr::from_ref(at.position_cell()) as u64,
        };
        match parent_of(smachs, view, Access::Other) {
            Ok(parent) => at = parent,
            Err(_) => {
                level.is_revoked = true;
                break;
            }
        }
        base = base_of(fs, devices, at);
    }
    collapse(&base, levels.get(..count).unwrap_or(&[]))
}

/// A base SIO's facts for [`collapse`].
fn base_of(fs: &FileSystem, devices: &Devices, sio: &Sio) -> ViewBase {
    match sio.target() {
        Target::Mem => ViewBase::Mem {
            base: devices.mem.as_ptr() as u64,
            window_bytes: devices.mem.len() as u64,
        },
        Target::File(open) => {
            let node = open.node();
            match (fs.stat(node), fs.data_layout(node)) {
                (Ok(stat), Ok(layout)) => ViewBase::File {
                    file: FileFacts {
                        node: node.to_bits(),
                        data_addr: layout.data_addr,
                        capacity: layout.capacity,
                        size_cell: layout.size_cell_addr,
                        generation: layout.layout_generation,
                        is_unlinked: stat.link_count == 0,
                    },
                    size: stat.size_bytes,
                },
                _ => ViewBase::Other,
            }
        }
        Target::Tty => ViewBase::Tty {
            is_raw: devices.tty.mode() == sk_tty::Mode::Raw,
            data_port: sk_machine::serial::COM1,
            status_port: sk_machine::serial::COM1 + 5,
        },
        _ => ViewBase::Other,
    }
}

/// The console's mode changed: every view not on a file is replanned (a
/// chain of prefix views over the tty folds into its write only in
/// cooked mode).
pub(crate) fn on_tty_mode_change(core: &mut Core) {
    replan_where(core, |v| v.node.is_none());
}

/// Replans every view on the base SIO of serial `base` and every holder
/// of one (their chains may have changed); nothing if no view stands on
/// it. No list is made (a replan must not fail for want of memory): the
/// index is walked by position (a replan does not change it).
pub(crate) fn replan_base(core: &mut Core, base: u64) {
    replan_where(core, |v| v.base == base);
}

/// Replans every indexed view `pick` chooses, and the holders of each.
fn replan_where(core: &mut Core, pick: impl Fn(&IndexedView) -> bool) {
    if OPEN_VIEWS.load(Ordering::Relaxed) == 0 {
        return;
    }
    for at in 0.. {
        let Some(view) = INDEX.lock().get(at) else {
            break;
        };
        if pick(&view) {
            replan_view(core, view);
        }
    }
}

/// Replans one view and every holder of it (found in the tables in order,
/// SMACH id then handle, resuming after the last one replanned).
fn replan_view(core: &mut Core, view: IndexedView) {
    let handle = Handle::new(view.handle);
    if sio_at(&core.smachs, view.smach, handle).is_none_or(|s| s.serial() != view.serial) {
        return;
    }
    synthesis::replan(core, view.smach, handle);
    let mut after: Option<(SmachId, u32)> = None;
    loop {
        let next = core
            .smachs
            .iter()
            .flat_map(|(id, smach)| smach.handles.iter().map(move |(h, o)| (*id, h, o)))
            .filter(|(id, h, _)| after.is_none_or(|last| (*id, h.index()) > last))
            .find_map(|(id, h, object)| match object {
                Object::Shared(shared)
                    if shared.owner == view.smach && shared.owner_handle == handle =>
                {
                    Some((id, h))
                }
                _ => None,
            });
        let Some((id, holder)) = next else {
            break;
        };
        share::replan_holder(core, id, holder);
        after = Some((id, holder.index()));
    }
}

/// The SIO of open serial `serial` was closed: if it was a view, it
/// leaves the index; the views on its base (below it, or on it) lose a
/// parent and are replanned.
pub(crate) fn after_close(core: &mut Core, serial: u64) {
    if OPEN_VIEWS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let removed = INDEX.lock().remove(serial);
    let base = match removed {
        Some(view) => {
            OPEN_VIEWS.fetch_sub(1, Ordering::Relaxed);
            view.base
        }
        None => serial,
    };
    replan_base(core, base);
}

/// A holder closed its share of the SIO of open serial `serial`: views it
/// made through that handle (their parent link names it) lose their
/// parent, so every view on the same base is replanned (a synthesized
/// routine baked in the parent's cells; the hostile review found one
/// still writing through a handle its maker had closed).
pub(crate) fn after_holder_close(core: &mut Core, serial: u64) {
    if OPEN_VIEWS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let base = INDEX.lock().base_of(serial);
    replan_base(core, base);
}

/// File-system events on `nodes`: the views on those files are
/// replanned.
pub(crate) fn on_fs_events(core: &mut Core, nodes: &[sk_fs::NodeId]) {
    replan_where(core, |v| v.node.is_some_and(|n| nodes.contains(&n)));
}
