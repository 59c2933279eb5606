//! A user thread's synthesized entry: its routine table and entry stub,
//! and pointing the CPU at the running thread's stub.
//!
//! Owns [`ThreadSynth`]. The table starts as the policy's `initial_slot`
//! says, the stub's holes come from its `ThreadEntryPlan`.

use crate::code_memory::{install_holes, slot_address, Routine};
use crate::linux_process::LINUX_TABLE_SLOTS;
use crate::state::{Core, ThreadId};
use crate::synthesis::{config, env, EntryMode};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::SysError;
use sk_synth::policy::{initial_slot, Env, SlotTarget, ThreadEntryPlan};
use sk_synth::templates::LinuxEntryStubHoles;
use sk_synth::{Imm32, Imm64};

/// LSTAR's current value (to skip redundant writes).
static CURRENT_LSTAR: AtomicU64 = AtomicU64::new(0);

/// A user thread's synthesized entry: its routine table and stub.
pub(crate) struct ThreadSynth {
    table: Box<[AtomicU64]>,
    pub(crate) stub: Routine,
    /// A Linux thread's table: indexed by Linux call numbers, every slot
    /// the Linux generic entry but `read` and `write` (the dispatchers);
    /// native replugs never touch it.
    linux: bool,
    /// A Linux thread's per-fd routine arrays (`linux_fast.rs`): where the
    /// policy's stores for its SIOs land.
    linux_fds: Option<crate::linux_fast::LinuxFds>,
}

impl ThreadSynth {
    /// Builds the table (every slot as `initial_slot` says) and the stub
    /// for a thread whose kernel stack ends at `kernel_stack_top`.
    fn new(kernel_stack_top: u64) -> Result<Self, SysError> {
        let env = env();
        let mut table = Vec::new();
        with_initial_table(&env, |initial| {
            table
                .try_reserve_exact(initial.len())
                .map_err(|_| SysError::NoMemory)?;
            table.extend(initial.iter().map(|&address| AtomicU64::new(address)));
            Ok(())
        })?;
        let table = table.into_boxed_slice();
        let plan = ThreadEntryPlan::new(kernel_stack_top, table.as_ptr() as u64, &env);
        let stub = install_holes(&plan.stub).map_err(|_| SysError::NoMemory)?;
        Ok(Self {
            table,
            stub,
            linux: false,
            linux_fds: None,
        })
    }

    /// A Linux thread's table ([`LINUX_TABLE_SLOTS`] slots, each the
    /// Linux generic entry but `read` and `write`, which hold the thread's
    /// fd dispatchers) and its `linux_entry_stub`.
    fn new_linux(kernel_stack_top: u64) -> Result<Self, SysError> {
        let generic = sk_machine::linux_entry::generic_entry_address();
        let fds = crate::linux_fast::LinuxFds::new()?;
        let mut table = Vec::new();
        table
            .try_reserve_exact(LINUX_TABLE_SLOTS as usize)
            .map_err(|_| SysError::NoMemory)?;
        table.extend((0..LINUX_TABLE_SLOTS).map(|_| AtomicU64::new(generic)));
        let table = table.into_boxed_slice();
        let holes = LinuxEntryStubHoles {
            kernel_stack_top: Imm64(kernel_stack_top),
            // 451 < 2^31.
            table_len: Imm32(LINUX_TABLE_SLOTS as i32),
            table: Imm64(table.as_ptr() as u64),
        };
        let stub = install_holes(&holes).map_err(|_| SysError::NoMemory)?;
        let synth = Self {
            table,
            stub,
            linux: true,
            linux_fds: Some(fds),
        };
        synth.set_linux_fast(true);
        Ok(synth)
    }

    /// A Linux thread's per-fd arrays (None for a native thread).
    pub(crate) fn linux_fds(&self) -> Option<&crate::linux_fast::LinuxFds> {
        self.linux_fds.as_ref()
    }

    /// Points a Linux table's `read` and `write` slots at the fd
    /// dispatchers (`fast`) or at the Linux generic entry (one store each);
    /// true if they were elsewhere (a thread pinned generic for tests
    /// stays there and reports no change).
    pub(crate) fn set_linux_fast(&self, fast: bool) -> bool {
        let Some(fds) = self.linux_fds.as_ref() else {
            return false;
        };
        let generic = sk_machine::linux_entry::generic_entry_address();
        let fast = fast && fds.may_be_fast();
        if !fds.note_fast(fast) {
            return false;
        }
        for op in sk_synth::policy::Op::ALL {
            let number = sk_synth::policy::linux::linux_number(op);
            let target = if fast { fds.dispatcher(op) } else { generic };
            if let Some(slot) = self.table.get(number as usize) {
                slot.store(target, Ordering::Release);
            }
        }
        true
    }

    /// True for a Linux thread's entry (tests).
    #[cfg(feature = "ktest")]
    pub(crate) fn is_linux(&self) -> bool {
        self.linux
    }

    /// Where slot `index` of the table points (tests).
    #[cfg(feature = "ktest")]
    pub(crate) fn slot_at(&self, index: usize) -> Option<u64> {
        self.table.get(index).map(|a| a.load(Ordering::Acquire))
    }

    /// Slots in the table (tests).
    #[cfg(feature = "ktest")]
    pub(crate) fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Where the slot of `call` on `handle` points (for tests).
    #[cfg(feature = "ktest")]
    pub(crate) fn slot(&self, handle: sk_abi::Handle, call: sk_abi::Call) -> u64 {
        let index = (u64::from(handle.index()) << sk_abi::Call::BITS) | u64::from(call.number());
        self.table
            .get(index as usize)
            .map_or(0, |a| a.load(Ordering::Acquire))
    }

