//! Per-SMACH address spaces: a PML4 whose kernel half is shared with every
//! other space and whose user half belongs to one SMACH.
//!
//! Owns [`AddressSpace`]: mapping, unmapping and re-protecting user pages,
//! switching CR3, and tearing the user half down (every user frame and page
//! table returned to the frame source, so a SMACH's memory is accounted
//! exactly). The space owns the frames mapped into its user half: callers
//! hand a frame over with `map` and get it back with `unmap`.

use crate::layout::{phys_to_virt, DIRECT_MAP_BASE, PAGE_SIZE, USER_END};
use crate::paging::{self, MapError};
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::mapper::{MappedFrame, TranslateResult};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as Flags, PhysFrame,
    Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

/// Access rights of a user page (never writable and executable at once is
/// enforced by the caller's policy, not here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserAccess {
    /// Writable by user code.
    pub write: bool,
    /// Executable by user code.
    pub execute: bool,
}

impl UserAccess {
    fn flags(self) -> Flags {
        let mut f = Flags::PRESENT | Flags::USER_ACCESSIBLE;
        if self.write {
            f |= Flags::WRITABLE;
        }
        if !self.execute {
            f |= Flags::NO_EXECUTE;
        }
        f
    }
}

/// One SMACH's page tables.
#[derive(Debug)]
pub struct AddressSpace {
    pml4_phys: u64,
}

struct Frames;

// SAFETY: frames come from the kernel's frame source, never handed out
// twice; the mapper zeroes the page tables it creates.
unsafe impl FrameAllocator<Size4KiB> for Frames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        paging::frames()
            .allocate_frame()
            .map(|p| PhysFrame::containing_address(PhysAddr::new(p)))
    }
}

/// The highest user page is never mapped: a `syscall` in its last bytes
/// would leave a non-canonical return address in `rcx`, and `sysretq` to
/// it faults in ring 0 on Intel CPUs with the user's stack pointer
/// (CVE-2012-0217). Keeping the page unmapped makes that impossible for the
/// synthesized entry stubs, which do not re-check `rcx`.
pub const USER_MAP_END: u64 = USER_END - PAGE_SIZE;

fn check_user_page(virt: u64) -> Result<Page<Size4KiB>, MapError> {
    if virt >= USER_MAP_END || !virt.is_multiple_of(PAGE_SIZE) {
        return Err(MapError::BadAddress);
    }
    Page::from_start_address(VirtAddr::new(virt)).map_err(|_| MapError::BadAddress)
}

impl AddressSpace {
    /// A new space: empty user half, the kernel half shared.
    pub fn new() -> Result<Self, MapError> {
        let pml4_phys = paging::frames()
            .allocate_frame()
            .ok_or(MapError::OutOfFrames)?;
        let kernel = paging::kernel_pml4_phys();
        // SAFETY: both frames are page tables reached through the direct
        // map; the new one is fresh (no other reference), the kernel's is
        // only read. Kernel-half entries point at PDPTs created at boot and
        // never freed, so sharing them is sound.
        unsafe {
            let new = &mut *(phys_to_virt(pml4_phys) as *mut PageTable);
            let old = &*(phys_to_virt(kernel) as *const PageTable);
            *new = PageTable::new();
            for i in 256..512 {
                new[i] = old[i].clone();
            }
        }
        Ok(Self { pml4_phys })
    }

    /// Physical address of the PML4 (the CR3 value).
    pub fn root(&self) -> u64 {
        self.pml4_phys
    }

