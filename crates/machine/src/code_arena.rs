//! The code arena: where synthesized routines live.
//!
//! Owns the arena's virtual range (`CODE_ARENA_BASE`), its blocks and their
//! retirement. Pages are mapped supervisor-only, read+execute; the only
//! writable view of their frames is the direct map, which is never
//! executable, so no mapping is ever writable and executable at once (W^X).
//!
//! A block's life is carried by types: [`reserve`] hands out a
//! [`ReservedBlock`] (its final address is known before synthesis, for
//! rel32 holes), [`install`] consumes it and returns an [`InstalledBlock`],
//! and dropping an `InstalledBlock` ([`retire`]) or a `ReservedBlock`
//! ([`release`]) gives the block back. Neither type is `Copy` or `Clone`
//! and their fields are private, so a block is installed at most once,
//! into arena memory only, and retired at most once.
//!
//! `install` takes plain bytes and fault fixups (no synthesizer types) and
//! re-checks them (mechanism-rechecks): size, fixups inside the code. Old
//! code is retired, not freed: a block returns to the free list only after
//! every CPU has passed a quiescent point (a context switch or an interrupt
//! from user mode; both are detected by this crate, see
//! `quiescent_point`) since it was retired, so no CPU can still be
//! executing it. With one CPU the bookkeeping is one counter; the per-CPU
//! array makes SMP an extension, not a rewrite.
//!
//! What the arena cannot check is who jumps into a block: publishing an
//! installed block's address (a routine-table slot, `LSTAR`, the per-CPU
//! entry slot) and unpublishing it before it is retired is the kernel's
//! promise, made where it points the CPU at an entry stub
//! ([`crate::synth_entry::set_entry_stub_lstar`], an `unsafe fn`); see
//! docs/unsafe-inventory.md.

use crate::layout::{phys_to_virt, CODE_ARENA_BASE, CODE_ARENA_MAX_BYTES, PAGE_SIZE};
use crate::paging::{self, Access};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

/// Block sizes the arena hands out (a routine takes the smallest that fits).
const SIZE_CLASSES: [u64; 5] = [64, 128, 256, 512, 4096];
// Powers of two: a block is aligned to its size by a mask.
const _: () = {
    let mut i = 0;
    while i < SIZE_CLASSES.len() {
        assert!(SIZE_CLASSES[i].is_power_of_two());
        i += 1;
    }
};
// An installed block's capacity is stored in 16 bits, its length in 32.
const _: () = assert!(SIZE_CLASSES[SIZE_CLASSES.len() - 1] <= u16::MAX as u64);
const _: () = assert!(core::mem::size_of::<InstalledBlock>() == 16);
/// CPUs the quiescence tracking is sized for.
const MAX_CPUS: usize = 1;
/// `int3`: what unused arena bytes hold, so a stray jump traps.
const INT3: u8 = 0xcc;

/// Why code could not be installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallError {
    /// Larger than the block (or than the largest block).
    TooLarge,
    /// A fixup lies outside the code.
    FixupOutOfBounds,
    /// No memory for the arena or the fixup table.
    OutOfMemory,
}

/// A block reserved for code that is not installed yet: its final address
/// is known, its bytes are not code anyone may run. Only [`reserve`] makes
/// one; [`install`] consumes it; dropping it (or [`release`]) gives the
/// block back.
#[derive(Debug)]
pub struct ReservedBlock {
    address: u64,
    capacity: u64,
    /// Physical address of the first byte (a block never crosses a page:
    /// size classes are powers of two up to a page, aligned to their size).
    phys: u64,
    /// Bytes at the start of the block that may still hold old code (a
    /// recycled block's last code length; 0 for fresh int3 pages): every
    /// byte past it is `int3` already, so [`install_written`] fills only
    /// `len..stale_len`, never the whole tail.
    stale_len: u32,
}

impl ReservedBlock {
    /// Executable address the block's first byte will have.
    pub fn address(&self) -> u64 {
        self.address
    }

