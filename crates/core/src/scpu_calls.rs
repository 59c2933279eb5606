//! SCPU calls: the kernel side of `sk-scpu` (create a thread in the
//! caller's SMACH, reconfigure it, stop it).

use crate::scheduler;
use crate::state::{Core, Object, ThreadId};
use crate::thread::Thread;
use sk_abi::{Handle, ScpuCreate, ScpuReconfigure, SysError};
use sk_scpu::{Scpu, Transition, MAX_SCPUS_PER_SMACH};

/// Starts a thread in SMACH `me` and names it with a new handle.
pub(crate) fn create(core: &mut Core, me: u64, args: &ScpuCreate) -> Result<Handle, SysError> {
    let tid = crate::thread::new_id();
    let mut args = *args;
    args.priority = sk_smach::capped_priority(args.priority, priority_cap(core, me));
    let scpu = Scpu::new_user(tid, me, &args)?;
    start(core, me, Thread::user(scpu)?)?;
    let smach = core.smachs.get_mut(&me).ok_or(SysError::NotPermitted)?;
    match smach.handles.insert(Object::Scpu(tid)) {
        Ok(handle) => Ok(handle),
        Err((e, _)) => {
            kill(core, tid);
            Err(e)
        }
    }
}

/// The highest priority SMACH `smach`'s SCPUs may have: its parent's
/// (None for a root); the rule is `sk_smach::capped_priority`.
pub(crate) fn priority_cap(core: &Core, smach: u64) -> Option<u32> {
    let parent = core.smachs.get(&smach)?.parent()?;
    core.smachs.get(&parent).map(|p| p.priority())
}

/// Registers a new thread of SMACH `smach` and makes it ready.
pub(crate) fn start(core: &mut Core, smach: u64, thread: Thread) -> Result<(), SysError> {
    let tid = thread.id();
    // Room on the ready queue for every thread, so making it ready never
    // allocates.
    let room = (core.threads.len() + 1).saturating_sub(core.ready.len());
    core.ready.reserve(room).map_err(|_| SysError::NoMemory)?;
    core.smachs
        .get_mut(&smach)
        .ok_or(SysError::NotPermitted)?
        .add_thread(tid, MAX_SCPUS_PER_SMACH)?;
    if let Err((e, _thread)) = core.threads.insert(tid, thread) {
        // Dropping the thread frees its stack and retires its stub.
        if let Some(s) = core.smachs.get_mut(&smach) {
            s.threads.retain(|&t| t != tid);
        }
        return Err(e);
    }
    // The synthesized scheduler: its switch code, before it can be linked.
    if let Err(e) = crate::ring::add(core, tid) {
        core.threads.remove(&tid);
        if let Some(s) = core.smachs.get_mut(&smach) {
            s.threads.retain(|&t| t != tid);
        }
        return Err(e);
    }
    // A nested SMACH's SCPU joins its group's tree first (`nest.rs`).
    if let Err(e) = crate::nest::thread_started(core, smach, tid) {
        crate::ring::forget(core, tid);
        core.threads.remove(&tid);
        if let Some(s) = core.smachs.get_mut(&smach) {
            s.threads.retain(|&t| t != tid);
        }
        return Err(e);
    }
    scheduler::make_ready(core, tid);
    // Its table gets the SMACH's semaphore routines.
    crate::synthesis::on_thread_joined(core, smach);
    Ok(())
}

/// Stops a thread for good (not the current one: that path is
/// [`exit_current_thread`]).
pub(crate) fn kill(core: &mut Core, tid: ThreadId) {
    if tid == core.current {
        return;
    }
    if let Some(thread) = core.threads.remove(&tid) {
        if let Some(s) = thread.scpu.smach().and_then(|s| core.smachs.get_mut(&s)) {
            s.threads.retain(|&t| t != tid);
        }
    }
    forget(core, tid);
}

/// Everything but the thread table that may still name thread `tid`, once
/// it is gone: the ready queue, the sleep queue, the semaphores it waits
/// on (a grant it did not consume passes to the next waiter), the
/// console's readers, every program's list of threads waiting for it to
/// exit, the instruction counter, the routines synthesized for it.
pub(crate) fn forget(core: &mut Core, tid: ThreadId) {
    core.ready.remove(tid);
    core.sleepers.remove(tid);
    // A thread waits on at most one semaphore (it is blocked in its P),
    // so at most one grant passes on.
    let mut passed_to = None;
    for smach in core.smachs.values_mut() {
        for (_, object) in smach.handles.iter_mut() {
            if let Some(semaphore) = object.as_sio_mut().and_then(|s| s.semaphore_mut()) {
                if let Some(next) = semaphore.cancel(tid) {
                    passed_to = Some(next);
                }
            }
        }
    }
    if let Some(next) = passed_to {
        scheduler::wake(core, next);
    }
    // The executable ready queue: out of the ring, its switch code retired.
    crate::ring::forget(core, tid);
    core.devices.forget_reader(tid);
    core.devices.pipe_waiters.forget(tid);
    core.devices.port_waiters.forget(tid);
    for smach in core.smachs.values_mut() {
        smach.waiters.retain(|&t| t != tid);
    }
    crate::trace::forget_thread(tid);
    crate::synthesis::on_thread_gone(core, tid);
    crate::nest::thread_gone(core, tid);
}

