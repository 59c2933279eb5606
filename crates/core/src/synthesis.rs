//! The synthesized path: per-thread entry stubs and routine tables, the
//! routines synthesized for each SIO at open, and replugging when a fact
//! baked into a routine stops being true.
//!
//! Owns [`SynthConfig`] (`synth=off`, how the CPU reaches a thread's stub),
//! [`ThreadSynth`] (a user thread's table and stub) and [`SioRoutines`]
//! (an SIO's routines, owned by the SIO: `owner-holds-code`). Templates and
//! instantiation come from `sk-synth`; code memory from `sk-machine`'s
//! arena. Replugging is one atomic store of a code address into a table
//! slot; the old code is retired and freed after a quiescent point.
//!
//! Events and what they do here:
//! - growth past capacity (`DataMoved`), truncate: resynthesize (new layout);
//! - unlink, use of the handle by a second SCPU: the slot goes to the
//!   generic path for good;
//! - tty mode change: the raw-mode write is synthesized or withdrawn;
//! - close: the slot goes to the generic path (which then answers
//!   `BadHandle`, or serves the next object given the same handle number);
//! - seek: nothing is baked about the position (both paths share one
//!   position cell), so nothing to replug.

use crate::state::{Core, Object, Sio, SmachId, ThreadId};
use crate::thread::Thread;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{Call, Handle, OpenFlags, SysError};
use sk_fs::FileSystem;
use sk_machine::code_arena::{self, CodeBlock};
use sk_sio::{Devices, Target};
use sk_synth::templates::{
    CallCounterHoles, DevMemReadHoles, DevNullWriteHoles, DevZeroReadHoles, EntryStubHoles,
    ErrorStubHoles, GenericTrampolineHoles, RamFileReadHoles, RamFileWriteHoles, TtyWriteHoles,
};
use sk_synth::{HoleSet, Imm32, Imm64, Instance, Rel32Target, Smap};
use spin::Once;

/// Handles whose calls a thread's table indexes directly; calls on higher
/// handles take the stub's slow path (the generic path).
pub(crate) const TABLE_HANDLES: u64 = 64;
/// Slots per table: 8 per handle.
pub(crate) const TABLE_SLOTS: u64 = TABLE_HANDLES * Call::SLOTS_PER_HANDLE;

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
static NULL_ROUTINE: Once<Routine> = Once::new();
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

fn bad_address() -> Imm32 {
    Imm32(-(SysError::BadAddress.code() as i32))
}

/// One installed routine: its code block, its instance, what it cost.
pub(crate) struct Routine {
    pub(crate) block: CodeBlock,
    pub(crate) instance: Instance,
    /// TSC ticks spent synthesizing and installing it.
    pub(crate) cost_ticks: u64,
    /// With call counting: the counter and the counting thunk in front.
    pub(crate) counting: Option<(Box<AtomicU64>, Box<Routine>)>,
}

impl Routine {
    /// The address a table slot points at (the counter thunk if counting).
    pub(crate) fn entry(&self) -> u64 {
        self.counting
            .as_ref()
            .map_or(self.block.address, |(_, thunk)| thunk.block.address)
    }

    /// Calls counted so far (None when not counting).
    pub(crate) fn calls(&self) -> Option<u64> {
        self.counting
            .as_ref()
            .map(|(count, _)| count.load(Ordering::Relaxed))
    }
}

/// Synthesizes an SIO routine, with a call counter in front if configured.
fn synthesize_counted<H: HoleSet>(holes: &H) -> Result<Routine, SysError> {
    let mut routine = synthesize(holes)?;
    if config().count_calls {
        let count = Box::new(AtomicU64::new(0));
        let thunk = synthesize(&CallCounterHoles {
            counter: Imm64(&*count as *const AtomicU64 as u64),
            routine: Imm64(routine.block.address),
        })?;
        routine.counting = Some((count, Box::new(thunk)));
    }
    Ok(routine)
}

impl Drop for Routine {
    fn drop(&mut self) {
        code_arena::retire(self.block);
    }
}

