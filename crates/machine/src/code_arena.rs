//! The code arena: where synthesized routines live.
//!
//! Owns the arena's virtual range (`CODE_ARENA_BASE`), its blocks and their
//! retirement. Pages are mapped supervisor-only, read+execute; the only
//! writable view of their frames is the direct map, which is never
//! executable, so no mapping is ever writable and executable at once (W^X).
//!
//! `install` takes plain bytes and fault fixups (no synthesizer types) and
//! re-checks them (mechanism-rechecks): size, fixups inside the block. Old
//! code is retired, not freed: a block returns to the free list only after
//! every CPU has passed a quiescent point (a context switch or a return to
//! user mode) since it was retired, so no CPU can still be executing it.
//! With one CPU the bookkeeping is one counter; the per-CPU array makes SMP
//! an extension, not a rewrite.

use crate::layout::{phys_to_virt, CODE_ARENA_BASE, CODE_ARENA_MAX_BYTES, PAGE_SIZE};
use crate::paging::{self, Access};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

/// Block sizes the arena hands out (a routine takes the smallest that fits).
const SIZE_CLASSES: [u64; 5] = [64, 128, 256, 512, 4096];
/// CPUs the quiescence tracking is sized for.
const MAX_CPUS: usize = 1;

/// Why code could not be installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallError {
    /// Larger than the largest block.
    TooLarge,
    /// A fixup lies outside the code.
    FixupOutOfBounds,
    /// No memory for the arena or the fixup table.
    OutOfMemory,
    /// The block does not lie in the arena's mapped part.
    NotArena,
}

/// Where installed code lives: its executable address and block size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeBlock {
    /// Executable address of the first byte.
    pub address: u64,
    /// Size of the block (at least the code's size).
    pub capacity: u64,
}

struct Arena {
    /// Next unused address (bump), page-granular growth.
    next: u64,
    /// End of the mapped part.
    mapped_end: u64,
    /// Per size class, the free blocks. Each list's capacity is reserved
    /// once ([`FREE_RESERVE`]), so freeing does not allocate in steady state
    /// (the leak checks compare heap bytes in use).
    free: [Vec<u64>; SIZE_CLASSES.len()],
    /// Retired blocks: (block, epoch at retirement). They may still be
    /// executing, so they cannot hold a link; the list's capacity is
    /// reserved once ([`RETIRED_RESERVE`]) so retiring does not allocate in
    /// steady state.
    retired: Vec<(CodeBlock, u64)>,
    installed_bytes: u64,
    live_blocks: u64,
}

/// Retired blocks the list holds without growing.
const RETIRED_RESERVE: usize = 8192;
/// Free blocks each size class's list holds without growing.
const FREE_RESERVE: usize = 4096;

static ARENA: Mutex<Arena> = Mutex::new(Arena {
    next: CODE_ARENA_BASE,
    mapped_end: CODE_ARENA_BASE,
    free: [const { Vec::new() }; SIZE_CLASSES.len()],
    retired: Vec::new(),
    installed_bytes: 0,
    live_blocks: 0,
});

/// Global epoch: advances when every CPU has passed a quiescent point.
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Per CPU: the epoch it last observed at a quiescent point.
static CPU_SEEN: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

fn class_of(len: u64) -> Option<usize> {
    SIZE_CLASSES.iter().position(|&c| len <= c)
}

impl Arena {
    fn allocate(&mut self, class: usize) -> Result<u64, InstallError> {
        if let Some(address) = self.free[class].pop() {
            return Ok(address);
        }
        let size = SIZE_CLASSES[class];
        let addr = self.next.next_multiple_of(size);
        let end = addr + size;
        if end > CODE_ARENA_BASE + CODE_ARENA_MAX_BYTES {
            return Err(InstallError::OutOfMemory);
        }
        while self.mapped_end < end {
            let frame = paging::frames()
                .allocate_frame()
                .ok_or(InstallError::OutOfMemory)?;
            // Fill fresh pages with int3 so a stray jump traps.
            // SAFETY: the frame is fresh and reached through the direct map.
            unsafe {
                core::ptr::write_bytes(phys_to_virt(frame) as *mut u8, 0xcc, PAGE_SIZE as usize)
            };
            if paging::map_kernel_page(self.mapped_end, frame, Access::ReadExecute).is_err() {
                paging::frames().free_frame(frame);
                return Err(InstallError::OutOfMemory);
            }
            self.mapped_end += PAGE_SIZE;
        }
        self.next = end;
        Ok(addr)
    }
}

