//! The Linux personality's synthesized `read` and `write` (docs/unix.md,
//! "Entry"): per-fd routine arrays behind a dispatcher in slots 0 and 1 of
//! a Linux thread's table.
//!
//! Owns [`LinuxFds`] (one per Linux thread, in its `ThreadSynth`): for each
//! op a per-fd array of code addresses that the thread's
//! `linux_fd_dispatch` instance indexes, the descriptor → handle map those
//! arrays were filled from, and the address each handle's SIO routine was
//! stored at. Which SIO gets which routine is the policy's
//! (`sk_synth::policy::linux`, host-tested); the kernel only performs it:
//!
//! - an SIO of a Linux SMACH is planned by `synthesis::plan_of` with the
//!   Linux environment ([`env`]: the two `linux_slow_path` instances, made
//!   once), and the policy's `store` of its slot lands in
//!   [`LinuxFds::store_handle`], which replugs every fd naming that handle
//!   (one atomic store each). So every event the native routines are
//!   replanned for (truncate, growth, unlink, rename, a second user, share,
//!   revoke, close, a console mode change, the owner's exit) replugs the
//!   Linux fds too, before the lock is released: stale code never runs;
//! - what a descriptor names changes in the Linux calls: they call
//!   [`descriptor_changed`] (open, close; dup and pipe when they come),
//!   which refills that fd's entries from its handle's.
//!
//! An fd with no routine (closed, never opened, a generic kind, past
//! `TABLE_HANDLES`) holds its op's slow path, which enters the Linux
//! generic entry with the program's arguments. [`set_thread_fast`] points
//! slots 0 and 1 at the dispatchers or back at the generic entry: the
//! one-line hook for "a signal is pending" (the generic entry's return
//! path delivers).

use crate::code_memory::{install_holes, Routine};
use crate::linux_fds::MAX_FDS;
use crate::state::{Core, SmachId, ThreadId};
use crate::synthesis::TABLE_HANDLES;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use sk_abi::{Call, SysError};
use sk_synth::policy::linux::{self as policy, LinuxEnv};
use sk_synth::policy::{Op, SlotTarget};

/// Descriptors the per-fd arrays cover: all a Linux process may have.
pub(crate) const FD_SLOTS: usize = MAX_FDS as usize;

/// The two `linux_slow_path` instances (read, write): made at the first
/// Linux thread, kept for good (like the error stubs).
static SLOW_PATHS: spin::Mutex<Option<[Routine; 2]>> = spin::Mutex::new(None);
/// Their addresses (0 until made), read without the lock.
static SLOW_PATH_ADDRESSES: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

const fn op_index(op: Op) -> usize {
    match op {
        Op::Read => 0,
        Op::Write => 1,
    }
}

/// The Linux environment the policy plans a Linux SMACH's SIOs in; `None`
/// before the first Linux thread made the slow paths.
pub(crate) fn env() -> Option<LinuxEnv> {
    let read = SLOW_PATH_ADDRESSES[0].load(Ordering::Acquire);
    let write = SLOW_PATH_ADDRESSES[1].load(Ordering::Acquire);
    (read != 0 && write != 0).then_some(LinuxEnv {
        read_slow_path: read,
        write_slow_path: write,
    })
}

/// Makes the slow paths if they are not there yet.
fn ensure_env() -> Result<LinuxEnv, SysError> {
    if let Some(env) = env() {
        return Ok(env);
    }
    sk_machine::cpu::without_interrupts(|| {
        let mut made = SLOW_PATHS.lock();
        if made.is_none() {
            let generic = sk_machine::linux_entry::generic_entry_address();
            let read = install_holes(&policy::slow_path(Op::Read, generic))
                .map_err(|_| SysError::NoMemory)?;
            let write = install_holes(&policy::slow_path(Op::Write, generic))
                .map_err(|_| SysError::NoMemory)?;
            SLOW_PATH_ADDRESSES[0].store(read.block.address(), Ordering::Release);
            SLOW_PATH_ADDRESSES[1].store(write.block.address(), Ordering::Release);
            *made = Some([read, write]);
        }
        Ok(())
    })?;
    env().ok_or(SysError::NoMemory)
}

/// `len` atomics holding `value`, on the heap (`NoMemory` if it is full).
fn atomics(len: usize, value: u64) -> Result<Box<[AtomicU64]>, SysError> {
    let mut cells = Vec::new();
    cells
        .try_reserve_exact(len)
        .map_err(|_| SysError::NoMemory)?;
    cells.extend((0..len).map(|_| AtomicU64::new(value)));
    Ok(cells.into_boxed_slice())
}

