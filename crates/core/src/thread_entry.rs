//! A user thread's synthesized entry: its routine table and entry stub,
//! and pointing the CPU at the running thread's stub.
//!
//! Owns [`ThreadSynth`]. The tables start as the policy's `initial_slot`
//! says, the stub's holes come from its `ThreadEntryPlan`. A native
//! thread's slot is either a stackless routine, which the stub `jmp`s to
//! on the user's stack, or the stub's door, which switches stacks and
//! `call`s the slot's entry in the stackful table
//! (`crates/synth/templates/entry_stub.rs`).

use crate::code_memory::{install_holes, slot_address, Routine};
use crate::linux_process::LINUX_TABLE_SLOTS;
use crate::state::{Core, ThreadId};
use crate::synthesis::{config, env, EntryMode};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::SysError;
use sk_synth::policy::{initial_slot, Env, SlotTarget, ThreadEntryPlan, STACKLESS_TAG};
use sk_synth::templates::{LinuxEntryStubHoles, ENTRY_STUB_DOOR_OFFSET};
use sk_synth::{Imm32, Imm64};

/// LSTAR's current value (to skip redundant writes).
static CURRENT_LSTAR: AtomicU64 = AtomicU64::new(0);

/// A user thread's synthesized entry: its routine table and stub.
pub(crate) struct ThreadSynth {
    /// A native thread's two tables in one allocation: `slots` entries the
    /// stub `jmp`s through (a stackless routine, or `door`), then `slots`
    /// entries the door `call`s through (the stackful routine of a slot
    /// whose jump entry is `door`). A Linux thread's one table.
    table: Box<[AtomicU64]>,
    pub(crate) stub: Routine,
    /// Entries in each native table (0 for a Linux thread).
    slots: usize,
    /// The stub's door (`ENTRY_STUB_DOOR_OFFSET` into it; 0 for Linux).
    door: u64,
    /// A Linux thread's table: indexed by Linux call numbers, every slot
    /// the Linux generic entry but `read` and `write` (the dispatchers);
    /// native replugs never touch it.
    linux: bool,
    /// A Linux thread's per-fd routine arrays (`linux_fast.rs`): where the
    /// policy's stores for its SIOs land.
    linux_fds: Option<crate::linux_fast::LinuxFds>,
}

