//! `fork`, `vfork` and `clone` for Linux processes and threads
//! (docs/unix.md, phase 2).
//!
//! Owns [`clone`] and [`child_start`], where every forked or cloned
//! thread first runs. A process (`fork`, `vfork`: a fork here, `clone`
//! without `CLONE_VM`) is a new Linux SMACH with an eager copy of the
//! caller's address space (`AddressSpace::copy_user_pages_from`: every
//! user page into a new frame, same rights), the caller's address map,
//! signal actions and mask, its descriptors shared through issue 11's SIO
//! sharing ([`copy_descriptors`]: one open, one position, as Linux shares
//! an open file description), a console of its own at the console's
//! descriptors, and one thread with its own Linux entry stub and table.
//! A thread (`CLONE_THREAD` with the flags glibc's `pthread_create`
//! passes) is a new SCPU of the caller's SMACH. The child starts in user
//! mode with every register the caller had at the call but `rax` (0),
//! its FS base the caller's (or `CLONE_SETTLS`'s), and fresh FP state
//! (every FP register is caller-saved across a call in the SysV ABI).

use crate::address_space::KernelAddressSpace;
use crate::linux_pids::{add_process, my_pid, ChildStart, MAX_LINUX_PROCESSES};
use crate::linux_signal_delivery::CallFrame;
use crate::state::{self, Core, Object, Smach, SmachId, ThreadId};
use crate::thread::Thread;
use alloc::collections::BTreeMap;
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{ExitStatus, Handle, OpenFlags, SysError};
use sk_machine::user_regs::UserRegisters;
use sk_scpu::{Scpu, UserStart};
use sk_unix::linux_flags::clone as cf;
use sk_unix::{CloneKind, Errno};

type Answer = Result<u64, Errno>;

fn sys(e: SysError) -> Errno {
    Errno::from_sys_error(e)
}

/// Flags a new process may carry besides its exit signal (the low byte).
const PROCESS_FLAGS: u64 =
    cf::CHILD_SETTID | cf::CHILD_CLEARTID | cf::PARENT_SETTID | cf::SETTLS | cf::CSIGNAL;
/// `CLONE_DETACHED`: ignored by Linux, passed by old libcs.
const DETACHED: u64 = 0x40_0000;
/// What a new thread must share (glibc's `pthread_create` passes these).
const THREAD_REQUIRED: u64 = cf::VM | cf::FS | cf::FILES | cf::SIGHAND | cf::THREAD;
/// What a new thread may carry besides.
const THREAD_FLAGS: u64 = THREAD_REQUIRED
    | cf::SYSVSEM
    | cf::SETTLS
    | cf::PARENT_SETTID
    | cf::CHILD_CLEARTID
    | cf::CHILD_SETTID
    | DETACHED;

/// The last fork's cost in TSC ticks (the whole `fork` under the kernel
/// lock: the copy, the records, the thread) and the pages it copied. Under
/// QEMU's `-icount shift=0` (the xtask's TCG runs) a tick is one guest
/// instruction, so this is the fork's instruction count.
static LAST_FORK_TICKS: AtomicU64 = AtomicU64::new(0);
static LAST_FORK_PAGES: AtomicU64 = AtomicU64::new(0);

/// The last fork's cost: (TSC ticks, pages copied) (tests, docs).
#[cfg(feature = "ktest")]
pub(crate) fn last_fork_cost() -> (u64, u64) {
    (
        LAST_FORK_TICKS.load(Ordering::Relaxed),
        LAST_FORK_PAGES.load(Ordering::Relaxed),
    )
}

/// The arguments of one `clone`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CloneArgs {
    pub(crate) kind: CloneKind,
    pub(crate) flags: u64,
    pub(crate) stack: u64,
    pub(crate) parent_tid: u64,
    pub(crate) child_tid: u64,
    pub(crate) tls: u64,
}

