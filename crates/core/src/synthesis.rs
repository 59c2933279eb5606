//! The synthesized path's configuration, and the glue that executes
//! `sk-synth`'s policy on the kernel's objects.
//!
//! Owns [`SynthConfig`] (`synth=off`, how the CPU reaches a thread's stub,
//! call counting, address display) and the policy's [`Env`]. *Which*
//! template an SIO gets with which hole values, and what each table slot
//! holds after any change of facts, is decided in one place,
//! `sk_synth::policy::plan` (host-tested, property-tested); this file
//! computes an SIO's facts from the kernel's objects ([`facts`]) and hands
//! them to the policy, whose actions `code_memory.rs` performs (instantiate
//! and install, one atomic store per slot, retire); `thread_entry.rs` owns
//! the per-thread tables and stubs, `routines_text.rs` the `Routines` text.
//!
//! A semaphore's P and V, and a port end's send or receive, go in the
//! table of *every* SCPU of its SMACH: the opener's in `sio.routines`, the others' in `sio.sharers` (one
//! `SioRoutines` per thread, each planned with that thread as `owner`);
//! they are replanned when an SCPU joins the SMACH or leaves it, and all
//! retired at close ([`close_sio`]), which also wakes the waiters.
//!
//! When facts change, the SIOs concerned are replanned: at open, at the
//! first use by a second SCPU, after every file-system event on their file
//! (growth past capacity, truncate, unlink, free, rename: drained at every
//! release of the kernel lock, `state.rs`), after a console mode change,
//! when their opener's thread goes, and at close. In debug builds
//! [`check_fresh`] re-plans every SIO periodically and panics if an
//! installed routine's spec differs from the plan of the current facts.

use crate::code_memory::KernelMechanism;
use crate::state::{Core, Object, Sio, SmachId, ThreadId};
use crate::thread::Thread;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{Handle, OpenFlags, SysError};
use sk_fs::FileSystem;
use sk_sio::{Devices, Target};
use sk_smach::IdMap;
use sk_synth::policy::linux::plan_for;
use sk_synth::policy::{Env, FileFacts, Lazy, LazyMode, Op, SioFacts, SioPlan, SioTarget};
use spin::Once;

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
    /// Log every installed routine as a replay record and its bytes
    /// (`synth.replay`; `sk_synth::replay`): a host tool regenerates each
    /// routine from its record and checks the bytes are the same.
    pub log_installs: bool,
    /// The code cache keeps routines nobody uses for a reopen (default;
    /// `synth.idle=0` retires each with its last user, to measure the
    /// reopen that synthesizes).
    pub keep_idle: bool,
    /// When an SIO's routines are made (`synth.lazy=off|auto|K`; default
    /// `auto`): `sk_synth::policy::lazy`.
    pub lazy: LazyMode,
}

static CONFIG: Once<SynthConfig> = Once::new();
pub(crate) fn config() -> SynthConfig {
    *CONFIG.get().unwrap_or(&SynthConfig {
        enabled: false,
        entry: EntryMode::Lstar,
        count_calls: false,
        show_addresses: false,
        log_installs: false,
        keep_idle: true,
        lazy: LazyMode::Auto,
    })
}

/// The lazy-synthesis configuration plans are gated with (`synth.lazy`;
/// in test builds a test may set another for a while:
/// `testing::set_lazy_mode`).
pub(crate) fn lazy() -> Lazy {
    #[cfg(feature = "ktest")]
    if let Some(mode) = crate::testing::lazy_mode_override() {
        return Lazy { mode, ..Lazy::AUTO };
    }
    Lazy {
        mode: config().lazy,
        ..Lazy::AUTO
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
        yield_routine: crate::ring::yield_routine(),
    }
}

/// Sets the configuration. Call once.
pub(crate) fn init(config: SynthConfig) {
    CONFIG.call_once(|| config);
    if config.enabled && config.entry == EntryMode::PerCpuSlot {
        sk_machine::synth_entry::use_per_cpu_slot();
    }
}

