//! SMACHs: protected synthetic machines, each an address space, a handle
//! table and its SCPUs, created from an ELF program in the file system.
//!
//! Owns [`Smach`], program loading (validated by `sk-elf`), exit and
//! teardown (every frame back to the allocator), and waiting for exit.

use crate::handle_table::HandleTable;
use crate::object::Object;
use crate::scheduler;
use crate::sio::Sio;
use crate::state::{self, Core, SmachId, ThreadId};
use crate::thread::{Thread, DEFAULT_PRIORITY, DEFAULT_QUANTUM_US};
use alloc::string::String;
use alloc::vec::Vec;
use sk_abi::{ExitStatus, Handle, SmachState, SysError};
use sk_machine::address_space::{AddressSpace, UserAccess};
use sk_machine::user_frame::UserFrame;

/// Top of the main thread's user stack.
pub(crate) const USER_STACK_TOP: u64 = 0x0000_7fff_ffff_0000;
/// Size of the main thread's user stack.
pub(crate) const USER_STACK_BYTES: u64 = 256 * 1024;
/// Where SMEM regions are placed when the caller gives no address.
pub(crate) const SMEM_AREA_START: u64 = 0x0000_1000_0000_0000;
const PAGE: u64 = 4096;

/// A SMACH as a kernel object.
pub(crate) struct Smach {
    pub(crate) id: SmachId,
    pub(crate) name: String,
    pub(crate) parent: Option<SmachId>,
    pub(crate) state: SmachState,
    pub(crate) exit_status: ExitStatus,
    pub(crate) aspace: Option<AddressSpace>,
    pub(crate) handles: HandleTable,
    pub(crate) threads: Vec<ThreadId>,
    pub(crate) waiters: Vec<ThreadId>,
    /// User virtual ranges in use: `(start, end)` (image, stack, SMEMs).
    pub(crate) regions: Vec<(u64, u64)>,
    pub(crate) next_smem: u64,
    pub(crate) mapped_bytes: u64,
    pub(crate) priority: u32,
    /// The handle of this SMACH in its parent's table, if any.
    pub(crate) released: bool,
}

impl Smach {
    pub(crate) fn aspace(&mut self) -> Result<&mut AddressSpace, SysError> {
        self.aspace.as_mut().ok_or(SysError::BadHandle)
    }

    /// True if `start..end` overlaps nothing mapped.
    pub(crate) fn is_free(&self, start: u64, end: u64) -> bool {
        self.regions.iter().all(|&(s, e)| end <= s || start >= e)
    }

    /// Maps fresh zeroed pages over `start..end` with `access`.
    pub(crate) fn map_zeroed(
        &mut self,
        start: u64,
        end: u64,
        access: UserAccess,
    ) -> Result<(), SysError> {
        let aspace = self.aspace()?;
        let mut page = start;
        while page < end {
            let frame = UserFrame::new().ok_or(SysError::NoMemory)?;
            aspace
                .map(page, frame, access)
                .map_err(|_| SysError::NoMemory)?;
            page += PAGE;
        }
        self.mapped_bytes += end - start;
        Ok(())
    }
}

/// Identifies a program started by the kernel itself (no parent SMACH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramId(pub SmachId);

fn load(smach: &mut Smach, bytes: &[u8]) -> Result<u64, SysError> {
    let image = sk_elf::ProgramImage::parse(bytes).map_err(|_| SysError::BadElf)?;
    for seg in image.segments() {
        let start = seg.vaddr & !(PAGE - 1);
        let end = seg
            .vaddr
            .checked_add(seg.mem_size)
            .ok_or(SysError::BadElf)?
            .div_ceil(PAGE)
            * PAGE;
        let access = UserAccess {
            write: seg.writable,
            execute: seg.executable,
        };
        let file = bytes
            .get(seg.file_offset as usize..(seg.file_offset + seg.file_size) as usize)
            .ok_or(SysError::BadElf)?;
        let aspace = smach.aspace()?;
        let mut page = start;
        while page < end {
            let mut frame = UserFrame::new().ok_or(SysError::NoMemory)?;
            // Copy the part of the file image that lands in this page.
            let seg_lo = seg.vaddr.max(page);
            let seg_hi = (seg.vaddr + seg.file_size).min(page + PAGE);
            if seg_lo < seg_hi {
                let src = file
                    .get((seg_lo - seg.vaddr) as usize..(seg_hi - seg.vaddr) as usize)
                    .ok_or(SysError::BadElf)?;
                frame.write((seg_lo - page) as usize, src);
            }
            match aspace.map(page, frame, access) {
                Ok(()) => {}
                Err(sk_machine::paging::MapError::AlreadyMapped) => return Err(SysError::BadElf),
                Err(_) => return Err(SysError::NoMemory),
            }
            page += PAGE;
        }
        smach.mapped_bytes += end - start;
        smach.regions.push((start, end));
    }
    Ok(image.entry())
}

