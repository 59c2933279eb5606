//! Mode 0: SCPUs asleep, suspended, resumed and killed; sleep calls and their limits.

use super::*;

extern "C" fn sleep_forever(slot: u64) -> ! {
    let me = scpu(slot);
    loop {
        let r = me.sleep_ns(MAX_SLEEP_NS);
        // A resume wakes nobody early: the sleep goes on inside the call.
        FLAGS[slot as usize].store(1, Ordering::Release);
        fail(format_args!("a sleep of MAX_SLEEP_NS returned: {r:?}"));
    }
}

extern "C" fn sleep_short(slot: u64) -> ! {
    let me = scpu(slot);
    let mut rng = Rng(slot.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    loop {
        let ns = rng.below(300_000);
        if let Err(e) = me.sleep_ns(ns) {
            fail(format_args!("sleep {ns}: {e:?}"));
        }
        FLAGS[slot as usize].fetch_add(1, Ordering::Relaxed);
    }
}

pub(super) fn sleepers() {
    let (Some(a), Some(b)) = (start(sleep_forever, 0, 100), start(sleep_forever, 0, 100)) else {
        return;
    };
    wait_state(a, ScpuState::Blocked);
    wait_state(b, ScpuState::Blocked);
    for _ in 0..20 {
        let _ = scpu(a as u64).suspend();
        wait_state(a, ScpuState::Suspended);
        let _ = scpu(a as u64).resume();
        // Woken by the resume, it finds its deadline far off and sleeps again.
        wait_state(a, ScpuState::Blocked);
    }
    kill(a);
    if scpu(a as u64).query() != Err(SysError::BadHandle) {
        fail(format_args!("a killed sleeper's handle still answers"));
    }
    // Short sleepers, suspended, resumed, killed and replaced at random.
    let mut live: [Option<usize>; 8] = [None; 8];
    let mut rng = Rng(0x5eed_0001);
    for round in 0..400 {
        let i = rng.below(live.len() as u64) as usize;
        match (live[i], rng.below(4)) {
            (None, _) => {
                if NEXT_STACK.load(Ordering::Relaxed) as usize + 2 < SLOTS {
                    live[i] = start(sleep_short, (round % 8) as u32, 100);
                }
            }
            (Some(s), 0) => {
                kill(s);
                live[i] = None;
            }
            (Some(s), 1) => {
                let _ = scpu(s as u64).suspend();
            }
            (Some(s), _) => {
                let _ = scpu(s as u64).resume();
            }
        }
        let _ = me().sleep_ns(rng.below(100_000));
    }
    // Our own sleeps need a handle of our own: a helper does them.
    let Some(c) = start(sleep_calls, 0, 100) else {
        return;
    };
    if wait_flag(c) != 1 {
        fail(format_args!("the sleep calls did not finish"));
    }
    for s in live.into_iter().flatten() {
        let _ = scpu(s as u64).resume();
    }
    if FLAGS[a].load(Ordering::Acquire) != 0 || FLAGS[b].load(Ordering::Acquire) != 0 {
        fail(format_args!("a sleeper for MAX_SLEEP_NS woke"));
    }
    // Ends the program while `b` sleeps for days (and the short ones sleep).
}

/// Many tiny sleeps and the refused ones; then ends itself.
extern "C" fn sleep_calls(slot: u64) -> ! {
    let me = scpu(slot);
    for ns in [MAX_SLEEP_NS + 1, u64::MAX] {
        if me.sleep_ns(ns) != Err(SysError::BadValue) {
            fail(format_args!("a sleep of {ns} ns was not BadValue"));
        }
    }
    for _ in 0..20_000 {
        if let Err(e) = me.sleep_ns(1) {
            fail(format_args!("sleep 1 ns: {e:?}"));
        }
    }
    for _ in 0..1_000 {
        if let Err(e) = me.sleep_ns(0) {
            fail(format_args!("sleep 0 ns: {e:?}"));
        }
    }
    FLAGS[slot as usize].store(1, Ordering::Release);
    // Queried as Exited by main until the handle is closed: end by a
    // terminate of our own handle.
    let _ = me.terminate(0);
    sk_user::exit(1)
}
