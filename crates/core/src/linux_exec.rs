//! `execve` for Linux processes (docs/unix.md, phase 2): the calling
//! process's image replaced in place.
//!
//! Owns [`execve`]. Everything that can fail is done before the old image
//! is touched: the path, `argv` and `envp` are read (`sk_unix`'s
//! `read_string_vector`, its limits), the file is read and checked
//! (`ENOENT`, `EACCES` for a directory, `ENOEXEC` for what `sk_elf`
//! refuses or a program without Linux marks: a native program), and the
//! new image and initial stack are built into a new address space
//! (`linux_process::load_image`). Then, in one critical section, the new
//! space replaces the old one (the ring's switch code follows the new
//! CR3), the address map is the new one, handled signal actions go back
//! to the default, and the caller's saved registers are rewritten so the
//! call returns into the new program's entry with its initial stack and
//! every other register 0. The process keeps its pid, parent, group,
//! descriptors (but `FD_CLOEXEC` ones: [`close_on_exec`]) and the
//! caller's thread; other threads of the process end first (as Linux's
//! `de_thread`); the pid stays the main thread's tid even when another
//! thread execs (a deviation).

use crate::address_space::KernelAddressSpace;
use crate::linux_process::STACK_IMAGE_LIMIT;
use crate::linux_signal_delivery::CallFrame;
use crate::state::{self, Core, SmachId};
use crate::user_memory::KernelUserMemory;
use alloc::vec::Vec;
use sk_machine::user_regs::UserRegisters;
use sk_sio::UserMemory;
use sk_unix::{Errno, UserReader};

type Answer = Result<u64, Errno>;

/// Longest path (`PATH_MAX`, with its NUL).
const PATH_MAX: usize = 4096;
/// The initial stack's fixed part (auxv, `AT_RANDOM`, alignment) on top
/// of the strings and their pointers.
const STACK_FIXED_BYTES: usize = 512;
/// RFLAGS a new image starts with: IF and the reserved bit 1.
const START_RFLAGS: u64 = 0x202;

struct Reader;

impl UserReader for Reader {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), Errno> {
        KernelUserMemory
            .read(buf, address)
            .map_err(Errno::from_sys_error)
    }
}

/// Reads a NUL-terminated path (`ENAMETOOLONG` past `PATH_MAX`).
fn read_path(address: u64) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut at = address;
    loop {
        // Never read across a page end in one go.
        let len = (4096 - (at % 4096)).min(64) as usize;
        let mut chunk = [0u8; 64];
        let piece = chunk.get_mut(..len).ok_or(Errno::EFAULT)?;
        Reader.read(at, piece)?;
        if let Some(end) = piece.iter().position(|&b| b == 0) {
            out.extend_from_slice(piece.get(..end).ok_or(Errno::EFAULT)?);
            break;
        }
        out.extend_from_slice(piece);
        if out.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        at = at.checked_add(len as u64).ok_or(Errno::EFAULT)?;
    }
    if out.is_empty() {
        return Err(Errno::ENOENT);
    }
    if out.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(out)
}

/// The file's bytes (`ENOENT`, `EACCES` for a directory).
fn read_file(path: &str) -> Result<Vec<u8>, Errno> {
    let fs_err = |e| Errno::from_sys_error(sk_sio::fs_error(e));
    state::with(|core| {
        let node = core.fs.lookup(path).map_err(fs_err)?;
        let stat = core.fs.stat(node).map_err(fs_err)?;
        if stat.kind != sk_fs::NodeKind::File {
            return Err(Errno::EACCES);
        }
        let size = stat.size_bytes;
        crate::memory::admit(size.saturating_add(64 << 10)).map_err(Errno::from_sys_error)?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(size as usize)
            .map_err(|_| Errno::ENOMEM)?;
        bytes.resize(size as usize, 0);
        core.fs.read(node, 0, &mut bytes).map_err(fs_err)?;
        Ok(bytes)
    })
}

