//! Ports between SCPUs (`/bin/porttest`, see its module doc for each
//! mode), each on the table path (synthesized `port_send` and
//! `port_receive`) and with every call forced down the generic path; after
//! each, the scheduler's self-check (no thread left Blocked on nothing,
//! every port sleeper on a port's list).

use super::programs::run;
use alloc::string::String;
use sk_ktest::{ensure, ensure_eq, ktest};

fn both(mode: u64) -> Result<(), String> {
    for generic in [false, true] {
        ensure_eq!(run("/bin/porttest", (mode << 8) | u64::from(generic))?, 0);
        let check = sk_core::testing::sched_check();
        ensure!(check.is_ok(), "scheduler self-check: {check:?}");
    }
    Ok(())
}

ktest!(
    fn port_transfers_200_messages_blocking_both_ways() {
        both(0)
    }
);

ktest!(
    fn port_end_of_stream_and_broken_port_wake_the_other_end() {
        both(1)
    }
);

ktest!(
    fn port_many_senders_and_receivers_exactly_once_in_sender_order() {
        both(2)
    }
);

ktest!(
    fn port_hostile_arguments_get_errors_and_move_nothing() {
        both(3)
    }
);

ktest!(
    fn port_differential_100000_operations_synthesized_vs_generic() {
        both(4)
    }
);

ktest!(
    fn port_passes_a_handle_to_another_smach_read_only_once_and_never_stale() {
        // Mode 8 starts its own child in mode 9; the generic bit rides along.
        both(8)?;
        // Grants left in a queue die with the receive end: nothing kept.
        let baseline = super::leaks::Baseline::take();
        both(8)?;
        baseline.check("porttest handles")
    }
);

/// Port workloads with sleepers, wakes, closes and every error path:
/// `ends`, `many` and `hostile` on both paths.
fn port_workloads() -> Result<(), String> {
    for mode in [1, 2, 3] {
        both(mode)?;
    }
    Ok(())
}

ktest!(
    fn port_workloads_leave_no_trace() {
        // The first run grows the kernel's containers to their working
        // size; the second must give back exactly what it took (queues,
        // SIOs, routines, waiter lists).
        port_workloads()?;
        let baseline = super::leaks::Baseline::take();
        port_workloads()?;
        baseline.check("porttest ends, many, hostile")
    }
);

ktest!(
    fn port_grants_resist_forged_tokens_reuse_and_self_passing_without_leaks() {
        // Mode 10 (review6): forged and foreign tokens, escalation, a
        // reused handle number, ports through themselves closed with
        // grants in flight; the second run must keep nothing.
        both(10)?;
        let baseline = super::leaks::Baseline::take();
        both(10)?;
        baseline.check("porttest grants")
    }
);
