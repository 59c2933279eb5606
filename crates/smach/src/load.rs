//! Loading a program into a new SMACH: its ELF image and main stack.
//!
//! Owns [`load_program`], and for Linux programs [`load_linux_image`]
//! and [`map_stack`]. The image is validated by `sk-elf` (segments in
//! the user half, W^X, no overlap, entry in an executable segment) before a
//! page is mapped; each page gets the file bytes that land in it, the rest
//! is zero. Every range is recorded in the SMACH's [`Regions`], so later
//! SMEM placement can never overlap the program.

use sk_abi::{SysError, PAGE_SIZE};
use sk_elf::{LinuxLoad, ProgramImage};
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
    map_image(regions, aspace, bytes, &image)?;
    map_stack(regions, aspace, &[])?;
    Ok(image.entry())
}

/// Loads a static Linux program (`ET_EXEC`, or static-PIE at `pie_base`)
/// as [`load_program`] loads a native one, without its stack (the caller
/// builds the Linux initial stack, then calls [`map_stack`]). Returns the
/// image (entry already biased) and its auxiliary-vector facts.
///
/// # Errors
/// [`SysError::BadElf`] for anything `ProgramImage::parse_linux` refuses;
/// [`SysError::NoMemory`].
pub fn load_linux_image(
    regions: &mut Regions,
    aspace: &mut impl AddressSpace,
    bytes: &[u8],
    pie_base: u64,
) -> Result<(ProgramImage, LinuxLoad), SysError> {
    let (image, load) = ProgramImage::parse_linux(bytes, pie_base).map_err(|_| SysError::BadElf)?;
    map_image(regions, aspace, bytes, &image)?;
    Ok((image, load))
}

/// Maps every page of `image` with the file bytes that land in it.
fn map_image(
    regions: &mut Regions,
    aspace: &mut impl AddressSpace,
    bytes: &[u8],
    image: &ProgramImage,
) -> Result<(), SysError> {
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
    Ok(())
}

/// Maps the main stack (`USER_STACK_BYTES` below [`USER_STACK_TOP`], a
/// reserved guard page under it) with `top` as its last bytes (a Linux
/// initial stack; empty for a native program), the rest zero.
///
/// # Errors
/// [`SysError::BadElf`] if the stack's range is taken or `top` is larger
/// than the stack; [`SysError::NoMemory`].
pub fn map_stack(
    regions: &mut Regions,
    aspace: &mut impl AddressSpace,
    top: &[u8],
) -> Result<(), SysError> {
    let stack_bottom = USER_STACK_TOP.saturating_sub(USER_STACK_BYTES);
    let top_len = u64::try_from(top.len()).map_err(|_| SysError::BadElf)?;
    if top_len > USER_STACK_BYTES {
        return Err(SysError::BadElf);
    }
    let top_start = USER_STACK_TOP.saturating_sub(top_len);
    // The page below the stack stays unmapped (a guard), and reserved.
    regions
        .reserve(stack_bottom.saturating_sub(PAGE_SIZE), USER_STACK_TOP)
        .map_err(|_| SysError::BadElf)?;
    let mut page = stack_bottom;
    while page < USER_STACK_TOP {
        let page_end = page.saturating_add(PAGE_SIZE);
        let lo = top_start.max(page);
        let mut contents: [(usize, &[u8]); 1] = [(0, &[])];
        if lo < page_end {
            let from =
                usize::try_from(lo.saturating_sub(top_start)).map_err(|_| SysError::BadElf)?;
            let to = usize::try_from(page_end.saturating_sub(top_start))
                .map_err(|_| SysError::BadElf)?;
            let offset = usize::try_from(lo.saturating_sub(page)).map_err(|_| SysError::BadElf)?;
            contents = [(offset, top.get(from..to).ok_or(SysError::BadElf)?)];
        }
        aspace
            .map_page(page, Access::READ_WRITE, &contents)
            .map_err(map_error)?;
        regions.add_mapped(PAGE_SIZE);
        page = page_end;
    }
    Ok(())
}
