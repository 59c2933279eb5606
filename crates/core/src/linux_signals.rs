//! Linux signals, the state and the calls (docs/unix.md, "Signals"):
//! per-process actions and per-thread masks, pending sets and alternate
//! stacks kept in `sk_unix`'s types, and posting.
//!
//! Owns [`LinuxSignals`] (a Linux process's part), the calls
//! `rt_sigaction`, `rt_sigprocmask`, `rt_sigpending`, `sigaltstack`,
//! `kill`, `tgkill`/`tkill`, `pause`, `rt_sigsuspend`, and the posting
//! functions every other part calls: [`post_to_process`],
//! [`post_to_thread`], [`post_sigchld`], each ending in the one replug
//! point [`on_signal_posted`]. Fast paths ask [`pending_for_current`].
//! Delivery (frames, `rt_sigreturn`, faults, default actions) is
//! `linux_signal_delivery.rs`; sleeping and the console's foreground group
//! are `linux_sleep.rs`. Every rule is `sk_unix`'s (`signal_state`,
//! `signal_actions`, `sigaltstack`); this file only finds the state and
//! copies user memory.

use crate::state::{self, Core, SmachId, ThreadId};
use crate::user_memory::{write_bytes, KernelUserMemory};
use alloc::collections::BTreeMap;
use sk_sio::UserMemory;
use sk_unix::sigaltstack::{StackT, STACK_T_SIZE};
use sk_unix::siginfo::{code, SigInfo, SigInfoFields};
use sk_unix::signal_actions::{check_sigset_size, SigAction, SIGACTION_SIZE};
use sk_unix::signal_frame::TrapDetails;
use sk_unix::signal_set::{Signal, SignalSet};
use sk_unix::signal_state::{ProcessSignals, ThreadSignals};
use sk_unix::syscall_restart::Interrupted;
use sk_unix::Errno;

type Answer = Result<u64, Errno>;

fn sys(e: sk_abi::SysError) -> Errno {
    Errno::from_sys_error(e)
}

/// One Linux thread's signal state.
#[derive(Default)]
pub(crate) struct LinuxThread {
    /// Mask, own pending set, alternate stack (`sk_unix`).
    pub(crate) signals: ThreadSignals,
    /// How the blocking call a signal cut short wants to end (set when
    /// the wait gives up, taken by the delivery on the call's return).
    pub(crate) interrupted: Option<Interrupted>,
    /// `restart_syscall`'s: the interrupted sleep's deadline (ns) and
    /// `remain` pointer.
    pub(crate) restart_deadline: Option<(u64, u64)>,
    /// The fault behind a pending fault signal (its frame's `sigcontext`).
    pub(crate) trap: TrapDetails,
    /// What the console says if that fault's signal kills.
    pub(crate) fault_note: Option<FaultNote>,
    /// `rt_sigsuspend`'s: the mask to restore once a handler's frame saved
    /// the temporary one.
    pub(crate) saved_mask: Option<SignalSet>,
    /// The FP/SSE/AVX state of the code each running handler interrupted
    /// (innermost last; `None`: it had none), restored by `rt_sigreturn`.
    /// Kept in the kernel, not in the user frame, so `xrstor` never loads
    /// user-written bytes. At most [`FP_SAVES`]: a handler that leaves by
    /// `siglongjmp` never pops its entry, and the oldest goes first.
    pub(crate) fp_saved: alloc::collections::VecDeque<Option<sk_machine::fpu::FpArea>>,
}

/// Nested handlers whose interrupted FP state a thread keeps.
pub(crate) const FP_SAVES: usize = 16;

/// A fault, for the console.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FaultNote {
    pub(crate) vector: u64,
    pub(crate) rip: u64,
    pub(crate) cr2: u64,
    pub(crate) error_code: u64,
}

/// A Linux process's signals: its actions and shared pending set, and
/// each thread's part.
#[derive(Default)]
pub(crate) struct LinuxSignals {
    pub(crate) process: ProcessSignals,
    threads: BTreeMap<ThreadId, LinuxThread>,
}

impl LinuxSignals {
    /// The process's part and thread `tid`'s (made on first use).
    pub(crate) fn parts(&mut self, tid: ThreadId) -> (&mut ProcessSignals, &mut LinuxThread) {
        let thread = self.threads.entry(tid).or_default();
        (&mut self.process, thread)
    }

    /// A `fork` child's: the same actions, nothing pending; its thread
    /// `child` has thread `from`'s mask and alternate stack.
    pub(crate) fn fork_child(&mut self, from: ThreadId, child: ThreadId) -> Self {
        let thread = LinuxThread {
            signals: self.parts(from).1.signals.child(),
            ..LinuxThread::default()
        };
        let mut threads = BTreeMap::new();
        threads.insert(child, thread);
        Self {
            process: self.process.child(),
            threads,
        }
    }

