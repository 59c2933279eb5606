//! SMACHs on the kernel side: creating one from a program in the file
//! system, exiting and tearing down (every frame back), waiting, killing,
//! and `reconfigure` on a SMACH handle; the rules are `sk-smach`'s.
//!
//! Owns the kernel's program API ([`spawn_program`], [`wait_program`],
//! [`release_program`]) and the closing of any object a handle named.

use crate::address_space::KernelAddressSpace;
use crate::state::{self, Core, Object, Smach, SmachId};
use crate::thread::Thread;
use crate::{scheduler, scpu_calls, smem_calls, synthesis};
use alloc::string::String;
use alloc::vec::Vec;
use sk_abi::{
    ExitStatus, Handle, OpenFlags, ScpuReconfigure, SmachReconfigure, SmachState, SysError,
};
use sk_scpu::{Scpu, UserStart};
use sk_smach::{load_program, SmachAction, MAX_CHILDREN, MAX_SMACHS, USER_STACK_TOP};

/// Identifies a program started by the kernel itself (no parent SMACH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramId(pub u64);

/// Creates a SMACH running the program at `path` with `arg` in `rdi`.
pub(crate) fn create(
    core: &mut Core,
    parent: Option<SmachId>,
    path: &str,
    arg: u64,
) -> Result<SmachId, SysError> {
    create_as(core, parent, path, arg, None)
}

/// [`create`], or with `linux` (its `argv`) a SMACH with the Linux
/// personality (`linux_process.rs`).
pub(crate) fn create_as(
    core: &mut Core,
    parent: Option<SmachId>,
    path: &str,
    arg: u64,
    linux: Option<&[&str]>,
) -> Result<SmachId, SysError> {
    // Exited SMACHs waiting to be released cost a record and a handle in
    // their parent, not memory: only live ones count against the limits,
    // kernel-wide and per parent (so one program and its descendants cannot
    // take every slot).
    let live = |s: &&Smach| s.state() != SmachState::Exited;
    if core.smachs.values().filter(live).count() >= MAX_SMACHS {
        return Err(SysError::NoMemory);
    }
    if let Some(parent) = parent {
        let children = core
            .smachs
            .values()
            .filter(live)
            .filter(|s| s.parent() == Some(parent))
            .count();
        if children >= MAX_CHILDREN {
            return Err(SysError::NoMemory);
        }
        // The parent's depth, walking up (bounded: every SMACH was created
        // within the limit).
        let mut depth = 0;
        let mut up = core.smachs.get(&parent).and_then(|s| s.parent());
        while let Some(id) = up {
            depth += 1;
            up = core.smachs.get(&id).and_then(|s| s.parent());
        }
        if !sk_smach::may_nest_below(depth) {
            return Err(SysError::NoMemory);
        }
    }
    let node = core.fs.lookup(path).map_err(sk_sio::fs_error)?;
    let size = core.fs.stat(node).map_err(sk_sio::fs_error)?.size_bytes;
    // The image is copied to the heap to be loaded; page tables and the
    // thread's kernel stack come on top.
    crate::memory::admit(size.saturating_add(64 << 10))?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(size as usize)
        .map_err(|_| SysError::NoMemory)?;
    bytes.resize(size as usize, 0);
    core.fs
        .read(node, 0, &mut bytes)
        .map_err(sk_sio::fs_error)?;

    let id = core.new_id();
    let mut smach = Smach::new(id, String::from(path), parent, KernelAddressSpace::new()?);
    let built = match linux {
        None => build(core, &mut smach, &bytes, arg).map(|t| (t, None)),
        Some(argv) => crate::linux_process::build(core, &mut smach, &bytes, path, argv)
            .map(|(t, p)| (t, Some(p))),
    };
    let (thread, process) = match built {
        Ok(t) => t,
        Err(e) => {
            if let Some(teardown) = smach.exit(ExitStatus::KILLED) {
                finish_teardown(core, id, teardown);
            }
            return Err(e);
        }
    };
    if let Err((e, mut smach)) = core.smachs.insert(id, smach) {
        if let Some(teardown) = smach.exit(ExitStatus::KILLED) {
            finish_teardown(core, id, teardown);
        }
        return Err(e);
    }
    let main = thread.id();
    if let Some(process) = process {
        core.linux.insert(id, process);
        // The kernel's (or a native program's) Linux child: init's.
        let init = sk_unix::process_table::INIT;
        if crate::linux_pids::add_process(core, id, main, init, false).is_err() {
            exit(core, id, ExitStatus::KILLED);
            core.smachs.remove(&id);
            return Err(SysError::NoMemory);
        }
    }
    if let Err(e) = scpu_calls::start(core, id, thread) {
        exit(core, id, ExitStatus::KILLED);
        core.smachs.remove(&id);
        return Err(e);
    }
    // A Linux process's fds (0, 1, 2: the console) reach its thread's arrays.
    crate::linux_fast::sync_process(core, id);
    log::debug!("smach {id}: created from {path}");
    Ok(id)
}

