//! The attacker's review of pipes (`/bin/pipetest` modes 6 to 11, see
//! `user/pipetest/src/review.rs`): an end closed under its own blocked
//! threads, blocked threads killed, the atomic-size and capacity
//! boundaries, hostile buffers and handles, a lone SCPU deadlocked on its
//! own pipe, and a SMACH exiting with both ends held and threads blocked
//! on them. Each runs on the table path and forced generic; after each,
//! the scheduler's self-check, no stale sleeper (sleep queue, semaphores,
//! pipes) and, where the workload repeats, the leak check.

use super::leaks::Baseline;
use super::programs::run;
use super::review::kernel_carries_on;
use crate::memory::FRAMES;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sk_abi::{ScpuState, SysError};
use sk_ktest::{ensure, ensure_eq, ktest};
use sk_machine::paging::FrameSource;

const PIPETEST: &str = "/bin/pipetest";

/// The scheduler's self-check, no stale waiter anywhere, no pipe sleeper.
fn sound() -> Result<(), String> {
    sk_core::testing::sched_check()?;
    ensure_eq!(sk_core::testing::stale_waiters().0, 0);
    ensure_eq!(sk_core::testing::pipe_sleepers(), 0);
    Ok(())
}

/// Runs `mode` (with `param`) on the table path and forced generic.
fn both(mode: u64, param: u64) -> Result<(), String> {
    for generic in [false, true] {
        let arg = param << 16 | mode << 8 | u64::from(generic);
        ensure_eq!(run(PIPETEST, arg)?, 0);
        sound()?;
    }
    Ok(())
}

/// Runs `mode` twice on both paths (the first run warms caches up); the
/// second must give back every byte and frame.
fn both_without_leaks(mode: u64, what: &str) -> Result<(), String> {
    both(mode, 0)?;
    let before = Baseline::take();
    both(mode, 0)?;
    before.check(what)?;
    kernel_carries_on()
}

ktest!(
    fn pipe_review_close_of_an_end_wakes_the_threads_blocked_on_it() {
        both(6, 0)
    }
);

ktest!(
    fn pipe_review_blocked_threads_killed_take_and_leave_nothing() {
        both(7, 0)
    }
);

ktest!(
    fn pipe_review_writes_at_the_atomic_size_and_capacity_boundaries() {
        both(8, 0)
    }
);

ktest!(
    fn pipe_review_hostile_buffers_handles_and_a_full_handle_table() {
        both_without_leaks(9, "pipe hostile buffers")
    }
);

ktest!(
    fn pipe_review_smach_exit_with_both_ends_held_and_threads_blocked() {
        both_without_leaks(11, "pipe exit with blocked threads")
    }
);

/// Spawns the lone SCPU deadlocked on its own pipe (`read`: on reading
/// it empty, else on writing past its capacity), checks it blocks with
/// the kernel idle around it (another program runs), then kills it.
fn lone(read: bool, generic: bool) -> Result<(), String> {
    let arg = u64::from(read) << 16 | 10 << 8 | u64::from(generic);
    let id = sk_core::spawn_program(PIPETEST, arg).map_err(|e| format!("spawn: {e}"))?;
    let mut yields = 0u64;
    loop {
        let states = sk_core::testing::program_thread_states(id);
        if states.len() == 1 && states[0] == ScpuState::Blocked {
            break;
        }
        ensure!(
            sk_core::testing::program_exit_status(id).is_none(),
            "the lone SCPU exited: {:?}",
            sk_core::testing::program_exit_status(id)
        );
        sk_core::yield_now();
        yields += 1;
        ensure!(yields < 2_000_000, "never blocked: {states:?}");
    }
    sk_core::testing::sched_check()?;
    ensure_eq!(sk_core::testing::pipe_sleepers(), 1);
    // Blocked for good, as on Linux; the kernel is idle, not hung.
    kernel_carries_on()?;
    let states = sk_core::testing::program_thread_states(id);
    ensure_eq!(states.as_slice(), &[ScpuState::Blocked][..]);
    sk_core::release_program(id);
    sound()
}

ktest!(
    fn pipe_review_lone_scpu_blocked_on_its_own_pipe_leaves_the_kernel_idle() {
        lone(false, false)?;
        let before = Baseline::take();
        for read in [false, true] {
            for generic in [false, true] {
                lone(read, generic)?;
            }
        }
        before.check("lone SCPUs killed while blocked on their pipes")?;
        kernel_carries_on()
    }
);

ktest!(
    fn pipe_review_pipes_made_with_the_heap_unable_to_grow_fail_with_no_memory() {
        // What a hostile program reaches with user memory squeezed to the
        // kernel's reserve and pipes made in several SMACHs (511 a SMACH,
        // 16 KiB each): the heap cannot grow. Every free frame is taken
        // here, so the heap has only what it already mapped.
        let mut hoard =
            sk_core::testing::PipeHoard::new(8192).map_err(|e| format!("the hoard's list: {e}"))?;
        let mut frames: Vec<u64> = Vec::new();
        frames
            .try_reserve_exact(FRAMES.free_count() + 64)
            .map_err(|_| "no room for the frame list")?;
        while frames.len() < frames.capacity() {
            match FRAMES.allocate_frame() {
                Some(f) => frames.push(f),
                None => break,
            }
        }
        let (made, failure) = hoard.fill();
        // Then the last small pieces: a read that blocks now must fail
        // its registration softly.
        let crumbs = hoard.crumble();
        let registered = sk_core::testing::register_pipe_sleeper(u64::MAX, u64::MAX);
        drop(hoard);
        for f in frames {
            // SAFETY: allocated above by this test, referred to by nothing.
            #[allow(unsafe_code)]
            unsafe {
                FRAMES.free_frame(f)
            };
        }
        sk_machine::println!(
            "pipes made before the heap ran out: {made}; then {crumbs} crumbs; a sleeper's registration: {registered:?}"
        );
        ensure_eq!(failure, Some(SysError::NoMemory));
        ensure_eq!(registered, Err(SysError::NoMemory));
        ensure_eq!(sk_core::testing::pipe_sleepers(), 0);
        kernel_carries_on()
    }
);
