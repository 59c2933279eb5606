//! Linux process and thread numbers, and what the kernel keeps about
//! Linux processes as a family (docs/unix.md, phase 2).
//!
//! Owns [`LinuxWorld`] (in `Core`): `sk_unix`'s [`ProcessTable`]
//! (parents, zombies, groups, sessions) and [`FutexTable`], the Linux pid
//! of each Linux SMACH, each Linux thread's `clear_child_tid`, the
//! threads blocked in `wait4`/`waitid` by parent, a new thread's first
//! registers until it runs, and the descriptions an opener closed while a
//! forked process still shares them ([`keep_for_holders`]). Numbering: a thread's Linux tid is its
//! kernel thread id (unique kernel-wide, never 1: the boot thread took
//! it), and a process's pid is its main thread's tid, as on Linux.
//! `init` (pid 1) is the kernel itself: processes the kernel starts are
//! its children, orphans go to it, and it reaps its zombies at once
//! ([`reap_init_zombies`]); the kernel's own `wait_program` waits on the
//! SMACH, not here.

use crate::state::{Core, SmachId, ThreadId};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use sk_unix::process_table::{Pid, ProcessTable, WaitOutcome, INIT};
use sk_unix::wait_status::WaitStatus;
use sk_unix::{Errno, FutexTable};

/// Most Linux processes alive at once, kernel-wide (an `RLIMIT_NPROC`
/// for everyone): `fork` past it is `EAGAIN`, so a fork bomb is bounded.
pub(crate) const MAX_LINUX_PROCESSES: usize = 48;

/// One Linux process (by SMACH).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcInfo {
    /// Its Linux pid (its main thread's tid).
    pub(crate) pid: Pid,
    /// Made by `fork`/`clone`: nobody holds a handle to its SMACH, whose
    /// record goes when it exits (its zombie lives in the table).
    pub(crate) forked: bool,
    /// The wait status its end gives (set by `exit_group` or a signal
    /// before the SMACH exits; a SMACH killed otherwise: `SIGKILL`).
    pub(crate) status: Option<WaitStatus>,
}

/// A new thread's first entry to user mode.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChildStart {
    /// Every register (the parent's at its call, `rax` 0).
    pub(crate) regs: sk_machine::user_regs::UserRegisters,
    /// Its FS base.
    pub(crate) fs_base: u64,
    /// `CLONE_CHILD_SETTID`: write its tid here in its own memory.
    pub(crate) set_child_tid: Option<u64>,
}

/// What the kernel keeps about Linux processes as a family.
pub(crate) struct LinuxWorld {
    /// Parents, zombies, groups, sessions (`sk_unix`).
    pub(crate) table: ProcessTable,
    /// Futex sleepers (`sk_unix`).
    pub(crate) futexes: FutexTable,
    procs: BTreeMap<SmachId, ProcInfo>,
    /// Each Linux thread's process and `clear_child_tid` (0: none).
    threads: BTreeMap<ThreadId, (SmachId, u64)>,
    /// Threads blocked in `wait4`/`waitid`, by the waiting process's pid.
    pub(crate) child_waiters: BTreeMap<Pid, Vec<ThreadId>>,
    /// Forked or cloned threads that have not run yet.
    pub(crate) starts: BTreeMap<ThreadId, ChildStart>,
    /// Descriptions whose opener closed its last descriptor while another
    /// process still holds a share: the opener's handle stays open until
    /// the last share goes ([`keep_for_holders`], [`holder_closed`]).
    lingering: Vec<(SmachId, sk_abi::Handle)>,
}

impl LinuxWorld {
    /// A world with only `init` (the kernel).
    pub(crate) fn new() -> Self {
        let mut table = ProcessTable::new();
        // A fresh table has no init: this cannot fail.
        let _ = table.add_init();
        Self {
            table,
            futexes: FutexTable::new(),
            procs: BTreeMap::new(),
            threads: BTreeMap::new(),
            child_waiters: BTreeMap::new(),
            starts: BTreeMap::new(),
            lingering: Vec::new(),
        }
    }

    /// Process `id`'s record.
    pub(crate) fn proc(&self, id: SmachId) -> Option<&ProcInfo> {
        self.procs.get(&id)
    }

    /// Process `id`'s record, to change.
    pub(crate) fn proc_mut(&mut self, id: SmachId) -> Option<&mut ProcInfo> {
        self.procs.get_mut(&id)
    }

    /// Live Linux processes.
    pub(crate) fn process_count(&self) -> usize {
        self.procs.len()
    }

    /// The SMACH whose Linux pid is `pid` (for `kill`: the signals code).
    pub(crate) fn smach_of(&self, pid: Pid) -> Option<SmachId> {
        self.procs
            .iter()
            .find(|(_, p)| p.pid == pid)
            .map(|(&id, _)| id)
    }

    /// The process thread `tid` belongs to (`tgkill`).
    pub(crate) fn smach_of_thread(&self, tid: ThreadId) -> Option<SmachId> {
        self.threads.get(&tid).map(|(s, _)| *s)
    }