/// Creates a SMACH running the program at `path` with `arg` in `rdi`.
pub(crate) fn create(
    core: &mut Core,
    parent: Option<SmachId>,
    path: &str,
    arg: u64,
) -> Result<SmachId, SysError> {
    let node = core.fs.lookup(path).map_err(crate::sio::fs_error)?;
    let size = core.fs.stat(node).map_err(crate::sio::fs_error)?.size_bytes;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(size as usize)
        .map_err(|_| SysError::NoMemory)?;
    bytes.resize(size as usize, 0);
    core.fs
        .read(node, 0, &mut bytes)
        .map_err(crate::sio::fs_error)?;

    let id = core.new_id();
    let aspace = AddressSpace::new().map_err(|_| SysError::NoMemory)?;
    let mut smach = Smach {
        id,
        name: String::from(path),
        parent,
        state: SmachState::Running,
        exit_status: ExitStatus::SUCCESS,
        aspace: Some(aspace),
        handles: HandleTable::new(),
        threads: Vec::new(),
        waiters: Vec::new(),
        regions: Vec::new(),
        next_smem: SMEM_AREA_START,
        mapped_bytes: 0,
        priority: DEFAULT_PRIORITY,
        released: false,
    };
    let built = load(&mut smach, &bytes).and_then(|entry| {
        let stack_bottom = USER_STACK_TOP - USER_STACK_BYTES;
        smach.map_zeroed(
            stack_bottom,
            USER_STACK_TOP,
            UserAccess {
                write: true,
                execute: false,
            },
        )?;
        // The page below the stack stays unmapped: a guard.
        smach.regions.push((stack_bottom - PAGE, USER_STACK_TOP));
        let console = Sio::open(
            core,
            "/dev/tty",
            sk_abi::OpenFlags::READ | sk_abi::OpenFlags::WRITE,
        )?;
        smach.handles.install_at(Handle::SELF, Object::Smach(id));
        smach.handles.install_at(
            Handle::CONSOLE,
            Object::Sio(alloc::boxed::Box::new(console)),
        );
        Thread::user(
            id,
            entry,
            USER_STACK_TOP,
            arg,
            DEFAULT_PRIORITY,
            DEFAULT_QUANTUM_US,
        )
    });
    let thread = match built {
        Ok(t) => t,
        Err(e) => {
            teardown(core, &mut smach);
            return Err(e);
        }
    };
    let tid = thread.id;
    smach.threads.push(tid);
    core.threads.insert(tid, thread);
    core.smachs.insert(id, smach);
    scheduler::make_ready(core, tid);
    log::debug!("smach {id}: created from {path}, thread {tid}");
    Ok(id)
}

/// Frees everything a SMACH holds except its record (state, status).
fn teardown(core: &mut Core, smach: &mut Smach) {
    let objects: Vec<Object> = smach.handles.drain().collect();
    for object in objects {
        close_object(core, smach.id, object);
    }
    for tid in smach.threads.drain(..) {
        if let Some(thread) = core.threads.remove(&tid) {
            if tid == core.current {
                core.dying = Some(thread.context.clone());
            }
        }
        core.ready.retain(|&t| t != tid);
    }
    if let Some(aspace) = smach.aspace.take() {
        aspace.destroy();
    }
    smach.regions.clear();
    smach.mapped_bytes = 0;
}

