//! Physical memory: the frame bitmap built from the PVH memory map, lent to
//! `sk-machine` as its [`FrameSource`].
//!
//! Owns [`FRAMES`]. Reserved before anything is handed out: the first MiB
//! (firmware, boot data), the kernel image, the boot modules (initrd).

use sk_frames::FrameBitmap;
use sk_machine::boot_info::{BootInfo, MemoryKind};
use sk_machine::paging::FrameSource;
use sk_machine::println;
use spin::Mutex;

/// Frames the bitmap describes: 8 GiB of physical address space.
const BITMAP_WORDS: usize = 32 * 1024;
/// RAM ranges for the direct map (at most this many).
const MAX_RAM_RANGES: usize = 32;

/// The kernel's frame allocator.
pub struct Frames(Mutex<FrameBitmap<BITMAP_WORDS>>);

/// The one frame allocator.
pub static FRAMES: Frames = Frames(Mutex::new(FrameBitmap::new()));

impl Frames {
    fn with<R>(&self, f: impl FnOnce(&mut FrameBitmap<BITMAP_WORDS>) -> R) -> R {
        sk_machine::cpu::without_interrupts(|| f(&mut self.0.lock()))
    }

    /// Free frames right now.
    pub fn free_count(&self) -> usize {
        self.with(|b| b.free_count())
    }
}

// SAFETY: (FrameSource's three points) 1. the bitmap hands each frame out
// once until it is freed, and `init_frames` reserves the first MiB, the
// kernel image, the boot modules and the start info before anything is
// handed out; 2. only `Usable` memory-map ranges that are also in the RAM
// list `init_frames` returns for the direct map are ever free (frames are
// 4 KiB, `allocate_below` honours its limit); 3. the free count is the
// bitmap's exact count. `Frames` has no other way to free a frame.
#[allow(unsafe_code)]
unsafe impl FrameSource for Frames {
    fn allocate_frame(&self) -> Option<u64> {
        self.with(|b| b.allocate())
    }
    fn allocate_frame_below(&self, limit: u64) -> Option<u64> {
        self.with(|b| b.allocate_below(limit))
    }
    unsafe fn free_frame(&self, phys: u64) {
        if let Err(e) = self.with(|b| b.free(phys)) {
            log::error!("freeing frame {phys:#x}: {e}");
        }
    }
    fn free_frames(&self) -> usize {
        self.free_count()
    }
}

/// Fills the bitmap from the memory map; returns the RAM ranges to map.
pub fn init_frames(boot: &BootInfo) -> heapless_ranges::Ranges {
    let mut ram = heapless_ranges::Ranges::new();
    FRAMES.with(|b| {
        for r in boot.memory_map() {
            let end = r.start.saturating_add(r.len_bytes);
            if matches!(r.kind, MemoryKind::Usable | MemoryKind::AcpiReclaimable) {
                let before = ram.len();
                ram.push((r.start, end));
                // Only RAM the direct map will cover is ever handed out
                // (FrameSource's contract): a range the list had no room
                // for stays unused.
                if r.kind == MemoryKind::Usable && ram.len() > before {
                    b.add_free(r.start, end);
                }
            }
        }
        b.reserve(0, 1 << 20);
        let (start, end) = sk_machine::layout::kernel_image().phys_range();
        b.reserve(start, end);
        for m in boot.modules() {
            b.reserve(m.phys(), m.phys().saturating_add(m.len_bytes()));
        }
        b.reserve(boot.start_info_phys, boot.start_info_phys + 4096);
    });
    ram
}

/// Prints the memory map and the usable total.
pub fn print_memory_map(boot: &BootInfo) {
    println!("memory map ({} entries):", boot.memory_map().len());
    let mut usable = 0u64;
    for r in boot.memory_map() {
        println!(
            "  {:#014x}-{:#014x} {:>9} KiB {:?}",
            r.start,
            r.start.saturating_add(r.len_bytes),
            r.len_bytes / 1024,
            r.kind
        );
        if r.kind == MemoryKind::Usable {
            usable += r.len_bytes;
        }
    }
    println!(
        "usable memory: {} MiB; free frames: {} ({} MiB); boot modules: {}",
        usable >> 20,
        FRAMES.free_count(),
        (FRAMES.free_count() as u64 * 4096) >> 20,
        boot.modules().len()
    );
}

/// A fixed-capacity list of physical ranges (no heap exists yet at boot).
pub mod heapless_ranges {
    /// Up to 32 `(start, end)` ranges.
    pub struct Ranges {
        items: [(u64, u64); super::MAX_RAM_RANGES],
        len: usize,
    }

    impl Ranges {
        pub const fn new() -> Self {
            Self {
                items: [(0, 0); super::MAX_RAM_RANGES],
                len: 0,
            }
        }
        pub fn push(&mut self, range: (u64, u64)) {
            if let Some(slot) = self.items.get_mut(self.len) {
                *slot = range;
                self.len += 1;
            }
        }
    }

    impl core::ops::Deref for Ranges {
        type Target = [(u64, u64)];
        fn deref(&self) -> &[(u64, u64)] {
            &self.items[..self.len]
        }
    }
}
