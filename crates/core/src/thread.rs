//! SCPUs: threads of control, each with its own kernel stack and context.
//!
//! Owns [`Thread`]. A user thread starts in [`user_thread_start`], which
//! drops to ring 3 at its entry point; kernel threads (the boot thread, the
//! idle thread) run kernel code only. A kernel thread may be *attached* to
//! a SMACH so kernel tests can make calls on its behalf.

use crate::state::{self, SmachId, ThreadId};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{ScpuState, SysError};
use sk_machine::context::Context;
use sk_machine::stack::KernelStack;

/// Kernel stack size of a thread, in pages.
pub(crate) const KERNEL_STACK_PAGES: u64 = 8;
/// Default scheduling priority (0 lowest .. 7 highest).
pub(crate) const DEFAULT_PRIORITY: u32 = 3;
/// Default quantum in microseconds.
pub(crate) const DEFAULT_QUANTUM_US: u32 = 50_000;

static NEXT_THREAD_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Thread {
    pub(crate) id: ThreadId,
    pub(crate) smach: Option<SmachId>,
    pub(crate) context: Arc<Context>,
    pub(crate) state: ScpuState,
    pub(crate) priority: u32,
    pub(crate) quantum_us: u32,
    pub(crate) ticks_left: u64,
    /// Entry point, stack and argument for a user thread's first run.
    pub(crate) user_start: Option<(u64, u64, u64)>,
    /// The thread's synthesized entry stub and routine table (user
    /// threads, synthesis on).
    pub(crate) synth: Option<crate::synthesis::ThreadSynth>,
}

impl Thread {
    fn new_id() -> ThreadId {
        NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn boot() -> Self {
        Self {
            id: Self::new_id(),
            smach: None,
            context: Context::current_boot(),
            state: ScpuState::Running,
            priority: DEFAULT_PRIORITY,
            quantum_us: DEFAULT_QUANTUM_US,
            ticks_left: 0,
            user_start: None,
            synth: None,
        }
    }

    pub(crate) fn idle() -> Self {
        let stack = KernelStack::allocate(2).expect("idle stack at boot");
        Self {
            id: Self::new_id(),
            smach: None,
            context: Context::new(stack, idle_loop, 0),
            state: ScpuState::Ready,
            priority: 0,
            quantum_us: DEFAULT_QUANTUM_US,
            ticks_left: 0,
            user_start: None,
            synth: None,
        }
    }

    /// A user thread of `smach` that will start at `entry` with `stack_top`.
    pub(crate) fn user(
        smach: SmachId,
        entry: u64,
        stack_top: u64,
        arg: u64,
        priority: u32,
        quantum_us: u32,
    ) -> Result<Self, SysError> {
        let id = Self::new_id();
        let stack = KernelStack::allocate(KERNEL_STACK_PAGES).map_err(|_| SysError::NoMemory)?;
        let synth = crate::synthesis::for_new_thread(stack.top())?;
        Ok(Self {
            synth,
            id,
            smach: Some(smach),
            context: Context::new(stack, user_thread_start, id),
            state: ScpuState::Ready,
            priority: priority.min(7),
            quantum_us: if quantum_us == 0 {
                DEFAULT_QUANTUM_US
            } else {
                quantum_us
            },
            ticks_left: 0,
            user_start: Some((entry, stack_top, arg)),
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
    let start = state::with(|core| core.threads.get(&id).and_then(|t| t.user_start));
    sk_machine::cpu::disable_interrupts();
    if let Some((rip, rsp, arg)) = start {
        // Interrupts are re-enabled by the iretq into user mode.
        let Err(e) = sk_machine::context::enter_user(rip, rsp.saturating_sub(8), arg);
        log::error!("thread {id}: bad user start {rip:#x}/{rsp:#x}: {e:?}");
    }
    crate::smach::kill_current(sk_abi::ExitStatus::KILLED, format_args!("bad thread start"))
}

/// Attaches the current kernel thread to `smach` (kernel tests make calls
/// on a SMACH's behalf this way); its address space becomes active.
pub fn attach_current_to(smach: SmachId) {
    state::with(|core| {
        let current = core.current;
        if let Some(t) = core.threads.get_mut(&current) {
            t.smach = Some(smach);
        }
        if let Some(s) = core.smachs.get(&smach) {
            if let Some(a) = &s.aspace {
                a.activate();
            }
        }
    });
}

/// Detaches the current kernel thread from its SMACH.
pub fn detach_current() {
    state::with(|core| {
        let current = core.current;
        if let Some(t) = core.threads.get_mut(&current) {
            t.smach = None;
        }
        sk_machine::address_space::activate_kernel();
    });
}
