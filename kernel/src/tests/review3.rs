//! The attacker's third review: the executable-scheduler work's entry
//! paths and objects (native `yield`/`sleep`, `/dev/semaphore`, the
//! executable ready queue, lazy FP state), driven by `/bin/vandal` (one
//! mode per start argument, see its table); the registers after P, V,
//! `yield`, `sleep`, the first FP instruction and timer switches are in
//! `/bin/regcheck` (`registers.rs`).
//!
//! Every test also checks the scheduler (`sched_check`: no thread lost,
//! none blocked on nothing, the ring's code one cycle through exactly its
//! members), that no sleep-queue or semaphore entry names a dead thread,
//! and that the kernel carries on.

use super::programs::run;
use super::review::kernel_carries_on;
use alloc::format;
use alloc::string::String;
use sk_abi::ScpuState;
use sk_ktest::{ensure, ensure_eq, ktest};

const VANDAL: &str = "/bin/vandal";
/// Exit status of a program the kernel killed.
const KILLED: i32 = 137;

fn arg(mode: u64, param: u64) -> u64 {
    mode | param << 8
}

/// The scheduler's self-check and no stale waiter.
fn scheduler_sound() -> Result<(), String> {
    sk_core::testing::sched_check()?;
    let (stale, _) = sk_core::testing::stale_waiters();
    ensure_eq!(stale, 0);
    Ok(())
}

fn vandal(mode: u64, param: u64, want: i32) -> Result<(), String> {
    ensure_eq!(run(VANDAL, arg(mode, param))?, want);
    scheduler_sound()?;
    kernel_carries_on()
}

ktest!(
    fn sleepers_suspended_resumed_killed_and_left_asleep_at_exit() {
        let (_, before) = sk_core::testing::stale_waiters();
        vandal(0, 0, 0)?;
        let (_, after) = sk_core::testing::stale_waiters();
        ensure_eq!(after, before);
        Ok(())
    }
);

ktest!(
    fn semaphore_hostile_buffers_kills_grants_closes_and_exit_while_blocked() {
        vandal(1, 0, 0)
    }
);

ktest!(
    fn semaphore_last_running_scpu_ends_itself_while_others_block_in_p() {
        let id = sk_core::spawn_program(VANDAL, arg(1, 1)).map_err(|e| format!("spawn: {e}"))?;
        // Until the program's every SCPU blocks (main on its "done"
        // semaphore, the orchestrating SCPU and 3 waiters in P on another,
        // 4 earlier waiters asleep after their P) and the last running one
        // ended itself: 9 SCPUs, all blocked.
        let mut yields = 0u64;
        loop {
            let states = sk_core::testing::program_thread_states(id);
            if states.len() == 9 && states.iter().all(|&s| s == ScpuState::Blocked) {
                break;
            }
            ensure!(
                sk_core::testing::program_exit_status(id).is_none(),
                "vandal exited: {:?}",
                sk_core::testing::program_exit_status(id)
            );
            sk_core::yield_now();
            yields += 1;
            ensure!(yields < 2_000_000, "never all blocked: {states:?}");
        }
        scheduler_sound()?;
        sk_core::release_program(id);
        scheduler_sound()?;
        kernel_carries_on()
    }
);

ktest!(
    fn ring_churn_of_quanta_priorities_suspends_kills_and_self_ends_keeps_fp() {
        let before = sk_core::fp::stats();
        vandal(2, 0, 0)?;
        let after = sk_core::fp::stats();
        ensure_eq!(after.repeated, before.repeated);
        ensure_eq!(after.areas_live, before.areas_live);
        Ok(())
    }
);

ktest!(
    fn fp_pending_exceptions_wild_mxcsr_and_dirty_avx_across_switches() {
        let before = sk_core::fp::stats();
        vandal(3, 0, 0)?;
        ensure_eq!(sk_core::fp::stats().areas_live, before.areas_live);
        Ok(())
    }
);

ktest!(
    fn first_fp_instruction_that_faults_after_its_nm_kills_only_its_program() {
        for (param, vector) in [(0, 14), (1, 14), (2, 13)] {
            let before = sk_core::fp::stats();
            vandal(4, param, KILLED)?;
            let trap = sk_machine::traps::last_user_trap().map(|t| t.0);
            ensure_eq!(trap, Some(vector));
            let after = sk_core::fp::stats();
            ensure!(
                after.first_uses >= before.first_uses + 3,
                "no #NM of the faulter: {after:?}"
            );
            ensure_eq!(after.areas_live, before.areas_live);
            ensure_eq!(after.repeated, before.repeated);
        }
        Ok(())
    }
);

ktest!(
    fn smach_priority_rebuilding_every_switch_code_keeps_interrupts_masked_briefly() {
        let khz = sk_machine::tsc::frequency_hz() / 1000;
        let id = sk_core::spawn_program(VANDAL, arg(5, khz)).map_err(|e| format!("spawn: {e}"))?;
        let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
        sk_core::release_program(id);
        ensure_eq!(status?, 0);
        scheduler_sound()?;
        kernel_carries_on()
    }
);