/// Releases what a handle named when it is closed or its owner exits.
pub(crate) fn close_object(core: &mut Core, owner: SmachId, object: Object) {
    match object {
        Object::Sio(sio) => (*sio).close(core),
        Object::Smem(_) => {} // its pages go with the address space or were unmapped
        Object::Scpu(tid) => crate::scpu::kill(core, tid),
        Object::Smach(child) if child != owner => release(core, child),
        Object::Smach(_) => {}
    }
}

/// Ends SMACH `id` with `status`: threads stop, handles close, memory is
/// freed, waiters wake. The record stays until released.
pub(crate) fn exit(core: &mut Core, id: SmachId, status: ExitStatus) {
    let Some(mut smach) = core.smachs.remove(&id) else {
        return;
    };
    if smach.state == SmachState::Exited {
        core.smachs.insert(id, smach);
        return;
    }
    smach.state = SmachState::Exited;
    smach.exit_status = status;
    teardown(core, &mut smach);
    for waiter in smach.waiters.drain(..) {
        scheduler::wake(core, waiter);
    }
    log::debug!(
        "smach {id} ({}) exited with status {}",
        smach.name,
        status.get()
    );
    let orphan = smach.released || smach.parent.is_some_and(|p| !core.smachs.contains_key(&p));
    if !orphan {
        core.smachs.insert(id, smach);
    }
}

/// Drops the parent's reference: kills the SMACH if it still runs, and
/// forgets it once exited.
pub(crate) fn release(core: &mut Core, id: SmachId) {
    exit(core, id, ExitStatus::KILLED);
    if let Some(s) = core.smachs.get_mut(&id) {
        s.released = true;
    }
    core.smachs.remove(&id);
}

/// Blocks until SMACH `id` has exited; returns its status.
pub(crate) fn wait(id: SmachId) -> Result<ExitStatus, SysError> {
    loop {
        let done = state::with(|core| {
            let current = core.current;
            let smach = core.smachs.get_mut(&id).ok_or(SysError::BadHandle)?;
            if smach.state == SmachState::Exited {
                return Ok(Some(smach.exit_status));
            }
            if !smach.waiters.contains(&current) {
                smach.waiters.push(current);
            }
            Ok(None)
        })?;
        match done {
            Some(status) => return Ok(status),
            None => scheduler::block_current(),
        }
    }
}

/// Ends the current thread's SMACH with `status` and never returns.
pub(crate) fn exit_current(status: ExitStatus) -> ! {
    state::with(|core| {
        let current = core.current;
        if let Some(id) = core.threads.get(&current).and_then(|t| t.smach) {
            exit(core, id, status);
        }
    });
    scheduler::exit_current()
}

/// Kills the current thread's SMACH after a fault, saying why.
/// (`why` is formatted straight to the console: nothing is allocated on a
/// stack that is about to be abandoned.)
pub(crate) fn kill_current(status: ExitStatus, why: core::fmt::Arguments<'_>) -> ! {
    state::with(|core| {
        let current = core.current;
        let smach = core.threads.get(&current).and_then(|t| t.smach);
        let name = smach
            .and_then(|s| core.smachs.get(&s))
            .map(|s| s.name.clone())
            .unwrap_or_default();
        sk_machine::println!(
            "kernel: smach {} ({name}) thread {current} killed: {why}",
            smach.unwrap_or(0)
        );
    });
    exit_current(status)
}

/// Starts the program at `path` as a SMACH owned by the kernel.
pub fn spawn_program(path: &str, arg: u64) -> Result<ProgramId, SysError> {
    state::with(|core| create(core, None, path, arg)).map(ProgramId)
}

/// Waits for a kernel-owned program to exit; returns its status.
pub fn wait_program(id: ProgramId) -> Result<i32, SysError> {
    wait(id.0).map(ExitStatus::get)
}

/// Forgets an exited program (kills it first if it still runs).
pub fn release_program(id: ProgramId) {
    state::with(|core| release(core, id.0));
}