/// A Linux thread's per-fd routine arrays and its two dispatchers. The
/// arrays are boxed: the dispatchers bake their addresses in, and moving
/// this record does not move them.
pub(crate) struct LinuxFds {
    /// Per op (read, write), per fd: where the dispatcher jumps.
    routines: [Box<[AtomicU64]>; 2],
    /// Per op, the handle index + 1 each fd reaches a routine through (0:
    /// none, the slow path), as of its last [`descriptor_changed`].
    fd_handle: [Box<[AtomicU64]>; 2],
    /// Per handle below `TABLE_HANDLES`, per op (`handle * 2 + op`): the
    /// routine the policy stored for that SIO (0: none, the slow path).
    by_handle: Box<[AtomicU64]>,
    /// The slow paths' addresses (what an fd without a routine holds).
    slow: [u64; 2],
    /// The `linux_fd_dispatch` instances (read, write).
    dispatchers: [Routine; 2],
    /// Slots 0 and 1 hold the dispatchers (false: the generic entry, as
    /// at first, until `ThreadSynth::new_linux` points them).
    is_fast: AtomicBool,
    /// Counted in [`SLOWED_THREADS`]: a posted signal swapped the slots out.
    is_slowed: AtomicBool,
    /// Tests: slots 0 and 1 stay on the generic entry whatever the signal
    /// replug says (the differential test's generic run).
    #[cfg(feature = "ktest")]
    pinned_generic: AtomicBool,
}

impl Drop for LinuxFds {
    /// A thread that ends with its slots swapped out by a signal (one
    /// killed by it, say) no longer counts in [`SLOWED_THREADS`].
    fn drop(&mut self) {
        self.uncount();
    }
}

impl LinuxFds {
    /// Arrays whose every fd takes the slow path, and their dispatchers.
    pub(crate) fn new() -> Result<Self, SysError> {
        let env = ensure_env()?;
        let slow = [env.read_slow_path, env.write_slow_path];
        let routines = [atomics(FD_SLOTS, slow[0])?, atomics(FD_SLOTS, slow[1])?];
        let generic = sk_machine::linux_entry::generic_entry_address();
        let dispatcher = |array: &[AtomicU64]| {
            let holes = policy::dispatcher(array.as_ptr() as u64, FD_SLOTS as u32, generic);
            install_holes(&holes).map_err(|_| SysError::NoMemory)
        };
        let dispatchers = [dispatcher(&routines[0])?, dispatcher(&routines[1])?];
        Ok(Self {
            routines,
            fd_handle: [atomics(FD_SLOTS, 0)?, atomics(FD_SLOTS, 0)?],
            by_handle: atomics(TABLE_HANDLES as usize * 2, 0)?,
            slow,
            dispatchers,
            is_fast: AtomicBool::new(false),
            is_slowed: AtomicBool::new(false),
            #[cfg(feature = "ktest")]
            pinned_generic: AtomicBool::new(false),
        })
    }

    /// The dispatcher of `op` (what slot 0 or 1 holds while fast).
    pub(crate) fn dispatcher(&self, op: Op) -> u64 {
        self.dispatchers[op_index(op)].block.address()
    }

