//! SIOs shared between SMACHs, and revocation (`/bin/sharetest`, see its
//! module doc for each mode), each on the synthesized path and with every
//! call forced down the generic path; the revocation race's self-check
//! with the revoke's replug removed; the leak check of sharing.

use super::leaks::Baseline;
use super::programs::run;
use alloc::string::String;
use sk_ktest::{ensure_eq, ktest};

fn sharetest(mode: u64, generic: bool, param: u64) -> Result<i32, String> {
    run(
        "/bin/sharetest",
        (mode << 40) | (u64::from(generic) << 32) | (param & 0xffff_ffff),
    )
}

fn both(mode: u64, param: u64) -> Result<(), String> {
    for generic in [false, true] {
        ensure_eq!(sharetest(mode, generic, param)?, 0);
    }
    Ok(())
}

ktest!(
    fn share_a_file_semaphore_and_pipe_ends_with_a_child_that_uses_them() {
        both(0, 0)
    }
);

ktest!(
    fn share_read_only_stays_read_only_on_both_paths() {
        both(1, 0)
    }
);

ktest!(
    fn share_revoke_race_no_holder_call_completes_after_10000_revokes() {
        both(2, 10_000)
    }
);

ktest!(
    fn share_revoke_between_pieces_of_a_long_write_stops_it() {
        both(3, 0)
    }
);

ktest!(
    fn share_revoke_wakes_a_holder_blocked_in_p_a_pipe_read_or_a_console_read() {
        both(4, 0)
    }
);

ktest!(
    fn share_hostile_bad_handles_rights_non_owners_twice_close_and_exit() {
        both(5, 0)
    }
);

ktest!(
    fn share_revoke_race_check_fails_without_the_replug() {
        // The self-check: with the revoke's replug of the holder's slots
        // removed, the child's synthesized V goes on after revoke returns,
        // and sharetest mode 7 exits 0 only if the race check saw it.
        sk_core::testing::inject_skip_revoke_replug(true);
        let status = sharetest(7, false, 0);
        sk_core::testing::inject_skip_revoke_replug(false);
        ensure_eq!(status?, 0);
        Ok(())
    }
);

ktest!(
    fn share_revoke_with_the_heap_full_still_replugs_every_holder() {
        // The revoke's own lists cannot grow (the heap full, injected):
        // every holder must still be marked and replugged, or its
        // synthesized V (and a port's send) would go on after the revoke
        // returned, and on the freed object after the owner's close. The
        // race check (mode 2) sees any holder call completing after it.
        sk_core::testing::inject_revoke_reserve_failure(true);
        let status = sharetest(2, false, 300);
        sk_core::testing::inject_revoke_reserve_failure(false);
        ensure_eq!(status?, 0);
        sk_core::testing::sched_check()?;
        Ok(())
    }
);

ktest!(
    fn share_pipe_ping_pong_between_two_smachs() {
        both(6, 2_000)
    }
);

ktest!(
    fn share_and_revoke_leak_nothing() {
        let workload = || -> Result<(), String> {
            for mode in [0, 1, 4, 5] {
                ensure_eq!(sharetest(mode, false, 0)?, 0);
            }
            ensure_eq!(sharetest(2, false, 300)?, 0);
            super::leaks::clean_tmp()
        };
        workload()?;
        let baseline = Baseline::take();
        workload()?;
        baseline.check("sharing")
    }
);