/// `execve(path, argv, envp)`: on success the call "returns" 0 into the
/// new program (its registers are in `regs`).
pub(crate) fn execve(frame: &mut dyn CallFrame, path: u64, argv: u64, envp: u64) -> Answer {
    let path = read_path(path)?;
    let argv = sk_unix::read_string_vector(&mut Reader, argv, STACK_IMAGE_LIMIT)?;
    let envp = sk_unix::read_string_vector(&mut Reader, envp, STACK_IMAGE_LIMIT)?;
    let strings: usize = argv
        .iter()
        .chain(envp.iter())
        .map(|s| s.len() + 1 + 8)
        .sum::<usize>()
        + path.len()
        + 1;
    if strings + STACK_FIXED_BYTES > STACK_IMAGE_LIMIT {
        return Err(Errno::E2BIG);
    }
    // Resolved as `open` resolves it: from the working directory, inside
    // the SMACH's root if it has one.
    let file = crate::linux_dirs::program_file(&path)?;
    let bytes = read_file(&file)?;
    if sk_elf::ProgramImage::parse_linux(&bytes, crate::linux_process::PIE_BASE).is_err()
        || !sk_elf::ProgramImage::has_linux_marks(&bytes)
    {
        return Err(Errno::ENOEXEC);
    }
    let me = state::with(|core| {
        let me = core.current_smach.ok_or(Errno::ESRCH)?;
        crate::linux_pids::my_pid(core)?;
        Ok::<SmachId, Errno>(me)
    })?;
    // The new image, off to the side: a failure leaves the old one.
    let mut aspace = KernelAddressSpace::new().map_err(Errno::from_sys_error)?;
    let mut regions = sk_smem::Regions::new();
    let argv_refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let envp_refs: Vec<&[u8]> = envp.iter().map(Vec::as_slice).collect();
    let loaded = match crate::linux_process::load_image(
        &mut regions,
        &mut aspace,
        &bytes,
        path.as_slice(),
        &argv_refs,
        &envp_refs,
    ) {
        Ok(l) => l,
        Err(e) => {
            aspace.0.destroy();
            return Err(match e {
                sk_abi::SysError::NoMemory => Errno::ENOMEM,
                _ => Errno::ENOEXEC,
            });
        }
    };
    drop(bytes);
    state::with(|core| {
        // Under a budget the new image replaces the old one's frames: its
        // growth is charged like an SMEM create (ENOMEM over the budget,
        // the old image intact).
        let new_frames = regions.mapped_bytes().div_ceil(sk_abi::PAGE_SIZE);
        let old_frames = core.smachs.get(&me).map_or(0, |s| s.mapped_frames());
        let growth = new_frames.saturating_sub(old_frames);
        if let Err(e) = crate::nest_memory::admit_frames(core, me, growth) {
            aspace.0.destroy();
            return Err(Errno::from_sys_error(e));
        }
        end_other_threads(core, me);
        let Some(smach) = core.smachs.get_mut(&me) else {
            aspace.0.destroy();
            return Ok(());
        };
        aspace.0.activate();
        let old = smach.aspace.replace(aspace);
        smach.regions = regions;
        if let Some(old) = old {
            crate::ring::on_aspace_gone(core, old.0.root());
            old.0.destroy();
        }
        for tid in core.linux_world.futexes.forget_process(me) {
            crate::scheduler::wake(core, tid);
        }
        let current = core.current;
        core.linux_world.set_clear_child_tid(current, 0);
        crate::linux_fds::close_on_exec(core, me);
        if let Some(process) = core.linux.get_mut(&me) {
            process.map = loaded.map;
            process.signals.exec(current);
        }
        Ok(())
    })?;
    // The FS base of the old image means nothing in the new one.
    let _ = sk_machine::user_fs::set(0);
    // A fresh start: every register 0 but the entry, the stack, the flags.
    let fresh = UserRegisters {
        rip: loaded.entry,
        rcx: loaded.entry,
        rsp: loaded.rsp,
        rflags: START_RFLAGS,
        r11: START_RFLAGS,
        ..UserRegisters::default()
    };
    if frame.replace(&fresh).is_err() {
        // The loader placed both in the user half; a refusal is a bug.
        crate::smach::kill_current(
            sk_abi::ExitStatus::KILLED,
            format_args!("execve: new image not a user state"),
        );
    }
    Ok(0)
}

/// Every thread of process `me` but the caller ends (Linux's `de_thread`).
fn end_other_threads(core: &mut Core, me: SmachId) {
    let current = core.current;
    let others: Vec<u64> = core
        .smachs
        .get(&me)
        .map(|s| {
            s.threads
                .iter()
                .copied()
                .filter(|&t| t != current)
                .collect()
        })
        .unwrap_or_default();
    for tid in others {
        core.linux_world.remove_thread(tid);
        crate::scpu_calls::kill(core, tid);
    }
}