    /// Replug: one atomic store; the stub loads the slot once per call.
    pub(crate) fn store(&self, index: u64, target: SlotTarget) {
        // Native slot numbers mean nothing in a Linux table (slot 14 of
        // handle 1 would be `rt_sigprocmask`): a native replug never
        // reaches one. A read or write routine of the thread's SIOs goes
        // to the fds naming that handle instead.
        if self.linux {
            if let Some(fds) = self.linux_fds.as_ref() {
                fds.store_handle(index, target);
            }
            return;
        }
        if let Some(slot) = self.table.get(index as usize) {
            slot.store(slot_address(target), Ordering::Release);
        }
    }
}

/// Every slot's initial address, as the policy's `initial_slot` gives it
/// for an [`Env`], computed once: the addresses depend only on the Env
/// (fixed from the ring's start on) and on error stubs, which live
/// forever. A new table is then a copy, not 512 policy calls and error
/// stub lookups (8,400 of the 16,000 instructions an SCPU create took).
/// Recomputed if the Env ever differs.
static INITIAL_TABLE: spin::Mutex<Option<(Env, Box<[u64]>)>> = spin::Mutex::new(None);

/// Runs `f` on the initial table for `env`.
fn with_initial_table(
    env: &Env,
    f: impl FnOnce(&[u64]) -> Result<(), SysError>,
) -> Result<(), SysError> {
    sk_machine::cpu::without_interrupts(|| {
        let mut cached = INITIAL_TABLE.lock();
        if cached.as_ref().is_none_or(|(e, _)| e != env) {
            let slots = u64::from(env.table_slots());
            let mut table = Vec::new();
            table
                .try_reserve_exact(slots as usize)
                .map_err(|_| SysError::NoMemory)?;
            table.extend((0..slots).map(|i| slot_address(initial_slot(i, env))));
            *cached = Some((*env, table.into_boxed_slice()));
        }
        match cached.as_ref() {
            Some((_, table)) => f(table),
            None => Err(SysError::NoMemory),
        }
    })
}

/// Gives a new user thread its table and stub (synthesis on only). With
/// synthesis on, a thread cannot run without its own stub (the CPU would
/// enter another thread's), so failure fails the thread's creation.
pub(crate) fn for_new_thread(kernel_stack_top: u64) -> Result<Option<ThreadSynth>, SysError> {
    if !config().enabled {
        return Ok(None);
    }
    ThreadSynth::new(kernel_stack_top).map(Some)
}

/// Gives a new Linux thread its Linux table and stub. With synthesis off
/// there are no stubs: the generic entry serves Linux threads too
/// (`dispatch::syscall_entry` asks `linux_calls`).
pub(crate) fn for_new_linux_thread(kernel_stack_top: u64) -> Result<Option<ThreadSynth>, SysError> {
    if !config().enabled {
        return Ok(None);
    }
    // Beyond what every thread is admitted for (`thread.rs`): the 451-slot
    // table, the per-fd routine arrays and their dispatchers (~16 KiB).
    crate::memory::admit(LINUX_THREAD_EXTRA_BYTES)?;
    ThreadSynth::new_linux(kernel_stack_top).map(Some)
}

/// What a Linux thread's entry takes from the heap and the code arena
/// besides a native thread's, rounded up.
const LINUX_THREAD_EXTRA_BYTES: u64 = 16 * 1024;

/// On every switch: point the CPU at the next thread's stub (the switch
/// itself notes the quiescent point for code retirement, in sk-machine).
pub(crate) fn on_thread_switch(core: &Core, next: ThreadId) {
    let cfg = config();
    if !cfg.enabled {
        return;
    }
    // A thread without a stub (a kernel thread) must never enter another
    // thread's stub: point the CPU back at the generic entry.
    let stub = core
        .threads
        .get(&next)
        .and_then(|t| t.synth.as_ref())
        .map_or_else(sk_machine::syscall::syscall_entry_address, |s| {
            s.stub.block.address()
        });
    // Why pointing the CPU at `stub` is sound (both arms below): `stub`
    // is the generic entry, or the entry stub of `next`,
    // the thread the scheduler switches to right after this (under the
    // same lock): made for it by `ThreadSynth::new` with its own kernel
    // stack top and routine table, installed, and dropped (retired) only
    // with the thread, which then never runs in ring 3 again; the next
    // switch replaces the entry before any other thread reaches ring 3.
    // Its table's slots only ever hold what `slot_address` gives (an
    // installed routine's entry, the slow path, an error stub that lives
    // forever), and the policy stores a slot before it retires what the
    // slot held (`KernelMechanism`); routines' baked addresses are kept
    // valid by the replans of this module, drained at every lock release
    // (state.rs). docs/unsafe-inventory.md has the whole contract.
    #[allow(unsafe_code)]
    match cfg.entry {
        EntryMode::Lstar => {
            if CURRENT_LSTAR.swap(stub, Ordering::Relaxed) != stub {
                // SAFETY: `stub` is `next`'s own installed stub or the
                // generic entry (see above).
                unsafe { sk_machine::synth_entry::set_entry_stub_lstar(stub) };
            }
        }
        EntryMode::PerCpuSlot => {
            // SAFETY: as for the LSTAR arm.
            unsafe { sk_machine::synth_entry::set_entry_stub_slot(stub) }
        }
    }
}