/// Instantiates `holes` into a fresh arena block.
fn synthesize<H: HoleSet>(holes: &H) -> Result<Routine, SysError> {
    let start = sk_machine::cpu::rdtsc();
    let len = H::TEMPLATE.bytes.len();
    let block = code_arena::reserve(len as u64).map_err(|_| SysError::NoMemory)?;
    let mut staging = [0u8; 512];
    let out = staging.get_mut(..len).ok_or(SysError::NoMemory)?;
    let made = sk_synth::instantiate(holes, block.address, smap(), out);
    let instance = match made {
        Ok(i) => i,
        Err(e) => {
            log::error!("synthesis of {} failed: {e}", H::TEMPLATE.name);
            code_arena::retire(block);
            return Err(SysError::NoMemory);
        }
    };
    if cfg!(debug_assertions) {
        if let Err(e) = sk_synth::verify_instance(&instance, out) {
            panic!(
                "instance of {} does not decode to its template: {e}",
                H::TEMPLATE.name
            );
        }
    }
    let fixups: Vec<(u64, u64)> = instance
        .fault_fixups()
        .map(|f| (f.access, f.fixup))
        .collect();
    if code_arena::install(block, out, &fixups).is_err() {
        code_arena::retire(block);
        return Err(SysError::NoMemory);
    }
    Ok(Routine {
        block,
        instance,
        cost_ticks: sk_machine::cpu::rdtsc().saturating_sub(start),
        counting: None,
    })
}

/// Reads a routine's bytes back from the arena.
pub(crate) fn routine_bytes(r: &Routine) -> Vec<u8> {
    let mut v = alloc::vec![0u8; r.instance.size()];
    code_arena::read(r.block.address, &mut v);
    v
}

/// A user thread's synthesized entry: its routine table and stub.
pub(crate) struct ThreadSynth {
    pub(crate) table: Box<[AtomicU64]>,
    pub(crate) stub: Routine,
}

impl ThreadSynth {
    /// Builds the table (all generic, null calls on the null routine) and
    /// the stub for a thread whose kernel stack ends at `kernel_stack_top`.
    pub(crate) fn new(kernel_stack_top: u64) -> Result<Self, SysError> {
        let slow = sk_machine::synth_entry::slow_path_address();
        let null = NULL_ROUTINE.get().map_or(slow, |r| r.block.address);
        let table: Box<[AtomicU64]> = (0..TABLE_SLOTS)
            .map(|i| {
                AtomicU64::new(
                    if i % Call::SLOTS_PER_HANDLE == u64::from(Call::Null.number()) {
                        null
                    } else {
                        slow
                    },
                )
            })
            .collect();
        let stub = synthesize(&EntryStubHoles {
            kernel_stack_top: Imm64(kernel_stack_top),
            table_len: Imm32(TABLE_SLOTS as i32),
            table: Imm64(table.as_ptr() as u64),
            slow_path: Imm64(slow),
        })?;
        Ok(Self { table, stub })
    }

    /// Where the slot of `call` on `handle` points.
    pub(crate) fn slot(&self, handle: Handle, call: Call) -> u64 {
        let index = (u64::from(handle.index()) << Call::BITS) | u64::from(call.number());
        self.table
            .get(index as usize)
            .map_or(0, |a| a.load(Ordering::Acquire))
    }

    fn set(&self, handle: Handle, call: Call, address: u64) {
        let index = (u64::from(handle.index()) << Call::BITS) | u64::from(call.number());
        if let Some(slot) = self.table.get(index as usize) {
            // Replug: one atomic store; the stub loads the slot once per call.
            slot.store(address, Ordering::Release);
        }
    }
}

/// The routines synthesized for one SIO, for its owner thread.
pub(crate) struct SioRoutines {
    pub(crate) owner: ThreadId,
    pub(crate) handle: Handle,
    pub(crate) read: Option<Routine>,
    pub(crate) write: Option<Routine>,
    /// The generic trampoline the file write falls back to.
    pub(crate) fallback: Option<Routine>,
}

