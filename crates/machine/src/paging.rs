//! The kernel's page tables: the direct map, the kernel image with per-section
//! permissions, and small-page mapping for heap, stacks, code arena and MMIO.
//!
//! Owns the kernel PML4 and [`FrameSource`], the upcall through which the
//! kernel's (portable) frame allocator hands out physical frames. Built once
//! at boot in two phases: tables are written through the boot window (phys
//! < 1 GiB at `KERNEL_VMA`) until CR3 switches to them, then through the
//! direct map. Kernel-half PML4 entries are all created at boot, so every
//! address space that copies them sees later kernel mappings too.

use crate::layout::{self, phys_to_virt, DIRECT_MAP_BASE, KERNEL_VMA, PAGE_SIZE};
use spin::{Mutex, Once};
use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::mapper::{MapToError, TranslateResult};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageSize, PageTable, PageTableFlags as Flags,
    PhysFrame, Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

/// Physical frames for the mechanism, provided by the kernel's allocator.
///
/// # Safety
/// This crate writes every frame it gets through the direct map and hands
/// some to page tables, so an implementation must guarantee:
/// 1. a frame it returns is free: handed out by no earlier call that was
///    not matched by a `free_frame`, and not in use by anything else (the
///    kernel image, the boot modules, which [`crate::boot_info::Module::bytes`]
///    lends out as `'static`, the PVH start info, firmware data);
/// 2. every frame it returns is RAM inside the ranges given to [`init`]
///    (the direct map), 4 KiB-aligned, and below `limit` for
///    `allocate_frame_below`;
/// 3. `free_frames` never counts a frame that is in use.
pub unsafe trait FrameSource: Sync {
    /// A free 4 KiB frame anywhere in RAM.
    fn allocate_frame(&self) -> Option<u64>;
    /// A free 4 KiB frame whose address is below `limit`.
    fn allocate_frame_below(&self, limit: u64) -> Option<u64>;
    /// Returns a frame obtained from this source.
    ///
    /// # Safety
    /// `phys` was returned by this source's `allocate_frame` or
    /// `allocate_frame_below`, has not been freed since, and nothing
    /// (mapping, pointer, generated code) refers to it any more: it may be
    /// handed out again at once.
    unsafe fn free_frame(&self, phys: u64);
    /// Frames free right now.
    fn free_frames(&self) -> usize;
}

/// Access rights of a kernel mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read-only, no execute.
    Read,
    /// Read and write, no execute.
    ReadWrite,
    /// Read and execute (never writable).
    ReadExecute,
    /// Read and write, uncached, no execute (device registers).
    Mmio,
}

impl Access {
    fn flags(self) -> Flags {
        let base = Flags::PRESENT | Flags::GLOBAL;
        match self {
            Access::Read => base | Flags::NO_EXECUTE,
            Access::ReadWrite => base | Flags::WRITABLE | Flags::NO_EXECUTE,
            Access::ReadExecute => base,
            Access::Mmio => {
                base | Flags::WRITABLE | Flags::NO_EXECUTE | Flags::NO_CACHE | Flags::WRITE_THROUGH
            }
        }
    }
}

/// Errors from mapping and unmapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No physical frame for a page table or the page itself.
    OutOfFrames,
    /// The virtual page is already mapped.
    AlreadyMapped,
    /// The virtual page is not mapped.
    NotMapped,
    /// The address is not page-aligned or not in the expected region.
    BadAddress,
}

static FRAMES: Once<&'static dyn FrameSource> = Once::new();
/// Page-table frames created for kernel mappings (never freed: the kernel
/// half is shared by every address space).
static KERNEL_TABLE_FRAMES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// How many page-table frames kernel mappings have used so far.
pub fn kernel_table_frames() -> u64 {
    KERNEL_TABLE_FRAMES.load(core::sync::atomic::Ordering::Relaxed)
}
static KERNEL_PML4_PHYS: Once<u64> = Once::new();
/// Set by the first [`init`]: the kernel tables are built once.
static INIT_STARTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
static KERNEL_SPACE: Once<Mutex<OffsetPageTable<'static>>> = Once::new();

/// The registered frame source. Panics if used before [`init`] (a kernel bug).
/// Allocating through it is safe (the caller owns what it gets, as a plain
/// number); freeing is `unsafe` ([`FrameSource::free_frame`]).
pub fn frames() -> &'static dyn FrameSource {
    *FRAMES
        .get()
        .expect("paging::init registers the frame source first")
}

/// Adapts a [`FrameSource`] to the `x86_64` crate's allocator trait.
struct TableFrames {
    below: Option<u64>,
}

// SAFETY: every frame handed out comes from the kernel's frame allocator,
// which never hands out a frame twice; the mapper zeroes new tables.
unsafe impl FrameAllocator<Size4KiB> for TableFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        KERNEL_TABLE_FRAMES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        let phys = match self.below {
            Some(limit) => frames().allocate_frame_below(limit)?,
            None => frames().allocate_frame()?,
        };
        Some(PhysFrame::containing_address(PhysAddr::new(phys)))
    }
}

