//! Support for in-kernel tests of the generic path: a SMACH with no
//! threads, whose calls a kernel thread makes on its behalf.

use crate::address_space::KernelAddressSpace;
use crate::state::{self, Object, Smach};
use alloc::string::String;
use sk_abi::{ExitStatus, Handle, OpenFlags, SysError};
use sk_smem::{Access, AddressSpace};

/// Where a test machine's scratch memory starts.
pub const TEST_BUFFER: u64 = 0x1000_0000;
/// A user code page holding `jmp $`: an entry point for test SCPUs.
pub const TEST_SPIN_CODE: u64 = 0x0f00_0000;
/// Code in the same page that counts forever: `1: inc qword [rdi]; jmp 1b`
/// (an SCPU's argument arrives in `rdi`), to measure CPU shares.
pub const TEST_COUNT_CODE: u64 = TEST_SPIN_CODE + 16;

/// A thread-less SMACH that the current kernel thread is attached to while
/// it lives; dropping it detaches and frees everything.
pub struct TestMachine {
    id: u64,
    len: u64,
}

fn map(
    smach: &mut Smach,
    start: u64,
    pages: u64,
    access: Access,
    contents: &[(usize, &[u8])],
) -> Result<(), SysError> {
    let end = start + pages * 4096;
    smach.regions.reserve(start, end)?;
    let aspace = smach.aspace.as_mut().ok_or(SysError::NoMemory)?;
    let mut page = start;
    while page < end {
        aspace
            .map_page(page, access, contents)
            .map_err(|_| SysError::NoMemory)?;
        smach.regions.add_mapped(4096);
        page += 4096;
    }
    Ok(())
}

impl TestMachine {
    /// A machine with `pages` of scratch memory at [`TEST_BUFFER`].
    ///
    /// # Errors
    /// [`SysError::NoMemory`].
    pub fn new(pages: u64) -> Result<Self, SysError> {
        let id = state::with(|core| -> Result<u64, SysError> {
            let id = core.new_id();
            let mut smach = Smach::new(
                id,
                String::from("<kernel test>"),
                None,
                KernelAddressSpace::new()?,
            );
            let built = (|| {
                map(&mut smach, TEST_BUFFER, pages, Access::READ_WRITE, &[])?;
                let code: [(usize, &[u8]); 2] =
                    [(0, &[0xeb, 0xfe]), (16, &[0x48, 0xff, 0x07, 0xeb, 0xfb])];
                map(&mut smach, TEST_SPIN_CODE, 1, Access::READ_EXECUTE, &code)?;
                let console = sk_sio::Sio::open(
                    &mut core.fs,
                    "/dev/tty",
                    OpenFlags::READ | OpenFlags::WRITE,
                )?;
                smach
                    .handles
                    .install_at(Handle::SELF, Object::Smach(id))
                    .map_err(|(e, _)| e)?;
                smach
                    .handles
                    .install_at(Handle::CONSOLE, Object::Sio(console))
                    .map_err(|(e, _)| e)?;
                Ok(())
            })();
            if let Err((e, mut smach)) = core.smachs.insert(id, smach) {
                if let Some(teardown) = smach.exit(ExitStatus::KILLED) {
                    crate::smach::finish_teardown(core, id, teardown);
                }
                return Err(e);
            }
            match built {
                Ok(()) => Ok(id),
                Err(e) => {
                    crate::smach::release(core, id);
                    Err(e)
                }
            }
        })?;
        crate::thread::attach_current_to(id);
        Ok(Self {
            id,
            len: pages * 4096,
        })
    }

    /// The machine's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Bytes of scratch memory.
    pub fn buffer_len(&self) -> u64 {
        self.len
    }

    /// Bytes of user memory mapped in this machine.
    pub fn mapped_bytes(&self) -> u64 {
        state::with(|core| {
            core.smachs
                .get(&self.id)
                .map_or(0, |s| s.regions.mapped_bytes())
        })
    }