    /// The live processes of process group `pgid` (none for `pgid` <= 1).
    pub(crate) fn group_members(&self, pgid: Pid) -> Vec<SmachId> {
        if pgid <= INIT {
            return Vec::new();
        }
        self.table
            .kill_targets(INIT, -pgid)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|pid| self.smach_of(pid))
            .collect()
    }

    /// Registers thread `tid` of process `smach`.
    pub(crate) fn add_thread(&mut self, tid: ThreadId, smach: SmachId, clear_child_tid: u64) {
        self.threads.insert(tid, (smach, clear_child_tid));
    }

    /// Forgets thread `tid`; returns its `clear_child_tid`.
    pub(crate) fn remove_thread(&mut self, tid: ThreadId) -> u64 {
        self.starts.remove(&tid);
        self.futexes.forget(tid);
        self.threads.remove(&tid).map_or(0, |(_, c)| c)
    }

    /// Sets thread `tid`'s `clear_child_tid` (`set_tid_address`).
    pub(crate) fn set_clear_child_tid(&mut self, tid: ThreadId, address: u64) {
        if let Some(entry) = self.threads.get_mut(&tid) {
            entry.1 = address;
        }
    }

    /// Forgets process `smach` and its threads (it is gone).
    pub(crate) fn forget_process(&mut self, smach: SmachId) {
        self.procs.remove(&smach);
        // Its handles close with it (revoking what shares are left).
        self.lingering.retain(|(owner, _)| *owner != smach);
        let gone: Vec<ThreadId> = self
            .threads
            .iter()
            .filter(|(_, (s, _))| *s == smach)
            .map(|(&t, _)| t)
            .collect();
        for tid in gone {
            self.remove_thread(tid);
        }
    }
}

/// A Linux pid as `sk_unix` counts them (thread ids stay far below 2^31).
pub(crate) fn pid_of_thread(tid: ThreadId) -> Pid {
    Pid::try_from(tid).unwrap_or(Pid::MAX)
}

/// Registers Linux SMACH `id` (main thread `main`) as a child of
/// `parent` (`INIT` for one the kernel or a native program started).
///
/// (`fork` checks [`MAX_LINUX_PROCESSES`] first; the kernel's own
/// programs do not count against it.)
///
/// # Errors
/// `ESRCH` for a parent that is gone.
pub(crate) fn add_process(
    core: &mut Core,
    id: SmachId,
    main: ThreadId,
    parent: Pid,
    forked: bool,
) -> Result<Pid, Errno> {
    let world = &mut core.linux_world;
    let pid = pid_of_thread(main);
    world.table.add_child(parent, pid)?;
    if parent == INIT && !forked {
        // A program the kernel starts leads its own session and group
        // (as a login shell does), the console its terminal: `kill(0)`,
        // `TIOCSPGRP` and job control stay within it.
        let _ = world.table.new_session(pid);
    }
    world.procs.insert(
        id,
        ProcInfo {
            pid,
            forked,
            status: None,
        },
    );
    world.add_thread(main, id, 0);
    Ok(pid)
}

/// The calling process's pid (`ESRCH` if the caller is not Linux).
pub(crate) fn my_pid(core: &Core) -> Result<Pid, Errno> {
    let id = core.current_smach.ok_or(Errno::ESRCH)?;
    core.linux_world.proc(id).map(|p| p.pid).ok_or(Errno::ESRCH)
}

/// `init` reaps its zombies at once: nothing waits for them.
pub(crate) fn reap_init_zombies(world: &mut LinuxWorld) {
    while let Ok(WaitOutcome::Reaped { .. }) = world.table.wait(INIT, -1) {}
}

/// True if SMACH `owner`'s `handle` is an SIO that another SMACH holds a
/// live share of.
fn has_holders(core: &Core, owner: SmachId, handle: sk_abi::Handle) -> bool {
    let Some(serial) = core
        .smachs
        .get(&owner)
        .and_then(|s| s.handles.get(handle).ok())
        .and_then(|o| match o {
            // Never shared: no holder to look for.
            crate::state::Object::Sio(sio) if sio.is_shared() => Some(sio.serial()),
            _ => None,
        })
    else {
        return false;
    };
    core.smachs.values().any(|s| {
        s.handles.iter().any(|(_, o)| {
            matches!(o, crate::state::Object::Shared(r)
                if r.owner == owner && r.owner_handle == handle
                    && r.serial == serial && !r.is_revoked)
        })
    })
}

/// Linux process `owner` closed its last descriptor of `handle`: if a
/// share of it is still held (a forked child's descriptor), the handle
/// stays open, named by no descriptor, until the last share goes (as
/// Linux keeps a description while any descriptor names it). True if
/// kept. The opener's exit still closes it (and revokes the shares).
pub(crate) fn keep_for_holders(core: &mut Core, owner: SmachId, handle: sk_abi::Handle) -> bool {
    if !has_holders(core, owner, handle) {
        return false;
    }
    let world = &mut core.linux_world;
    if world.lingering.try_reserve(1).is_err() {
        return false;
    }
    if !world.lingering.contains(&(owner, handle)) {
        world.lingering.push((owner, handle));
    }
    true
}

/// A share of SMACH `owner`'s `handle` was closed (from
/// `smach::close_object`): a description kept for its holders closes
/// with its last share.
pub(crate) fn holder_closed(core: &mut Core, owner: SmachId, handle: sk_abi::Handle) {
    let key = (owner, handle);
    if !core.linux_world.lingering.contains(&key) || has_holders(core, owner, handle) {
        return;
    }
    core.linux_world.lingering.retain(|k| *k != key);
    if core.linux_world.lingering.is_empty() {
        // No heap left behind (the leak checks).
        core.linux_world.lingering = Vec::new();
    }
    let object = core
        .smachs
        .get_mut(&owner)
        .and_then(|s| s.handles.remove(handle).ok());
    if let Some(object) = object {
        crate::smach::close_object(core, owner, handle, object);
    }
}
