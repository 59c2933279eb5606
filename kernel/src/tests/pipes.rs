//! Pipes between SCPUs (`/bin/pipetest`, see its module doc for each
//! mode), each on the table path and with every call forced down the
//! generic path; after each, the scheduler's self-check (no thread left
//! Blocked on nothing, every pipe sleeper on a pipe's list).

use super::programs::run;
use alloc::string::String;
use sk_ktest::{ensure, ensure_eq, ktest};

fn both(mode: u64) -> Result<(), String> {
    for generic in [false, true] {
        ensure_eq!(run("/bin/pipetest", (mode << 8) | u64::from(generic))?, 0);
        let check = sk_core::testing::sched_check();
        ensure!(check.is_ok(), "scheduler self-check: {check:?}");
    }
    Ok(())
}

ktest!(
    fn pipe_transfers_1_1024_4096_and_65536_bytes_blocking_both_ways() {
        both(0)
    }
);

ktest!(
    fn pipe_end_of_file_and_broken_pipe_wake_the_other_end() {
        both(1)
    }
);

ktest!(
    fn pipe_writes_up_to_4096_bytes_never_interleave() {
        both(2)
    }
);

ktest!(
    fn pipe_many_writers_and_readers_move_every_byte_once() {
        both(3)
    }
);

ktest!(
    fn pipe_hostile_arguments_get_errors_and_lose_nothing() {
        both(4)
    }
);

ktest!(
    fn pipe_ping_pong_between_two_scpus() {
        both(5)
    }
);

ktest!(
    fn pipe_synthesized_and_generic_agree_on_100000_random_operations() {
        // One run: the program compares its synthesized pipe with a
        // generic one itself.
        ensure_eq!(run("/bin/pipetest", 12 << 8)?, 0);
        let check = sk_core::testing::sched_check();
        ensure!(check.is_ok(), "scheduler self-check: {check:?}");
        Ok(())
    }
);

ktest!(
    fn pipe_to_console_program_pipe_tty_collapses_to_the_console_routine() {
        // Eager synthesis: the subject is the routine made at open.
        let _eager = sk_core::testing::EagerSynthesis::new();
        // `program | tty`: the write end's routine is the console's
        // collapsed write; the generic path is the layered one.
        ensure_eq!(run("/bin/pipetest", 13 << 8)?, 0);
        let check = sk_core::testing::sched_check();
        ensure!(check.is_ok(), "scheduler self-check: {check:?}");
        Ok(())
    }
);