    /// Size of the block in bytes (at least what was reserved).
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The block's bytes, writable (through the direct map, never
    /// executable): synthesis writes its instance here, then [`install`]
    /// publishes-ready it. A recycled block holds old code until then.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `phys..phys + capacity` backs this block alone (one page
        // at most, see `phys`), and only a ReservedBlock, which is neither
        // Copy nor Clone, reaches it: no other reference to these bytes
        // exists while `self` is borrowed. No CPU executes them (a reserved
        // block is never published), and the direct-map alias is RW+NX.
        unsafe {
            core::slice::from_raw_parts_mut(
                phys_to_virt(self.phys) as *mut u8,
                self.capacity as usize,
            )
        }
    }
}

impl Drop for ReservedBlock {
    fn drop(&mut self) {
        // Never installed, so never published; it still goes through the
        // retired list (its address was handed out), like installed code.
        // Anything may have been written into it: all of it is stale.
        retire_raw(self.address, self.capacity, self.capacity);
    }
}

/// Installed code: the bytes and fault fixups [`install`] wrote, at a
/// fixed executable address. Dropping it (or [`retire`]) retires the block:
/// its fixups are removed now, and the block is reused only after every
/// CPU has passed a quiescent point. The caller must have unpublished it first
/// (no table slot or entry register may still hold an address inside it).
#[derive(Debug)]
pub struct InstalledBlock {
    address: u64,
    /// At most a page (the largest size class): 16 bits for it, 32 for
    /// the length and a flag keep the record, which the kernel moves by
    /// value with every routine, at 16 bytes.
    capacity: u16,
    len: u32,
    /// Fault points of it are registered in the dynamic extable (most
    /// routines have none: their retirement skips the table).
    has_fixups: bool,
}

impl InstalledBlock {
    /// Executable address of the first byte.
    pub fn address(&self) -> u64 {
        self.address
    }

    /// Size of the block (at least the code's size).
    pub fn capacity(&self) -> u64 {
        u64::from(self.capacity)
    }

    /// Bytes of code installed.
    pub fn len(&self) -> u64 {
        u64::from(self.len)
    }

    /// True if no code bytes were installed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True if `address` lies inside this block.
    pub fn contains(&self, address: u64) -> bool {
        (self.address..self.address + self.capacity()).contains(&address)
    }
}

impl Drop for InstalledBlock {
    fn drop(&mut self) {
        // Its fixups go now: the block is unpublished and, on one CPU, not
        // running (Rust code retires it). With SMP they would have to stay
        // until the block is freed (a CPU may still run it and fault).
        if self.has_fixups {
            crate::dynamic_extable::remove_range(self.address, self.address + self.capacity());
        }
        retire_raw(self.address, self.capacity(), u64::from(self.len));
    }
}

struct Arena {
    /// Next unused address (bump), page-granular growth.
    next: u64,
    /// End of the mapped part.
    mapped_end: u64,
    /// Per size class, the free blocks, as [`pack`]ed (address, stale
    /// length) words. Each list's capacity is reserved once
    /// ([`FREE_RESERVE`]), so freeing does not allocate in steady state
    /// (the leak checks compare heap bytes in use). (Links kept in the free
    /// blocks themselves would cost a page-table walk per allocation and
    /// per free.)
    free: [Vec<u64>; SIZE_CLASSES.len()],
    /// Retired blocks: ([`pack`]ed address and stale length, capacity,
    /// epoch at retirement). They may still be executing, so they cannot
    /// hold a link; the list's capacity is reserved once
    /// ([`RETIRED_RESERVE`]) so retiring does not allocate in steady state.
    retired: Vec<(u64, u64, u64)>,
    /// Physical frame of each mapped arena page, by page index: a block's
    /// bytes are found without walking the page tables.
    frames: Vec<u64>,
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
    frames: Vec::new(),
    live_blocks: 0,
});

/// Global epoch: advances when every CPU has passed a quiescent point.
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Per CPU: the epoch it last observed at a quiescent point.
static CPU_SEEN: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

fn class_of(len: u64) -> Option<usize> {
    SIZE_CLASSES.iter().position(|&c| len <= c)
}

