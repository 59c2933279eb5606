//! SCPUs as the kernel runs them: the portable [`sk_scpu::Scpu`] plus the
//! mechanism (kernel stack and context, quantum countdown, routine table).
//!
//! Owns [`Thread`]. A user thread starts in [`user_thread_start`], which
//! drops to ring 3 at its entry point; kernel threads (the boot thread, the
//! idle thread) run kernel code only. A kernel thread may be *attached* to
//! a SMACH so kernel tests can make calls on its behalf.

use crate::state::{self, ThreadId};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{ScpuState, SysError};
use sk_machine::context::Context;
use sk_machine::stack::KernelStack;
use sk_scpu::Scpu;

/// Kernel stack size of a thread, in pages.
pub(crate) const KERNEL_STACK_PAGES: u64 = 8;

static NEXT_THREAD_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Thread {
    pub(crate) scpu: Scpu,
    pub(crate) context: Arc<Context>,
    pub(crate) ticks_left: u64,
    /// The thread's synthesized entry stub and routine table (user
    /// threads, synthesis on).
    pub(crate) synth: Option<crate::thread_entry::ThreadSynth>,
    /// Its traced call's count was cancelled or abandoned while the call
    /// was in the kernel: it returns to user mode with TF set, and the
    /// `#DB` that follows is the kernel's to claim (`trace`).
    pub(crate) trace_trap_owed: bool,
    /// Its FP/SSE/AVX state: no area until its first FP instruction
    /// (`#NM`), then saved and restored at every switch; freed with the
    /// thread (crate::fp).
    pub(crate) fp: crate::fp::FpState,
}

pub(crate) fn new_id() -> ThreadId {
    NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed)
}

impl Thread {
    pub(crate) fn id(&self) -> ThreadId {
        self.scpu.id()
    }

    pub(crate) fn boot() -> Self {
        Self {
            scpu: Scpu::new_kernel(new_id(), ScpuState::Running, sk_sched::DEFAULT_PRIORITY),
            context: Context::current_boot(),
            ticks_left: 0,
            synth: None,
            trace_trap_owed: false,
            fp: crate::fp::FpState::new(),
        }
    }

    pub(crate) fn idle() -> Self {
        let stack = KernelStack::allocate(2).expect("idle stack at boot");
        Self {
            scpu: Scpu::new_kernel(new_id(), ScpuState::Ready, 0),
            context: Context::new(stack, idle_loop, 0),
            ticks_left: 0,
            synth: None,
            trace_trap_owed: false,
            fp: crate::fp::FpState::new(),
        }
    }

    /// A user thread running `scpu` (made by `sk-scpu`): its kernel stack,
    /// context and, with synthesis on, its entry stub and routine table.
    pub(crate) fn user(scpu: Scpu) -> Result<Self, SysError> {
        // Kernel stack, routine table and stub come from frames and the
        // heap, not charged allocators: admit them first.
        crate::memory::admit((KERNEL_STACK_PAGES + 2) * 4096)?;
        let stack = KernelStack::allocate(KERNEL_STACK_PAGES).map_err(|_| SysError::NoMemory)?;
        let synth = crate::thread_entry::for_new_thread(stack.top())?;
        let id = scpu.id();
        Ok(Self {
            scpu,
            context: Context::new(stack, user_thread_start, id),
            ticks_left: 0,
            synth,
            trace_trap_owed: false,
            fp: crate::fp::FpState::new(),
        })
    }
}

impl Thread {
    /// A user thread of a Linux process: as [`Thread::user`], with a
    /// Linux entry stub and table (`thread_entry::for_new_linux_thread`).
    pub(crate) fn user_linux(scpu: Scpu) -> Result<Self, SysError> {
        Self::user_linux_from(scpu, user_thread_start)
    }

    /// As [`Thread::user_linux`], first running `entry` (a forked or
    /// cloned Linux thread: `linux_fork::child_start`).
    pub(crate) fn user_linux_from(
        scpu: Scpu,
        entry: extern "C" fn(u64) -> !,
    ) -> Result<Self, SysError> {
        crate::memory::admit((KERNEL_STACK_PAGES + 2) * 4096)?;
        let stack = KernelStack::allocate(KERNEL_STACK_PAGES).map_err(|_| SysError::NoMemory)?;
        let synth = crate::thread_entry::for_new_linux_thread(stack.top())?;
        let id = scpu.id();
        Ok(Self {
            scpu,
            context: Context::new(stack, entry, id),
            ticks_left: 0,
            synth,
            trace_trap_owed: false,
            fp: crate::fp::FpState::new(),
        })
    }
}

extern "C" fn idle_loop(_: u64) -> ! {
    loop {
        sk_machine::cpu::wait_for_interrupt();
        crate::scheduler::yield_if_others_ready();
    }
}

/// First code of every user thread, on its own kernel stack.
extern "C" fn user_thread_start(id: u64) -> ! {
    let start = state::with(|core| core.threads.get(&id).and_then(|t| t.scpu.user_start()));
    sk_machine::cpu::disable_interrupts();
    if let Some(start) = start {
        // Interrupts are re-enabled by the iretq into user mode.
        let Err(e) = sk_machine::context::enter_user(
            start.entry,
            start.stack_top.saturating_sub(8),
            start.arg,
        );
        log::error!(
            "thread {id}: bad user start {:#x}/{:#x}: {e:?}",
            start.entry,
            start.stack_top
        );
    }
    crate::smach::kill_current(sk_abi::ExitStatus::KILLED, format_args!("bad thread start"))
}

/// Attaches the current kernel thread to `smach` (kernel tests make calls
/// on a SMACH's behalf this way); its address space becomes active.
pub fn attach_current_to(smach: u64) {
    state::with(|core| {
        let current = core.current;
        if let Some(t) = core.threads.get_mut(&current) {
            t.scpu.set_smach(Some(smach));
        }
        core.refresh_current_smach();
        if let Some(a) = core.smachs.get(&smach).and_then(|s| s.aspace.as_ref()) {
            a.0.activate();
        }
        crate::ring::refresh(core, current);
    });
}

/// Detaches the current kernel thread from its SMACH.
pub fn detach_current() {
    state::with(|core| {
        let current = core.current;
        if let Some(t) = core.threads.get_mut(&current) {
            t.scpu.set_smach(None);
        }
        core.refresh_current_smach();
        sk_machine::address_space::activate_kernel();
        crate::ring::refresh(core, current);
    });
}