/// Sets the configuration and builds the shared routines. Call once.
pub(crate) fn init(config: SynthConfig) {
    CONFIG.call_once(|| config);
    if !config.enabled {
        return;
    }
    match synthesize(&ErrorStubHoles { result: Imm32(0) }) {
        Ok(r) => {
            NULL_ROUTINE.call_once(|| r);
        }
        Err(e) => log::error!("null routine: {e}"),
    }
    if config.entry == EntryMode::PerCpuSlot {
        // SAFETY-relevant choice lives in sk-machine; this only selects it.
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

/// On every switch: point the CPU at the next thread's stub, and note a
/// quiescent point for code retirement.
pub(crate) fn on_thread_switch(core: &Core, next: ThreadId) {
    code_arena::quiescent_point(0);
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
            s.stub.block.address
        });
    match cfg.entry {
        EntryMode::Lstar => {
            if CURRENT_LSTAR.swap(stub, Ordering::Relaxed) != stub {
                sk_machine::synth_entry::set_entry_stub_lstar(stub);
            }
        }
        EntryMode::PerCpuSlot => sk_machine::synth_entry::set_entry_stub_slot(stub),
    }
}

fn table_of(threads: &BTreeMap<ThreadId, Thread>, owner: ThreadId) -> Option<&ThreadSynth> {
    threads.get(&owner).and_then(|t| t.synth.as_ref())
}

/// Builds the routines for `sio` (handle `handle`, owner `owner`).
fn build(
    fs: &FileSystem,
    devices: &Devices,
    owner: ThreadId,
    handle: Handle,
    sio: &Sio,
) -> Result<SioRoutines, SysError> {
    let pos = sio.position_cell() as *const AtomicU64 as u64;
    let flags = sio.flags();
    let can_read = flags.contains(OpenFlags::READ);
    let can_write = flags.contains(OpenFlags::WRITE);
    let mut r = SioRoutines {
        owner,
        handle,
        read: None,
        write: None,
        fallback: None,
    };
    match sio.target() {
        Target::Null if can_write => {
            r.write = Some(synthesize_counted(&DevNullWriteHoles {
                bad_address: bad_address(),
            })?)
        }
        Target::Zero if can_read => {
            r.read = Some(synthesize_counted(&DevZeroReadHoles {
                bad_address: bad_address(),
            })?)
        }
        Target::Mem if can_read => {
            r.read = Some(synthesize_counted(&DevMemReadHoles {
                base: Imm64(devices.mem.as_ptr() as u64),
                window_size: Imm32(devices.mem.len() as i32),
                position_cell: Imm64(pos),
                bad_address: bad_address(),
            })?)
        }
        Target::Tty if can_write && devices.tty.mode() == sk_tty::Mode::Raw => {
            r.write = Some(synthesize_counted(&TtyWriteHoles {
                data_port: Imm32(i32::from(sk_machine::serial::COM1)),
                line_status_port: Imm32(i32::from(sk_machine::serial::COM1) + 5),
                bad_address: bad_address(),
            })?)
        }
        Target::File(open) => {
            // An unlinked file's data is the generic path's business.
            let stat = fs.stat(open.node()).map_err(sk_sio::fs_error)?;
            if stat.link_count == 0 {
                return Ok(r);
            }
            let layout = fs.data_layout(open.node()).map_err(sk_sio::fs_error)?;
            if can_read {
                r.read = Some(synthesize_counted(&RamFileReadHoles {
                    data: Imm64(layout.data_addr),
                    position_cell: Imm64(pos),
                    size_cell: Imm64(layout.size_cell_addr),
                    bad_address: bad_address(),
                })?);
            }
            if can_write && !flags.contains(OpenFlags::APPEND) {
                let fallback = synthesize(&GenericTrampolineHoles {
                    handle: Imm32(handle.index() as i32),
                    op: Imm32(i32::from(Call::Write.number())),
                    generic_entry: Imm64(sk_machine::synth_entry::generic_entry_address()),
                })?;
                r.write = Some(synthesize_counted(&RamFileWriteHoles {
                    data: Imm64(layout.data_addr),
                    capacity: Imm64(layout.capacity),
                    position_cell: Imm64(pos),
                    size_cell: Imm64(layout.size_cell_addr),
                    generic_fallback: Rel32Target(fallback.block.address),
                    bad_address: bad_address(),
                })?);
                r.fallback = Some(fallback);
            }
        }
        _ => {}
    }
    Ok(r)
}

fn publish(threads: &BTreeMap<ThreadId, Thread>, r: &SioRoutines) {
    if let Some(t) = table_of(threads, r.owner) {
        if let Some(read) = &r.read {
            t.set(r.handle, Call::Read, read.entry());
        }
        if let Some(write) = &r.write {
            t.set(r.handle, Call::Write, write.entry());
        }
    }
}

