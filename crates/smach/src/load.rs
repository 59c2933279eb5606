//! Loading a program into a new SMACH: its ELF image and main stack.
//!
//! Owns [`load_program`]. The image is validated by `sk-elf` (segments in
//! the user half, W^X, no overlap, entry in an executable segment) before a
//! page is mapped; each page gets the file bytes that land in it, the rest
//! is zero. Every range is recorded in the SMACH's [`Regions`], so later
//! SMEM placement can never overlap the program.

use sk_abi::{SysError, PAGE_SIZE};
use sk_elf::ProgramImage;
use sk_smem::{Access, AddressSpace, MapFailure, Regions};

/// Top of the main SCPU's user stack.
pub const USER_STACK_TOP: u64 = 0x0000_7fff_ffff_0000;
/// Size of the main SCPU's user stack.
pub const USER_STACK_BYTES: u64 = 256 * 1024;

fn map_error(e: MapFailure) -> SysError {
    match e {
        MapFailure::NoMemory => SysError::NoMemory,
        MapFailure::AlreadyMapped | MapFailure::BadAddress => SysError::BadElf,
    }
}

/// Maps the program in `bytes` and a stack (with an unmapped guard page
/// below it) into `aspace`; returns the entry point. On failure the pages
/// mapped so far stay mapped: the caller discards the whole address space.
///
/// # Errors
/// [`SysError::BadElf`] for an image `sk-elf` refuses; [`SysError::NoMemory`].
pub fn load_program(
    regions: &mut Regions,
    aspace: &mut impl AddressSpace,
    bytes: &[u8],
) -> Result<u64, SysError> {
    let image = ProgramImage::parse(bytes).map_err(|_| SysError::BadElf)?;
    for segment in image.segments() {
        let Some(range) = segment.pages() else {
            continue;
        };
        let file = segment.file_bytes(bytes).ok_or(SysError::BadElf)?;
        let access = Access {
            write: range.writable,
            execute: range.executable,
        };
        regions
            .reserve(range.start, range.end)
            .map_err(|e| match e {
                SysError::NoMemory => SysError::NoMemory,
                _ => SysError::BadElf,
            })?;
        let mut page = range.start;
        while page < range.end {
            let page_end = page.saturating_add(PAGE_SIZE);
            // The part of the file image that lands in this page.
            let lo = segment.vaddr.max(page);
            let hi = segment
                .vaddr
                .saturating_add(segment.file_size)
                .min(page_end);
            let mut contents: [(usize, &[u8]); 1] = [(0, &[])];
            if lo < hi {
                let from = usize::try_from(lo.saturating_sub(segment.vaddr))
                    .map_err(|_| SysError::BadElf)?;
                let to = usize::try_from(hi.saturating_sub(segment.vaddr))
                    .map_err(|_| SysError::BadElf)?;
                let offset =
                    usize::try_from(lo.saturating_sub(page)).map_err(|_| SysError::BadElf)?;
                contents = [(offset, file.get(from..to).ok_or(SysError::BadElf)?)];
            }
            aspace
                .map_page(page, access, &contents)
                .map_err(map_error)?;
            regions.add_mapped(PAGE_SIZE);
            page = page_end;
        }
    }
    let stack_bottom = USER_STACK_TOP.saturating_sub(USER_STACK_BYTES);
    // The page below the stack stays unmapped (a guard), and reserved.
    regions
        .reserve(stack_bottom.saturating_sub(PAGE_SIZE), USER_STACK_TOP)
        .map_err(|_| SysError::BadElf)?;
    let mut page = stack_bottom;
    while page < USER_STACK_TOP {
        aspace
            .map_page(page, Access::READ_WRITE, &[])
            .map_err(map_error)?;
        regions.add_mapped(PAGE_SIZE);
        page = page.saturating_add(PAGE_SIZE);
    }
    Ok(image.entry())
}
