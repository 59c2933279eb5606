//! The synthesized path's mechanism: code memory, per-thread entry stubs
//! and routine tables, and the actions `sk-synth`'s policy asks for.
//!
//! Owns [`SynthConfig`] (`synth=off`, how the CPU reaches a thread's stub,
//! call counting, address display), [`ThreadSynth`] (a user thread's table
//! and stub), [`Routine`] (an installed block of code) and the kernel's
//! [`Mechanism`]. *Which* template an SIO gets with which hole values, and
//! what each table slot holds after any change of facts, is decided in one
//! place, `sk_synth::policy::plan` (host-tested, property-tested); this
//! file computes an SIO's facts from the kernel's objects ([`facts`]), and
//! performs the actions: instantiate and install, one atomic store per
//! slot, retire (freed after a quiescent point).
//!
//! When facts change, the SIOs concerned are replanned: at open, at the
//! first use by a second SCPU, after every file-system event on their file
//! (growth past capacity, truncate, unlink, free, rename: drained at every
//! release of the kernel lock, `state.rs`), after a console mode change,
//! when their opener's thread goes, and at close. In debug builds
//! [`check_fresh`] re-plans every SIO periodically and panics if an
//! installed routine's spec differs from the plan of the current facts.

use crate::state::{Core, Object, Sio, SmachId, ThreadId};
use crate::thread::Thread;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{Call, Handle, OpenFlags, SysError};
use sk_fs::FileSystem;
use sk_machine::code_arena::{self, InstalledBlock};
use sk_sio::{Devices, Target};
use sk_smach::IdMap;
use sk_synth::policy::{
    initial_slot, Env, FileFacts, InstallError, Mechanism, Op, RoutineHoles, SioFacts, SioTarget,
    Slot, SlotTarget, ThreadEntryPlan,
};
use sk_synth::templates::{CallCounterHoles, ErrorStubHoles};
use sk_synth::{HoleSet, Imm32, Imm64, Instance, Smap, SynthError, Template};
use spin::{Mutex, Once};

/// Handles whose calls a thread's table indexes directly; calls on higher
/// handles take the stub's slow path (the generic path).
pub(crate) const TABLE_HANDLES: u16 = 64;

/// How the CPU reaches a thread's entry stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryMode {
    /// `LSTAR` is rewritten to the next thread's stub at each switch.
    Lstar,
    /// `LSTAR` points at a fixed door that jumps through a per-CPU slot.
    PerCpuSlot,
}

/// The synthesizer's boot configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// False with `synth=off`: every call takes the generic path.
    pub enabled: bool,
    /// How the CPU reaches the stub.
    pub entry: EntryMode,
    /// Put a call counter in front of every SIO routine (`synth.count`;
    /// off by default so measured routines carry no counting cost).
    pub count_calls: bool,
    /// `query(Routines)` may show addresses and hole values (`synth.show`);
    /// they are kernel addresses, so by default it shows templates and
    /// facts only.
    pub show_addresses: bool,
}

static CONFIG: Once<SynthConfig> = Once::new();
/// Shared error stubs, one per result value (the null call's is 0).
static ERROR_STUBS: Mutex<Vec<(i32, Routine)>> = Mutex::new(Vec::new());
/// LSTAR's current value (to skip redundant writes).
static CURRENT_LSTAR: AtomicU64 = AtomicU64::new(0);

pub(crate) fn config() -> SynthConfig {
    *CONFIG.get().unwrap_or(&SynthConfig {
        enabled: false,
        entry: EntryMode::Lstar,
        count_calls: false,
        show_addresses: false,
    })
}

fn smap() -> Smap {
    if sk_machine::usercopy::smap_enabled() {
        Smap::Enabled
    } else {
        Smap::Disabled
    }
}

/// The environment the policy plans in.
pub(crate) fn env() -> Env {
    Env {
        is_enabled: config().enabled,
        table_handles: TABLE_HANDLES,
        bad_address: -(SysError::BadAddress.code() as i32),
        generic_entry: sk_machine::synth_entry::generic_entry_address(),
        slow_path: sk_machine::synth_entry::slow_path_address(),
        // Synthesized routines do at most what one generic piece does with
        // interrupts masked; longer calls go to the generic path.
        max_copy_bytes: sk_sio::CHUNK_BYTES as u32,
        max_console_bytes: sk_sio::TTY_CHUNK_BYTES as u32,
    }
}