/// `clone`, `fork`, `vfork`: the new thread's tid (the new process's pid).
///
/// # Errors
/// `EINVAL` for a combination not emulated; `EAGAIN` past the process
/// limit; `ENOMEM`; `EPERM` for a TLS base in the kernel half.
pub(crate) fn clone(frame: &dyn CallFrame, args: CloneArgs) -> Answer {
    let has = |bit: u64| args.flags & bit != 0;
    let allowed = match args.kind {
        CloneKind::Thread => {
            if args.flags & THREAD_REQUIRED != THREAD_REQUIRED || args.flags & cf::CSIGNAL != 0 {
                return Err(Errno::EINVAL);
            }
            THREAD_FLAGS
        }
        CloneKind::Process => PROCESS_FLAGS,
        // vfork is a fork here: the child gets a copy, the parent runs on.
        CloneKind::Vfork => PROCESS_FLAGS | cf::VM | cf::VFORK,
    };
    if args.flags & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    let tls = if has(cf::SETTLS) {
        if args.tls >= sk_machine::layout::USER_END {
            return Err(Errno::EPERM);
        }
        args.tls
    } else {
        sk_machine::user_fs::get()
    };
    // The child returns from the same call with 0.
    let mut child_regs = frame.registers(0);
    if args.stack != 0 {
        child_regs.rsp = args.stack;
    }
    let start = ChildStart {
        regs: child_regs,
        fs_base: tls,
        set_child_tid: has(cf::CHILD_SETTID).then_some(args.child_tid),
    };
    let clear_child_tid = if has(cf::CHILD_CLEARTID) {
        args.child_tid
    } else {
        0
    };
    let tid = state::with(|core| match args.kind {
        CloneKind::Thread => new_thread(core, start, clear_child_tid),
        CloneKind::Process | CloneKind::Vfork => {
            let before = sk_machine::cpu::rdtsc();
            let tid = fork(core, start, clear_child_tid)?;
            LAST_FORK_TICKS.store(
                sk_machine::cpu::rdtsc().wrapping_sub(before),
                Ordering::Relaxed,
            );
            Ok(tid)
        }
    })?;
    if has(cf::PARENT_SETTID) {
        // Linux writes it before the child can run; a bad pointer here
        // leaves the child running, as a late fault on Linux would.
        let _ = crate::user_memory::write_bytes(args.parent_tid, &(tid as u32).to_le_bytes());
    }
    Ok(tid)
}

/// A new thread of the caller's process.
fn new_thread(core: &mut Core, start: ChildStart, clear_child_tid: u64) -> Answer {
    let me = core.current_smach.ok_or(Errno::ESRCH)?;
    my_pid(core)?;
    let tid = crate::thread::new_id();
    let scpu = Scpu::new_main(tid, me, user_start(&start.regs));
    let thread = Thread::user_linux_from(scpu, child_start).map_err(sys)?;
    core.linux_world.add_thread(tid, me, clear_child_tid);
    core.linux_world.starts.insert(tid, start);
    let caller = core.current;
    if let Some(p) = core.linux.get_mut(&me) {
        p.signals.add_thread(caller, tid);
    }
    if let Err(e) = crate::scpu_calls::start(core, me, thread) {
        core.linux_world.remove_thread(tid);
        if let Some(p) = core.linux.get_mut(&me) {
            p.signals.remove_thread(tid);
        }
        return Err(sys(e));
    }
    // The new thread's per-fd routine arrays start empty: fill them.
    crate::linux_fast::sync_process(core, me);
    Ok(tid)
}

fn user_start(regs: &UserRegisters) -> UserStart {
    UserStart {
        entry: regs.rip,
        stack_top: regs.rsp,
        arg: 0,
    }
}

/// Frees a child SMACH that never ran (not in the SMACH table).
fn discard(core: &mut Core, id: SmachId, mut smach: Smach) {
    if let Some(teardown) = smach.exit(ExitStatus::KILLED) {
        crate::smach::finish_teardown(core, id, teardown);
    }
}

/// Heap and frames a fork takes besides the user pages: page tables
/// (about one per 2 MiB mapped, a few more for sparse spaces), the SMACH
/// and process records.
fn fork_overhead(mapped: u64) -> u64 {
    (mapped / 512).saturating_add(64 << 10)
}