    /// A new thread `tid` of this process (`clone` with `CLONE_THREAD`):
    /// thread `from`'s mask, nothing pending, no alternate stack (Linux
    /// clears it for `CLONE_VM` without `CLONE_VFORK`).
    pub(crate) fn add_thread(&mut self, from: ThreadId, tid: ThreadId) {
        let mut signals = self.parts(from).1.signals.child();
        // What `execve` drops is exactly the alternate stack.
        signals.exec();
        self.threads.insert(
            tid,
            LinuxThread {
                signals,
                ..LinuxThread::default()
            },
        );
    }

    /// Thread `tid` ended.
    pub(crate) fn remove_thread(&mut self, tid: ThreadId) {
        self.threads.remove(&tid);
    }

    /// `execve` by thread `tid` (the only one left): handled actions back
    /// to `SIG_DFL`, its alternate stack gone; mask and pending stay.
    pub(crate) fn exec(&mut self, tid: ThreadId) {
        self.threads.retain(|t, _| *t == tid);
        self.process.exec();
        let (_, thread) = self.parts(tid);
        thread.signals.exec();
        thread.saved_mask = None;
        thread.fp_saved.clear();
    }
}

/// The current thread's Linux process and its id (`None`: not Linux).
pub(crate) fn current_parts(
    core: &mut Core,
) -> Option<(SmachId, &mut ProcessSignals, &mut LinuxThread)> {
    let id = core.current_smach?;
    let tid = core.current;
    let p = core.linux.get_mut(&id)?;
    let (process, thread) = p.signals.parts(tid);
    Some((id, process, thread))
}

/// True if the current thread is Linux and has a signal it does not block
/// pending: what a fast path that baked in "no signal pending" must check
/// before it returns to user mode (or take the generic entry).
#[allow(dead_code)] // For the synthesized read/write slots (linux2-fast).
pub(crate) fn pending_for_current() -> bool {
    if !crate::linux_calls::current_is_linux() {
        return false;
    }
    state::with(pending_in)
}

/// [`pending_for_current`] under the lock.
pub(crate) fn pending_in(core: &mut Core) -> bool {
    current_parts(core).is_some_and(|(_, p, t)| p.has_deliverable(&t.signals))
}

/// For an interruptible wait of the current thread (console read, pipe
/// read or write, sleep): true if a signal must cut it short; notes how
/// the call ends ([`Interrupted::RestartSys`]: `EINTR`, or restarted with
/// `SA_RESTART`). Native threads: always false.
pub(crate) fn interrupts_wait(core: &mut Core) -> bool {
    interrupts_wait_as(core, Interrupted::RestartSys)
}

/// [`interrupts_wait`] with the call's own restart kind.
pub(crate) fn interrupts_wait_as(core: &mut Core, kind: Interrupted) -> bool {
    if !crate::linux_calls::current_is_linux() {
        return false;
    }
    match current_parts(core) {
        Some((_, p, t)) if p.has_deliverable(&t.signals) => {
            t.interrupted = Some(kind);
            true
        }
        _ => false,
    }
}

/// The one replug point: a signal was posted to thread `tid`. Its
/// synthesized `read`/`write` slots (which assume "no signal pending") are
/// swapped out for the Linux generic entry, whose return path delivers
/// (`linux_fast::set_thread_fast`; `linux_signal_delivery::deliver` puts
/// them back when nothing is left to deliver), and the thread is woken
/// from an interruptible wait.
pub(crate) fn on_signal_posted(core: &mut Core, tid: ThreadId) {
    crate::linux_fast::set_thread_fast(core, tid, false);
    crate::scheduler::wake(core, tid);
}

/// The threads of SMACH `id` (phase 1: its main thread).
fn threads_of(core: &Core, id: SmachId) -> alloc::vec::Vec<ThreadId> {
    core.threads
        .iter()
        .filter(|(_, t)| t.scpu.smach() == Some(id))
        .map(|(tid, _)| *tid)
        .collect()
}