/// One installed block of code: its block, its template, what it cost.
/// Dropping it retires the block (`InstalledBlock`'s Drop; freed after a
/// quiescent point).
///
/// Small on purpose: the policy moves routines around by value while it
/// reconciles slots, and under the instruction count every byte of a large
/// move is an instruction. What else describing one needs (its instance)
/// is recomputed from the spec it was made from.
pub(crate) struct Routine {
    pub(crate) block: InstalledBlock,
    pub(crate) template: &'static Template,
    /// TSC ticks spent synthesizing and installing it.
    pub(crate) cost_ticks: u64,
    /// With call counting: the counter and the counting thunk in front.
    pub(crate) counting: Option<(Box<AtomicU64>, Box<Routine>)>,
}

impl core::fmt::Debug for Routine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Routine")
            .field("template", &self.template.name)
            .finish_non_exhaustive()
    }
}

impl Routine {
    /// The address a table slot points at (the counter thunk if counting).
    pub(crate) fn entry(&self) -> u64 {
        self.counting
            .as_ref()
            .map_or(self.block.address(), |(_, thunk)| thunk.block.address())
    }

    /// Calls counted so far (None when not counting).
    pub(crate) fn calls(&self) -> Option<u64> {
        self.counting
            .as_ref()
            .map(|(count, _)| count.load(Ordering::Relaxed))
    }
}

/// Instantiates `template` into a fresh arena block: `fill(address, out)`
/// writes the instance for its final address.
fn install_code(
    template: &'static Template,
    fill: impl FnOnce(u64, &mut [u8]) -> Result<Instance, SynthError>,
) -> Result<Routine, InstallError> {
    let start = sk_machine::cpu::rdtsc();
    let len = template.bytes.len();
    // Dropping `block` on an error path releases it.
    let block = code_arena::reserve(len as u64).map_err(|_| InstallError::OutOfMemory)?;
    let mut staging = [0u8; 512];
    let Some(out) = staging.get_mut(..len) else {
        return Err(InstallError::OutOfMemory);
    };
    let instance = fill(block.address(), out)?;
    if cfg!(debug_assertions) {
        if let Err(e) = sk_synth::verify_instance(&instance, out) {
            panic!(
                "instance of {} does not decode to its template: {e}",
                template.name
            );
        }
    }
    let fixups: Vec<(u64, u64)> = instance
        .fault_fixups()
        .map(|f| (f.access, f.fixup))
        .collect();
    let block = code_arena::install(block, out, &fixups).map_err(|(_, unused)| {
        code_arena::release(unused);
        InstallError::OutOfMemory
    })?;
    Ok(Routine {
        block,
        template,
        cost_ticks: sk_machine::cpu::rdtsc().saturating_sub(start),
        counting: None,
    })
}

/// Instantiates a typed holes set (entry stubs, error stubs, counters).
fn install_holes<H: HoleSet>(holes: &H) -> Result<Routine, InstallError> {
    install_code(H::TEMPLATE, |address, out| {
        sk_synth::instantiate(holes, address, smap(), out)
    })
}

/// The kernel's side of the policy: arena installs, table stores, retirement.
struct KernelMechanism<'a> {
    threads: &'a IdMap<Thread>,
}

impl Mechanism for KernelMechanism<'_> {
    type Block = Routine;

    fn install(&mut self, holes: &RoutineHoles) -> Result<(Routine, u64), InstallError> {
        let mut routine = install_code(holes.template(), |address, out| {
            holes.instantiate(address, smap(), out)
        })?;
        if config().count_calls && !holes.is_helper() {
            let count = Box::new(AtomicU64::new(0));
            let thunk = install_holes(&CallCounterHoles {
                counter: Imm64(&*count as *const AtomicU64 as u64),
                routine: Imm64(routine.block.address()),
            })?;
            routine.counting = Some((count, Box::new(thunk)));
        }
        let entry = routine.entry();
        Ok((routine, entry))
    }

    fn retire(&mut self, block: Routine) {
        // Dropping retires its code (freed after a quiescent point).
        drop(block);
    }

    fn store(&mut self, slot: Slot, target: SlotTarget) {
        if let Some(table) = self.threads.get(&slot.owner).and_then(|t| t.synth.as_ref()) {
            table.store(slot.index(), target);
        }
    }
}

