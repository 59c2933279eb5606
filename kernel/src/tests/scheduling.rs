//! Both schedulers (the generic round robin, and the executable ready
//! queue with `sched=ring`): many SCPUs created, suspended, resumed and
//! finished in random order with correct results, the ring's code checked
//! against its policy throughout (docs/executable-scheduler.md).

use super::programs::worker_status;
use alloc::format;
use alloc::vec::Vec;
use sk_core::ProgramId;
use sk_ktest::{ensure, ktest};

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// With `sched=ring`: the jumps in the code form one cycle through exactly
/// the runnable threads. Returns the switches seen so far (0 otherwise).
fn check_ring(when: &str) -> Result<u64, alloc::string::String> {
    match sk_core::testing::ring_check() {
        None => Ok(0),
        Some(Ok((_, switches))) => Ok(switches),
        Some(Err(e)) => Err(format!("{when}: {e}")),
    }
}

ktest!(
    fn scpus_created_suspended_resumed_and_finished_in_random_order() {
        const TOTAL: u64 = 300;
        const AT_ONCE: usize = 30;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut running: Vec<(u64, ProgramId, bool)> = Vec::new();
        let mut next = 0u64;
        let mut finished = 0u64;
        while finished < TOTAL {
            while running.len() < AT_ONCE && next < TOTAL {
                let arg = next * 37;
                let id = sk_core::spawn_program("/bin/worker", arg)
                    .map_err(|e| format!("spawn {next}: {e}"))?;
                running.push((arg, id, false));
                next += 1;
            }
            // Suspend or resume a few at random; let them run.
            for _ in 0..4 {
                let i = rng.below(running.len());
                let (_, id, suspended) = &mut running[i];
                *suspended = !*suspended;
                // A program that already exited refuses; that is fine.
                let _ = sk_core::testing::suspend_program(*id, *suspended);
                check_ring("after suspend/resume")?;
            }
            sk_core::yield_now();
            // Finish one at random (resumed first, or it would never end).
            let i = rng.below(running.len());
            let (arg, id, suspended) = running.swap_remove(i);
            if suspended {
                let _ = sk_core::testing::suspend_program(id, false);
            }
            let status = sk_core::wait_program(id).map_err(|e| format!("wait {arg}: {e}"))?;
            sk_core::release_program(id);
            ensure!(
                status == worker_status(arg),
                "worker {arg}: status {status}, expected {}",
                worker_status(arg)
            );
            finished += 1;
            check_ring("after a wait")?;
        }
        let switches = check_ring("at the end")?;
        sk_machine::println!(
            "scheduling: {TOTAL} programs finished in random order, {switches} ring switches"
        );
        Ok(())
    }
);