fn map_err<S: x86_64::structures::paging::PageSize>(e: MapToError<S>) -> MapError {
    match e {
        MapToError::FrameAllocationFailed => MapError::OutOfFrames,
        MapToError::PageAlreadyMapped(_) | MapToError::ParentEntryHugePage => {
            MapError::AlreadyMapped
        }
    }
}

/// The kernel-half regions whose PML4 entries are all pre-created at boot
/// (base, bytes): direct map, heap, stacks, arena, MMIO, file data, image,
/// so copies of the kernel half stay in sync. A region of more than one
/// entry (512 GiB) gets every entry it spans: the file-data region spans
/// 64.
const KERNEL_HALF_REGIONS: [(u64, u64); 7] = [
    (DIRECT_MAP_BASE, PML4_ENTRY_BYTES),
    (layout::HEAP_BASE, layout::HEAP_MAX_BYTES),
    (layout::STACKS_BASE, PML4_ENTRY_BYTES),
    (layout::CODE_ARENA_BASE, layout::CODE_ARENA_MAX_BYTES),
    (layout::MMIO_BASE, PML4_ENTRY_BYTES),
    (layout::DATA_BASE, layout::DATA_MAX_BYTES),
    (KERNEL_VMA, 1 << 31),
];

/// Bytes one PML4 entry maps.
const PML4_ENTRY_BYTES: u64 = 1 << 39;

/// The PML4 indices of the kernel-half regions (each region's entries, in
/// order; a region never wraps past the top of the address space).
fn kernel_half_indices() -> impl Iterator<Item = usize> {
    KERNEL_HALF_REGIONS.into_iter().flat_map(|(base, bytes)| {
        let first = (base >> 39) & 511;
        let last = (base.saturating_add(bytes.max(1) - 1) >> 39) & 511;
        (first..=last.max(first)).map(|index| index as usize)
    })
}

/// Builds the kernel page tables and switches to them.
///
/// `ram` lists the physical ranges to put in the direct map. Runs once, on
/// the boot stack, with interrupts off and the boot page tables active; a
/// second call changes nothing and returns [`MapError::AlreadyMapped`]
/// (its tables would lack every mapping made since, and the boot window
/// it writes through is gone).
pub fn init(frame_source: &'static dyn FrameSource, ram: &[(u64, u64)]) -> Result<(), MapError> {
    if INIT_STARTED.swap(true, core::sync::atomic::Ordering::AcqRel) {
        return Err(MapError::AlreadyMapped);
    }
    FRAMES.call_once(|| frame_source);
    let mut boot_alloc = TableFrames {
        below: Some(layout::BOOT_WINDOW_BYTES),
    };
    let pml4_phys = frames()
        .allocate_frame_below(layout::BOOT_WINDOW_BYTES)
        .ok_or(MapError::OutOfFrames)?;
    let pml4_ptr = (KERNEL_VMA + pml4_phys) as *mut PageTable;
    // SAFETY: the frame is fresh from the allocator (no other reference),
    // lies inside the boot window, and is page-aligned.
    let pml4 = unsafe {
        pml4_ptr.write(PageTable::new());
        &mut *pml4_ptr
    };
    // SAFETY: the boot window maps every physical address below 1 GiB at
    // KERNEL_VMA and all table frames are allocated below 1 GiB here.
    let mut mapper = unsafe { OffsetPageTable::new(pml4, VirtAddr::new(KERNEL_VMA)) };

    // Direct map: RAM, 2 MiB pages, RW + NX.
    for &(start, end) in ram {
        let mut phys = start & !(Size2MiB::SIZE - 1);
        while phys < end {
            let page = Page::<Size2MiB>::containing_address(VirtAddr::new(phys_to_virt(phys)));
            let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(phys));
            let flags = Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE | Flags::GLOBAL;
            // SAFETY: the direct map aliases RAM as data only (NX); the new
            // tables are not active yet, so nothing observes them mid-build.
            match unsafe { mapper.map_to(page, frame, flags, &mut boot_alloc) } {
                Ok(flush) => flush.ignore(),
                Err(MapToError::PageAlreadyMapped(_)) => {}
                Err(e) => return Err(map_err(e)),
            }
            phys += Size2MiB::SIZE;
        }
    }

    // Kernel image with per-section permissions.
    let image = layout::kernel_image();
    for (range, access) in [
        (image.text, Access::ReadExecute),
        (image.rodata, Access::Read),
        (image.data, Access::ReadWrite),
    ] {
        let mut virt = range.0;
        while virt < range.1 {
            map_with(
                &mut mapper,
                virt,
                virt - KERNEL_VMA,
                access,
                &mut boot_alloc,
            )?;
            virt += PAGE_SIZE;
        }
    }

    // Pre-create the kernel-half PDPTs so every address space shares them.
    for index in kernel_half_indices() {
        if mapper.level_4_table()[index].is_unused() {
            let frame = boot_alloc.allocate_frame().ok_or(MapError::OutOfFrames)?;
            // SAFETY: fresh frame inside the boot window; zeroed before it
            // becomes a table.
            unsafe {
                ((KERNEL_VMA + frame.start_address().as_u64()) as *mut PageTable)
                    .write(PageTable::new())
            };
            mapper.level_4_table_mut()[index].set_frame(frame, Flags::PRESENT | Flags::WRITABLE);
        }
    }

    if crate::cpu::features().pge {
        // SAFETY: global pages only change TLB retention of global entries.
        unsafe { Cr4::update(|f| f.insert(Cr4Flags::PAGE_GLOBAL)) };
    }
    // SAFETY: the new tables map the running code (text), the boot stack
    // (bss) and all data with the same virtual addresses as before, so
    // execution continues seamlessly after the switch.
    unsafe {
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(pml4_phys)),
            Cr3Flags::empty(),
        )
    };

    KERNEL_PML4_PHYS.call_once(|| pml4_phys);
    // SAFETY: the PML4 is now reached through the direct map, which covers
    // all RAM; this is the only mapper over the kernel tables.
    let table = unsafe { &mut *(phys_to_virt(pml4_phys) as *mut PageTable) };
    // SAFETY: the direct map maps all RAM at DIRECT_MAP_BASE.
    let mapper = unsafe { OffsetPageTable::new(table, VirtAddr::new(DIRECT_MAP_BASE)) };
    KERNEL_SPACE.call_once(|| Mutex::new(mapper));
    Ok(())
}