/// Gives a new SMACH its two fixed handles, itself at [`Handle::SELF`]
/// and the console at [`Handle::CONSOLE`] (native and Linux SMACHs
/// alike); returns its id.
pub(crate) fn install_self_and_console(
    core: &mut Core,
    smach: &mut Smach,
) -> Result<SmachId, SysError> {
    let console = sk_sio::Sio::open(&mut core.fs, "/dev/tty", OpenFlags::READ | OpenFlags::WRITE)?;
    let id = smach.id();
    smach
        .handles
        .install_at(Handle::SELF, Object::Smach(id))
        .map_err(|(e, _)| e)?;
    if let Err((e, object)) = smach
        .handles
        .install_at(Handle::CONSOLE, Object::Sio(console))
    {
        if let Object::Sio(sio) = object {
            synthesis::close_sio(core, sio);
        }
        return Err(e);
    }
    Ok(id)
}

/// Loads the program, opens the console, makes the main thread.
fn build(core: &mut Core, smach: &mut Smach, bytes: &[u8], arg: u64) -> Result<Thread, SysError> {
    let aspace = smach.aspace.as_mut().ok_or(SysError::NoMemory)?;
    let entry = load_program(&mut smach.regions, aspace, bytes)?;
    let id = install_self_and_console(core, smach)?;
    let start = UserStart {
        entry,
        stack_top: USER_STACK_TOP,
        arg,
    };
    Thread::user(Scpu::new_main(crate::thread::new_id(), id, start))
}

/// `create(Kind::Smach)` from SMACH `me`: a child named by a new handle.
/// A child created `suspended` runs nothing until resumed (it is
/// suspended in the same critical section that made it), so its parent
/// can share SIOs with it at handles the child knows before it runs.
///
/// `path` is the program's file (confined to `me`'s root); `named` is the
/// name `me` gave it, a Linux child's `argv[0]`.
pub(crate) fn create_child(
    core: &mut Core,
    me: SmachId,
    (path, named): (&str, &str),
    arg: u64,
    suspended: bool,
    linux: bool,
) -> Result<Handle, SysError> {
    // A child starts in its parent's root (until given its own); a Linux
    // child's path calls are confined to it too (linux_dirs).
    let root = core.smachs.get(&me).and_then(|s| s.root());
    let argv = [named];
    let child = create_as(core, Some(me), path, arg, linux.then_some(&argv[..]))?;
    if let Some(smach) = core.smachs.get_mut(&child) {
        smach.set_root(root);
    }
    // Under a budget, the child's is what its program took (docs/nesting.md).
    if let Err(e) = crate::nest_memory::carve_child(core, me, child) {
        release(core, child);
        return Err(e);
    }
    if suspended {
        let suspend = core
            .smachs
            .get_mut(&child)
            .ok_or(SysError::NoMemory)
            .and_then(|s| s.reconfigure(SmachReconfigure::Suspend, false, false));
        let threads = core
            .smachs
            .get(&child)
            .map(|s| s.threads.clone())
            .unwrap_or_default();
        let applied = suspend.and_then(|_| {
            threads
                .into_iter()
                .try_for_each(|t| scpu_calls::apply(core, t, ScpuReconfigure::Suspend))
        });
        if let Err(e) = applied {
            release(core, child);
            return Err(e);
        }
    }
    let inserted = core
        .smachs
        .get_mut(&me)
        .ok_or(SysError::NotPermitted)?
        .handles
        .insert(Object::Smach(child));
    inserted.map_err(|(e, _)| {
        release(core, child);
        e
    })
}

