//! `mmap` of a file (private: a copy of its bytes) and `mremap`
//! (docs/unix.md, phase 2).
//!
//! Owns [`mmap_file`] and [`mremap`]. `sk_unix::AddressMap` decides as
//! for every map change (`linux_memory::change_map`); its actions that
//! `linux_memory` does not perform are turned into ones it does: a
//! file-backed `Map` becomes a writable anonymous `Map` whose pages are
//! then filled with the file's bytes (the rest of the last page zero) and
//! given their real protection; a `Move` becomes a writable `Map` of the
//! new range and an `Unmap` of the old, the old bytes copied over before
//! and the protection set after. A file mapping is a copy made at `mmap`
//! time: later writes to the file do not show (Linux's private mappings
//! show them until the page is written: a deviation), and `MAP_SHARED`
//! of a file is `ENODEV` (no write-back).

use crate::state::{self, Core, SmachId};
use crate::user_memory::{write_bytes, KernelUserMemory};
use alloc::vec::Vec;
use core::ops::Range;
use sk_abi::{SysError, PAGE_SIZE};
use sk_sio::UserMemory;
use sk_smem::{Access, AddressSpace};
use sk_unix::address_map::{FileRef, MmapRequest};
use sk_unix::vma::{map, Backing, MapAction, Prot};
use sk_unix::Errno;

/// The most one `mremap` that moves copies (its bytes cross the heap).
const MOVE_COPY_LIMIT: u64 = 16 << 20;

type Answer = Result<u64, Errno>;

fn sys(e: SysError) -> Errno {
    Errno::from_sys_error(e)
}

fn me(core: &mut Core) -> Result<SmachId, Errno> {
    let id = core.current_smach_id().map_err(sys)?;
    if core.linux.contains_key(&id) {
        Ok(id)
    } else {
        Err(Errno::ENOSYS)
    }
}

/// Pages to fill after a change: the range, where its bytes come from
/// (a file node and offset, or saved bytes), and its real protection.
struct Fill {
    range: Range<u64>,
    from: Source,
    prot: Prot,
}

enum Source {
    File { node: sk_fs::NodeId, offset: u64 },
    Saved(Vec<u8>),
}

/// A writable anonymous `Map` of `range` (filled, then protected).
fn writable_map(range: Range<u64>, prot: Prot) -> MapAction {
    MapAction::Map {
        range,
        prot: Prot::from_bits_truncate(u64::from(prot.bits() | Prot::WRITE.bits())),
        shared: false,
        backing: Backing::Anonymous,
    }
}

/// Fills and protects the pages `fills` name, in SMACH `id` (the
/// current process: its pages are written through the user copy).
fn fill(id: SmachId, fills: Vec<Fill>) -> Result<(), Errno> {
    for f in fills {
        let len = f.range.end.saturating_sub(f.range.start);
        match f.from {
            Source::Saved(bytes) => write_bytes(f.range.start, &bytes).map_err(sys)?,
            Source::File { node, offset } => {
                let mut chunk = [0u8; 4096];
                let mut done = 0u64;
                while done < len {
                    let n = state::with(|core| {
                        core.fs
                            .read(node, offset.saturating_add(done), &mut chunk)
                            .unwrap_or(0)
                    });
                    if n == 0 {
                        break;
                    }
                    let n = (n as u64).min(len - done);
                    write_bytes(f.range.start + done, chunk.get(..n as usize).unwrap_or(&[]))
                        .map_err(sys)?;
                    done += n;
                    crate::scheduler::preemption_point();
                }
            }
        }
        let access = Access {
            write: f.prot.contains(Prot::WRITE),
            execute: f.prot.contains(Prot::EXEC),
        };
        state::with(|core| {
            if let Some(aspace) = core.smachs.get_mut(&id).and_then(|s| s.aspace.as_mut()) {
                let mut page = f.range.start;
                while page < f.range.end {
                    aspace.protect_page(page, access);
                    page = page.saturating_add(PAGE_SIZE);
                }
            }
        });
    }
    Ok(())
}