/// What code generation depends on for `sio` at `handle`: read off the
/// kernel's objects now.
pub(crate) fn facts(
    fs: &FileSystem,
    devices: &Devices,
    threads: &IdMap<Thread>,
    smachs: &IdMap<crate::state::Smach>,
    sio: &Sio,
    handle: Handle,
) -> SioFacts {
    let target = match sio.target() {
        // Collapsing Layers: the view's chain folded into one window.
        Target::View(_) => SioTarget::View(crate::views::facts(fs, devices, smachs, sio)),
        Target::Null => SioTarget::Null,
        Target::Zero => SioTarget::Zero,
        Target::Mem => SioTarget::Mem {
            base: devices.mem.as_ptr() as u64,
            window_bytes: devices.mem.len() as u64,
        },
        Target::Tty => console_facts(devices),
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
        Target::Semaphore(semaphore) => SioTarget::Semaphore {
            cell: semaphore.cell() as *const AtomicU64 as u64,
        },
        Target::Pipe(end) => match end.layout() {
            // `program | tty`: writing to this end is writing to the
            // console, so the plan is the console's (Collapsing Layers:
            // the pipe layer is gone from the code).
            None => console_facts(devices),
            Some(ring) => {
                let cell = |offset: usize| (ring.cells_address + offset) as u64;
                SioTarget::Pipe {
                    is_read_end: end.is_read_end(),
                    buffer: ring.buffer_address as u64,
                    capacity: ring.capacity as u64,
                    atomic_bytes: ring.atomic_size as u64,
                    produced_cell: cell(sk_sio::RingCells::PRODUCED_OFFSET),
                    consumed_cell: cell(sk_sio::RingCells::CONSUMED_OFFSET),
                    wait_cell: cell(sk_sio::RingCells::WAIT_OFFSET),
                }
            }
        },
        Target::Port(end) => {
            let layout = end.layout();
            SioTarget::Port(sk_synth::policy::PortFacts {
                is_receive_end: end.is_receive_end(),
                cells: layout.cells_address as u64,
                slots: layout.slots_address as u64,
                slot_stride: layout.slot_stride as u64,
                capacity: layout.capacity as u64,
            })
        }
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
        // The owner's plan; a holder's comes from `share::holder_facts`.
        is_holder: false,
        is_revoked: false,
    }
}

/// The plan of an SIO with `facts` in a native SMACH or (`is_linux`) a
/// Linux one: the policy's one choice (`policy::linux::plan_for`), used by
/// every replan and by [`check_fresh`]. A Linux SMACH before the Linux
/// slow paths exist (no Linux thread yet) has no slot in any table.
pub(crate) fn plan_of(facts: &SioFacts, env: &Env, is_linux: bool) -> SioPlan {
    if !is_linux {
        return sk_synth::policy::plan(facts, env);
    }
    match crate::linux_fast::env() {
        Some(linux) => plan_for(facts, env, Some(&linux)),
        None => sk_synth::policy::plan(
            &SioFacts {
                owner: None,
                ..*facts
            },
            env,
        ),
    }
}

