//! Frame allocator, kernel heap, and kernel mappings.

use crate::memory::FRAMES;
use alloc::boxed::Box;
use alloc::vec::Vec;
use sk_ktest::{ensure, ensure_eq, ktest};
use sk_machine::layout::phys_to_virt;
use sk_machine::paging::{self, Access, FrameSource};

ktest!(
    fn frame_allocation_and_release_keep_count_exact() {
        let before = FRAMES.free_count();
        let frames: Vec<u64> = (0..256).filter_map(|_| FRAMES.allocate_frame()).collect();
        ensure_eq!(frames.len(), 256);
        ensure_eq!(FRAMES.free_count(), before - 256);
        let mut sorted = frames.clone();
        sorted.sort_unstable();
        sorted.dedup();
        ensure!(sorted.len() == 256, "a frame was handed out twice");
        for f in frames {
            // SAFETY: allocated above by this test, referred to by nothing.
            #[allow(unsafe_code)]
            unsafe {
                FRAMES.free_frame(f)
            };
        }
        ensure_eq!(FRAMES.free_count(), before);
        Ok(())
    }
);

ktest!(
    fn frames_below_limit_respect_it() {
        let f = FRAMES
            .allocate_frame_below(1 << 30)
            .ok_or("no frame below 1 GiB")?;
        // SAFETY: allocated above by this test, referred to by nothing.
        #[allow(unsafe_code)]
        unsafe {
            FRAMES.free_frame(f)
        };
        ensure!(f < 1 << 30 && f % 4096 == 0, "bad frame {f:#x}");
        Ok(())
    }
);

ktest!(
    fn heap_allocations_of_many_sizes() {
        let mut blocks: Vec<Box<[u8]>> = Vec::new();
        for shift in 0..17 {
            for extra in [0usize, 1, 7] {
                let size = (1usize << shift) + extra;
                let fill = u8::try_from(size % 251).unwrap_or(0);
                blocks.push(alloc::vec![fill; size].into_boxed_slice());
            }
        }
        for b in &blocks {
            let fill = u8::try_from(b.len() % 251).unwrap_or(0);
            ensure!(
                b.iter().all(|&x| x == fill),
                "block of {} bytes corrupted",
                b.len()
            );
        }
        Ok(())
    }
);

#[repr(align(4096))]
struct PageAligned([u8; 4096]);

ktest!(
    fn heap_honours_large_alignment() {
        let boxes: Vec<Box<PageAligned>> =
            (0..8).map(|_| Box::new(PageAligned([7; 4096]))).collect();
        for b in &boxes {
            let addr = &**b as *const PageAligned as u64;
            ensure!(addr.is_multiple_of(4096), "misaligned {addr:#x}");
            ensure!(b.0.iter().all(|&x| x == 7));
        }
        Ok(())
    }
);

ktest!(
    fn heap_grows_beyond_its_first_mapping() {
        let before = sk_machine::heap::mapped_bytes();
        let big = alloc::vec![0x5au8; 8 << 20];
        ensure!(
            sk_machine::heap::mapped_bytes() > before || before >= 12 << 20,
            "heap did not grow"
        );
        ensure!(big.iter().step_by(4096).all(|&x| x == 0x5a));
        Ok(())
    }
);

ktest!(
    fn direct_map_translates_to_physical() {
        let f = FRAMES.allocate_frame().ok_or("no frame")?;
        let t = paging::translate(phys_to_virt(f));
        // SAFETY: allocated above by this test, referred to by nothing.
        #[allow(unsafe_code)]
        unsafe {
            FRAMES.free_frame(f)
        };
        ensure_eq!(t, Some(f));
        Ok(())
    }
);

ktest!(
    fn map_write_unmap_round_trip() {
        let before = FRAMES.free_count();
        let virt = sk_machine::layout::MMIO_BASE + (1 << 30);
        let f = FRAMES.allocate_frame().ok_or("no frame")?;
        // SAFETY: `virt` is a page of the MMIO window only this test uses
        // (the APIC is at MMIO_BASE, the protection tests' unmapped probe
        // 3 GiB up), `f` a frame this test allocated; the byte written and
        // read back is this test's; the page is unmapped before the frame
        // is freed, and nothing refers to either afterwards.
        #[allow(unsafe_code)]
        let (unmapped, after) = unsafe {
            paging::map_kernel_page(virt, f, Access::ReadWrite)
                .map_err(|e| alloc::format!("{e:?}"))?;
            sk_machine::probe::write_u8(virt + 5, 0x42).map_err(|e| alloc::format!("{e:?}"))?;
            ensure_eq!(sk_machine::probe::read_u8(phys_to_virt(f) + 5), Ok(0x42));
            let unmapped = paging::unmap_kernel_page(virt).map_err(|e| alloc::format!("{e:?}"))?;
            let after = sk_machine::probe::read_u8(virt);
            if unmapped == f {
                FRAMES.free_frame(f);
            }
            (unmapped, after)
        };
        ensure_eq!(unmapped, f);
        ensure!(after.is_err(), "still mapped after unmap");
        // Page tables created for the new range stay; data frames balance.
        ensure!(FRAMES.free_count() + 3 >= before, "frames leaked");
        Ok(())
    }
);