    /// Handles in use.
    pub fn handle_count(&self) -> usize {
        state::with(|core| core.smachs.get(&self.id).map_or(0, |s| s.handles.count()))
    }
}

/// What a routine-table slot of the current thread points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// A synthesized routine made from this template.
    Synthesized(&'static str),
    /// The generic path (the stub's slow path).
    Generic,
    /// The current thread has no routine table.
    NoTable,
}

impl TestMachine {
    /// Gives the current (kernel) thread a routine table, so SIOs it opens
    /// get synthesized routines as a user thread's would (synthesis on).
    /// Removed again when the machine is dropped.
    #[must_use]
    pub fn with_routine_table(self) -> Self {
        state::with(|core| {
            let current = core.current;
            let top = core
                .threads
                .get(&current)
                .map_or(0, |t| t.context.stack_top());
            let synth = crate::thread_entry::for_new_thread(top).ok().flatten();
            if let Some(t) = core.threads.get_mut(&current) {
                t.synth = synth;
            }
        });
        self
    }

    /// Whether the current thread's slot for `op` on `handle` is entered
    /// stackless (the stub `jmp`s to a routine that returns with
    /// `sysretq`) rather than through the stub's door; false without a
    /// table.
    pub fn is_stackless(&self, handle: u32, op: sk_abi::Call) -> bool {
        state::with(|core| {
            let index = (u64::from(handle) << sk_abi::Call::BITS) | u64::from(op.number());
            core.threads
                .get(&core.current)
                .and_then(|t| t.synth.as_ref())
                .is_some_and(|table| table.is_stackless_slot(index as usize))
        })
    }

    /// Where the current thread's slot for `op` on `handle` points.
    pub fn slot(&self, handle: u32, op: sk_abi::Call) -> SlotState {
        state::with(|core| {
            let current = core.current;
            let Some(table) = core.threads.get(&current).and_then(|t| t.synth.as_ref()) else {
                return SlotState::NoTable;
            };
            let address = table.slot(Handle::new(handle), op);
            let routines = core
                .smachs
                .get(&self.id)
                .and_then(|s| s.handles.get(Handle::new(handle)).ok())
                .and_then(Object::as_sio)
                .and_then(|sio| sio.routines.as_ref());
            let found = routines.and_then(|r| {
                sk_synth::policy::Op::ALL
                    .into_iter()
                    .filter_map(|op| r.installed(op))
                    .find(|x| x.entry() & !sk_synth::policy::STACKLESS_TAG == address)
                    .map(|x| x.spec().template().name)
            });
            match found {
                Some(name) => SlotState::Synthesized(name),
                None => SlotState::Generic,
            }
        })
    }
}

impl Drop for TestMachine {
    fn drop(&mut self) {
        state::with(|core| {
            let current = core.current;
            if let Some(t) = core.threads.get_mut(&current) {
                t.synth = None;
            }
        });
        crate::thread::detach_current();
        state::with(|core| {
            crate::smach::exit(core, self.id, ExitStatus::SUCCESS);
            core.smachs.remove(&self.id);
        });
    }
}

/// How many threads the console would wake on input (threads blocked
/// reading it). For in-kernel tests only.
pub fn console_readers() -> usize {
    crate::state::with(|core| core.devices.tty_readers.len())
}