impl ThreadSynth {
    /// Builds the tables (every slot as `initial_slot` says) and the stub
    /// for a thread whose kernel stack ends at `kernel_stack_top`.
    fn new(kernel_stack_top: u64) -> Result<Self, SysError> {
        let env = env();
        let slots = env.table_slots() as usize;
        // One allocation: the jump table, then the stackful table. The
        // stub bakes in their address, and the door's is known only once
        // the stub is installed: reserve first (the address is fixed from
        // here: the slots are pushed into the reserved room, and the boxed
        // slice keeps it), then fill each slot once with its final value.
        let mut table = Vec::new();
        table
            .try_reserve_exact(2 * slots)
            .map_err(|_| SysError::NoMemory)?;
        if table.capacity() != 2 * slots {
            // A larger room would be moved by `into_boxed_slice`.
            return Err(SysError::NoMemory);
        }
        let jump = table.as_ptr() as u64;
        let stackful = jump + 8 * slots as u64;
        let plan = ThreadEntryPlan::new(kernel_stack_top, jump, stackful, &env);
        let stub = install_holes(&plan.stub).map_err(|_| SysError::NoMemory)?;
        let door = stub.block.address() + ENTRY_STUB_DOOR_OFFSET;
        with_initial_table(&env, |initial| {
            let values = |tagged| slot_values(tagged, door);
            table.extend(initial.iter().map(|&t| AtomicU64::new(values(t).0)));
            table.extend(initial.iter().map(|&t| AtomicU64::new(values(t).1)));
            Ok(())
        })?;
        if table.len() != 2 * slots {
            return Err(SysError::NoMemory);
        }
        let table = table.into_boxed_slice();
        debug_assert_eq!(table.as_ptr() as u64, jump);
        let synth = Self {
            table,
            stub,
            slots,
            door,
            linux: false,
            linux_fds: None,
        };
        Ok(synth)
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
            slots: 0,
            door: 0,
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

    /// Where slot `index` of the table points (tests): a stackless
    /// routine, or (through the door) the stackful table's entry.
    #[cfg(feature = "ktest")]
    pub(crate) fn slot_at(&self, index: usize) -> Option<u64> {
        let jump = self.table.get(index).map(|a| a.load(Ordering::Acquire))?;
        if self.linux || jump != self.door {
            return Some(jump);
        }
        self.table
            .get(self.slots + index)
            .map(|a| a.load(Ordering::Acquire))
    }

    /// Whether slot `index` is entered stackless (the stub `jmp`s to a
    /// routine that returns with `sysretq`), for tests.
    #[cfg(feature = "ktest")]
    pub(crate) fn is_stackless_slot(&self, index: usize) -> bool {
        !self.linux
            && self
                .table
                .get(index)
                .is_some_and(|a| a.load(Ordering::Acquire) != self.door)
    }

    /// Slots in the table (tests).
    #[cfg(feature = "ktest")]
    pub(crate) fn table_len(&self) -> usize {
        if self.linux {
            self.table.len()
        } else {
            self.slots
        }
    }

    /// Where the slot of `call` on `handle` points (for tests).
    #[cfg(feature = "ktest")]
    pub(crate) fn slot(&self, handle: sk_abi::Handle, call: sk_abi::Call) -> u64 {
        let index = (u64::from(handle.index()) << sk_abi::Call::BITS) | u64::from(call.number());
        self.slot_at(index as usize).unwrap_or(0)
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
        if let Ok(index) = usize::try_from(index) {
            self.store_tagged(index, tagged_address(target));
        }
    }

    /// Stores a [`tagged_address`] in slot `index` of a native table: a
    /// stackless routine straight into the jump table; anything else into
    /// the stackful table, then the door into the jump table (the stub
    /// reads the jump entry first, the door the stackful one after it).
    fn store_tagged(&self, index: usize, tagged: u64) {
        if index >= self.slots {
            return;
        }
        let (Some(jump), Some(stackful)) =
            (self.table.get(index), self.table.get(self.slots + index))
        else {
            return;
        };
        let (jump_value, stackful_value) = slot_values(tagged, self.door);
        if tagged & STACKLESS_TAG == 0 {
            stackful.store(stackful_value, Ordering::Release);
        }
        jump.store(jump_value, Ordering::Release);
    }
}

/// What a slot's two entries hold for a `tagged` address: a stackless
/// routine goes straight into the jump table (its stackful entry is never
/// read: 0), anything else into the stackful table behind the stub's `door`.
const fn slot_values(tagged: u64, door: u64) -> (u64, u64) {
    if tagged & STACKLESS_TAG != 0 {
        (tagged & !STACKLESS_TAG, 0)
    } else {
        (door, tagged)
    }
}

/// The address a slot holds for `target`, with [`STACKLESS_TAG`] set for a
/// stackless routine: error stubs (stackless since the stub `jmp`s) and
/// code the mechanism installed as a stackless twin (whose entry it
/// tagged already).
fn tagged_address(target: SlotTarget) -> u64 {
    match target {
        SlotTarget::ErrorStub(_) => {
            let address = slot_address(target);
            if address == sk_machine::synth_entry::slow_path_address() {
                address
            } else {
                address | STACKLESS_TAG
            }
        }
        SlotTarget::Code(_) | SlotTarget::Generic => slot_address(target),
    }
}

/// Every slot's initial address ([`tagged_address`]), as the policy's
/// `initial_slot` gives it for an [`Env`], computed once: the addresses depend only on the Env
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
            table.extend((0..slots).map(|i| tagged_address(initial_slot(i, env))));
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