/// Sends the owner's slots for these routines back to the generic path;
/// dropping them then retires their code (freed after a quiescent point).
fn unpublish(threads: &BTreeMap<ThreadId, Thread>, r: &SioRoutines) {
    if let Some(t) = table_of(threads, r.owner) {
        let slow = sk_machine::synth_entry::slow_path_address();
        t.set(r.handle, Call::Read, slow);
        t.set(r.handle, Call::Write, slow);
    }
}

/// Retires the routines of an SIO that was closed.
pub(crate) fn retire(core: &Core, routines: Option<crate::state::Routines>) {
    if let Some(r) = routines {
        unpublish(&core.threads, &r);
    }
}

/// Brings the routines of the SIO at `handle` of SMACH `me` in line with
/// its current facts: (re)synthesized for its opener, or generic.
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
    if let Some(old) = sio.routines.take() {
        unpublish(threads, &old);
    }
    let Some(owner) = sio.opener() else {
        return;
    };
    if !config().enabled
        || sio.is_shared()
        || u64::from(handle.index()) >= TABLE_HANDLES
        || table_of(threads, owner).is_none()
    {
        return;
    }
    match build(fs, devices, owner, handle, sio) {
        Ok(r) if r.read.is_some() || r.write.is_some() => {
            publish(threads, &r);
            sio.routines = Some(Box::new(r));
        }
        Ok(_) => {}
        Err(e) => log::debug!("no synthesized routines for handle {}: {e}", handle.index()),
    }
}

/// Replans every SIO for which `pick` says yes.
fn replan_where(core: &mut Core, pick: impl Fn(&Sio) -> bool) {
    let mut hits: Vec<(SmachId, Handle)> = Vec::new();
    for (id, smach) in &core.smachs {
        for (handle, object) in smach.handles.iter() {
            if object.as_sio().is_some_and(&pick) {
                hits.push((*id, handle));
            }
        }
    }
    for (id, handle) in hits {
        replan(core, id, handle);
    }
}

/// Applies pending file-system events: every SIO of a file an event
/// concerns is replanned from the file's current facts.
pub(crate) fn on_fs_events(core: &mut Core) {
    let nodes: Vec<sk_fs::NodeId> = core.fs.take_events().map(|e| e.node).collect();
    if nodes.is_empty() {
        return;
    }
    replan_where(core, |sio| {
        sio.routines.is_some()
            && matches!(sio.target(), Target::File(open) if nodes.contains(&open.node()))
    });
}

/// The console's mode changed: replan every console SIO.
pub(crate) fn on_tty_mode_change(core: &mut Core) {
    replan_where(core, |sio| matches!(sio.target(), Target::Tty));
}

/// The text `query(Routines)` returns: a line per op, then details.
pub(crate) fn describe(sio: &Sio) -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::new();
    let r = sio.routines.as_deref();
    for (op, routine) in [
        ("read", r.and_then(|r| r.read.as_ref())),
        ("write", r.and_then(|r| r.write.as_ref())),
    ] {
        let _ = match routine {
            Some(x) => writeln!(s, "{op}: synthesized {}", x.instance.name()),
            None => writeln!(s, "{op}: generic"),
        };
    }
    if !config().show_addresses {
        // Addresses and hole values are kernel addresses: only with
        // `synth.show`.
        return s;
    }
    if let Some(r) = r {
        for (op, routine) in [
            ("read", r.read.as_ref()),
            ("write", r.write.as_ref()),
            ("fallback", r.fallback.as_ref()),
        ] {
            let Some(x) = routine else { continue };
            let _ = writeln!(
                s,
                "\n== {op}: {} for handle {} of thread {} at {:#x}: {} bytes, created in {} TSC ticks, calls: {}",
                x.instance.name(),
                r.handle.index(),
                r.owner,
                x.block.address,
                x.instance.size(),
                x.cost_ticks,
                match x.calls() {
                    Some(n) => alloc::format!("{n}"),
                    None => alloc::string::String::from("not counted (boot with synth.count)"),
                }
            );
            s.push_str(&sk_synth::disassemble(&x.instance, &routine_bytes(x)));
        }
    }
    s
}