fn map_with(
    mapper: &mut OffsetPageTable<'static>,
    virt: u64,
    phys: u64,
    access: Access,
    alloc: &mut TableFrames,
) -> Result<(), MapError> {
    let page = Page::<Size4KiB>::from_start_address(VirtAddr::new(virt))
        .map_err(|_| MapError::BadAddress)?;
    let frame = PhysFrame::<Size4KiB>::from_start_address(PhysAddr::new(phys))
        .map_err(|_| MapError::BadAddress)?;
    // SAFETY: callers map only frames they own into kernel ranges they own
    // (the boot image in `init`; `map_kernel_page`'s contract otherwise),
    // so no existing mapping or reference is disturbed.
    let flush = unsafe { mapper.map_to(page, frame, access.flags(), alloc) }.map_err(map_err)?;
    flush.flush();
    Ok(())
}

fn with_kernel_space<R>(f: impl FnOnce(&mut OffsetPageTable<'static>) -> R) -> R {
    let space = KERNEL_SPACE.get().expect("paging::init ran");
    x86_64::instructions::interrupts::without_interrupts(|| f(&mut space.lock()))
}

/// Maps the 4 KiB kernel page at `virt` to frame `phys`.
///
/// # Safety
/// 1. `virt` is a page of a kernel range the caller owns: not one that this
///    crate manages (heap, kernel stacks, code arena, file data, the image,
///    the direct map, the local APIC page at `MMIO_BASE`), and not the
///    guard page of anything; in practice a page of the MMIO window that
///    the caller reserved for itself.
/// 2. `phys` is a frame the caller owns (from [`frames`], not freed while
///    mapped), or device memory for [`Access::Mmio`]; with
///    [`Access::ReadExecute`] its bytes are code the caller vouches for.
/// 3. The caller unmaps the page before it gives the frame away.
pub unsafe fn map_kernel_page(virt: u64, phys: u64, access: Access) -> Result<(), MapError> {
    with_kernel_space(|m| map_with(m, virt, phys, access, &mut TableFrames { below: None }))
}

/// Unmaps the kernel page at `virt`, returning the frame it mapped.
///
/// # Safety
/// The page was mapped by the caller with [`map_kernel_page`] (so it
/// belongs to a range the caller owns), and nothing refers to it through
/// `virt` any more (no reference, no pointer, no stack, no generated code).
pub unsafe fn unmap_kernel_page(virt: u64) -> Result<u64, MapError> {
    with_kernel_space(|m| {
        let page = Page::<Size4KiB>::from_start_address(VirtAddr::new(virt))
            .map_err(|_| MapError::BadAddress)?;
        let (frame, flush) = m.unmap(page).map_err(|_| MapError::NotMapped)?;
        flush.flush();
        Ok(frame.start_address().as_u64())
    })
}

/// Translates a kernel virtual address (None if unmapped).
pub fn translate(virt: u64) -> Option<u64> {
    with_kernel_space(|m| match m.translate(VirtAddr::new(virt)) {
        TranslateResult::Mapped { frame, offset, .. } => {
            Some(frame.start_address().as_u64() + offset)
        }
        _ => None,
    })
}

/// Runs `f` with the kernel mapper and a frame allocator adapter.
pub(crate) fn with_active_mapper<R>(
    f: impl FnOnce(&mut OffsetPageTable<'static>, &mut dyn FrameAllocator<Size4KiB>) -> R,
) -> R {
    with_kernel_space(|m| f(m, &mut TableFrames { below: None }))
}

/// Physical address of the kernel PML4 (its kernel half is copied into every
/// address space).
pub fn kernel_pml4_phys() -> u64 {
    *KERNEL_PML4_PHYS.get().expect("paging::init ran")
}