    /// Counts this thread in [`SLOWED_THREADS`] (once).
    fn count(&self) {
        if !self.is_slowed.swap(true, Ordering::AcqRel) {
            SLOWED_THREADS.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Takes this thread out of [`SLOWED_THREADS`] if it was counted.
    fn uncount(&self) {
        if self.is_slowed.swap(false, Ordering::AcqRel) {
            SLOWED_THREADS.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Records that slots 0 and 1 now hold the dispatchers (`fast`) or the
    /// generic entry; true if that changed.
    pub(crate) fn note_fast(&self, fast: bool) -> bool {
        self.is_fast.swap(fast, Ordering::AcqRel) != fast
    }

    /// Whether slots 0 and 1 may hold the dispatchers (tests can pin them
    /// to the generic entry).
    pub(crate) fn may_be_fast(&self) -> bool {
        #[cfg(feature = "ktest")]
        if self.pinned_generic.load(Ordering::Acquire) {
            return false;
        }
        true
    }

    /// Where `fd`'s entry for `op` should point: its handle's routine, or
    /// the slow path.
    fn target(&self, handle_plus_one: u64, op: Op) -> u64 {
        let routine = handle_plus_one
            .checked_sub(1)
            .and_then(|h| self.by_handle.get(h as usize * 2 + op_index(op)))
            .map_or(0, |a| a.load(Ordering::Acquire));
        if routine == 0 {
            self.slow[op_index(op)]
        } else {
            routine
        }
    }

    /// The policy stored `target` in the slot of call word `index` (a
    /// native `(handle << 3) | call`): note it for the handle and replug
    /// every fd naming that handle. Calls other than read and write have
    /// no Linux entry.
    pub(crate) fn store_handle(&self, index: u64, target: SlotTarget) {
        let handle = index >> Call::BITS;
        let op = match index & Call::MASK {
            n if n == u64::from(Call::Read.number()) => Op::Read,
            n if n == u64::from(Call::Write.number()) => Op::Write,
            _ => return,
        };
        let Some(cell) = self.by_handle.get(handle as usize * 2 + op_index(op)) else {
            return;
        };
        // Error stubs return native codes: the slow path's generic entry
        // gives the errno (the policy plans none for Linux anyway).
        let address = match target {
            // A stackless routine (tagged) returns with sysretq: never
            // behind the Linux stub's call.
            SlotTarget::Code(address) if address & sk_synth::policy::STACKLESS_TAG == 0 => address,
            SlotTarget::Code(_) | SlotTarget::Generic | SlotTarget::ErrorStub(_) => 0,
        };
        cell.store(address, Ordering::Release);
        let entry = self.target(handle + 1, op);
        for (fd, named) in self.fd_handle[op_index(op)].iter().enumerate() {
            if named.load(Ordering::Acquire) == handle + 1 {
                if let Some(slot) = self.routines[op_index(op)].get(fd) {
                    slot.store(entry, Ordering::Release);
                }
            }
        }
    }

    /// Descriptor `fd`'s `op` now reaches `handle`'s routine (or none: the
    /// slow path): its entry follows.
    fn set_fd(&self, fd: usize, op: Op, handle: Option<sk_abi::Handle>) {
        let Some(named) = self.fd_handle[op_index(op)].get(fd) else {
            return;
        };
        let value = handle.map_or(0, |h| u64::from(h.index()) + 1);
        named.store(value, Ordering::Release);
        if let Some(slot) = self.routines[op_index(op)].get(fd) {
            slot.store(self.target(value, op), Ordering::Release);
        }
    }

    /// Where `fd`'s entry for `op` points (tests).
    #[cfg(feature = "ktest")]
    pub(crate) fn entry(&self, fd: usize, op: Op) -> Option<u64> {
        self.routines[op_index(op)]
            .get(fd)
            .map(|a| a.load(Ordering::Acquire))
    }

    /// The slow path of `op` (tests).
    #[cfg(feature = "ktest")]
    pub(crate) fn slow_path(&self, op: Op) -> u64 {
        self.slow[op_index(op)]
    }
}

/// Descriptor `fd` of Linux process `pid` changed what it names or its
/// status (open, close, dup, pipe, `F_SETFL`, fork's copy, exec's
/// close-on-exec; all through `linux_fds::changed`): every thread of the
/// process refills that fd's entries from what it names now. Call it under
/// the same lock as the change, before returning to the program.
///
/// An op gets its handle's routine only where the routine does all that
/// `linux_fds::read`/`write` would ([`routine_allowed`]); otherwise the slow
/// path, whose generic entry decides (`EBADF`, `EAGAIN`, `O_APPEND`).
pub(crate) fn descriptor_changed(core: &Core, pid: SmachId, fd: u32) {
    let Some(process) = core.linux.get(&pid) else {
        return;
    };
    let handle = process.handle(fd);
    let status = process.files.status(fd).ok();
    for op in Op::ALL {
        let reach = handle.filter(|_| status.is_some_and(|s| routine_allowed(s, op)));
        for_threads(core, pid, |fds| fds.set_fd(fd as usize, op, reach));
    }
}

/// Whether a descriptor with `status` (`F_GETFL`'s flags) may run its
/// handle's routine for `op`: the access mode permits the op (else
/// `EBADF`), no `O_NONBLOCK` (a routine would block or give a native
/// code, not `EAGAIN`), and for `write` no `O_APPEND` (the seek to the end
/// first). The rule itself is `sk_unix`'s (`fd_table::status`).
fn routine_allowed(status: u32, op: Op) -> bool {
    sk_unix::fd_table::status::direct_io_allowed(status, op == Op::Write)
}

/// Every descriptor of `pid`, for every thread: at the process's start and
/// when a thread joins it (a new thread's arrays start empty).
pub(crate) fn sync_process(core: &Core, pid: SmachId) {
    for fd in 0..FD_SLOTS as u32 {
        descriptor_changed(core, pid, fd);
    }
}

/// Runs `f` on the fd arrays of every thread of `pid` that has them.
fn for_threads(core: &Core, pid: SmachId, mut f: impl FnMut(&LinuxFds)) {
    let Some(smach) = core.smachs.get(&pid) else {
        return;
    };
    for tid in &smach.threads {
        if let Some(fds) = core
            .threads
            .get(tid)
            .and_then(|t| t.synth.as_ref())
            .and_then(|s| s.linux_fds())
        {
            f(fds);
        }
    }
}

/// Linux threads whose `read`/`write` slots a posted signal swapped out
/// (changed under the kernel lock): while 0, the return path of every
/// generic call skips the look for slots to put back (one load).
static SLOWED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// True if some thread's slots are swapped out for a signal (the return
/// path's cheap test before [`set_thread_fast`]`(.., true)`).
pub(crate) fn any_thread_slowed() -> bool {
    SLOWED_THREADS.load(Ordering::Acquire) != 0
}

/// Points thread `tid`'s `read` and `write` slots at its dispatchers
/// (`fast`) or at the Linux generic entry: the hook for "a signal is
/// pending" (generic until it is delivered). Does nothing for a thread
/// without a Linux table (synth=off, native). Call under the kernel lock.
pub(crate) fn set_thread_fast(core: &Core, tid: ThreadId, fast: bool) {
    if fast && !any_thread_slowed() {
        return;
    }
    let Some(synth) = core.threads.get(&tid).and_then(|t| t.synth.as_ref()) else {
        return;
    };
    let Some(fds) = synth.linux_fds() else {
        return;
    };
    if fast {
        fds.uncount();
        synth.set_linux_fast(true);
    } else if synth.set_linux_fast(false) {
        fds.count();
    }
}

/// Tests: pins thread `tid`'s `read` and `write` slots to the Linux
/// generic entry for good (signal deliveries no longer put the
/// dispatchers back).
#[cfg(feature = "ktest")]
pub(crate) fn pin_thread_generic(core: &Core, tid: ThreadId) {
    if let Some(synth) = core.threads.get(&tid).and_then(|t| t.synth.as_ref()) {
        if let Some(fds) = synth.linux_fds() {
            // Counted no more: a pinned thread is never put back.
            fds.uncount();
            fds.pinned_generic.store(true, Ordering::Release);
        }
        synth.set_linux_fast(false);
    }
}

/// Linux `read` and `write` calls that reached the Linux generic entry
/// (tests: the differential test checks the fast runs take few).
#[cfg(feature = "ktest")]
static GENERIC_READ_WRITE: AtomicU64 = AtomicU64::new(0);

/// Counts a Linux call at the generic entry if it is `read` or `write`.
#[cfg(feature = "ktest")]
pub(crate) fn note_generic_call(number: u64) {
    if number <= 1 {
        GENERIC_READ_WRITE.fetch_add(1, Ordering::Relaxed);
    }
}

/// `read` and `write` calls at the Linux generic entry so far (tests).
#[cfg(feature = "ktest")]
pub(crate) fn generic_read_write_calls() -> u64 {
    GENERIC_READ_WRITE.load(Ordering::Relaxed)
}

/// `prctl` options only the test kernel knows: arm the single-step counter
/// for the caller's next call made with TF set, and read its count (what a
/// native program does with `reconfigure(TraceNextCall)` and
/// `query(LastTrace)`), so a Linux program's read can be counted.
#[cfg(feature = "ktest")]
pub(crate) const KTEST_PRCTL_TRACE_ARM: u64 = 0x534b_0001;
/// See [`KTEST_PRCTL_TRACE_ARM`].
#[cfg(feature = "ktest")]
pub(crate) const KTEST_PRCTL_TRACE_LAST: u64 = 0x534b_0002;

/// The test kernel's `prctl` trace options (`None`: not one of them).
#[cfg(feature = "ktest")]
pub(crate) fn ktest_prctl(number: u64, args: [u64; 6]) -> Option<i64> {
    const PRCTL: u64 = 157;
    if number != PRCTL {
        return None;
    }
    match args[0] {
        KTEST_PRCTL_TRACE_ARM if crate::trace::is_enabled() => {
            crate::trace::arm(crate::state::current_thread());
            Some(0)
        }
        KTEST_PRCTL_TRACE_LAST => Some(crate::trace::last() as i64),
        _ => None,
    }
}