/// `mmap` of descriptor `fd` (private).
pub(crate) fn mmap_file(
    addr: u64,
    length: u64,
    prot: u32,
    flags: u32,
    fd: i32,
    offset: u64,
) -> Answer {
    let flags = u64::from(flags);
    let (id, mapped, fills) = state::with(|core| -> Result<_, Errno> {
        let id = me(core)?;
        let fd = u32::try_from(fd).map_err(|_| Errno::EBADF)?;
        let files = &core.linux.get(&id).ok_or(Errno::ESRCH)?.files;
        let handle = files.handle(fd).ok_or(Errno::EBADF)?;
        let mode = files.status(fd)? & 3;
        let sio =
            crate::share::sio_mut(core, id, handle, crate::share::Access::Other).map_err(sys)?;
        let node = match sio.target() {
            sk_sio::Target::File(open) => open.node(),
            _ => return Err(Errno::ENODEV),
        };
        if flags & map::TYPE != map::PRIVATE {
            return Err(Errno::ENODEV);
        }
        let mut fills = Vec::new();
        let addr = crate::linux_memory::change_map(core, id, |m| {
            let mapped = m.mmap(&MmapRequest {
                addr,
                len: length,
                prot: u64::from(prot),
                flags,
                offset,
                file: Some(FileRef {
                    file: node.to_bits(),
                    readable: mode != 1,
                    writable: mode != 0,
                }),
            })?;
            let mut actions = Vec::new();
            for action in mapped.actions {
                match action {
                    MapAction::Map {
                        range,
                        prot,
                        backing: Backing::File { offset, .. },
                        ..
                    } => {
                        fills.push(Fill {
                            range: range.clone(),
                            from: Source::File { node, offset },
                            prot,
                        });
                        actions.push(writable_map(range, prot));
                    }
                    other => actions.push(other),
                }
            }
            Ok((mapped.addr, actions))
        })?;
        Ok((id, addr, fills))
    })?;
    fill(id, fills)?;
    Ok(mapped)
}

/// `mremap`.
pub(crate) fn mremap(
    old_address: u64,
    old_size: u64,
    new_size: u64,
    flags: u32,
    new_address: u64,
) -> Answer {
    let flags = u64::from(flags);
    // What moves, decided on a copy of the map: its bytes are saved
    // before the change unmaps them.
    let (id, plan) = state::with(|core| -> Result<_, Errno> {
        let id = me(core)?;
        let mut copy = core.linux.get(&id).ok_or(Errno::ESRCH)?.map.clone();
        let planned = copy.mremap(old_address, old_size, new_size, flags, new_address)?;
        Ok((id, planned.actions))
    })?;
    let mut saved = None;
    for action in &plan {
        if let MapAction::Move { from, len, .. } = *action {
            // The bytes cross the kernel heap, which never gives frames
            // back: a move is capped well below a mapping's size limit
            // (a deviation from Linux, which moves page tables).
            if len > MOVE_COPY_LIMIT {
                return Err(Errno::ENOMEM);
            }
            crate::memory::admit(len).map_err(sys)?;
            let mut bytes = Vec::new();
            bytes
                .try_reserve_exact(len as usize)
                .map_err(|_| Errno::ENOMEM)?;
            bytes.resize(len as usize, 0);
            KernelUserMemory.read(&mut bytes, from).map_err(sys)?;
            saved = Some(bytes);
        }
    }
    let (addr, fills) = state::with(|core| {
        let mut fills = Vec::new();
        let addr = crate::linux_memory::change_map(core, id, |m| {
            let mapped = m.mremap(old_address, old_size, new_size, flags, new_address)?;
            let mut actions = Vec::new();
            for action in mapped.actions {
                match action {
                    MapAction::Move { from, to, len } => {
                        let prot = m.lookup(to).map_or(Prot::READ, |r| r.prot);
                        let bytes = saved.take().ok_or(Errno::EFAULT)?;
                        fills.push(Fill {
                            range: to..to + len,
                            from: Source::Saved(bytes),
                            prot,
                        });
                        actions.push(MapAction::Unmap {
                            range: from..from + len,
                        });
                        actions.push(writable_map(to..to + len, prot));
                    }
                    // A file mapping grown in place: its new pages are
                    // the file's too.
                    MapAction::Map {
                        range,
                        prot,
                        backing: Backing::File { file, offset },
                        ..
                    } => {
                        fills.push(Fill {
                            range: range.clone(),
                            from: Source::File {
                                node: sk_fs::NodeId::from_bits(file),
                                offset,
                            },
                            prot,
                        });
                        actions.push(writable_map(range, prot));
                    }
                    other => actions.push(other),
                }
            }
            Ok((mapped.addr, actions))
        })?;
        Ok::<_, Errno>((addr, fills))
    })?;
    fill(id, fills)?;
    Ok(addr)
}