/// The kernel's long-lived containers and the heap bytes (or, for maps
/// that allocate per entry, the entries) each holds now: the leak check
/// prints the ones that changed, so heap growth names its holder. For
/// in-kernel tests only.
pub fn heap_holders() -> [(&'static str, usize); HEAP_HOLDERS] {
    let [cache, stubs, decoded] = crate::code_memory::list_capacity_bytes();
    crate::state::with(|core| {
        let [fs_nodes, fs_events] = core.fs.container_bytes();
        [
            ("file-system node slab bytes", fs_nodes),
            ("file-system event list bytes", fs_events),
            ("SMACH table bytes", core.smachs.capacity_bytes()),
            ("thread table bytes", core.threads.capacity_bytes()),
            ("ready queue bytes", core.ready.capacity_bytes()),
            ("sleep queue bytes", core.sleepers.capacity_bytes()),
            (
                "console readers bytes",
                core.devices.tty_readers.capacity() * core::mem::size_of::<u64>(),
            ),
            (
                "pipes with sleepers",
                core.devices.pipe_waiters.pipe_count(),
            ),
            ("ring bookkeeping bytes", ring_bytes(core)),
            cache,
            stubs,
            decoded,
        ]
    })
}

/// Heap bytes of the executable ready queue's bookkeeping (its switch
/// code map and the policy's links): room kept at the high-water mark of
/// threads, never shrunk, so that blocking and waking allocate nothing.
fn ring_bytes(core: &crate::state::Core) -> usize {
    core.ring.as_ref().map_or(0, |ring| {
        ring.code
            .capacity_bytes()
            .saturating_add(ring.policy.capacity_bytes())
    })
}

/// [`ring_bytes`] now: growth the leak check counts as kept, like the
/// code arena's bookkeeping and the file system's slab.
pub fn ring_bookkeeping_bytes() -> usize {
    crate::state::with(|core| ring_bytes(core))
}

/// How many containers [`heap_holders`] reports (a fixed array: taking
/// the report allocates nothing, so it cannot disturb the count it helps
/// explain).
pub const HEAP_HOLDERS: usize = 12;

/// Allows or refuses `TraceNextCall` from now on, as the boot option
/// `trace` does (test mode boots with it): lets a test see the refusal.
/// For in-kernel tests only; restore it with `allow_trace(true)`.
pub fn allow_trace(on: bool) {
    crate::trace::enable(on);
}

/// True if `TraceNextCall` is allowed now.
pub fn trace_allowed() -> bool {
    crate::trace::is_enabled()
}

/// Makes `query(Routines)` show routine addresses and hole values as the
/// boot option `synth.show` does (`true`), or follow the boot option again
/// (`false`). For in-kernel tests only.
pub fn show_routine_addresses(on: bool) {
    SHOW_ADDRESSES.store(on, core::sync::atomic::Ordering::SeqCst);
}

/// Set by [`show_routine_addresses`].
static SHOW_ADDRESSES: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// True if a test asked for addresses in `query(Routines)`.
pub(crate) fn routine_addresses_shown() -> bool {
    SHOW_ADDRESSES.load(core::sync::atomic::Ordering::SeqCst)
}

/// The synthesized scheduler's self-check (None when `sched=ring` is
/// off): the jumps read back from the code form one cycle through exactly
/// the runnable threads, in the policy's order. `Ok((members, switches))`.
pub fn ring_check() -> Option<Result<(usize, u64), alloc::string::String>> {
    crate::state::with(|core| crate::ring::check_code(core))
}

/// True if the synthesized scheduler runs (`sched=ring`).
pub fn ring_on() -> bool {
    crate::ring::is_on()
}

/// Suspends (`true`) or resumes every SCPU of a kernel-owned program, as
/// `reconfigure(Suspend/Resume)` on its SMACH would.
pub fn suspend_program(id: crate::ProgramId, suspend: bool) -> Result<(), SysError> {
    let request = if suspend {
        sk_abi::ScpuReconfigure::Suspend
    } else {
        sk_abi::ScpuReconfigure::Resume
    };
    crate::state::with(|core| {
        let threads = core
            .smachs
            .get(&id.0)
            .map(|s| s.threads.clone())
            .unwrap_or_default();
        for t in threads {
            crate::scpu_calls::apply(core, t, request)?;
        }
        Ok(())
    })
}

/// Switches from one thread to another so far, on either scheduler (the
/// ring counts those its syncs observe, the generic one those it makes).
pub fn switches() -> u64 {
    crate::state::with(|core| match core.ring.as_ref() {
        Some(ring) => ring.switches,
        None => crate::scheduler::GENERIC_SWITCHES.load(core::sync::atomic::Ordering::Relaxed),
    })
}

/// The scheduler's self-check, on either scheduler: no thread is lost and
/// none that may not run can. Every Ready or Running thread is queued (the
/// ring: a member of the policy, and with `sched=ring` every member's
/// jump read back from the code is where the policy has it (its successor,
/// or a nested group's closed sub-ring's first member), the code's walk
/// from the running thread is the policy's cycle, and no member is
/// blocked, suspended or gone, [`ring_check`]; generic: in the ready
/// queue), only the current thread is Running, and every Blocked thread
/// waits on something that wakes it (the console's readers, a SMACH's
/// waiters, the sleep queue, a semaphore). `Ok(threads checked)`.
pub fn sched_check() -> Result<usize, alloc::string::String> {
    use alloc::format;
    use sk_abi::ScpuState;
    crate::state::with(|core| {
        if let Some(result) = crate::ring::check_code(core) {
            result?;
        }
        let ring_errors = crate::ring::sync_errors();
        if ring_errors != 0 {
            return Err(format!(
                "{ring_errors} switches ran a thread the ring's policy did not have next"
            ));
        }
        for (&id, t) in &core.threads {
            if id == core.idle {
                continue;
            }
            let state = t.scpu.state();
            let queued = match core.ring.as_ref() {
                Some(ring) => ring.policy.is_member(id),
                None => core.ready.contains(id),
            };
            match state {
                ScpuState::Running if id != core.current => {
                    return Err(format!(
                        "thread {id} is Running, {} is current",
                        core.current
                    ));
                }
                ScpuState::Running => {}
                // A nested group's parked SCPU waits for its admitted one
                // (which must be queued or running).
                ScpuState::Ready if !queued && !crate::nest::is_parked(core, id) => {
                    return Err(format!("thread {id} is Ready but not queued: lost"));
                }
                ScpuState::Blocked => {
                    let waits = core.devices.tty_readers.contains(&id)
                        || core.devices.pipe_waiters.involves(id)
                        || core.devices.port_waiters.involves(id)
                        || core.smachs.values().any(|s| s.waiters.contains(&id))
                        || core.sleepers.contains(id)
                        || core.smachs.values().any(|s| {
                            s.handles.iter().any(|(_, o)| {
                                o.as_sio()
                                    .and_then(|s| s.semaphore())
                                    .is_some_and(|sem| sem.involves(id))
                            })
                        });
                    if !waits {
                        return Err(format!("thread {id} is Blocked on nothing: lost"));
                    }
                    if core.ring.is_some() && queued {
                        return Err(format!("thread {id} is Blocked but in the ring"));
                    }
                }
                ScpuState::Suspended if core.ring.is_some() && queued => {
                    return Err(format!("thread {id} is Suspended but in the ring"));
                }
                _ => {}
            }
        }
        Ok(core.threads.len())
    })
}

/// Feeds `bytes` to the console's line discipline as if typed (without
/// echo) and wakes the threads blocked reading it.
pub fn console_input(bytes: &[u8]) {
    crate::state::with(|core| {
        for &b in bytes {
            core.devices.console_input(b, &mut |_: &[u8]| {});
        }
        for reader in core.devices.take_tty_readers() {
            crate::scheduler::wake(core, reader);
        }
    });
}

/// Drops console input no one read; returns the bytes dropped.
pub fn console_discard() -> usize {
    crate::state::with(|core| {
        let mut buf = [0u8; 64];
        let mut dropped = 0;
        while let Some(n) = core.devices.tty_read(&mut buf) {
            if n == 0 {
                break;
            }
            dropped += n;
        }
        dropped
    })
}

/// The exit status of a kernel-owned program if it has exited.
pub fn program_exit_status(id: crate::ProgramId) -> Option<i32> {
    crate::state::with(|core| {
        let s = core.smachs.get(&id.0)?;
        (s.state() == sk_abi::SmachState::Exited).then(|| s.exit_status().get())
    })
}

/// `query(Routines)`'s text for the first SCPU of a kernel-owned program,
/// and that thread's id; `show` asks for addresses as `synth.show` would.
pub fn program_thread_routines(
    id: crate::ProgramId,
    show: bool,
) -> Result<(u64, alloc::string::String), SysError> {
    show_routine_addresses(show);
    let text = crate::state::with(|core| {
        let tid = *core
            .smachs
            .get(&id.0)
            .and_then(|s| s.threads.first())
            .ok_or(SysError::BadHandle)?;
        let text = crate::routines_text::describe_thread(core, tid, 64 << 10)?;
        Ok((
            tid,
            alloc::string::String::from_utf8_lossy(text.as_bytes()).into_owned(),
        ))
    });
    show_routine_addresses(false);
    text
}

/// The thread the running thread's switch-out jumps to, by the ring's
/// policy (None with the generic scheduler).
pub fn ring_next_of(thread: u64) -> Option<u64> {
    crate::state::with(|core| core.ring.as_ref()?.policy.jump_of(thread))
}

/// A place where a thread has found it must wait and is about to block:
/// where a wake-up used to be lost when it came between the thread's
/// registration on a wait list and its block (docs/executable-scheduler.md,
/// "Blocking and sleeping").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeWindow {
    /// A console read found no input (`sio_calls::read`).
    ConsoleRead,
    /// A wait for SMACH `.0`'s exit found it running (`smach::wait`).
    SmachWait(u64),
}

