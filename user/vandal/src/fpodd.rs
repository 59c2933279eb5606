//! Mode 3: odd FP states (pending x87 exceptions, MXCSR, dirty AVX) across calls and switches.

use super::*;

/// Unmasks x87 divide-by-zero and divides by zero without a waiting
/// instruction after: the exception is pending (FSW.ES), raised as `#MF`
/// by the next waiting x87 instruction only.
fn pend_x87_exception() {
    let fcw: u16 = 0x037f & !(1 << 2);
    // SAFETY: x87 state of this SCPU; `fnstsw` (non-waiting) reads back.
    unsafe {
        asm!(
            "fninit",
            "fldcw [{c}]",
            "fld1",
            "fldz",
            "fdivp st(1), st",
            c = in(reg) &raw const fcw,
            options(nostack, readonly),
        );
    }
}

/// FSW (non-waiting read).
fn fsw() -> u16 {
    let s: u16;
    // SAFETY: reads the x87 status word.
    unsafe { asm!("fnstsw ax", out("ax") s, options(nomem, nostack)) };
    s
}

fn clear_x87() {
    // SAFETY: `fninit` resets the x87 state (non-waiting: no #MF).
    unsafe { asm!("fninit", options(nomem, nostack)) };
}

/// Ends itself (or waits to be killed, param 1) with a pending x87
/// exception in the live registers.
extern "C" fn pending_then_gone(slot: u64) -> ! {
    pend_x87_exception();
    FLAGS[slot as usize].store(1, Ordering::Release);
    if slot.is_multiple_of(2) {
        let _ = scpu(slot).terminate(0);
    }
    loop {
        core::hint::spin_loop();
    }
}

/// Its first FP instruction is `fwait` (it has no save area yet): must
/// not be `#MF` from someone else's pending exception.
extern "C" fn lazy_fwait(slot: u64) -> ! {
    // SAFETY: `fwait` raises a pending unmasked x87 exception if any.
    unsafe { asm!("fwait", options(nomem, nostack)) };
    let s = fsw();
    FLAGS[slot as usize].store(2 | u64::from(s) << 8, Ordering::Release);
    loop {
        let _ = scpu(slot).sleep_ns(MAX_SLEEP_NS);
    }
}

/// Main's own calls, yields and sleeps with `f` between: a helper SCPU
/// with a handle does the yields and sleeps; main makes null calls and
/// spins across timer switches.
fn busy_with_switches() {
    for _ in 0..100 {
        let _ = sk_user::null_call();
    }
    // Timer switches: spin long enough for a few ticks.
    for _ in 0..10_000_000 {
        core::hint::spin_loop();
    }
}

extern "C" fn odd_yielder(slot: u64) -> ! {
    let me = scpu(slot);
    // (a) pending x87 exception across yield and sleep.
    pend_x87_exception();
    let before = fsw();
    for _ in 0..20 {
        let _ = me.yield_now();
        let _ = me.sleep_ns(150_000);
    }
    let after = fsw();
    if before & 0x80 == 0 || after != before {
        fail(format_args!(
            "pending x87 exception: FSW {before:#x} before, {after:#x} after"
        ));
    }
    clear_x87();
    // (b) MXCSR with every exception unmasked and every flag set.
    let wild: u32 = 0x003f;
    let mut back: u32 = 0;
    // SAFETY: MXCSR of this SCPU; flags set and unmasked raise nothing
    // until an SSE instruction computes.
    unsafe { asm!("ldmxcsr [{}]", in(reg) &raw const wild, options(nostack, readonly)) };
    for _ in 0..20 {
        let _ = me.yield_now();
        let _ = me.sleep_ns(150_000);
    }
    // SAFETY: stores MXCSR into a local.
    unsafe { asm!("stmxcsr [{}]", in(reg) &raw mut back, options(nostack)) };
    if back != wild {
        fail(format_args!(
            "MXCSR {back:#x} after switches, want {wild:#x}"
        ));
    }
    let default: u32 = 0x1f80;
    // SAFETY: back to the default MXCSR.
    unsafe { asm!("ldmxcsr [{}]", in(reg) &raw const default, options(nostack, readonly)) };
    // (c) dirty AVX upper halves (no vzeroupper) across switches.
    let v: [u64; 4] = [1, 2, 3, 0xdead_beef_0bad_cafe];
    let mut out = [0u64; 4];
    // SAFETY: ymm7 of this SCPU, from and to locals.
    unsafe { asm!("vmovdqu ymm7, [{}]", in(reg) v.as_ptr(), options(nostack, readonly)) };
    for _ in 0..20 {
        let _ = me.yield_now();
        let _ = me.sleep_ns(150_000);
    }
    // SAFETY: as above.
    unsafe { asm!("vmovdqu [{}], ymm7", in(reg) out.as_mut_ptr(), options(nostack)) };
    if out != v {
        fail(format_args!("ymm7 {out:x?} after switches, want {v:x?}"));
    }
    FLAGS[slot as usize].store(1, Ordering::Release);
    loop {
        let _ = me.sleep_ns(MAX_SLEEP_NS);
    }
}

fn has_avx() -> bool {
    let ecx: u32;
    // SAFETY: cpuid leaf 1 (rbx is reserved by LLVM: saved around it).
    unsafe {
        asm!(
            "push rbx", "cpuid", "pop rbx",
            inout("eax") 1u32 => _, inout("ecx") 0u32 => ecx, out("edx") _,
            options(nomem)
        );
    }
    ecx & (1 << 28) != 0 && ecx & (1 << 27) != 0
}

pub(super) fn fpodd() {
    if !has_avx() {
        println!("vandal: no AVX: the ymm case runs anyway and would #UD");
    }
    let Some(y) = start(odd_yielder, 0, 100) else {
        return;
    };
    // Main: pending x87 exception across calls and timer switches.
    pend_x87_exception();
    let before = fsw();
    busy_with_switches();
    if fsw() != before || before & 0x80 == 0 {
        fail(format_args!("main: FSW {before:#x} then {:#x}", fsw()));
    }
    clear_x87();
    if wait_flag(y) != 1 {
        fail(format_args!("the odd yielder did not finish"));
    }
    // An SCPU ends itself / is killed with a pending exception; then an
    // SCPU without FP state and main (with FP state) `fwait`.
    for round in 0..4 {
        let Some(g) = start(pending_then_gone, 0, 100) else {
            return;
        };
        wait_flag(g);
        if g % 2 == 1 {
            kill(g);
        }
        let Some(l) = start(lazy_fwait, 0, 100) else {
            return;
        };
        wait_flag(l);
        let f = FLAGS[l].load(Ordering::Acquire);
        if f & 0xff != 2 || (f >> 8) & 0x80 != 0 {
            fail(format_args!(
                "round {round}: the lazy SCPU's fwait: flag {f:#x}"
            ));
        }
        // SAFETY: `fwait` on main's own x87 state (no exception pending).
        unsafe { asm!("fwait", options(nomem, nostack)) };
    }
}
