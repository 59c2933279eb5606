//! The attacker's review of ports and of sharing them (`/bin/porttest`
//! modes 5 and 6, see `user/porttest/src/review.rs`): a port end closed
//! under its own blocked SCPUs, a port's ends shared with a child SMACH
//! (rights, a holder's blocking receive, a revoke waking it), and ports
//! made with the heap unable to grow. Each program mode runs on the table
//! path and forced generic; after each, the scheduler's self-check, no
//! stale waiter and no port sleeper left.

use super::programs::run;
use super::review::kernel_carries_on;
use crate::memory::FRAMES;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sk_abi::SysError;
use sk_ktest::{ensure_eq, ktest};
use sk_machine::paging::FrameSource;

/// Runs porttest `mode` on both paths, then the checks.
fn both(mode: u64) -> Result<(), String> {
    for generic in [false, true] {
        ensure_eq!(run("/bin/porttest", (mode << 8) | u64::from(generic))?, 0);
        sk_core::testing::sched_check()?;
        ensure_eq!(sk_core::testing::stale_waiters().0, 0);
        ensure_eq!(sk_core::testing::port_sleepers(), 0);
    }
    Ok(())
}

ktest!(
    fn port_review_close_of_an_end_wakes_the_threads_blocked_on_it() {
        both(5)?;
        kernel_carries_on()
    }
);

ktest!(
    fn port_review_shared_ends_rights_blocking_holder_and_revoke() {
        both(6)?;
        let before = super::leaks::Baseline::take();
        both(6)?;
        before.check("porttest shared")?;
        kernel_carries_on()
    }
);

ktest!(
    fn port_review_ports_made_with_the_heap_unable_to_grow_fail_with_no_memory() {
        // What a hostile program reaches with user memory squeezed to the
        // kernel's reserve and ports made in several SMACHs: the heap
        // cannot grow. Every free frame is taken here, so the heap has
        // only what it already mapped; ports are made until one fails.
        let mut hoard = sk_core::testing::PipeHoard::new(16384)
            .map_err(|e| format!("the hoard's list: {e}"))?;
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
        let (made, failure) = hoard.fill_ports();
        // Then the last small pieces: a port made now must fail softly
        // whichever of its allocations finds no room.
        let crumbs = hoard.crumble();
        let (_, last) = hoard.fill_ports();
        drop(hoard);
        for f in frames {
            // SAFETY: allocated above by this test, referred to by nothing.
            #[allow(unsafe_code)]
            unsafe {
                FRAMES.free_frame(f)
            };
        }
        sk_machine::println!(
            "ports made before the heap ran out: {made}; then {crumbs} crumbs; the next port: {last:?}"
        );
        ensure_eq!(failure, Some(SysError::NoMemory));
        ensure_eq!(last, Some(SysError::NoMemory));
        kernel_carries_on()
    }
);