/// The address an error stub returning `result` lives at (made once).
fn error_stub(result: i32) -> Option<u64> {
    sk_machine::cpu::without_interrupts(|| {
        let mut stubs = ERROR_STUBS.lock();
        if let Some((_, r)) = stubs.iter().find(|(v, _)| *v == result) {
            return Some(r.block.address());
        }
        let routine = install_holes(&ErrorStubHoles {
            result: Imm32(result),
        })
        .ok()?;
        stubs.try_reserve(1).ok()?;
        let address = routine.block.address();
        stubs.push((result, routine));
        Some(address)
    })
}

fn slot_address(target: SlotTarget) -> u64 {
    let slow = sk_machine::synth_entry::slow_path_address();
    match target {
        SlotTarget::Code(address) => address,
        SlotTarget::Generic => slow,
        SlotTarget::ErrorStub(result) => error_stub(result).unwrap_or(slow),
    }
}

/// A user thread's synthesized entry: its routine table and stub.
pub(crate) struct ThreadSynth {
    table: Box<[AtomicU64]>,
    pub(crate) stub: Routine,
}

impl ThreadSynth {
    /// Builds the table (every slot as `initial_slot` says) and the stub
    /// for a thread whose kernel stack ends at `kernel_stack_top`.
    fn new(kernel_stack_top: u64) -> Result<Self, SysError> {
        let env = env();
        let slots = u64::from(env.table_slots());
        let mut table = Vec::new();
        table
            .try_reserve_exact(slots as usize)
            .map_err(|_| SysError::NoMemory)?;
        table.extend((0..slots).map(|i| AtomicU64::new(slot_address(initial_slot(i)))));
        let table = table.into_boxed_slice();
        let plan = ThreadEntryPlan::new(kernel_stack_top, table.as_ptr() as u64, &env);
        let stub = install_holes(&plan.stub).map_err(|_| SysError::NoMemory)?;
        Ok(Self { table, stub })
    }

    /// Where the slot of `call` on `handle` points.
    pub(crate) fn slot(&self, handle: Handle, call: Call) -> u64 {
        let index = (u64::from(handle.index()) << Call::BITS) | u64::from(call.number());
        self.table
            .get(index as usize)
            .map_or(0, |a| a.load(Ordering::Acquire))
    }

    /// Replug: one atomic store; the stub loads the slot once per call.
    fn store(&self, index: u64, target: SlotTarget) {
        if let Some(slot) = self.table.get(index as usize) {
            slot.store(slot_address(target), Ordering::Release);
        }
    }
}