/// Posts a process-directed signal (`kill`) to Linux process `pid`.
///
/// # Errors
/// `ESRCH` if `pid` is not a live Linux process; `EAGAIN` when a real-time
/// signal's queue is full.
pub(crate) fn post_to_process(core: &mut Core, pid: SmachId, info: SigInfo) -> Result<(), Errno> {
    let threads = threads_of(core, pid);
    let target = *threads.first().ok_or(Errno::ESRCH)?;
    let p = core.linux.get_mut(&pid).ok_or(Errno::ESRCH)?;
    let (process, thread) = p.signals.parts(target);
    let mask = thread.signals.mask();
    let outcome = process.post_process(info, mask);
    if !outcome.discard.is_empty() {
        for tid in &threads {
            p.signals.parts(*tid).1.signals.discard(outcome.discard);
        }
    }
    for tid in threads {
        on_signal_posted(core, tid);
    }
    if outcome.overflow {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// Posts a thread-directed signal (`tgkill`, `SIGPIPE`) to thread `tid`
/// of Linux process `pid`.
///
/// # Errors
/// `ESRCH`; `EAGAIN` as [`post_to_process`].
pub(crate) fn post_to_thread(
    core: &mut Core,
    pid: SmachId,
    tid: ThreadId,
    info: SigInfo,
) -> Result<(), Errno> {
    if !threads_of(core, pid).contains(&tid) {
        return Err(Errno::ESRCH);
    }
    let p = core.linux.get_mut(&pid).ok_or(Errno::ESRCH)?;
    let (process, thread) = p.signals.parts(tid);
    let outcome = process.post_thread(&mut thread.signals, info);
    on_signal_posted(core, tid);
    if outcome.overflow {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// Posts `SIGCHLD` to Linux process `parent` for child `child`, which
/// changed state with `si_code` `cld_code` (`code::CLD_EXITED`, ...) and
/// `status` (the exit code or the signal): for the process helper's
/// `exit`/`wait4` side. A parent that is not a Linux process is ignored.
pub(crate) fn post_sigchld(
    core: &mut Core,
    parent: SmachId,
    child: sk_unix::process_table::Pid,
    cld_code: i32,
    status: i32,
) {
    let info = SigInfo {
        signal: Signal::SIGCHLD,
        errno: 0,
        code: cld_code,
        fields: SigInfoFields::Child {
            pid: child,
            uid: 0,
            status,
            utime: 0,
            stime: 0,
        },
    };
    let _ = post_to_process(core, parent, info);
}

/// `rt_sigaction(sig, act, oldact, sigsetsize)`.
pub(crate) fn sigaction(sig: u32, act: u64, oldact: u64, sigsetsize: u64) -> Answer {
    check_sigset_size(sigsetsize)?;
    let new = if act == 0 {
        None
    } else {
        let mut bytes = [0u8; SIGACTION_SIZE];
        KernelUserMemory.read(&mut bytes, act).map_err(sys)?;
        Some(SigAction::from_wire(&bytes))
    };
    let old = state::with(|core| -> Result<SigAction, Errno> {
        let id = core.current_smach.ok_or(Errno::ENOSYS)?;
        let p = core.linux.get_mut(&id).ok_or(Errno::ENOSYS)?;
        let change = p.signals.process.sigaction(u64::from(sig), new)?;
        if !change.discard.is_empty() {
            for t in p.signals.threads.values_mut() {
                t.signals.discard(change.discard);
            }
        }
        Ok(change.old)
    })?;
    if oldact != 0 {
        write_bytes(oldact, &old.to_wire()).map_err(sys)?;
    }
    Ok(0)
}

/// Reads a `sigset_t` (8 bytes).
fn read_set(address: u64) -> Result<SignalSet, Errno> {
    let mut bytes = [0u8; 8];
    KernelUserMemory.read(&mut bytes, address).map_err(sys)?;
    Ok(SignalSet::from_bits(u64::from_le_bytes(bytes)))
}

/// `rt_sigprocmask(how, set, oldset, sigsetsize)`.
pub(crate) fn sigprocmask(how: u32, set: u64, oldset: u64, sigsetsize: u64) -> Answer {
    check_sigset_size(sigsetsize)?;
    let new = if set == 0 { None } else { Some(read_set(set)?) };
    let old = state::with(|core| -> Result<SignalSet, Errno> {
        let (_, _, t) = current_parts(core).ok_or(Errno::ENOSYS)?;
        t.signals.sigprocmask(u64::from(how), new)
    })?;
    if oldset != 0 {
        write_bytes(oldset, &old.bits().to_le_bytes()).map_err(sys)?;
    }
    Ok(0)
}

/// `rt_sigpending(set, sigsetsize)`.
pub(crate) fn sigpending(set: u64, sigsetsize: u64) -> Answer {
    // Linux: a size above 8 is EINVAL, a smaller one copies that much.
    if sigsetsize > 8 {
        return Err(Errno::EINVAL);
    }
    let pending = state::with(|core| -> Result<SignalSet, Errno> {
        let (_, p, t) = current_parts(core).ok_or(Errno::ENOSYS)?;
        Ok(p.sigpending(&t.signals))
    })?;
    let bytes = pending.bits().to_le_bytes();
    write_bytes(set, bytes.get(..sigsetsize as usize).unwrap_or(&[])).map_err(sys)?;
    Ok(0)
}

/// `sigaltstack(ss, old_ss)`, the thread at user `rsp`.
pub(crate) fn sigaltstack(ss: u64, old_ss: u64, rsp: u64) -> Answer {
    let new = if ss == 0 {
        None
    } else {
        let mut bytes = [0u8; STACK_T_SIZE];
        KernelUserMemory.read(&mut bytes, ss).map_err(sys)?;
        Some(StackT::from_wire(&bytes))
    };
    let old = state::with(|core| -> Result<StackT, Errno> {
        let (_, _, t) = current_parts(core).ok_or(Errno::ENOSYS)?;
        t.signals.altstack.sigaltstack(new, rsp)
    })?;
    if old_ss != 0 {
        write_bytes(old_ss, &old.to_wire()).map_err(sys)?;
    }
    Ok(0)
}

/// The signal `sig` names for `kill` (0: only the checks).
fn kill_signal(sig: u32) -> Result<Option<Signal>, Errno> {
    if sig == 0 {
        return Ok(None);
    }
    Signal::new(u64::from(sig)).map(Some).ok_or(Errno::EINVAL)
}

/// `kill(pid, sig)`: `pid` > 0 that process; 0 the caller's process
/// group; -1 every process but `init` and the caller; `-pgid` group
/// `pgid` (the process table's rule, `sk_unix::process_table`). Signal 0
/// only checks that a target exists.
pub(crate) fn kill(pid: i32, sig: u32) -> Answer {
    let signal = kill_signal(sig)?;
    state::with(|core| {
        let sender = crate::linux_pids::my_pid(core).map_err(|_| Errno::ENOSYS)?;
        let targets = core.linux_world.table.kill_targets(sender, pid)?;
        let mut result = Ok(0);
        for target in targets {
            // `init` (the kernel) takes no signals.
            let Some(id) = core.linux_world.smach_of(target) else {
                continue;
            };
            if let Some(signal) = signal {
                if let Err(e) = post_to_process(core, id, SigInfo::user(signal, sender, 0)) {
                    result = Err(e);
                }
            }
        }
        result
    })
}

/// `tgkill(tgid, tid, sig)` and `tkill(tid, sig)` (`tgid` -1). Thread ids
/// are what `gettid` returns; `tgid` must be the thread's process.
pub(crate) fn tgkill(tgid: i32, tid: i32, sig: u32) -> Answer {
    if tid <= 0 || (tgid <= 0 && tgid != -1) {
        return Err(Errno::EINVAL);
    }
    let signal = kill_signal(sig)?;
    state::with(|core| {
        let sender = crate::linux_pids::my_pid(core).map_err(|_| Errno::ENOSYS)?;
        let thread = tid as ThreadId;
        let id = core
            .linux_world
            .smach_of_thread(thread)
            .ok_or(Errno::ESRCH)?;
        let pid = core.linux_world.proc(id).ok_or(Errno::ESRCH)?.pid;
        if tgid != -1 && tgid != pid {
            return Err(Errno::ESRCH);
        }
        let Some(signal) = signal else {
            return Ok(0);
        };
        let info = SigInfo {
            code: code::SI_TKILL,
            ..SigInfo::user(signal, sender, 0)
        };
        post_to_thread(core, id, thread, info).map(|()| 0)
    })
}

/// Blocks the current thread until a signal it does not block is
/// pending; notes `kind` for the return. Always `Err(EINTR)` (or the
/// restart the delivery decides).
fn wait_for_signal(kind: Interrupted) -> Answer {
    loop {
        let done = crate::scheduler::block_current_unless(|core| {
            Ok(interrupts_wait_as(core, kind) || current_parts(core).is_none())
        })
        .map_err(sys)?;
        if done {
            return Err(Errno::EINTR);
        }
    }
}

/// `pause()`.
pub(crate) fn pause() -> Answer {
    wait_for_signal(Interrupted::RestartNoHand)
}

/// `rt_sigsuspend(set, sigsetsize)`: the mask is `set` until a handler
/// runs; its frame saves `set`, and the old mask comes back after it.
pub(crate) fn sigsuspend(set: u64, sigsetsize: u64) -> Answer {
    check_sigset_size(sigsetsize)?;
    let mask = read_set(set)?;
    state::with(|core| -> Result<(), Errno> {
        let (_, _, t) = current_parts(core).ok_or(Errno::ENOSYS)?;
        t.saved_mask = Some(t.signals.mask());
        t.signals.set_mask(mask);
        Ok(())
    })?;
    wait_for_signal(Interrupted::RestartNoHand)
}