    fn with_mapper<R>(&mut self, f: impl FnOnce(&mut OffsetPageTable<'_>) -> R) -> R {
        // SAFETY: the PML4 belongs to this space (exclusive through &mut
        // self) and all page tables are reached through the direct map.
        let table = unsafe { &mut *(phys_to_virt(self.pml4_phys) as *mut PageTable) };
        // SAFETY: the direct map maps all RAM at DIRECT_MAP_BASE.
        let mut mapper = unsafe { OffsetPageTable::new(table, VirtAddr::new(DIRECT_MAP_BASE)) };
        f(&mut mapper)
    }

    /// Maps user page `virt` to `frame`, which the space then owns. On
    /// error the frame is freed.
    pub fn map(
        &mut self,
        virt: u64,
        frame: crate::user_frame::UserFrame,
        access: UserAccess,
    ) -> Result<(), MapError> {
        let page = check_user_page(virt)?;
        let frame = frame.into_phys();
        let result = self.map_phys(page, frame, access);
        if result.is_err() {
            // SAFETY: the frame came from a UserFrame (owned, from the
            // frame source) and was not mapped: nothing refers to it.
            unsafe { paging::frames().free_frame(frame) };
        }
        result
    }

    fn map_phys(
        &mut self,
        page: Page<Size4KiB>,
        frame: u64,
        access: UserAccess,
    ) -> Result<(), MapError> {
        let frame = PhysFrame::<Size4KiB>::from_start_address(PhysAddr::new(frame))
            .map_err(|_| MapError::BadAddress)?;
        let parents = Flags::PRESENT | Flags::WRITABLE | Flags::USER_ACCESSIBLE;
        self.with_mapper(|m| {
            // SAFETY: maps a frame the caller hands over into the user half
            // of this space only; the kernel half is untouched.
            let flush = unsafe {
                m.map_to_with_table_flags(page, frame, access.flags(), parents, &mut Frames)
            }
            .map_err(|e| match e {
                x86_64::structures::paging::mapper::MapToError::FrameAllocationFailed => {
                    MapError::OutOfFrames
                }
                _ => MapError::AlreadyMapped,
            })?;
            flush.flush();
            Ok(())
        })
    }

    /// Unmaps user page `virt` and frees its frame.
    pub fn unmap(&mut self, virt: u64) -> Result<(), MapError> {
        let frame = self.unmap_frame(virt)?;
        // SAFETY: the space owned the frame (handed over by `map`) and its
        // only mapping is gone (TLB entry flushed); the kernel reaches user
        // pages only through this space, by user address.
        unsafe { paging::frames().free_frame(frame) };
        Ok(())
    }

    fn unmap_frame(&mut self, virt: u64) -> Result<u64, MapError> {
        let page = check_user_page(virt)?;
        self.with_mapper(|m| {
            let (frame, flush) = m.unmap(page).map_err(|_| MapError::NotMapped)?;
            flush.flush();
            Ok(frame.start_address().as_u64())
        })
    }

    /// Changes the access rights of a mapped user page.
    pub fn protect(&mut self, virt: u64, access: UserAccess) -> Result<(), MapError> {
        let page = check_user_page(virt)?;
        self.with_mapper(|m| {
            // SAFETY: changes only the leaf flags of a user page of this space.
            let flush =
                unsafe { m.update_flags(page, access.flags()) }.map_err(|_| MapError::NotMapped)?;
            flush.flush();
            Ok(())
        })
    }

    /// The frame behind user page `virt`, if mapped.
    pub fn translate(&mut self, virt: u64) -> Option<u64> {
        if virt >= USER_END {
            return None;
        }
        self.with_mapper(|m| match m.translate(VirtAddr::new(virt)) {
            TranslateResult::Mapped {
                frame: MappedFrame::Size4KiB(f),
                offset,
                ..
            } => Some(f.start_address().as_u64() + offset),
            _ => None,
        })
    }

    /// Copies every user page of `source` into this space (empty user
    /// half expected) at the same address with the same rights, each into
    /// a new frame ([`UserFrame::copy_of`](crate::user_frame::UserFrame::copy_of),
    /// which keeps the kernel's frame reserve): `fork`'s eager copy.
    /// Returns the pages copied. On error the pages copied so far stay
    /// mapped here (the caller destroys the space).
    ///
    /// # Errors
    /// [`MapError::OutOfFrames`] when user memory or page-table frames
    /// run out; [`MapError::AlreadyMapped`] if this space had a page there.
    pub fn copy_user_pages_from(&mut self, source: &Self) -> Result<u64, MapError> {
        let mut copied = 0u64;
        // SAFETY: `source`'s tables are reached read-only through the
        // direct map; `&self` keeps them from being changed or freed
        // meanwhile (every change takes `&mut`); the user half holds 4 KiB
        // mappings only, so every non-leaf entry names a table.
        let pml4 = unsafe { &*(phys_to_virt(source.pml4_phys) as *const PageTable) };
        for (i4, e4) in pml4.iter().enumerate().take(256) {
            if e4.is_unused() {
                continue;
            }
            // SAFETY: as above.
            let pdpt = unsafe { &*(phys_to_virt(e4.addr().as_u64()) as *const PageTable) };
            for (i3, e3) in pdpt.iter().enumerate().filter(|(_, e)| !e.is_unused()) {
                // SAFETY: as above.
                let pd = unsafe { &*(phys_to_virt(e3.addr().as_u64()) as *const PageTable) };
                for (i2, e2) in pd.iter().enumerate().filter(|(_, e)| !e.is_unused()) {
                    // SAFETY: as above.
                    let pt = unsafe { &*(phys_to_virt(e2.addr().as_u64()) as *const PageTable) };
                    for (i1, e1) in pt.iter().enumerate().filter(|(_, e)| !e.is_unused()) {
                        let virt = ((i4 as u64) << 39)
                            | ((i3 as u64) << 30)
                            | ((i2 as u64) << 21)
                            | ((i1 as u64) << 12);
                        let flags = e1.flags();
                        let access = UserAccess {
                            write: flags.contains(Flags::WRITABLE),
                            execute: !flags.contains(Flags::NO_EXECUTE),
                        };
                        let frame = crate::user_frame::UserFrame::copy_of(e1.addr().as_u64())
                            .ok_or(MapError::OutOfFrames)?;
                        self.map(virt, frame, access)?;
                        copied += 1;
                    }
                }
            }
        }
        Ok(copied)
    }

    /// Makes this space the CPU's current one.
    pub fn activate(&self) {
        activate_root(self.pml4_phys);
    }

    /// Frees every user page, every user page table and the PML4.
    pub fn destroy(self) {
        if Cr3::read().0.start_address().as_u64() == self.pml4_phys {
            activate_root(paging::kernel_pml4_phys());
        }
        let frames = paging::frames();
        // SAFETY: the space is not active (switched away above) and owned
        // by value, so nothing else walks these tables while they are freed;
        // every frame freed is one this space owns (a user frame handed over
        // by `map`, or a user-half table the mapper took from the source),
        // each freed once; the user half holds 4 KiB mappings only, so every
        // non-leaf entry names a table.
        unsafe {
            let pml4 = &mut *(phys_to_virt(self.pml4_phys) as *mut PageTable);
            for e4 in pml4.iter().take(256).filter(|e| !e.is_unused()) {
                let pdpt = &mut *(phys_to_virt(e4.addr().as_u64()) as *mut PageTable);
                for e3 in pdpt.iter().filter(|e| !e.is_unused()) {
                    let pd = &mut *(phys_to_virt(e3.addr().as_u64()) as *mut PageTable);
                    for e2 in pd.iter().filter(|e| !e.is_unused()) {
                        let pt = &mut *(phys_to_virt(e2.addr().as_u64()) as *mut PageTable);
                        for e1 in pt.iter().filter(|e| !e.is_unused()) {
                            frames.free_frame(e1.addr().as_u64());
                        }
                        frames.free_frame(e2.addr().as_u64());
                    }
                    frames.free_frame(e3.addr().as_u64());
                }
                frames.free_frame(e4.addr().as_u64());
            }
        }
        // SAFETY: the PML4 came from the source in `new`, is not active,
        // and no one else refers to it (the space is consumed).
        unsafe { frames.free_frame(self.pml4_phys) };
    }
}

/// Switches CR3 to `root` (a PML4 sharing the kernel half).
fn activate_root(root: u64) {
    if Cr3::read().0.start_address().as_u64() == root {
        return;
    }
    // SAFETY: every PML4 the kernel activates shares the kernel half, so
    // the running code, stack and data stay mapped across the switch.
    unsafe {
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(root)),
            Cr3Flags::empty(),
        )
    };
}

/// Physical address of the kernel's own PML4.
pub fn kernel_root() -> u64 {
    paging::kernel_pml4_phys()
}

/// Switches to the kernel's own page tables (no user half).
pub fn activate_kernel() {
    activate_root(paging::kernel_pml4_phys());
}