/// `reconfigure(Yield | Sleep)` on an SCPU handle: only on the caller's
/// own (else [`SysError::NotPermitted`]); the waiting happens here, off
/// the kernel lock. `Sleep { ns: 0 }` is a yield.
pub(crate) fn yield_or_sleep(handle: Handle, request: ScpuReconfigure) -> Result<u64, SysError> {
    crate::state::with(|core| {
        let current = core.current;
        let tid = match core.current_smach()?.handles.get(handle)? {
            Object::Scpu(tid) => *tid,
            _ => return Err(SysError::WrongKind),
        };
        let thread = core.threads.get_mut(&tid).ok_or(SysError::BadHandle)?;
        // The rule (own SCPU only) is sk-scpu's.
        thread.scpu.reconfigure(request, tid == current).map(drop)
    })?;
    match request {
        ScpuReconfigure::Sleep { ns } => yield_or_sleep_caller(ns),
        _ => yield_or_sleep_caller(0),
    }
}

/// The calling thread yields (`ns == 0`) or sleeps `ns` nanoseconds: the
/// end of [`yield_or_sleep`], and all of `reconfigure(YieldCaller |
/// SleepCaller)` on [`Handle::SELF`] (whose rule, own SMACH only, is
/// sk-smach's).
pub(crate) fn yield_or_sleep_caller(ns: u64) -> Result<u64, SysError> {
    if ns > 0 {
        scheduler::sleep_current(ns)?;
    } else {
        scheduler::yield_now();
    }
    Ok(0)
}

/// `terminate` on the caller's own SCPU handle: closes the handle and
/// ends the calling thread (its context is parked in `core.dying` until
/// the switch away). The last thread of an SMACH ending this way ends the
/// SMACH with `status`. The caller then switches away for good
/// ([`crate::scheduler::exit_current`]).
pub(crate) fn exit_current_thread(
    core: &mut Core,
    me: u64,
    handle: Handle,
    status: sk_abi::ExitStatus,
) -> Result<(), SysError> {
    let tid = core.current;
    let smach = core.current_smach()?;
    smach.handles.remove(handle)?;
    if smach.threads.iter().all(|&t| t == tid) {
        crate::smach::exit(core, me, status);
        return Ok(());
    }
    smach.threads.retain(|&t| t != tid);
    if let Some(thread) = core.threads.remove(&tid) {
        core.dying = Some(thread.context.clone());
    }
    forget(core, tid);
    Ok(())
}

/// `reconfigure` on an SCPU handle.
pub(crate) fn reconfigure(
    core: &mut Core,
    handle: Handle,
    request: ScpuReconfigure,
) -> Result<u64, SysError> {
    let tid = match core.current_smach()?.handles.get(handle)? {
        Object::Scpu(tid) => *tid,
        _ => return Err(SysError::WrongKind),
    };
    apply(core, tid, request).map(|()| 0)
}

/// Applies `request` to thread `tid` and performs the scheduler transition.
pub(crate) fn apply(
    core: &mut Core,
    tid: ThreadId,
    request: ScpuReconfigure,
) -> Result<(), SysError> {
    let is_current = tid == core.current;
    let request = match request {
        ScpuReconfigure::Priority(p) => {
            let smach = core.threads.get(&tid).and_then(|t| t.scpu.smach());
            let cap = smach.and_then(|s| priority_cap(core, s));
            ScpuReconfigure::Priority(sk_smach::capped_priority(p, cap))
        }
        other => other,
    };
    let thread = core.threads.get_mut(&tid).ok_or(SysError::BadHandle)?;
    match thread.scpu.reconfigure(request, is_current)? {
        Transition::None => {}
        Transition::Unready => scheduler::unready(core, tid),
        Transition::Ready => scheduler::make_ready(core, tid),
    }
    // A new quantum or priority: the switch-in bakes it in.
    crate::ring::refresh(core, tid);
    Ok(())
}

/// `query(Routines)` on an SCPU handle: its switch code and place in the
/// ring as text (`routines_text::describe_thread`); the bytes written.
pub(crate) fn describe(
    core: &mut Core,
    handle: Handle,
    ptr: u64,
    len: u64,
) -> Result<u64, SysError> {
    let tid = match core.current_smach()?.handles.get(handle)? {
        Object::Scpu(tid) => *tid,
        _ => return Err(SysError::WrongKind),
    };
    // At most what the caller's buffer takes, and 64 KiB.
    let max = len.min(64 << 10) as usize;
    let text = crate::routines_text::describe_thread(core, tid, max)?;
    crate::user_memory::write_bytes(ptr, text.as_bytes())?;
    Ok(text.as_bytes().len() as u64)
}