/// Brings the routines of the SIO at `handle` of SMACH `me` in line with
/// the plan of its current facts.
pub(crate) fn replan(core: &mut Core, me: SmachId, handle: Handle) {
    let is_linux = core.linux.contains_key(&me);
    // Lazy synthesis: a fresh SIO's plan is all generic until its first
    // generic call (every K is at least 1) and its slots are generic
    // already, so the plan waits for that call; an open never used makes
    // none (the open + close path stays the generic one). Decided before
    // the facts are gathered: an open pays for neither.
    if let Some(Ok(Object::Sio(sio))) = core.smachs.get_mut(&me).map(|s| s.handles.get_mut(handle))
    {
        if sio.routines.is_none() && lazy().defers_open() {
            let mut routines = crate::state::Routines::default();
            routines.usage = sk_synth::policy::Usage::due_at_first_call();
            sio.routines = Some(routines);
            return;
        }
    }
    let Core {
        fs,
        devices,
        smachs,
        threads,
        ..
    } = core;
    // The facts first (a view's walk reads other SIOs of any SMACH).
    let facts = match smachs.get(&me).map(|s| s.handles.get(handle)) {
        Some(Ok(Object::Sio(sio))) => facts(fs, devices, threads, smachs, sio, handle),
        _ => return,
    };
    let Some(smach) = smachs.get_mut(&me) else {
        return;
    };
    // A semaphore's and a port end's routines go in the table of every
    // SCPU of the SMACH; any other SIO's only in its owner's.
    let is_everyones = matches!(
        smach.handles.get(handle),
        Ok(Object::Sio(sio)) if sio.semaphore().is_some() || sio.port_end().is_some()
    );
    // The SCPUs of the SMACH with a table, at most MAX_SCPUS_PER_SMACH;
    // gathered (on the heap) only for an SIO that needs them: an open of
    // anything else stays off the allocator.
    let mut members: Vec<ThreadId> = Vec::new();
    if is_everyones && members.try_reserve(smach.threads.len()).is_ok() {
        members.extend(
            smach
                .threads
                .iter()
                .copied()
                .filter(|t| threads.get(t).is_some_and(|t| t.synth.is_some())),
        );
    }
    let Ok(Object::Sio(sio)) = smach.handles.get_mut(handle) else {
        return;
    };
    let env = env();
    let mut mech = KernelMechanism { threads };
    let routines = sio.routines.get_or_insert_with(Default::default);
    let lazy = lazy();
    // The policy's choice, then held back where the SIO's calls have not
    // yet shown the routine pays (lazy synthesis).
    let wanted = plan_of(&facts, &env, is_linux);
    let usage = routines.usage;
    let before = Op::ALL.map(|op| routines.installed(op).map(|r| r.entry()));
    let start = sk_machine::cpu::rdtsc();
    if let Err(e) = routines.apply_lazily(&wanted, &lazy, facts.owner, facts.handle, &mut mech) {
        // The slot stays generic; the next replan tries again.
        log::debug!("no synthesized routine for handle {}: {e}", handle.index());
    }
    note_synthesis(routines, before, start);
    #[cfg(feature = "ktest")]
    if crate::testing::lazy_fault_never() {
        // The fault a test injected: the count never triggers a replan.
        for op in Op::ALL {
            routines.usage.op_mut(op).due_at = u32::MAX;
        }
    }
    // A semaphore's and a port end's routines assume no single owner.
    if !is_everyones {
        return;
    }
    // Every other member gets its own slots (same plan, its table).
    for &member in &members {
        if Some(member) != facts.owner
            && !sio.sharers.iter().any(|(t, _)| *t == member)
            && sio.sharers.try_reserve(1).is_ok()
        {
            sio.sharers.push((member, Default::default()));
        }
    }
    sio.sharers.retain_mut(|(thread, routines)| {
        let is_member = members.contains(thread) && Some(*thread) != facts.owner;
        let facts = SioFacts {
            owner: is_member.then_some(*thread),
            ..facts
        };
        // Not a member any more: the replan leaves its slots and retires
        // the code, and the entry goes.
        // Gated by the SIO's own calls (the opener's record).
        let plan = sk_synth::policy::lazy::gate(&plan_of(&facts, &env, is_linux), &usage, &lazy);
        if let Err(e) = routines.apply(&plan, facts.owner, facts.handle, &mut mech) {
            log::debug!("no semaphore routine for thread {thread}: {e}");
        }
        is_member
    });
}

/// Break-even accounting: the TSC ticks of a replan since `start` go to
/// the ops it installed new code for (`before`: their entries before).
fn note_synthesis(routines: &mut crate::state::Routines, before: [Option<u64>; 2], start: u64) {
    let now = Op::ALL.map(|op| routines.installed(op).map(|r| r.entry()));
    let fresh = Op::ALL.map(|op| {
        let i = op as usize;
        now[i].is_some() && now[i] != before[i]
    });
    let count = fresh.iter().filter(|f| **f).count() as u64;
    if count == 0 {
        return;
    }
    let ticks = sk_machine::cpu::rdtsc().saturating_sub(start) / count;
    for op in Op::ALL {
        if fresh[op as usize] {
            let usage = routines.usage.op_mut(op);
            usage.synthesis_ticks = usage.synthesis_ticks.saturating_add(ticks);
        }
    }
}

/// Closes an SIO taken out of its handle table: a semaphore's waiters
/// are woken (their P finds the handle gone and fails with `BadHandle`),
/// every routine it holds in any table is retired, the SIO is closed.
pub(crate) fn close_sio(core: &mut Core, mut sio: Sio) {
    close_sio_in_place(core, &mut sio);
}