/// Sets the configuration. Call once.
pub(crate) fn init(config: SynthConfig) {
    CONFIG.call_once(|| config);
    if config.enabled && config.entry == EntryMode::PerCpuSlot {
        sk_machine::synth_entry::use_per_cpu_slot();
    }
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

/// What code generation depends on for `sio` at `handle`: read off the
/// kernel's objects now.
pub(crate) fn facts(
    fs: &FileSystem,
    devices: &Devices,
    threads: &IdMap<Thread>,
    sio: &Sio,
    handle: Handle,
) -> SioFacts {
    let target = match sio.target() {
        Target::Null => SioTarget::Null,
        Target::Zero => SioTarget::Zero,
        Target::Mem => SioTarget::Mem {
            base: devices.mem.as_ptr() as u64,
            window_bytes: devices.mem.len() as u64,
        },
        Target::Tty => SioTarget::Tty {
            is_raw: devices.tty.mode() == sk_tty::Mode::Raw,
            data_port: sk_machine::serial::COM1,
            status_port: sk_machine::serial::COM1 + 5,
        },
        Target::File(open) => {
            let node = open.node();
            match (fs.stat(node), fs.data_layout(node)) {
                (Ok(stat), Ok(layout)) => SioTarget::File(FileFacts {
                    node: node.to_bits(),
                    data_addr: layout.data_addr,
                    capacity: layout.capacity,
                    size_cell: layout.size_cell_addr,
                    generation: layout.layout_generation,
                    is_unlinked: stat.link_count == 0,
                }),
                // A freed node: nothing to bake in.
                _ => SioTarget::File(FileFacts {
                    node: node.to_bits(),
                    data_addr: 0,
                    capacity: 0,
                    size_cell: 0,
                    generation: u64::MAX,
                    is_unlinked: true,
                }),
            }
        }
        Target::Dir(_) => SioTarget::Dir,
    };
    let flags = sio.flags();
    SioFacts {
        target,
        can_read: flags.contains(OpenFlags::READ),
        can_write: flags.contains(OpenFlags::WRITE),
        is_append: flags.contains(OpenFlags::APPEND),
        position_cell: sio.position_cell() as *const AtomicU64 as u64,
        owner: sio
            .opener()
            .filter(|o| threads.get(o).is_some_and(|t| t.synth.is_some())),
        is_shared: sio.is_shared(),
        handle: handle.index(),
    }
}

/// Brings the routines of the SIO at `handle` of SMACH `me` in line with
/// the plan of its current facts.
pub(crate) fn replan(core: &mut Core, me: SmachId, handle: Handle) {
    let Core {
        fs,
        devices,
        smachs,
        threads,
        ..
    } = core;
    let Some(Ok(Object::Sio(sio))) = smachs.get_mut(&me).map(|s| s.handles.get_mut(handle)) else {
        return;
    };
    let facts = facts(fs, devices, threads, sio, handle);
    let routines = sio.routines.get_or_insert_with(Default::default);
    if let Err(e) = routines.replan(&facts, &env(), &mut KernelMechanism { threads }) {
        // The slot stays generic; the next replan tries again.
        log::debug!("no synthesized routine for handle {}: {e}", handle.index());
    }
}

/// Leaves the slots of an SIO that was closed generic and retires its code.
pub(crate) fn retire(core: &Core, routines: Option<crate::state::Routines>) {
    if let Some(r) = routines {
        r.close(&mut KernelMechanism {
            threads: &core.threads,
        });
    }
}

/// Replans every SIO for which `pick` says yes.
fn replan_where(core: &mut Core, pick: impl Fn(&Sio) -> bool) {
    let mut hits: Vec<(SmachId, Handle)> = Vec::new();
    for (id, smach) in &core.smachs {
        for (handle, object) in smach.handles.iter() {
            if object.as_sio().is_some_and(&pick) && hits.try_reserve(1).is_ok() {
                hits.push((*id, handle));
            }
        }
    }
    for (id, handle) in hits {
        replan(core, id, handle);
    }
}

/// Applies pending file-system events: every SIO open on a node an event
/// concerns is replanned from the file's current facts.
pub(crate) fn on_fs_events(core: &mut Core) {
    let mut nodes: Vec<sk_fs::NodeId> = Vec::new();
    for event in core.fs.take_events() {
        if !nodes.contains(&event.node) && nodes.try_reserve(1).is_ok() {
            nodes.push(event.node);
        }
    }
    if nodes.is_empty() {
        return;
    }
    replan_where(core, |sio| sio.node().is_some_and(|n| nodes.contains(&n)));
}

/// The console's mode changed: replan every console SIO.
pub(crate) fn on_tty_mode_change(core: &mut Core) {
    replan_where(core, |sio| matches!(sio.target(), Target::Tty));
}

/// Thread `tid` is gone (its table with it): replan the SIOs it opened, so
/// their code is retired now rather than at close.
pub(crate) fn on_thread_gone(core: &mut Core, tid: ThreadId) {
    replan_where(core, |sio| {
        sio.opener() == Some(tid) && sio.routines.is_some()
    });
}

/// Debug builds: every installed routine matches the plan of its SIO's
/// current facts (stale code never runs). Checked every 256th call.
pub(crate) fn check_fresh(core: &Core) {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    if !cfg!(debug_assertions) || !CALLS.fetch_add(1, Ordering::Relaxed).is_multiple_of(256) {
        return;
    }
    let env = env();
    for smach in core.smachs.values() {
        for (handle, object) in smach.handles.iter() {
            let Some(sio) = object.as_sio() else { continue };
            let Some(routines) = sio.routines.as_ref() else {
                continue;
            };
            let facts = facts(&core.fs, &core.devices, &core.threads, sio, handle);
            let plan = sk_synth::policy::plan(&facts, &env);
            for op in Op::ALL {
                if let Some(installed) = routines.installed(op) {
                    let planned = match plan.slot(op) {
                        sk_synth::policy::SlotPlan::Routine(spec) => Some(spec),
                        _ => None,
                    };
                    assert!(
                        planned == Some(installed.spec()),
                        "stale routine {} for handle {} ({op:?}): planned {planned:?}",
                        installed.spec().template().name,
                        handle.index()
                    );
                }
            }
        }
    }
}

/// Text into a buffer reserved up front (fallibly): what does not fit is
/// cut, nothing is allocated while formatting.
pub(crate) struct BoundedText(Vec<u8>);

impl BoundedText {
    fn with_capacity(bytes: usize) -> Result<Self, SysError> {
        let mut v = Vec::new();
        v.try_reserve_exact(bytes).map_err(|_| SysError::NoMemory)?;
        Ok(Self(v))
    }

    /// The text.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn push_str(&mut self, text: &str) {
        let _ = core::fmt::Write::write_str(self, text);
    }
}