impl WakeWindow {
    fn same_kind(self, other: WakeWindow) -> bool {
        core::mem::discriminant(&self) == core::mem::discriminant(&other)
    }
}

/// An armed injection: the window kind it waits for and what to run there.
type WakeWindowHook = (WakeWindow, fn(WakeWindow));

/// The armed injection, if any.
static WAKE_WINDOW_HOOK: spin::Mutex<Option<WakeWindowHook>> = spin::Mutex::new(None);

/// Fault injection: the next thread to reach a window of `kind`'s kind
/// (any SMACH for [`WakeWindow::SmachWait`]) runs `hook` there, once, on
/// its own stack, with the kernel lock free and interrupts as the blocking
/// path has them (masked in a system call): the waker (console input, a
/// child's exit) runs exactly between the waiter's look and its block.
/// For in-kernel tests only.
pub fn inject_in_wake_window(kind: WakeWindow, hook: fn(WakeWindow)) {
    sk_machine::cpu::without_interrupts(|| *WAKE_WINDOW_HOOK.lock() = Some((kind, hook)));
}

/// True while an injection armed by [`inject_in_wake_window`] has not run;
/// disarms it when `disarm`.
pub fn wake_window_armed(disarm: bool) -> bool {
    sk_machine::cpu::without_interrupts(|| {
        let mut hook = WAKE_WINDOW_HOOK.lock();
        let armed = hook.is_some();
        if disarm {
            *hook = None;
        }
        armed
    })
}

