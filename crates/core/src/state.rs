//! The kernel's global state and the one lock that guards it.
//!
//! Owns [`Core`]: the file system, the SMACH and thread tables, the run
//! queue and the devices. Every entry into `sk-core` takes the lock with
//! interrupts masked (one CPU today: system calls already run with IF = 0,
//! and interrupt handlers never find the lock held by the code they
//! interrupted). Code never switches threads while holding it.

use crate::devices::Devices;
use crate::smach::Smach;
use crate::thread::Thread;
use alloc::collections::{BTreeMap, VecDeque};
use sk_fs::FileSystem;
use spin::Mutex;

/// A SMACH's kernel-wide identifier.
pub(crate) type SmachId = u64;
/// A thread's (SCPU's) kernel-wide identifier.
pub(crate) type ThreadId = u64;

pub(crate) struct Core {
    pub(crate) fs: FileSystem,
    pub(crate) smachs: BTreeMap<SmachId, Smach>,
    pub(crate) threads: BTreeMap<ThreadId, Thread>,
    pub(crate) ready: VecDeque<ThreadId>,
    pub(crate) current: ThreadId,
    pub(crate) idle: ThreadId,
    pub(crate) next_id: u64,
    pub(crate) devices: Devices,
    /// The context of a thread that exited and is switching away for the
    /// last time (kept alive until the switch completes).
    pub(crate) dying: Option<alloc::sync::Arc<sk_machine::context::Context>>,
}

impl Core {
    pub(crate) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

static CORE: Mutex<Option<Core>> = Mutex::new(None);

/// Runs `f` on the kernel state with interrupts masked.
pub(crate) fn with<R>(f: impl FnOnce(&mut Core) -> R) -> R {
    sk_machine::cpu::without_interrupts(|| {
        let mut guard = CORE.lock();
        f(guard.as_mut().expect("sk_core::init ran"))
    })
}

/// Runs `f` on the file system (for the kernel's own setup and tests),
/// then applies the events it raised to synthesized routines, so no stale
/// routine runs after, say, an unlink made here.
pub fn with_fs<R>(f: impl FnOnce(&mut FileSystem) -> R) -> R {
    with(|core| {
        let r = f(&mut core.fs);
        crate::synthesis::on_fs_events(core);
        r
    })
}

/// Brings the kernel's objects up: the file system with `/dev`, `/tmp` and
/// the initrd's files, the current (boot) thread, the idle thread, and the
/// system-call and trap hooks. Call once, on the boot thread, after the
/// machine is initialized.
pub fn init(initrd: Option<&[u8]>, synth: crate::synthesis::SynthConfig) {
    // File data lives on the kernel heap: cap it so files cannot take the
    // memory the kernel needs (a quarter of usable RAM, 256 MiB at least).
    let quota = (sk_machine::paging::frames().free_frames() as u64 * 4096 / 4).max(256 << 20);
    let limits = sk_fs::Limits {
        max_total_bytes: quota,
        ..sk_fs::Limits::DEFAULT
    };
    let mut fs = FileSystem::with_limits(limits).expect("an empty file system fits in memory");
    for dir in ["/dev", "/tmp", "/bin"] {
        if let Err(e) = fs.mkdir(dir) {
            log::error!("mkdir {dir}: {e}");
        }
    }
    if let Some(archive) = initrd {
        crate::initrd::unpack(&mut fs, archive);
    }
    let boot = crate::thread::Thread::boot();
    let boot_id = boot.id;
    let idle = crate::thread::Thread::idle();
    let idle_id = idle.id;
    let mut threads = BTreeMap::new();
    threads.insert(boot.id, boot);
    threads.insert(idle.id, idle);
    let core = Core {
        fs,
        smachs: BTreeMap::new(),
        threads,
        ready: VecDeque::new(),
        current: boot_id,
        idle: idle_id,
        next_id: 16,
        devices: Devices::new(),
        dying: None,
    };
    sk_machine::cpu::without_interrupts(|| *CORE.lock() = Some(core));
    crate::synthesis::init(synth);
    crate::dispatch::install();
    crate::trace::install();
    crate::fault::install();
    crate::scheduler::install();
}