/// A new process: the caller's copy.
fn fork(core: &mut Core, start: ChildStart, clear_child_tid: u64) -> Answer {
    let me = core.current_smach.ok_or(Errno::ESRCH)?;
    let parent_pid = my_pid(core)?;
    let live = core
        .smachs
        .values()
        .filter(|s| s.state() != sk_abi::SmachState::Exited)
        .count();
    // Zombies count too (the process table keeps each until its parent
    // waits: a parent that never waits could otherwise grow it forever).
    let processes = core
        .linux_world
        .process_count()
        .max(core.linux_world.table.len().saturating_sub(1));
    if processes >= MAX_LINUX_PROCESSES || live >= sk_smach::MAX_SMACHS {
        return Err(Errno::EAGAIN);
    }
    // The child is the forking SMACH's child (docs/nesting.md): in its
    // subtree, group and budget. Its copy of the pages is charged like an
    // SMEM create (ENOMEM over the budget, as Linux's fork); the depth is
    // bounded as `create`'s is.
    if !sk_smach::may_nest_below(crate::nest_memory::depth(core, me)) {
        return Err(Errno::EAGAIN);
    }
    let parent = core.smachs.get(&me).ok_or(Errno::ESRCH)?;
    crate::nest_memory::admit_frames(core, me, parent.mapped_frames()).map_err(sys)?;
    crate::memory::admit(fork_overhead(parent.regions.mapped_bytes())).map_err(sys)?;
    let name = String::from(parent.name());
    let regions = parent.regions.clone();
    // The fork sees the names its parent sees: the same root, if any.
    let root = parent.root();
    let id = core.new_id();
    let mut child = Smach::new(id, name, Some(me), KernelAddressSpace::new().map_err(sys)?);
    child.set_root(root);
    let copied = {
        let parent = core.smachs.get(&me).ok_or(Errno::ESRCH)?;
        match (parent.aspace.as_ref(), child.aspace.as_mut()) {
            (Some(from), Some(to)) => to.0.copy_user_pages_from(&from.0).ok(),
            _ => None,
        }
    };
    if copied.is_none() {
        discard(core, id, child);
        return Err(Errno::ENOMEM);
    }
    child.regions = regions;
    if let Err(e) = crate::smach::install_self_and_console(core, &mut child) {
        discard(core, id, child);
        return Err(sys(e));
    }
    if let Err((e, child)) = core.smachs.insert(id, child) {
        discard(core, id, child);
        return Err(sys(e));
    }
    // From here the child is in the SMACH table: a failure releases it.
    let fail = |core: &mut Core, e: Errno| {
        if let Some(s) = core.smachs.get_mut(&id) {
            s.release();
        }
        crate::smach::exit(core, id, ExitStatus::KILLED);
        core.smachs.remove(&id);
        Err(e)
    };
    let tid = crate::thread::new_id();
    let process = match copy_process(core, me, id, tid) {
        Ok(p) => p,
        Err(e) => return fail(core, e),
    };
    core.linux.insert(id, process);
    crate::linux_fds::all_changed(core, id);
    let scpu = Scpu::new_main(tid, id, user_start(&start.regs));
    let thread = match Thread::user_linux_from(scpu, child_start) {
        Ok(t) => t,
        Err(e) => return fail(core, sys(e)),
    };
    if let Err(e) = add_process(core, id, tid, parent_pid, true) {
        return fail(core, e);
    }
    core.linux_world.set_clear_child_tid(tid, clear_child_tid);
    core.linux_world.starts.insert(tid, start);
    if let Err(e) = crate::scpu_calls::start(core, id, thread) {
        // Not a child anyone may see: out of the table again.
        let world = &mut core.linux_world;
        let pid = crate::linux_pids::pid_of_thread(tid);
        let _ = world.table.exit(pid, 0);
        let _ = world.table.wait(parent_pid, pid);
        world.forget_process(id);
        return fail(core, sys(e));
    }
    LAST_FORK_PAGES.store(copied.unwrap_or(0), Ordering::Relaxed);
    // The child's thread exists now: its descriptors' routines too.
    crate::linux_fast::sync_process(core, id);
    Ok(tid)
}