/// The blocking paths call this in their window (test builds).
pub(crate) fn in_wake_window(window: WakeWindow) {
    let hook = sk_machine::cpu::without_interrupts(|| {
        let mut armed = WAKE_WINDOW_HOOK.lock();
        match *armed {
            Some((kind, hook)) if kind.same_kind(window) => {
                *armed = None;
                Some(hook)
            }
            _ => None,
        }
    });
    if let Some(hook) = hook {
        hook(window);
    }
}

/// True once SMACH `id` has exited (or is gone).
pub fn smach_has_exited(id: u64) -> bool {
    crate::state::with(|core| {
        core.smachs
            .get(&id)
            .is_none_or(|s| s.state() == sk_abi::SmachState::Exited)
    })
}

/// Entries naming a thread that no longer exists, in the sleep queue, in
/// every semaphore's queue of waiters and on every pipe's lists of
/// sleepers (a killed sleeper or waiter must leave them all). Also the
/// sleep queue's length.
pub fn stale_waiters() -> (usize, usize) {
    crate::state::with(|core| {
        let live_sleepers = core
            .threads
            .iter()
            .filter(|(&id, _)| core.sleepers.contains(id))
            .count();
        let mut stale = core.sleepers.len().saturating_sub(live_sleepers);
        for smach in core.smachs.values() {
            for (_, object) in smach.handles.iter() {
                if let Some(sem) = object.as_sio().and_then(|s| s.semaphore()) {
                    stale += sem
                        .waiters()
                        .filter(|id| !core.threads.contains_key(id))
                        .count();
                }
            }
        }
        stale += core
            .devices
            .pipe_waiters
            .sleepers()
            .filter(|id| !core.threads.contains_key(id))
            .count();
        stale += core
            .devices
            .port_waiters
            .sleepers()
            .filter(|id| !core.threads.contains_key(id))
            .count();
        (stale, core.sleepers.len())
    })
}

