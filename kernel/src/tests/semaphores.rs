//! Semaphores between SCPUs, `yield` and `sleep` (`/bin/semtest`, see its
//! module doc for each mode), each on the synthesized path and with every
//! call forced down the generic path.

use super::programs::run;
use alloc::string::String;
use sk_ktest::{ensure_eq, ktest};

/// `/bin/semtest` in `mode`, generic or not; its exit status.
fn semtest(mode: u64, generic: bool) -> Result<i32, String> {
    let khz = sk_machine::tsc::frequency_hz() / 1000;
    run(
        "/bin/semtest",
        (mode << 40) | (u64::from(generic) << 32) | (khz & 0xffff_ffff),
    )
}

fn both(mode: u64) -> Result<(), String> {
    for generic in [false, true] {
        ensure_eq!(semtest(mode, generic)?, 0);
    }
    Ok(())
}

ktest!(
    fn semaphore_producers_and_consumers_move_every_item_once() {
        both(0)
    }
);

ktest!(
    fn semaphore_mutual_exclusion_keeps_every_increment() {
        both(1)?;
        // The self-check: without the semaphore the same program loses
        // increments (semtest mode 7 exits 0 when it did).
        ensure_eq!(semtest(7, false)?, 0);
        Ok(())
    }
);

ktest!(
    fn semaphore_ping_pong_loses_no_wake_up_under_timer_pressure() {
        both(2)
    }
);

ktest!(
    fn scpu_sleep_lasts_at_least_the_guest_time_asked() {
        both(3)
    }
);

ktest!(
    fn scpu_yield_lets_an_equal_priority_scpu_run() {
        both(4)
    }
);

ktest!(
    fn semaphore_hostile_closed_stale_killed_and_foreign_handles() {
        both(5)
    }
);