/// The child's Linux record: the parent's address map, signal actions
/// and the calling thread's mask and alternate stack (thread `child_tid`'s
/// now), nothing pending; its descriptors translated into the child's
/// handles ([`Files::fork_copy`](crate::linux_fds::Files::fork_copy)).
fn copy_process(
    core: &mut Core,
    parent: SmachId,
    child: SmachId,
    child_tid: ThreadId,
) -> Result<crate::linux_process::LinuxProcess, Errno> {
    let caller = core.current;
    let p = core.linux.get_mut(&parent).ok_or(Errno::ESRCH)?;
    let map = p.map.clone();
    let signals = alloc::boxed::Box::new(p.signals.fork_child(caller, child_tid));
    let files = p.files.clone();
    let mut given: BTreeMap<u32, Handle> = BTreeMap::new();
    let files = files.fork_copy(|h| translate(core, parent, child, h, &mut given))?;
    Ok(crate::linux_process::LinuxProcess {
        files,
        map,
        signals,
    })
}

/// The child's handle for the parent's `handle`: a share (issue 11) of
/// the same open, so reads, writes and seeks move one position, as on
/// Linux; the console stays the console. A limitation of sharing: the
/// open lives in its opener's table, and its opener's close or exit
/// revokes every share (Linux keeps the description while any descriptor
/// names it). A share already revoked gives the child a revoked share too
/// (its descriptor is as dead as the parent's).
fn translate(
    core: &mut Core,
    parent: SmachId,
    child: SmachId,
    handle: Handle,
    given: &mut BTreeMap<u32, Handle>,
) -> Result<Handle, Errno> {
    if handle == Handle::CONSOLE {
        return Ok(Handle::CONSOLE);
    }
    if let Some(&h) = given.get(&handle.index()) {
        return Ok(h);
    }
    let (owner, owner_handle, rights) = {
        let smach = core.smachs.get(&parent).ok_or(Errno::ESRCH)?;
        match smach.handles.get(handle).map_err(|_| Errno::EBADF)? {
            Object::Sio(sio) => (
                parent,
                handle,
                sio.flags() & (OpenFlags::READ | OpenFlags::WRITE),
            ),
            Object::Shared(record) if record.is_revoked => {
                let dead = sk_smach::SharedSio {
                    owner: record.owner,
                    owner_handle: record.owner_handle,
                    serial: record.serial,
                    rights: record.rights,
                    is_revoked: true,
                    routines: alloc::vec::Vec::new(),
                };
                let h = core
                    .smachs
                    .get_mut(&child)
                    .ok_or(Errno::ESRCH)?
                    .handles
                    .insert(Object::Shared(dead))
                    .map_err(|(e, _)| sys(e))?;
                given.insert(handle.index(), h);
                return Ok(h);
            }
            Object::Shared(record) => (record.owner, record.owner_handle, record.rights),
            _ => return Err(Errno::EBADF),
        }
    };
    let h = crate::share::share(core, owner, owner_handle, child, rights).map_err(sys)?;
    given.insert(handle.index(), h);
    Ok(h)
}

/// First code of a forked or cloned Linux thread, on its own kernel
/// stack: its FS base, `CLONE_CHILD_SETTID`, then user mode with the
/// registers [`clone`] recorded.
pub(crate) extern "C" fn child_start(id: u64) -> ! {
    let start = state::with(|core| core.linux_world.starts.remove(&id));
    sk_machine::cpu::disable_interrupts();
    let Some(start) = start else {
        crate::smach::kill_current(ExitStatus::KILLED, format_args!("no start registers"))
    };
    if sk_machine::user_fs::set(start.fs_base).is_err() {
        crate::smach::kill_current(ExitStatus::KILLED, format_args!("bad FS base"))
    }
    if let Some(address) = start.set_child_tid {
        // Linux ignores a bad pointer here too.
        let _ = crate::user_memory::write_bytes(address, &(id as u32).to_le_bytes());
        sk_machine::cpu::disable_interrupts();
    }
    // Interrupts are re-enabled by the iretq into user mode.
    let Err(e) = sk_machine::context::enter_user_frame(&start.regs);
    log::error!("thread {id}: bad user start {:#x}: {e:?}", start.regs.rip);
    crate::smach::kill_current(ExitStatus::KILLED, format_args!("bad thread start"))
}