/// Entries on every pipe's lists of sleepers, live or not.
pub fn pipe_sleepers() -> usize {
    crate::state::with(|core| core.devices.pipe_waiters.sleepers().count())
}

/// Threads asleep on some port now.
pub fn port_sleepers() -> usize {
    crate::state::with(|core| core.devices.port_waiters.sleepers().count())
}

/// The states of a kernel-owned program's threads (empty once it exited).
pub fn program_thread_states(id: crate::ProgramId) -> alloc::vec::Vec<sk_abi::ScpuState> {
    crate::state::with(|core| {
        core.smachs
            .get(&id.0)
            .map(|s| {
                s.threads
                    .iter()
                    .filter_map(|t| core.threads.get(t).map(|t| t.scpu.state()))
                    .collect()
            })
            .unwrap_or_default()
    })
}

pub(crate) mod console_pipe;
mod linux_entry;
mod linux_fast;
mod linux_proc;
mod linux_signals;
pub use linux_signals::{console_ctrl_c, linux_has_handler, linux_post_signal};
mod pipe_hoard;
pub use console_pipe::{
    console_pipe_pieces, find_pipe_write_end, inject_between_console_pieces,
    pipe_end_write_routine, pipe_to_console, revoke_sio, set_console_mode, share_sio,
    swap_console_end,
};
pub use linux_entry::{linux_entry_of, LinuxEntry};
pub use linux_fast::{
    ids_handed_out, linux_fd_has_routine, linux_generic_read_write_calls, spawn_linux_program_on,
    synthesis_enabled,
};
pub use linux_proc::{last_fork_cost, linux_processes, linux_table_entries};
pub use pipe_hoard::{register_pipe_sleeper, PipeHoard};
mod lazy;
pub use lazy::{inject_lazy_never, lazy_threshold, set_lazy_mode, EagerSynthesis};
pub(crate) use lazy::{lazy_fault_never, lazy_mode_override};
mod injection;
pub use injection::{
    code_cache_counts, flush_code_cache, inject_leak_per_write, inject_lost_cache_release,
    inject_revoke_reserve_failure, inject_skip_revoke_replug, inject_unconfined_linux_names,
    inject_unindexed_views,
};
pub(crate) use injection::{
    leak_if_injected, FAIL_REVOKE_RESERVE, SKIP_REVOKE_REPLUG, SKIP_VIEW_INDEX,
    UNCONFINED_LINUX_NAMES,
};
mod console_capture;
pub(crate) use console_capture::capture_console;
pub use console_capture::{start_console_capture, take_console_capture};
