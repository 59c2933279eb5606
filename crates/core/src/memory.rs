//! The kernel's memory budget: what a call may take before only the
//! kernel's reserve is left.
//!
//! Owns [`admit`] (admission control for kernel objects whose memory does
//! not come through a charged allocator: kernel stacks, routine tables,
//! page tables) and [`FileData`], the file system's data allocator over
//! `sk-machine`'s frame-backed buffers. User pages (`UserFrame`), file data
//! (`DataBuffer`) and this check all stop at the same line: fewer than
//! `KERNEL_RESERVE_FRAMES` free frames. The reserve (16 MiB) is what the
//! kernel's heap grows into for the small allocations of any call that was
//! admitted, so running out of memory is an error code, never a panic.

use alloc::boxed::Box;
use sk_abi::SysError;
use sk_machine::data_memory::DataBuffer;
use sk_machine::user_frame::KERNEL_RESERVE_FRAMES;

/// Admits a call that will take about `bytes` of kernel memory.
///
/// # Errors
/// [`SysError::NoMemory`] if that would reach into the reserve.
pub(crate) fn admit(bytes: u64) -> Result<(), SysError> {
    let free = sk_machine::paging::frames().free_frames() as u64;
    let needed = bytes.div_ceil(4096) + KERNEL_RESERVE_FRAMES as u64;
    if free > needed {
        Ok(())
    } else {
        Err(SysError::NoMemory)
    }
}

/// File data in frame-backed buffers charged like user memory.
#[derive(Debug)]
pub(crate) struct FileData;

/// The allocator the file system uses.
pub(crate) static FILE_DATA: FileData = FileData;

#[derive(Debug)]
struct Store(DataBuffer);

impl sk_fs::DataStore for Store {
    fn bytes(&self) -> &[u8] {
        self.0.bytes()
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.0.bytes_mut()
    }
    /// In place, inside the buffer's reservation (1 MiB or 1 GiB).
    fn grow(&mut self, new_len: usize) -> bool {
        self.0.grow(new_len)
    }
}

impl sk_fs::DataAllocator for FileData {
    fn allocate(&self, len: usize, reach: usize) -> Option<Box<dyn sk_fs::DataStore>> {
        DataBuffer::allocate(len, reach).map(|b| Box::new(Store(b)) as Box<dyn sk_fs::DataStore>)
    }
}