/// Releases what a handle of SMACH `owner` named, once removed from its
/// table.
pub(crate) fn close_object(core: &mut Core, owner: SmachId, _handle: Handle, mut object: Object) {
    // An SIO closes where it lies (moving its record out of the object
    // would copy a few hundred bytes) and drops with the object.
    if let Object::Sio(sio) = &mut object {
        synthesis::close_sio_in_place(core, sio);
        return;
    }
    match object {
        Object::Sio(_) => {}
        Object::Shared(shared) => {
            let (from, handle, serial) = (shared.owner, shared.owner_handle, shared.serial);
            crate::share::close_holder(core, owner, shared);
            crate::linux_pids::holder_closed(core, from, handle);
            crate::views::after_holder_close(core, serial);
        }
        Object::Smem(region) => smem_calls::terminate(core, owner, region),
        Object::Scpu(tid) => scpu_calls::kill(core, tid),
        Object::Smach(child) if child != owner => release(core, child),
        Object::Smach(_) => {}
    }
}

/// Frees what an exiting SMACH held.
pub(crate) fn finish_teardown(
    core: &mut Core,
    id: SmachId,
    teardown: sk_smach::Teardown<crate::state::Routines, KernelAddressSpace>,
) {
    let was_linux = core.linux.contains_key(&id);
    crate::linux_wait::process_gone(core, id);
    core.linux.remove(&id);
    for (handle, object) in teardown.objects {
        match object {
            // Pages go with the address space below.
            Object::Smem(_) => {}
            other => close_object(core, id, handle, other),
        }
    }
    settle_orphans(core, id, was_linux);
    crate::nest_memory::pass_file_charges(core, id);
    for tid in teardown.threads {
        if let Some(thread) = core.threads.remove(&tid) {
            if tid == core.current {
                core.dying = Some(thread.context.clone());
            }
        }
        crate::scpu_calls::forget(core, tid);
    }
    if let Some(aspace) = teardown.aspace {
        // Kernel threads attached to it must not load it any more.
        crate::ring::on_aspace_gone(core, aspace.0.root());
        aspace.0.destroy();
    }
    crate::nest::smach_gone(core, id);
    for waiter in teardown.waiters {
        scheduler::wake(core, waiter);
    }
}

/// SMACH `id` exits: its live children that no handle held (a Linux
/// process's forks; the held ones were closed) are adopted inside the
/// subtree or killed, as `sk_smach::orphans` says, so no fork leaves its
/// creator's budget, group or subtree kill.
fn settle_orphans(core: &mut Core, id: SmachId, was_linux: bool) {
    use sk_smach::orphans::{orphan_fate, Grandparent, OrphanFate};
    let orphans: Vec<SmachId> = core
        .smachs
        .values()
        .filter(|s| s.parent() == Some(id) && s.state() != SmachState::Exited)
        .map(|s| s.id())
        .collect();
    if orphans.is_empty() {
        return;
    }
    let grandparent = match core.smachs.get(&id).and_then(|s| s.parent()) {
        None => Grandparent::None,
        Some(g) => match core.smachs.get(&g) {
            Some(s) if s.state() != SmachState::Exited => Grandparent::Live(g),
            _ => Grandparent::Ending,
        },
    };
    for orphan in orphans {
        match orphan_fate(was_linux, grandparent) {
            OrphanFate::Adopt(parent) => {
                if let Some(s) = core.smachs.get_mut(&orphan) {
                    s.adopt(parent);
                }
                crate::nest::readopted(core, orphan);
            }
            // Bounded: every fork was made within sk_smach::MAX_DEPTH.
            OrphanFate::Kill => exit(core, orphan, ExitStatus::KILLED),
        }
    }
}

/// Ends SMACH `id` with `status`: threads stop, handles close, memory is
/// freed, waiters wake. The record stays until released.
pub(crate) fn exit(core: &mut Core, id: SmachId, status: ExitStatus) {
    let Some(teardown) = core.smachs.get_mut(&id).and_then(|s| s.exit(status)) else {
        return;
    };
    finish_teardown(core, id, teardown);
    let Some(smach) = core.smachs.get(&id) else {
        return;
    };
    log::debug!(
        "smach {id} ({}) exited with status {}",
        smach.name(),
        status.get()
    );
    let parent_alive = smach.parent().is_some_and(|p| core.smachs.contains_key(&p));
    if smach.is_orphan(parent_alive) {
        core.smachs.remove(&id);
    }
}

/// Drops the parent's reference: kills the SMACH if it still runs, and
/// forgets it once exited.
pub(crate) fn release(core: &mut Core, id: SmachId) {
    if let Some(s) = core.smachs.get_mut(&id) {
        s.release();
    }
    exit(core, id, ExitStatus::KILLED);
    core.smachs.remove(&id);
}

