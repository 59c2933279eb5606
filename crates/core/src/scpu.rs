//! SCPU calls: create a thread in the caller's SMACH, terminate it, query
//! and reconfigure it (priority, quantum, suspend, resume).

use crate::object::Object;
use crate::scheduler;
use crate::state::{Core, SmachId, ThreadId};
use crate::thread::Thread;
use sk_abi::{ScpuCreate, ScpuInfo, ScpuReconfigure, ScpuState, SysError};

/// Most threads one SMACH may have.
const MAX_THREADS: usize = 64;

pub(crate) fn create(
    core: &mut Core,
    smach_id: SmachId,
    args: ScpuCreate,
) -> Result<Object, SysError> {
    let smach = core.smachs.get_mut(&smach_id).ok_or(SysError::BadHandle)?;
    if smach.threads.len() >= MAX_THREADS {
        return Err(SysError::NoMemory);
    }
    if args.priority > 7 {
        return Err(SysError::BadValue);
    }
    let thread = Thread::user(
        smach_id,
        args.entry,
        args.stack_top,
        args.arg,
        args.priority,
        args.quantum_us,
    )?;
    let tid = thread.id;
    smach.threads.push(tid);
    core.threads.insert(tid, thread);
    scheduler::make_ready(core, tid);
    Ok(Object::Scpu(tid))
}

/// Stops a thread for good (not the current one: that path is
/// `smach::exit_current`).
pub(crate) fn kill(core: &mut Core, tid: ThreadId) {
    if tid == core.current {
        return;
    }
    if let Some(thread) = core.threads.remove(&tid) {
        if let Some(s) = thread.smach.and_then(|s| core.smachs.get_mut(&s)) {
            s.threads.retain(|&t| t != tid);
        }
    }
    core.ready.retain(|&t| t != tid);
}

pub(crate) fn query(core: &Core, tid: ThreadId) -> Result<ScpuInfo, SysError> {
    let t = core.threads.get(&tid).ok_or(SysError::BadHandle)?;
    Ok(ScpuInfo {
        state: t.state.number(),
        priority: t.priority,
        quantum_us: t.quantum_us,
        _pad: 0,
        id: t.id,
    })
}

pub(crate) fn reconfigure(
    core: &mut Core,
    tid: ThreadId,
    request: ScpuReconfigure,
) -> Result<u64, SysError> {
    let is_current = tid == core.current;
    let t = core.threads.get_mut(&tid).ok_or(SysError::BadHandle)?;
    match request {
        ScpuReconfigure::Priority(p) if p <= 7 => t.priority = p,
        ScpuReconfigure::Priority(_) => return Err(SysError::BadValue),
        ScpuReconfigure::Quantum { quantum_us } => t.quantum_us = quantum_us,
        ScpuReconfigure::Suspend => {
            if is_current {
                return Err(SysError::Busy);
            }
            if t.state != ScpuState::Exited {
                t.state = ScpuState::Suspended;
            }
            core.ready.retain(|&x| x != tid);
        }
        ScpuReconfigure::Resume => {
            if t.state == ScpuState::Suspended {
                scheduler::make_ready(core, tid);
            }
        }
    }
    Ok(0)
}