/// A free or retired block in one word: its address (64-byte aligned,
/// inside the arena's range) with, in the low 13 bits, how many of its
/// first bytes may hold old code (at most a page, 4096 < 2^13). The
/// address keeps its high bits: only the offset's low 6 bits are zero,
/// so the offset is shifted up past the length.
const fn pack(address: u64, stale_len: u64) -> u64 {
    ((address - CODE_ARENA_BASE) << 13) | (stale_len & 0x1fff)
}

/// The (address, stale length) of a [`pack`]ed word.
const fn unpack(word: u64) -> (u64, u64) {
    (CODE_ARENA_BASE + (word >> 13), word & 0x1fff)
}
// The arena's offsets fit the packed word's 51 high bits.
const _: () = assert!(CODE_ARENA_MAX_BYTES < 1 << 51);

impl Arena {
    /// Physical address of arena byte `address` (mapped part only).
    fn phys_of(&self, address: u64) -> Option<u64> {
        let index = usize::try_from((address - CODE_ARENA_BASE) / PAGE_SIZE).ok()?;
        Some(self.frames.get(index)? + address % PAGE_SIZE)
    }

    /// A block of size class `class`: `(address, stale length)`, where a
    /// recycled block may still hold old bytes in its first `stale length`
    /// bytes (fresh pages are all `int3`: 0).
    #[inline(always)]
    fn allocate(&mut self, class: usize) -> Result<(u64, u64), InstallError> {
        let list = self.free.get_mut(class).ok_or(InstallError::TooLarge)?;
        if let Some(word) = list.pop() {
            return Ok(unpack(word));
        }
        // Bump inside the mapped part (classes are powers of two, blocks
        // aligned to their size); mapping a page is the cold path.
        let size = SIZE_CLASSES[class];
        let address = (self.next + size - 1) & !(size - 1);
        if address + size <= self.mapped_end {
            self.next = address + size;
            return Ok((address, 0));
        }
        self.allocate_fresh(class)
    }

    /// [`allocate`](Self::allocate) when the class's free list is empty:
    /// bump, mapping pages as needed.
    #[cold]
    fn allocate_fresh(&mut self, class: usize) -> Result<(u64, u64), InstallError> {
        // The bookkeeping lists are reserved at the first allocation, so a
        // block freed or retired later never moves the heap (leak checks
        // compare heap bytes in use before and after a workload).
        if self.retired.capacity() == 0 {
            let _ = self.retired.try_reserve_exact(RETIRED_RESERVE);
        }
        if let Some(list) = self.free.get_mut(class) {
            if list.capacity() == 0 {
                let _ = list.try_reserve_exact(FREE_RESERVE);
            }
        }
        let size = SIZE_CLASSES[class];
        let addr = self.next.next_multiple_of(size);
        let end = addr + size;
        if end > CODE_ARENA_BASE + CODE_ARENA_MAX_BYTES {
            return Err(InstallError::OutOfMemory);
        }
        while self.mapped_end < end {
            // Code memory stops at the kernel's frame reserve, as user
            // memory does (synthesis then falls back to the generic path).
            if paging::frames().free_frames() <= crate::user_frame::KERNEL_RESERVE_FRAMES
                || self.frames.try_reserve(1).is_err()
            {
                return Err(InstallError::OutOfMemory);
            }
            let frame = paging::frames()
                .allocate_frame()
                .ok_or(InstallError::OutOfMemory)?;
            // Fill fresh pages with int3 so a stray jump traps.
            // SAFETY: the frame is fresh and reached through the direct map.
            unsafe {
                core::ptr::write_bytes(phys_to_virt(frame) as *mut u8, INT3, PAGE_SIZE as usize)
            };
            // SAFETY: `mapped_end` is the first unmapped page of the arena's
            // range, which only this allocator maps (under the ARENA lock);
            // the frame is fresh and owned by the arena from now on.
            let mapped =
                unsafe { paging::map_kernel_page(self.mapped_end, frame, Access::ReadExecute) };
            if mapped.is_err() {
                // SAFETY: the frame came from the source above and was not
                // mapped; nothing else knows it.
                unsafe { paging::frames().free_frame(frame) };
                return Err(InstallError::OutOfMemory);
            }
            self.frames.push(frame);
            self.mapped_end += PAGE_SIZE;
        }
        self.next = end;
        Ok((addr, 0))
    }
}

