//! Page protections and the fixup table: faults on purpose, recovered.

use alloc::boxed::Box;
use alloc::format;
use sk_ktest::{ensure, ensure_eq, ktest};
use sk_machine::layout::{kernel_image, MMIO_BASE};
use sk_machine::probe::{self, PageFault, PF_FETCH, PF_PRESENT, PF_WRITE};
use sk_machine::stack::KernelStack;

static READ_ONLY_BYTES: [u8; 16] = *b"read-only data!!";

/// An address in the MMIO window that nothing maps.
const UNMAPPED: u64 = MMIO_BASE + (3 << 30) + 0x123;

ktest!(
    fn read_of_unmapped_kernel_address_recovers_through_fixup() {
        // SAFETY: nothing maps UNMAPPED: the read can only fault.
        #[allow(unsafe_code)]
        let fault = unsafe { probe::read_u8(UNMAPPED) }
            .err()
            .ok_or("read of an unmapped page succeeded")?;
        ensure_eq!(
            fault,
            PageFault {
                error_code: 0,
                address: UNMAPPED
            }
        );
        Ok(())
    }
);

ktest!(
    fn write_to_unmapped_kernel_address_recovers_through_fixup() {
        // SAFETY: nothing maps UNMAPPED: the write can only fault.
        #[allow(unsafe_code)]
        let fault = unsafe { probe::write_u8(UNMAPPED, 1) }
            .err()
            .ok_or("write to an unmapped page succeeded")?;
        ensure_eq!(
            fault,
            PageFault {
                error_code: PF_WRITE,
                address: UNMAPPED
            }
        );
        Ok(())
    }
);

ktest!(
    fn write_to_read_only_data_faults_with_present_write() {
        let addr = READ_ONLY_BYTES.as_ptr() as u64;
        ensure!(
            addr >= kernel_image().rodata.0 && addr < kernel_image().rodata.1,
            "not in rodata: {addr:#x}"
        );
        // SAFETY: a rodata byte (checked above): the write faults unless
        // protections are broken, which is what this test reports.
        #[allow(unsafe_code)]
        let fault = unsafe { probe::write_u8(addr, 0) }
            .err()
            .ok_or("rodata was writable")?;
        ensure_eq!(
            fault,
            PageFault {
                error_code: PF_PRESENT | PF_WRITE,
                address: addr
            }
        );
        ensure_eq!(READ_ONLY_BYTES[0], b'r');
        Ok(())
    }
);

ktest!(
    fn write_to_kernel_text_faults() {
        let addr = kernel_image().text.0 + 16;
        // SAFETY: kernel text, mapped read+execute: the write faults
        // unless protections are broken, which is what this test reports.
        #[allow(unsafe_code)]
        let fault = unsafe { probe::write_u8(addr, 0xcc) }
            .err()
            .ok_or("text was writable")?;
        ensure_eq!(fault.error_code, PF_PRESENT | PF_WRITE);
        Ok(())
    }
);

ktest!(
    fn reading_text_and_rodata_works() {
        // SAFETY: kernel text and a shared static: plain memory nobody
        // owns exclusively.
        #[allow(unsafe_code)]
        let (text, rodata) = unsafe {
            (
                probe::read_u8(kernel_image().text.0),
                probe::read_u8(READ_ONLY_BYTES.as_ptr() as u64),
            )
        };
        ensure!(text.is_ok());
        ensure_eq!(rodata, Ok(b'r'));
        Ok(())
    }
);

ktest!(
    fn executing_a_heap_page_faults_nx() {
        // `ret` on the heap: mapped RW+NX, so the fetch must fault.
        let code = Box::new([0xc3u8; 64]);
        let addr = code.as_ptr() as u64;
        // SAFETY: the bytes are `ret`: harmless even if NX failed.
        #[allow(unsafe_code)]
        let fault = unsafe { probe::call(addr) }
            .err()
            .ok_or("executed code on a heap (data) page")?;
        ensure_eq!(
            fault,
            PageFault {
                error_code: PF_PRESENT | PF_FETCH,
                address: addr
            }
        );
        Ok(())
    }
);

ktest!(
    fn executing_a_stack_page_faults_nx() {
        let code = [0xc3u8; 16];
        let addr = core::hint::black_box(&code).as_ptr() as u64;
        // SAFETY: the bytes are `ret`: harmless even if NX failed.
        #[allow(unsafe_code)]
        let fault = unsafe { probe::call(addr) }
            .err()
            .ok_or("executed code on the stack")?;
        ensure_eq!(fault.error_code, PF_PRESENT | PF_FETCH);
        Ok(())
    }
);

ktest!(
    fn executing_the_direct_map_faults_nx() {
        let f = sk_machine::paging::frames()
            .allocate_frame()
            .ok_or("no frame")?;
        let addr = sk_machine::layout::phys_to_virt(f);
        // SAFETY: `f` is a frame this test allocated and owns; it writes a
        // `ret` into it and calls it (harmless even if the direct map were
        // executable), then frees it, referred to by nothing.
        #[allow(unsafe_code)]
        let result = unsafe {
            probe::write_u8(addr, 0xc3).map_err(|e| format!("{e:?}"))?;
            let result = probe::call(addr);
            sk_machine::paging::frames().free_frame(f);
            result
        };
        ensure!(result.is_err(), "the direct map is executable");
        Ok(())
    }
);

#[unsafe(naked)]
extern "C" fn just_return() {
    core::arch::naked_asm!("ret");
}

ktest!(
    fn calling_kernel_text_works() {
        // SAFETY: `just_return` is a `ret`.
        #[allow(unsafe_code)]
        let result = unsafe { probe::call(just_return as *const () as u64) };
        ensure_eq!(result, Ok(()));
        Ok(())
    }
);

ktest!(
    fn kernel_stacks_have_unmapped_guard_pages() {
        let stack = KernelStack::allocate(2).map_err(|e| format!("{e:?}"))?;
        let guard = stack.guard_page();
        // SAFETY: the guard page is unmapped (the read faults, or the test
        // fails); the stack's bottom byte belongs to this test's stack,
        // which nothing runs on.
        #[allow(unsafe_code)]
        let (below, inside) =
            unsafe { (probe::read_u8(guard + 8), probe::read_u8(stack.bottom())) };
        stack.free();
        ensure!(inside.is_ok(), "stack bottom not mapped");
        ensure_eq!(below.err().map(|f| f.error_code), Some(0));
        Ok(())
    }
);

#[inline(never)]
#[allow(unconditional_recursion)] // Overflowing the stack is the point.
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[7]
}

ktest!(
    #[double_fault]
    fn stack_overflow_reaches_the_double_fault_handler() {
        let n = recurse(0);
        Err(format!("recursion returned {n}"))
    }
);
