//! The kernel's global state and the one lock that guards it.
//!
//! Owns [`Core`]: the file system, the devices, the SMACH and thread
//! tables, the ready queue. Every entry into `sk-core` takes the lock with
//! interrupts masked (one CPU today: system calls already run with IF = 0,
//! and interrupt handlers never find the lock held by the code they
//! interrupted). Code never switches threads while holding it.
//!
//! The drain of file-system events is structural: every release of the
//! lock first applies the events raised while it was held to the
//! synthesized routines they concern ([`with`]), so no stale routine can run
//! after any kernel call, whichever path changed the file.

use crate::thread::Thread;
use alloc::sync::Arc;
use sk_fs::FileSystem;
use sk_machine::context::Context;
use sk_sched::{ReadyQueue, SleepQueue};
use sk_sio::Devices;
use sk_smach::IdMap;
use spin::Mutex;

/// A SMACH's kernel-wide identifier.
pub(crate) type SmachId = u64;
/// A thread's (SCPU's) kernel-wide identifier.
pub(crate) type ThreadId = u64;

/// The kernel's synthesized-routine state of one SIO.
pub(crate) type Routines = sk_synth::policy::SioRoutines<crate::code_memory::HeldRoutine>;
/// An open SIO as the kernel holds it.
pub(crate) type Sio = sk_sio::Sio<Routines>;
/// A handle-table entry.
pub(crate) type Object = sk_smach::Object<Routines>;
/// A SMACH as the kernel holds it.
pub(crate) type Smach = sk_smach::Smach<Routines, crate::address_space::KernelAddressSpace>;

pub(crate) struct Core {
    pub(crate) fs: FileSystem,
    pub(crate) devices: Devices,
    pub(crate) smachs: IdMap<Smach>,
    pub(crate) threads: IdMap<Thread>,
    pub(crate) ready: ReadyQueue<ThreadId>,
    /// Threads in `sleep`, by TSC deadline (woken by the timer hook).
    pub(crate) sleepers: SleepQueue<ThreadId>,
    pub(crate) current: ThreadId,
    /// The running thread's SMACH (kept with `current`: every call needs it).
    pub(crate) current_smach: Option<SmachId>,
    pub(crate) idle: ThreadId,
    pub(crate) next_id: u64,
    /// The context of a thread that exited and is switching away for the
    /// last time (kept alive until the switch completes).
    pub(crate) dying: Option<Arc<Context>>,
    /// The synthesized scheduler (`sched=ring`); None: the generic one.
    pub(crate) ring: Option<crate::ring::RingState>,
    /// The Linux processes, by SMACH (docs/unix.md): a SMACH is Linux iff
    /// it has an entry here.
    pub(crate) linux: alloc::collections::BTreeMap<SmachId, crate::linux_process::LinuxProcess>,
    /// Linux processes as a family: pids, zombies, groups, futexes
    /// (`linux_pids.rs`).
    pub(crate) linux_world: crate::linux_pids::LinuxWorld,
    /// Nested SMACHs' groups and shares (`nest.rs`).
    pub(crate) nest: crate::nest::NestState,
}

impl Core {
    pub(crate) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The current thread's SMACH id.
    pub(crate) fn current_smach_id(&self) -> Result<SmachId, sk_abi::SysError> {
        self.current_smach.ok_or(sk_abi::SysError::NotPermitted)
    }

    /// Refreshes `current_smach` after the running thread's SMACH changed
    /// (a kernel thread attached to or detached from a test machine).
    pub(crate) fn refresh_current_smach(&mut self) {
        self.current_smach = self.threads.get(&self.current).and_then(|t| t.scpu.smach());
        crate::linux_calls::note_current(self);
    }

    /// The current thread's SMACH.
    pub(crate) fn current_smach(&mut self) -> Result<&mut Smach, sk_abi::SysError> {
        let id = self.current_smach_id()?;
        self.smachs
            .get_mut(&id)
            .ok_or(sk_abi::SysError::NotPermitted)
    }
}

static CORE: Mutex<Option<Core>> = Mutex::new(None);

/// The running thread's id, without taking the lock (trap handlers that
/// may interrupt a holder of the lock read it): the per-CPU current slot,
/// written with `Core::current` and by every synthesized switch-in.
pub(crate) fn current_thread() -> ThreadId {
    sk_machine::percpu::current_thread()
}

impl Core {
    /// Makes `id` the running thread (the lock-free mirror too).
    pub(crate) fn set_current(&mut self, id: ThreadId) {
        self.current = id;
        self.refresh_current_smach();
        sk_machine::percpu::set_current_thread(id);
    }
}

/// Runs `f` on the kernel state with interrupts masked; before the lock is
/// released, file-system events raised meanwhile are applied to the
/// synthesized routines they concern.
pub(crate) fn with<R>(f: impl FnOnce(&mut Core) -> R) -> R {
    sk_machine::cpu::without_interrupts(|| {
        let mut guard = CORE.lock();
        let core = guard.as_mut().expect("sk_core::init ran");
        // The synthesized scheduler switches in code: learn who runs.
        crate::ring::sync(core);
        let r = f(core);
        if core.fs.pending_events() > 0 {
            crate::synthesis::on_fs_events(core);
        }
        crate::synthesis::check_fresh(core);
        r
    })
}

/// Runs `f` on the file system (for the kernel's own setup and tests).
pub fn with_fs<R>(f: impl FnOnce(&mut FileSystem) -> R) -> R {
    with(|core| f(&mut core.fs))
}

pub(crate) fn install(core: Core) {
    sk_machine::percpu::set_current_thread(core.current);
    sk_machine::cpu::without_interrupts(|| *CORE.lock() = Some(core));
}