/// Installs `code` (whose fault points are `fixups`: pairs of absolute
/// addresses computed for the block's address) in a block reserved with
/// [`reserve`]: copies it in, then as [`install_written`].
pub fn install(
    mut block: ReservedBlock,
    code: &[u8],
    fixups: &[(u64, u64)],
) -> Result<InstalledBlock, (InstallError, ReservedBlock)> {
    match block.bytes_mut().get_mut(..code.len()) {
        Some(bytes) => bytes.copy_from_slice(code),
        None => return Err((InstallError::TooLarge, block)),
    }
    install_written(block, code.len() as u64, fixups.iter().copied())
}

/// Makes the first `len` bytes of `block`, already written through
/// [`ReservedBlock::bytes_mut`], installed code with fault points
/// `fixups`. Writes went through the direct map; the executable view is
/// never writable. The rest of the block becomes `int3`, so no old code
/// survives. On error the block comes back unchanged in purpose (no fixup
/// of it stays registered), to be retried or released.
#[inline(always)]
pub fn install_written(
    mut block: ReservedBlock,
    len: u64,
    fixups: impl Iterator<Item = (u64, u64)> + Clone,
) -> Result<InstalledBlock, (InstallError, ReservedBlock)> {
    if len > block.capacity {
        return Err((InstallError::TooLarge, block));
    }
    let range = block.address..block.address + len;
    if fixups
        .clone()
        .any(|(insn, fixup)| !range.contains(&insn) || !range.contains(&fixup))
    {
        return Err((InstallError::FixupOutOfBounds, block));
    }
    let stale = u64::from(block.stale_len);
    if stale > len {
        // The old code after the new one's end: int3, so a stray jump
        // traps. Past `stale` the block is int3 already.
        if let Some(tail) = block.bytes_mut().get_mut(len as usize..stale as usize) {
            tail.fill(INT3);
        }
    }
    let mut has_fixups = false;
    for (insn, fixup) in fixups {
        has_fixups = true;
        if crate::dynamic_extable::insert(insn, fixup).is_err() {
            crate::dynamic_extable::remove_range(block.address, block.address + block.capacity);
            return Err((InstallError::OutOfMemory, block));
        }
    }
    // Stores to code bytes must be visible before the code is published;
    // on x86 stores are ordered, and a jump to a freshly written address
    // on the same CPU needs no serializing instruction (SDM vol. 3A
    // §8.1.3: cross-modifying code requires it only on *other* CPUs, which
    // do not run this block before publication).
    core::sync::atomic::fence(Ordering::SeqCst);
    // Both fit: `len <= capacity <= 4096` (the largest size class).
    let installed = InstalledBlock {
        address: block.address,
        capacity: block.capacity as u16,
        len: len as u32,
        has_fixups,
    };
    // The block now lives on as `installed`: `block`'s Drop must not
    // release it.
    core::mem::forget(block);
    Ok(installed)
}

/// Reserves a block for `len` bytes of code; the final address is known
/// before synthesis (rel32 holes need it). [`install`] fills what the code
/// does not cover of a reused block with `int3`, so none of its old code
/// survives.
#[inline(always)]
pub fn reserve(len: u64) -> Result<ReservedBlock, InstallError> {
    let class = class_of(len).ok_or(InstallError::TooLarge)?;
    let (address, phys, stale_len) = crate::cpu::without_interrupts(|| {
        let mut arena = ARENA.lock();
        let (address, stale_len) = arena.allocate(class)?;
        let Some(phys) = arena.phys_of(address) else {
            // Cannot happen: allocate returns mapped blocks only.
            arena.free[class].push(pack(address, stale_len));
            return Err(InstallError::OutOfMemory);
        };
        arena.live_blocks += 1;
        Ok::<_, InstallError>((address, phys, stale_len))
    })?;
    Ok(ReservedBlock {
        address,
        capacity: SIZE_CLASSES[class],
        phys,
        // At most the capacity, a page: fits.
        stale_len: stale_len as u32,
    })
}