/// Blocks until SMACH `id` has exited; returns its status.
///
/// The look at its state, the registration as a waiter and the block are
/// one critical section ([`scheduler::block_current_unless`]): an exit
/// before it is seen by the look, an exit after it finds the waiter
/// registered and Blocked, so the exit's wake is never lost (a waiter
/// preempted between a look and a separate block used to sleep on). A
/// wake for another reason (a resume) looks again.
pub(crate) fn wait(id: SmachId) -> Result<ExitStatus, SysError> {
    loop {
        // Test builds: a waker injected right before the look and block.
        #[cfg(feature = "ktest")]
        crate::testing::in_wake_window(crate::testing::WakeWindow::SmachWait(id));
        let mut status = None;
        scheduler::block_current_unless(|core| {
            let current = core.current;
            let smach = core.smachs.get_mut(&id).ok_or(SysError::BadHandle)?;
            if smach.state() == SmachState::Exited {
                status = Some(smach.exit_status());
                return Ok(true);
            }
            smach.add_waiter(current)?;
            Ok(false)
        })?;
        if let Some(status) = status {
            return Ok(status);
        }
    }
}

/// `reconfigure` on a SMACH handle.
pub(crate) fn reconfigure(handle: Handle, request: SmachReconfigure) -> Result<u64, SysError> {
    let (target, action) = state::with(|core| -> Result<(SmachId, SmachAction), SysError> {
        let me = core.current_smach_id()?;
        let target = match core.current_smach()?.handles.get(handle)? {
            Object::Smach(id) => *id,
            _ => return Err(SysError::WrongKind),
        };
        let trace_allowed = crate::trace::is_enabled();
        let request = match request {
            SmachReconfigure::Priority(p) => SmachReconfigure::Priority(sk_smach::capped_priority(
                p,
                scpu_calls::priority_cap(core, target),
            )),
            other => other,
        };
        let action = core
            .smachs
            .get_mut(&target)
            .ok_or(SysError::BadHandle)?
            .reconfigure(request, target == me, trace_allowed)?;
        match action {
            SmachAction::TraceNextCall => crate::trace::arm(core.current),
            SmachAction::Suspend | SmachAction::Resume | SmachAction::SetPriority(_) => {
                let request = match action {
                    SmachAction::Suspend => ScpuReconfigure::Suspend,
                    SmachAction::SetPriority(p) => ScpuReconfigure::Priority(p),
                    _ => ScpuReconfigure::Resume,
                };
                let threads = core
                    .smachs
                    .get(&target)
                    .map(|s| s.threads.clone())
                    .unwrap_or_default();
                for t in threads {
                    scpu_calls::apply(core, t, request)?;
                }
            }
            SmachAction::SetBudget(frames) => {
                crate::nest_memory::set_budget(core, target, frames)?;
            }
            SmachAction::SetWeight(w) => crate::nest::set_share(core, target, Some(w), None)?,
            SmachAction::SetSubPolicy(_) => crate::nest::chose_policy(core, target)?,
            SmachAction::SetRoot(directory) => set_root(core, me, target, directory)?,
            SmachAction::Wait | SmachAction::YieldOrSleepCaller { .. } => {}
        }
        Ok((target, action))
    })?;
    match action {
        SmachAction::Wait => wait(target).map(ExitStatus::to_register),
        SmachAction::YieldOrSleepCaller { ns } => scpu_calls::yield_or_sleep_caller(ns),
        _ => Ok(0),
    }
}

/// `reconfigure(Root)` by SMACH `me` on its child `target`: the directory
/// SIO at `me`'s `directory` (its own open or a share) becomes the
/// child's root.
///
/// # Errors
/// As `share::locate`; [`SysError::WrongKind`] if it is no directory.
fn set_root(
    core: &mut Core,
    me: SmachId,
    target: SmachId,
    directory: Handle,
) -> Result<(), SysError> {
    let (at, at_handle) = crate::share::locate(core, me, directory, crate::share::Access::Other)?;
    let sio = crate::views::sio_at(&core.smachs, at, at_handle).ok_or(SysError::BadHandle)?;
    if sio.kind() != sk_abi::SioKind::Dir {
        return Err(SysError::WrongKind);
    }
    let node = sio.node().ok_or(SysError::WrongKind)?;
    core.smachs
        .get_mut(&target)
        .ok_or(SysError::BadHandle)?
        .set_root(Some(node.to_bits()));
    Ok(())
}