/// [`close_sio`] where the record lies (no move of its few hundred
/// bytes); the caller drops what is left, which holds nothing open.
pub(crate) fn close_sio_in_place(core: &mut Core, sio: &mut Sio) {
    let serial = sio.serial();
    // Closing by the owner revokes every share of it first (holders'
    // slots replugged, holders blocked on it woken).
    crate::share::revoke_for_close(core, sio);
    if let Some(semaphore) = sio.semaphore_mut() {
        for waiter in semaphore.drain() {
            crate::scheduler::wake(core, waiter);
        }
    }
    // A pipe end's close wakes the other side (a reader to see end of
    // file, a writer to see the broken pipe) and this end's own sleepers
    // (other SCPUs of the SMACH blocked on it: their call finds the handle
    // gone, as a semaphore's P does; nothing else would ever wake them).
    let own = sio.pipe_end().map(|end| {
        if end.is_read_end() {
            sk_sio::Wake::Readers
        } else {
            sk_sio::Wake::Writers
        }
    });
    if let Some((pipe, wake)) = sio.close_pipe_end() {
        crate::pipe_calls::wake(core, pipe, wake);
        if let Some(own) = own {
            crate::pipe_calls::wake(core, pipe, own);
        }
    }
    // A port end's close wakes the other side (receivers to see the end
    // of the stream, senders to see the broken port) and, as a pipe's,
    // this end's own sleepers (other SCPUs of the SMACH blocked on it:
    // their call finds the handle gone; nothing else would wake them).
    let own = sio.port_end().map(|end| {
        if end.is_receive_end() {
            sk_sio::Wake::Readers
        } else {
            sk_sio::Wake::Writers
        }
    });
    let receive_port = sio
        .port_end()
        .filter(|end| end.is_receive_end())
        .map(sk_sio::PortEnd::port);
    if let Some((port, wake)) = sio.close_port_end() {
        crate::port_calls::wake(core, port, wake);
        if let Some(own) = own {
            crate::port_calls::wake(core, port, own);
        }
    }
    // Nobody can take a handle sent on a port whose receive end is gone.
    if let Some(port) = receive_port {
        core.devices.port_grants.forget_port(port);
    }
    let sharers = core::mem::take(&mut sio.sharers);
    for (_, routines) in sharers {
        retire(core, Some(routines));
    }
    // The routines leave their slots and retire in place (not moved out of
    // the SIO first: the record is a few hundred bytes), then the SIO
    // closes; what it hands back holds nothing.
    if let Some(routines) = sio.routines.as_mut() {
        routines.release(&mut KernelMechanism {
            threads: &core.threads,
        });
    }
    sio.close_in_place(&mut core.fs);
    debug_assert!(sio
        .routines
        .as_ref()
        .is_none_or(|r| Op::ALL.iter().all(|&op| r.target(op).is_none())));
    // Views of it (or below it) lose their parent: replugged.
    crate::views::after_close(core, serial);
}