/// Retires installed code (the same as dropping it): it is reused only
/// after every CPU has passed a quiescent point. The caller has already
/// unpublished it.
pub fn retire(block: InstalledBlock) {
    drop(block);
}

/// Gives back a block that was never installed (the same as dropping it).
pub fn release(block: ReservedBlock) {
    drop(block);
}

/// Puts a block on the retired list, stamped with the current epoch;
/// its first `stale_len` bytes may hold code (the rest is `int3`).
fn retire_raw(address: u64, capacity: u64, stale_len: u64) {
    crate::cpu::without_interrupts(|| {
        let epoch = EPOCH.load(Ordering::Acquire);
        let mut arena = ARENA.lock();
        if arena.retired.capacity() == 0 {
            // Once: after this, retiring allocates only past the reserve.
            let _ = arena.retired.try_reserve_exact(RETIRED_RESERVE);
        }
        arena
            .retired
            .push((pack(address, stale_len.min(capacity)), capacity, epoch));
        arena.live_blocks = arena.live_blocks.saturating_sub(1);
    });
}

/// Records that this CPU is at a quiescent point and frees blocks retired
/// before the last epoch every CPU has seen.
///
/// Called by this crate only, where it knows no retired code can still
/// run on this CPU: at every context switch ([`crate::context::switch`])
/// and on every interrupt from user mode (traps.rs). At a switch, Rust code
/// runs, so no routine is executing here (routines run with interrupts off
/// and reach the kernel only by `jmp` to the generic path); the only arena
/// address a suspended kernel stack can hold is its own thread's entry stub
/// return address, and a thread's stub is retired only once the thread can
/// never run again (docs/unsafe-inventory.md).
pub(crate) fn quiescent_point() {
    let cpu = usize::try_from(crate::percpu::cpu_id()).unwrap_or(usize::MAX);
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
                let (word, capacity, at) = arena.retired[i];
                if at < epoch {
                    arena.retired.swap_remove(i);
                    if let Some(class) = class_of(capacity) {
                        let list = &mut arena.free[class];
                        if list.capacity() == 0 {
                            let _ = list.try_reserve_exact(FREE_RESERVE);
                        }
                        if list.try_reserve(1).is_ok() {
                            list.push(word);
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

/// Heap bytes the arena's bookkeeping holds: the capacities of its page
/// index (one entry per mapped page), its free lists and its retired list.
/// They grow with the arena's high-water mark (mapped pages, blocks freed
/// at once past a list's reserve) and are kept for reuse, like the mapped
/// pages themselves: a leak check counts their growth as kept memory, not
/// as a leak (the page index doubles from 8 to 16 KiB when the arena maps
/// its 1025th page, whenever in a workload that happens).
pub fn bookkeeping_bytes() -> u64 {
    crate::cpu::without_interrupts(|| {
        let a = ARENA.lock();
        let words = a.frames.capacity() + a.free.iter().map(Vec::capacity).sum::<usize>();
        let bytes = words * core::mem::size_of::<u64>()
            + a.retired.capacity() * core::mem::size_of::<(u64, u64, u64)>();
        bytes as u64
    })
}

/// Reads back installed code (for disassembly and checks): the first
/// `out.len()` bytes of `block`, false if that is more than the block.
pub fn read(block: &InstalledBlock, out: &mut [u8]) -> bool {
    if out.len() as u64 > block.capacity() {
        return false;
    }
    read_raw(block.address, out)
}

fn read_raw(address: u64, out: &mut [u8]) -> bool {
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

/// Why [`patch_rel32`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchError {
    /// The displacement is not inside the installed code, not 4-byte
    /// aligned, or crosses a cache line.
    BadOffset,
    /// The target is more than ±2 GiB away.
    OutOfRange,
    /// The target is not in the arena's range.
    NotArena,
}

/// Retargets the `rel32` branch whose 4-byte displacement starts at
/// `offset` in `block` to `target`: one aligned 4-byte store through the
/// arena's write alias (the direct map), so a CPU fetching the branch sees
/// the old or the new displacement, never a mix (the displacement lies in
/// one naturally aligned dword, never across a cache line).
///
/// Protocol (docs/executable-scheduler.md): the code at `target` is
/// complete (installed, its own jumps valid) before the patch; the old
/// target stays installed until it is retired, and a retired block is
/// reused only after every CPU passed a quiescent point. On one CPU the
/// patch is made with interrupts off between switches; with SMP, the
/// cross-modifying-code rule (SDM vol. 3A §8.1.3) asks that other CPUs
/// serialize before they run the modified code, which the quiescent
/// points (interrupt returns, CR3 loads) provide before any retired
/// target is reused.
///
/// # Safety
/// `offset` must be where `block`'s code holds the displacement of a
/// `jmp rel32` (or another rel32 branch) ending at `offset + 4`, and
/// `target` the entry of installed code that may be entered from that
/// branch with its state (for the ring: a switch-in, entered with
/// interrupts off and the kernel GS).
pub unsafe fn patch_rel32(
    block: &InstalledBlock,
    offset: u64,
    target: u64,
) -> Result<(), PatchError> {
    let site = JumpSite::of(block, offset)?;
    // SAFETY: the caller's promise, passed on; `site` is `block`'s, which
    // the caller holds installed for the whole call.
    unsafe { site.retarget(target) }
}

/// A `rel32` branch of an installed block, found once and retargeted
/// often: the executable ready queue keeps one per switch-out (its final
/// `jmp`), so a block or a wake stores 4 bytes through the write alias
/// without looking the page up again under the arena's lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JumpSite {
    /// The displacement's address in the write alias (the direct map).
    cell: u64,
    /// The address the displacement counts from (the branch's end).
    end: u64,
}

impl JumpSite {
    /// The branch whose displacement starts at `offset` in `block` (the
    /// checks of [`patch_rel32`]).
    ///
    /// # Errors
    /// [`PatchError::BadOffset`] if `offset` is not inside `block`, not
    /// 4-byte aligned, or crosses a cache line.
    pub fn of(block: &InstalledBlock, offset: u64) -> Result<Self, PatchError> {
        if !offset.is_multiple_of(4)
            || offset + 4 > block.len()
            || (block.address + offset) % 64 > 60
        {
            return Err(PatchError::BadOffset);
        }
        let phys = crate::cpu::without_interrupts(|| ARENA.lock().phys_of(block.address + offset))
            .ok_or(PatchError::BadOffset)?;
        Ok(Self {
            cell: phys_to_virt(phys),
            end: block.address + offset + 4,
        })
    }

    /// Points the branch at `target`: one aligned 4-byte store (see
    /// [`patch_rel32`]).
    ///
    /// # Errors
    /// [`PatchError::NotArena`] if `target` is outside the arena's range,
    /// [`PatchError::OutOfRange`] if it is more than ±2 GiB away.
    ///
    /// # Safety
    /// As [`patch_rel32`]; and the block this site was found in is still
    /// installed (not retired): its owner keeps the site beside it.
    // SAFETY: the caller's duty is the `# Safety` section above; the body's
    // one unsafe store states its own invariant.
    pub unsafe fn retarget(&self, target: u64) -> Result<(), PatchError> {
        if !(CODE_ARENA_BASE..CODE_ARENA_BASE + CODE_ARENA_MAX_BYTES).contains(&target) {
            return Err(PatchError::NotArena);
        }
        let disp = i32::try_from(target.wrapping_sub(self.end) as i64)
            .map_err(|_| PatchError::OutOfRange)?;
        let cell = self.cell as *const core::sync::atomic::AtomicU32;
        // SAFETY: `cell` is the direct-map alias of 4 bytes of an installed
        // block's code (found by `of`; the block is still installed, the
        // caller's promise), 4-byte aligned, so inside one page and one
        // cache line; the alias is RW+NX. An AtomicU32 store is one
        // aligned 32-bit write. What the branch now enters is the caller's
        // promise.
        unsafe { (*cell).store(disp as u32, Ordering::Release) };
        Ok(())
    }
}
