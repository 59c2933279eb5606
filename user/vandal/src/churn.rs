//! Mode 2: SCPUs reconfigured, suspended, killed and replaced while they keep XMM patterns, yield, sleep and end.

use super::*;

/// Loads `value` into xmm0-15.
pub(super) fn load_xmm(value: u64) {
    let v = [value, !value];
    // SAFETY: loads the XMM registers from a local (this SCPU's own FP state).
    unsafe {
        asm!(
            "movdqu xmm0, [{v}]", "movdqu xmm1, [{v}]", "movdqu xmm2, [{v}]",
            "movdqu xmm3, [{v}]", "movdqu xmm4, [{v}]", "movdqu xmm5, [{v}]",
            "movdqu xmm6, [{v}]", "movdqu xmm7, [{v}]", "movdqu xmm8, [{v}]",
            "movdqu xmm9, [{v}]", "movdqu xmm10, [{v}]", "movdqu xmm11, [{v}]",
            "movdqu xmm12, [{v}]", "movdqu xmm13, [{v}]", "movdqu xmm14, [{v}]",
            "movdqu xmm15, [{v}]",
            v = in(reg) v.as_ptr(),
            options(nostack, readonly),
        );
    }
}

/// True if every XMM register holds what [`load_xmm`] put there.
fn xmm_hold(value: u64) -> bool {
    let mut out = [0u64; 32];
    // SAFETY: stores the XMM registers into a local.
    unsafe {
        asm!(
            "movdqu [{o}], xmm0", "movdqu [{o} + 16], xmm1", "movdqu [{o} + 32], xmm2",
            "movdqu [{o} + 48], xmm3", "movdqu [{o} + 64], xmm4", "movdqu [{o} + 80], xmm5",
            "movdqu [{o} + 96], xmm6", "movdqu [{o} + 112], xmm7", "movdqu [{o} + 128], xmm8",
            "movdqu [{o} + 144], xmm9", "movdqu [{o} + 160], xmm10", "movdqu [{o} + 176], xmm11",
            "movdqu [{o} + 192], xmm12", "movdqu [{o} + 208], xmm13", "movdqu [{o} + 224], xmm14",
            "movdqu [{o} + 240], xmm15",
            o = in(reg) out.as_mut_ptr(),
            options(nostack),
        );
    }
    out.chunks(2).all(|c| c == [value, !value])
}

extern "C" fn churner(slot: u64) -> ! {
    let me = scpu(slot);
    let fp = slot.is_multiple_of(2);
    let mut rng = Rng(slot.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    let mut value = rng.next();
    // A few spins first: the first FP use (#NM) comes at a random moment.
    for _ in 0..rng.below(50_000) {
        core::hint::spin_loop();
    }
    if fp {
        load_xmm(value);
    }
    loop {
        if fp && !xmm_hold(value) {
            fail(format_args!("SCPU {slot}: XMM registers changed"));
            load_xmm(value);
        }
        match rng.below(1000) {
            0 => {
                // Ends itself with its FP state live; main replaces it.
                FLAGS[slot as usize].store(1, Ordering::Release);
                let _ = scpu(slot).terminate(0);
            }
            1..=20 => {
                let _ = me.yield_now();
            }
            21..=30 => {
                let _ = me.sleep_ns(rng.below(200_000));
            }
            31..=40 if fp => {
                value = rng.next();
                load_xmm(value);
            }
            41..=45 => {
                let _ = me.set_quantum(100 + rng.below(3) as u32 * 10_000);
            }
            _ => {}
        }
        // Yield every turn: twelve spinners with one-tick quanta would
        // leave the orchestrator a tick in thirteen.
        let _ = me.yield_now();
        if STOP.load(Ordering::Relaxed) {
            loop {
                let _ = me.sleep_ns(MAX_SLEEP_NS);
            }
        }
    }
}

pub(super) fn churn() {
    let mut live: [Option<usize>; 12] = [None; 12];
    for slot in &mut live {
        *slot = start(churner, 0, 100);
    }
    let mut rng = Rng(0xc4a5_e000_0001);
    let quanta = [0, 1, 100, u32::MAX];
    for _ in 0..1_500 {
        let i = rng.below(live.len() as u64) as usize;
        let Some(s) = live[i] else {
            if (NEXT_STACK.load(Ordering::Relaxed) as usize) < SLOTS {
                live[i] = start(churner, rng.below(8) as u32, 100);
            }
            continue;
        };
        let target = scpu(s as u64);
        if FLAGS[s].load(Ordering::Acquire) == 1 {
            // It ended itself: its handle is closed.
            live[i] = None;
            continue;
        }
        let r = match rng.below(6) {
            0 => {
                let q = quanta[rng.below(4) as usize];
                let r = target.set_quantum(q);
                if q == 0 && r != Err(SysError::BadValue) {
                    fail(format_args!("quantum 0: {r:?}"));
                }
                if q == 0 {
                    Ok(())
                } else {
                    r
                }
            }
            1 => {
                let p = rng.below(9) as u32;
                let r = target.set_priority(p);
                if p > 7 && r != Err(SysError::BadValue) {
                    fail(format_args!("priority {p}: {r:?}"));
                }
                Ok(())
            }
            2 => target.suspend(),
            3 => target.resume(),
            4 if rng.below(8) == 0 => {
                let r = target.terminate(0);
                live[i] = None;
                r
            }
            _ => Ok(()),
        };
        // A target that ended itself meanwhile: BadHandle.
        if let Err(e) = r {
            if e != SysError::BadHandle {
                fail(format_args!("reconfigure SCPU {s}: {e:?}"));
            }
        }
        if rng.below(4) == 0 {
            let _ = me().yield_now();
        }
    }
    STOP.store(true, Ordering::Release);
    for s in live.into_iter().flatten() {
        let _ = scpu(s as u64).resume();
    }
}