/// A thread joined SMACH `smach`: its table gets the SMACH's semaphores
/// and port ends.
pub(crate) fn on_thread_joined(core: &mut Core, smach: SmachId) {
    if !config().enabled {
        return;
    }
    // Its table gets the SMACH's holder slots (shared SIOs) too.
    crate::share::on_thread_joined(core, smach);
    let mut hits: Vec<Handle> = Vec::new();
    if let Some(s) = core.smachs.get(&smach) {
        for (handle, object) in s.handles.iter() {
            let is_everyones = object
                .as_sio()
                .is_some_and(|s| s.semaphore().is_some() || s.port_end().is_some());
            if is_everyones && hits.try_reserve(1).is_ok() {
                hits.push(handle);
            }
        }
    }
    for handle in hits {
        replan(core, smach, handle);
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

/// Replans every SIO for which `pick` says yes. Their list is made
/// first; if the heap cannot hold it, they are found and replanned one at
/// a time with no list (quadratic, only then): a hit left out would keep
/// a routine planned for old facts (a console gone raw with the cooked
/// routine, a pipe end bound to the console with the pipe's).
fn replan_where(core: &mut Core, pick: impl Fn(&Sio) -> bool) {
    let picked = |object: &Object| object.as_sio().is_some_and(&pick);
    let count = core
        .smachs
        .iter()
        .map(|(_, smach)| smach.handles.iter().filter(|(_, o)| picked(o)).count())
        .sum();
    let mut hits: Vec<(SmachId, Handle)> = Vec::new();
    if hits.try_reserve_exact(count).is_ok() {
        for (id, smach) in &core.smachs {
            for (handle, object) in smach.handles.iter() {
                if picked(object) {
                    hits.push((*id, handle));
                }
            }
        }
        for (id, handle) in hits {
            replan(core, id, handle);
        }
        return;
    }
    // The SMACH table is sorted by id and a handle table by index: walk
    // both in that order, resuming after the last one replanned.
    let mut after: Option<(SmachId, u32)> = None;
    loop {
        let next = core
            .smachs
            .iter()
            .flat_map(|(id, smach)| smach.handles.iter().map(move |(h, o)| (*id, h, o)))
            .filter(|(id, h, _)| after.is_none_or(|last| (*id, h.index()) > last))
            .find(|(_, _, o)| picked(o))
            .map(|(id, h, _)| (id, h));
        let Some((id, handle)) = next else { break };
        replan(core, id, handle);
        after = Some((id, handle.index()));
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
    // Views on those files: the file may no longer cover a window.
    crate::views::on_fs_events(core, &nodes);
}

/// The console's mode changed: replan every console SIO and every view
/// that may stand on the console (a prefix view's write folds the mode in).
pub(crate) fn on_tty_mode_change(core: &mut Core) {
    replan_where(core, |sio| {
        matches!(sio.target(), Target::Tty) || sio.pipe_end().is_some_and(|e| e.is_to_console())
    });
    crate::views::on_tty_mode_change(core);
}

/// The console's facts (its mode and ports): a console SIO's, and a pipe
/// write end's whose reader is the console.
fn console_facts(devices: &sk_sio::Devices) -> SioTarget {
    SioTarget::Tty {
        is_raw: devices.tty.mode() == sk_tty::Mode::Raw,
        data_port: sk_machine::serial::COM1,
        status_port: sk_machine::serial::COM1 + 5,
    }
}

/// Thread `tid` is gone (its table with it): replan the SIOs it opened, so
/// their code is retired now rather than at close.
pub(crate) fn on_thread_gone(core: &mut Core, tid: ThreadId) {
    crate::share::on_thread_gone(core, tid);
    replan_where(core, |sio| {
        (sio.opener() == Some(tid) && sio.routines.is_some())
            || sio.sharers.iter().any(|(t, _)| *t == tid)
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
    for (id, smach) in &core.smachs {
        let is_linux = core.linux.contains_key(id);
        for (handle, object) in smach.handles.iter() {
            if let Some(shared) = object.as_shared() {
                if crate::share::replug_injected_off() {
                    // The fault a test injected: stale on purpose.
                    continue;
                }
                let facts = crate::share::holder_facts(
                    (&core.fs, &core.devices),
                    &core.smachs,
                    &core.threads,
                    shared,
                    handle,
                );
                for (thread, routines) in &shared.routines {
                    let facts = SioFacts {
                        owner: Some(*thread),
                        ..facts
                    };
                    check_installed(&facts, routines, &env, handle, is_linux);
                }
                continue;
            }
            let Some(sio) = object.as_sio() else { continue };
            let Some(routines) = sio.routines.as_ref() else {
                continue;
            };
            let facts = facts(
                &core.fs,
                &core.devices,
                &core.threads,
                &core.smachs,
                sio,
                handle,
            );
            let sharers = sio.sharers.iter().map(|(thread, routines)| {
                let facts = SioFacts {
                    owner: Some(*thread),
                    ..facts
                };
                (facts, routines)
            });
            for (facts, routines) in core::iter::once((facts, routines)).chain(sharers) {
                check_installed(&facts, routines, &env, handle, is_linux);
            }
        }
    }
}

/// Debug builds: every routine `routines` has installed is what the plan
/// of `facts` says (panics otherwise).
fn check_installed(
    facts: &SioFacts,
    routines: &crate::state::Routines,
    env: &sk_synth::policy::Env,
    handle: Handle,
    is_linux: bool,
) {
    let plan = plan_of(facts, env, is_linux);
    for op in Op::ALL {
        if let Some(installed) = routines.installed(op) {
            let planned = match plan.slot(op) {
                sk_synth::policy::SlotPlan::Routine(spec) => Some(spec),
                _ => None,
            };
            assert!(
                planned == Some(installed.spec()),
                "stale routine {} for handle {} ({op:?}): planned {planned:?} (facts: {:?}, \
                 owner {:?}, shared {}, holder {}, revoked {})",
                installed.spec().template().name,
                handle.index(),
                facts.target,
                facts.owner,
                facts.is_shared,
                facts.is_holder,
                facts.is_revoked
            );
        }
    }
}