/// The path SMACH `me` names as `path`, in the file system's terms: as
/// is for a SMACH with no root of its own, else as [`confine_to`] maps it
/// with its root directory's path now.
///
/// # Errors
/// [`SysError::NotFound`] if its root is gone; `BadPath`, `NameTooLong`,
/// `NoMemory` from the rule.
pub(crate) fn confined_path(
    core: &Core,
    me: SmachId,
    path: &str,
) -> Result<Option<alloc::string::String>, SysError> {
    if sk_sio::is_private_object_path(path) {
        // Whatever became of the root: these name no node.
        return Ok(None);
    }
    confine_to(root_path(core, me)?.as_deref(), path)
}

/// The path of SMACH `me`'s root directory now (`FileSystem::path_of`,
/// so a renamed root stays its root); `None` if it has none.
///
/// # Errors
/// [`SysError::NotFound`] if its root is gone (a removed directory has
/// no parent: it must not name `/`).
pub(crate) fn root_path(
    core: &Core,
    me: SmachId,
) -> Result<Option<alloc::string::String>, SysError> {
    let Some(root) = core.smachs.get(&me).and_then(|s| s.root()) else {
        return Ok(None);
    };
    core.fs
        .path_of(sk_fs::NodeId::from_bits(root))
        .map(Some)
        .map_err(sk_sio::fs_error)
}

/// A native name under a root: under `root_path`, `path` is
/// `sk_fs::confine`d to it, except the names of the kernel's private
/// objects (`sk_sio::is_private_object_path`), which stay as they are
/// (`None`); with no root, as is (`None`). (The Linux personality
/// confines every name and keeps only the private devices' for `open`:
/// `linux_dirs`.)
///
/// # Errors
/// `BadPath`, `NameTooLong`, `NoMemory` from `sk_fs::confine`.
fn confine_to(
    root_path: Option<&str>,
    path: &str,
) -> Result<Option<alloc::string::String>, SysError> {
    match root_path {
        Some(root) if !sk_sio::is_private_object_path(path) => sk_fs::confine(root, path)
            .map(Some)
            .map_err(sk_sio::fs_error),
        _ => Ok(None),
    }
}

/// Ends the current thread's SMACH with `status` and never returns.
pub(crate) fn exit_current(status: ExitStatus) -> ! {
    state::with(|core| {
        let current = core.current;
        if let Some(id) = core.threads.get(&current).and_then(|t| t.scpu.smach()) {
            exit(core, id, status);
        }
    });
    scheduler::exit_current()
}

/// Kills the current thread's SMACH after a fault, saying why.
/// (`why` is formatted straight to the console: nothing is allocated on a
/// stack that is about to be abandoned.)
pub(crate) fn kill_current(status: ExitStatus, why: core::fmt::Arguments<'_>) -> ! {
    state::with(|core| {
        let current = core.current;
        let smach = core.threads.get(&current).and_then(|t| t.scpu.smach());
        let name = smach
            .and_then(|s| core.smachs.get(&s))
            .map_or("", |s| s.name());
        sk_machine::println!(
            "kernel: smach {} ({name}) thread {current} killed: {why}",
            smach.unwrap_or(0)
        );
    });
    exit_current(status)
}

/// Starts the program at `path` as a SMACH owned by the kernel.
///
/// # Errors
/// As for `create(Kind::Smach)`.
pub fn spawn_program(path: &str, arg: u64) -> Result<ProgramId, SysError> {
    state::with(|core| create(core, None, path, arg)).map(ProgramId)
}

/// Starts the static Linux program at `path` (with `argv`) as a SMACH
/// owned by the kernel, with the Linux personality.
///
/// # Errors
/// As for `create(Kind::Smach)`; [`SysError::BadElf`] for a program that
/// is not a static Linux x86-64 ELF.
pub fn spawn_linux_program(path: &str, argv: &[&str]) -> Result<ProgramId, SysError> {
    state::with(|core| create_as(core, None, path, 0, Some(argv))).map(ProgramId)
}

/// Waits for a kernel-owned program to exit; returns its status.
///
/// # Errors
/// [`SysError::BadHandle`] if it was released.
pub fn wait_program(id: ProgramId) -> Result<i32, SysError> {
    wait(id.0).map(ExitStatus::get)
}

/// Forgets an exited program (kills it first if it still runs).
pub fn release_program(id: ProgramId) {
    state::with(|core| release(core, id.0));
}