/// Installs `code` (whose fault points are `fixups`: pairs of absolute
/// addresses computed for `address`) at a block reserved with
/// [`reserve`]. Writes go through the direct map; the executable view is
/// never writable.
pub fn install(block: CodeBlock, code: &[u8], fixups: &[(u64, u64)]) -> Result<(), InstallError> {
    let len = code.len() as u64;
    if len > block.capacity {
        return Err(InstallError::TooLarge);
    }
    // Only arena blocks are writable through here, never other kernel code.
    let mapped_end = crate::cpu::without_interrupts(|| ARENA.lock().mapped_end);
    if block.address < CODE_ARENA_BASE || block.address.saturating_add(block.capacity) > mapped_end
    {
        return Err(InstallError::NotArena);
    }
    let range = block.address..block.address + len;
    if fixups
        .iter()
        .any(|&(insn, fixup)| !range.contains(&insn) || !range.contains(&fixup))
    {
        return Err(InstallError::FixupOutOfBounds);
    }
    let mut written = 0u64;
    while written < len {
        let virt = block.address + written;
        let phys = paging::translate(virt).ok_or(InstallError::OutOfMemory)?;
        let in_page = (PAGE_SIZE - virt % PAGE_SIZE).min(len - written);
        // SAFETY: `phys` backs the reserved block (mapped RX at `virt`);
        // the direct-map alias is RW+NX; no routine table points at this
        // block yet (the caller publishes it after install returns), so no
        // CPU executes these bytes while they change.
        unsafe {
            core::ptr::copy_nonoverlapping(
                code.as_ptr().add(written as usize),
                phys_to_virt(phys) as *mut u8,
                in_page as usize,
            )
        };
        written += in_page;
    }
    for &(insn, fixup) in fixups {
        crate::dynamic_extable::insert(insn, fixup).map_err(|_| InstallError::OutOfMemory)?;
    }
    // Stores to code bytes must be visible before the code is published;
    // on x86 stores are ordered, and a jump to a freshly written address
    // on the same CPU needs no serializing instruction (SDM vol. 3A
    // §8.1.3: cross-modifying code requires it only on *other* CPUs, which
    // do not run this block before publication).
    core::sync::atomic::fence(Ordering::SeqCst);
    crate::cpu::without_interrupts(|| ARENA.lock().installed_bytes += len);
    Ok(())
}

/// Reserves a block for `len` bytes of code; the final address is known
/// before synthesis (rel32 holes need it).
pub fn reserve(len: u64) -> Result<CodeBlock, InstallError> {
    let class = class_of(len).ok_or(InstallError::TooLarge)?;
    crate::cpu::without_interrupts(|| {
        let mut arena = ARENA.lock();
        let address = arena.allocate(class)?;
        arena.live_blocks += 1;
        Ok(CodeBlock {
            address,
            capacity: SIZE_CLASSES[class],
        })
    })
}

/// Retires a block: it is reused only after every CPU has passed a
/// quiescent point. The caller has already unpublished it.
pub fn retire(block: CodeBlock) {
    crate::dynamic_extable::remove_range(block.address, block.address + block.capacity);
    crate::cpu::without_interrupts(|| {
        let epoch = EPOCH.load(Ordering::Acquire);
        let mut arena = ARENA.lock();
        if arena.retired.capacity() == 0 {
            // Once: after this, retiring allocates only past the reserve.
            let _ = arena.retired.try_reserve_exact(RETIRED_RESERVE);
        }
        arena.retired.push((block, epoch));
        arena.live_blocks = arena.live_blocks.saturating_sub(1);
    });
}

/// Records that this CPU is at a quiescent point (no synthesized code on
/// its stack): called on context switch and on return to user mode.
/// Frees blocks retired before the last epoch every CPU has seen.
pub fn quiescent_point(cpu: usize) {
    let epoch = EPOCH.load(Ordering::Acquire);
    if let Some(seen) = CPU_SEEN.get(cpu) {
        seen.store(epoch, Ordering::Release);
    }
    if CPU_SEEN.iter().all(|s| s.load(Ordering::Acquire) == epoch) {
        // Every CPU has passed a quiescent point in epoch `epoch`, so none
        // still runs code retired in an earlier epoch (a block retired in
        // `epoch` itself may still be running on a CPU that reported
        // before the retirement: it waits one more round).
        EPOCH.store(epoch + 1, Ordering::Release);
        crate::cpu::without_interrupts(|| {
            let mut arena = ARENA.lock();
            let mut i = 0;
            while i < arena.retired.len() {
                let (block, at) = arena.retired[i];
                if at < epoch {
                    arena.retired.swap_remove(i);
                    if let Some(class) = class_of(block.capacity) {
                        let list = &mut arena.free[class];
                        if list.capacity() == 0 {
                            let _ = list.try_reserve_exact(FREE_RESERVE);
                        }
                        if list.try_reserve(1).is_ok() {
                            list.push(block.address);
                        }
                        // Else the block is lost to reuse (never to safety).
                    }
                } else {
                    i += 1;
                }
            }
        });
    }
}

/// True if `address` lies in the arena's mapped part.
pub fn contains(address: u64) -> bool {
    let end = crate::cpu::without_interrupts(|| ARENA.lock().mapped_end);
    (CODE_ARENA_BASE..end).contains(&address)
}

/// Arena statistics: (live blocks, retired blocks awaiting quiescence,
/// mapped bytes).
pub fn stats() -> (u64, usize, u64) {
    crate::cpu::without_interrupts(|| {
        let a = ARENA.lock();
        (
            a.live_blocks,
            a.retired.len(),
            a.mapped_end - CODE_ARENA_BASE,
        )
    })
}

/// Reads back installed code (for disassembly and checks).
pub fn read(address: u64, out: &mut [u8]) -> bool {
    let mut done = 0usize;
    while done < out.len() {
        let virt = address + done as u64;
        let Some(phys) = paging::translate(virt) else {
            return false;
        };
        if !(CODE_ARENA_BASE..CODE_ARENA_BASE + CODE_ARENA_MAX_BYTES).contains(&virt) {
            return false;
        }
        let n = ((PAGE_SIZE - virt % PAGE_SIZE) as usize).min(out.len() - done);
        // SAFETY: `phys` backs a mapped arena page; reading through the
        // direct map races with nothing (installs happen before publish).
        unsafe {
            core::ptr::copy_nonoverlapping(
                phys_to_virt(phys) as *const u8,
                out[done..].as_mut_ptr(),
                n,
            )
        };
        done += n;
    }
    true
}
