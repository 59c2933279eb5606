//! Mode 4: an SCPU whose first FP instruction faults right after its `#NM`.

use super::*;

extern "C" fn fp_holder(slot: u64) -> ! {
    churn::load_xmm(0x1234_5678_9abc_def0);
    loop {
        let _ = scpu(slot).sleep_ns(MAX_SLEEP_NS);
    }
}

extern "C" fn faulter(param: u64) -> ! {
    let aligned = [0u128; 3];
    let misaligned = (aligned.as_ptr() as u64 + 1) as *const u8;
    // SAFETY: each instruction is this SCPU's first FP one: `#NM` first,
    // then the fault that kills the program. Nothing of ours is written.
    unsafe {
        match param {
            0 => asm!("fxrstor64 [{}]", in(reg) UNMAPPED, options(nostack, readonly)),
            1 => asm!("fxsave64 [{}]", in(reg) KERNEL_ADDR, options(nostack)),
            _ => asm!("movaps xmm0, [{}]", in(reg) misaligned, options(nostack, readonly)),
        }
    }
    println!("vandal: first-use fault {param} did not come");
    sk_user::exit(3)
}

pub(super) fn first_fault(param: u64) {
    for _ in 0..2 {
        let _ = start(fp_holder, 0, 100);
    }
    for _ in 0..50 {
        let _ = me().yield_now();
    }
    let Some(stack) = STACKS.get(SLOTS - 1).and_then(Stack::take) else {
        return;
    };
    if let Err(e) = Scpu::create_with(faulter, stack, param, 0, 100) {
        fail(format_args!("create the faulter: {e:?}"));
        return;
    }
    loop {
        let _ = me().yield_now();
    }
}