impl core::fmt::Write for BoundedText {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let room = self.0.capacity() - self.0.len();
        self.0
            .extend_from_slice(&text.as_bytes()[..text.len().min(room)]);
        Ok(())
    }
}

/// The text `query(Routines)` returns, at most `max_bytes` of it: a line per
/// op, the facts each routine baked in, then (with `synth.show`) each
/// routine's disassembly with addresses and holes.
pub(crate) fn describe(sio: &Sio, max_bytes: usize) -> Result<BoundedText, SysError> {
    use core::fmt::Write;
    let mut s = BoundedText::with_capacity(max_bytes)?;
    let r = sio.routines.as_ref();
    for op in Op::ALL {
        let name = match op {
            Op::Read => "read",
            Op::Write => "write",
        };
        let _ = match r.and_then(|r| r.installed(op)) {
            Some(x) => writeln!(s, "{name}: synthesized {}", x.spec().template().name),
            None => writeln!(s, "{name}: generic"),
        };
    }
    // The facts each routine baked in (node, layout generation, capacity,
    // owner: no addresses), after the header.
    let owner = sio.opener().unwrap_or(0);
    for op in Op::ALL {
        if let Some(x) = r.and_then(|r| r.installed(op)) {
            let name = if op == Op::Read { "read" } else { "write" };
            let _ = writeln!(s, "{name} facts: {:?}", x.spec().invariants(owner));
        }
    }
    if !config().show_addresses && !crate::testing::routine_addresses_shown() {
        // Addresses and hole values are kernel addresses: only with
        // `synth.show`.
        return Ok(s);
    }
    let Some(r) = r else { return Ok(s) };
    for op in Op::ALL {
        let Some(x) = r.installed(op) else { continue };
        let helper_entry = x.helper().map_or(0, |h| h.block.address());
        let parts = [
            ("", Some((x.block(), x.spec().routine(helper_entry)))),
            (" fallback", x.helper().zip(x.spec().helper())),
        ];
        for (what, part) in parts {
            let Some((routine, holes)) = part else {
                continue;
            };
            let _ = writeln!(
                s,
                "\n== {op:?}{what}: {} of thread {owner} at {:#x}: {} bytes, created in {} TSC ticks, calls: {}",
                routine.template.name,
                routine.block.address(),
                routine.template.size(),
                routine.cost_ticks,
                match routine.calls() {
                    Some(n) => alloc::format!("{n}"),
                    None => alloc::string::String::from("not counted (boot with synth.count)"),
                }
            );
            // The instance again (the same holes at the same address), and
            // the bytes as installed. (A debugging option: this allocates.)
            let mut scratch = alloc::vec![0u8; routine.template.size()];
            if let Ok(instance) = holes.instantiate(routine.block.address(), smap(), &mut scratch) {
                s.push_str(&sk_synth::disassemble(&instance, &routine_bytes(routine)));
            }
        }
    }
    Ok(s)
}

/// Reads a routine's bytes back from the arena.
fn routine_bytes(r: &Routine) -> Vec<u8> {
    let mut v = alloc::vec![0u8; r.template.size()];
    code_arena::read(&r.block, &mut v);
    v
}
