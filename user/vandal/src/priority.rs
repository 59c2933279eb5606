//! Mode 5: priority changes that rebuild every SCPU's switch code, timed.

use super::*;

static SMALL_STACKS: [Stack<1024>; 62] = [const { Stack::new() }; 62];

extern "C" fn asleep(_arg: u64) -> ! {
    loop {
        // No handle of its own: it blocks in P on a semaphore nobody V's.
        let _ = Sio::from_handle(Handle::new(SEM.load(Ordering::Acquire))).p();
    }
}

/// `tsc_khz`: the TSC's frequency (the kernel test passes it).
pub(super) fn priority(tsc_khz: u64) {
    let sem = match Sio::semaphore() {
        Ok(s) => s,
        Err(e) => return fail(format_args!("open: {e:?}")),
    };
    SEM.store(sem.handle().index(), Ordering::Release);
    let mut made = 0;
    for stack in &SMALL_STACKS {
        let Some(stack) = stack.take() else {
            break;
        };
        // The default quantum: its ticks scale with the priority, so every
        // change of priority changes a fact the switch code bakes in.
        match Scpu::create_with(asleep, stack, 0, 0, 0) {
            Ok(_) => made += 1,
            Err(e) => {
                println!("vandal: priority: SCPU {made}: {e:?}");
                break;
            }
        }
    }
    let me_smach = sk_user::Smach::from_handle(Handle::SELF);
    let mut longest = 0;
    for round in 0..16u32 {
        let t0 = sk_user::rdtsc();
        let r = me_smach.set_priority(if round % 2 == 0 { 0 } else { 7 });
        let ticks = sk_user::rdtsc().wrapping_sub(t0);
        if let Err(e) = r {
            fail(format_args!("priority: {e:?}"));
        }
        longest = longest.max(ticks);
    }
    println!(
        "vandal: priority: longest of 16 calls over {} SCPUs: {longest} ticks",
        made + 2
    );
    // The bound `cpuhog` holds every long call to: 20 ms.
    if longest > tsc_khz.saturating_mul(20) {
        fail(format_args!(
            "a priority change kept interrupts masked {longest} ticks (> 20 ms)"
        ));
    }
}
