//! Mode 15: several SCPUs terminate one SCPU at once while it ends itself
//! (`terminate` on its own handle), and then each ends itself too.
//!
//! Per round, killers U and V (priority 0, one-tick turns) and target T
//! (priority 4) are started, in that order; on `GO` each spins its own
//! count (varied by round, so the turn boundaries fall everywhere), then
//! U and V terminate T's handle and T terminates its own. Every third
//! round the killers first wait until T says it is about to end itself
//! (without that, under TCG, a killer always came first). At most one of
//! U and V may get `Ok` (one kill); both get `BadHandle` when T ended
//! itself first; no `terminate` on an own handle may return. Both
//! outcomes (T ended itself first; T killed by one of them) must be seen
//! over the rounds, else the race was missed.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{Handle, SysError};
use sk_user::{println, Scpu};

use crate::support::{spin, start_on, wait_gone, MISSED};

/// Rounds.
const ROUNDS: u64 = 48;
/// Spin counts the threads choose from (a one-tick turn of a priority-0
/// thread under TCG is about two million: some spins end within a turn,
/// some cross one or two).
const SPINS: [u64; 4] = [0, 40_000, 1_000_000, 4_000_000];

static GO: AtomicU64 = AtomicU64::new(0);
/// Handles of U, V and T (0: not told yet).
static HANDLES: [AtomicU32; 3] = [const { AtomicU32::new(0) }; 3];
/// Spins of U, V and T after `GO`.
static SPIN_OF: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
/// What U's and V's `terminate(T)` returned: 0 not yet, 1 `Ok`,
/// 2 `BadHandle`, 3 + the error code otherwise.
static KILL_RESULT: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
/// Every third round: the killers wait until T is about to end itself
/// (T's `terminate` then mostly comes first; one of theirs if T is
/// preempted between its flag and its call).
static AFTER_TARGET: AtomicU64 = AtomicU64::new(0);
/// Raised by T just before its `terminate`.
static ABOUT_TO_END: AtomicU64 = AtomicU64::new(0);
/// Raised if a `terminate` on the caller's own handle returned.
static SELF_RETURNED: AtomicU64 = AtomicU64::new(0);

fn handle_of(i: usize) -> Handle {
    loop {
        match HANDLES[i].load(Ordering::SeqCst) {
            0 => core::hint::spin_loop(),
            h => return Handle::new(h),
        }
    }
}

/// Ends the calling thread (index `i`) with `terminate` on its own handle.
fn end_self(i: usize) -> ! {
    let _ = Scpu::from_handle(handle_of(i)).terminate(0);
    SELF_RETURNED.store(1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

fn wait_go() {
    while GO.load(Ordering::SeqCst) == 0 {
        core::hint::spin_loop();
    }
}

/// U (0) or V (1): terminates T's handle, records the answer, ends itself.
extern "C" fn killer(index: u64) -> ! {
    let i = usize::try_from(index).unwrap_or(0) % 2;
    let target = handle_of(2);
    wait_go();
    if AFTER_TARGET.load(Ordering::SeqCst) != 0 {
        while ABOUT_TO_END.load(Ordering::SeqCst) == 0 {
            core::hint::spin_loop();
        }
    }
    spin(SPIN_OF[i].load(Ordering::SeqCst));
    let code = match Scpu::from_handle(target).terminate(9) {
        Ok(()) => 1,
        Err(SysError::BadHandle) => 2,
        Err(e) => 3 + e as u64,
    };
    KILL_RESULT[i].store(code, Ordering::SeqCst);
    end_self(i)
}

/// T: ends itself.
extern "C" fn target(_arg: u64) -> ! {
    wait_go();
    spin(SPIN_OF[2].load(Ordering::SeqCst));
    ABOUT_TO_END.store(1, Ordering::SeqCst);
    end_self(2)
}

/// Mode 15 (see the module doc).
pub(crate) fn pile() -> Result<(), i32> {
    let (mut self_first, mut killed) = (0u64, 0u64);
    for round in 0..ROUNDS {
        GO.store(0, Ordering::SeqCst);
        for h in &HANDLES {
            h.store(0, Ordering::SeqCst);
        }
        for r in &KILL_RESULT {
            r.store(0, Ordering::SeqCst);
        }
        ABOUT_TO_END.store(0, Ordering::SeqCst);
        AFTER_TARGET.store(u64::from(round % 3 == 2), Ordering::SeqCst);
        let r = usize::try_from(round).unwrap_or(0);
        SPIN_OF[0].store(SPINS[r % 4], Ordering::SeqCst);
        SPIN_OF[1].store(SPINS[(r / 4) % 4], Ordering::SeqCst);
        SPIN_OF[2].store(SPINS[(r / 16) % 3], Ordering::SeqCst);
        // SAFETY: the previous round's threads on slots 0-2 are gone
        // (wait_gone below); in the first round they were never used.
        let u = unsafe { start_on(0, killer, 0, 0) }?;
        // SAFETY: as above.
        let v = unsafe { start_on(1, killer, 1, 0) }?;
        // SAFETY: as above.
        let t = unsafe { start_on(2, target, 0, 4) }?;
        let all = [u.handle(), v.handle(), t.handle()];
        for (slot, h) in HANDLES.iter().zip(all) {
            slot.store(h.index(), Ordering::SeqCst);
        }
        GO.store(1, Ordering::SeqCst);
        for h in all {
            wait_gone(h, 11)?;
        }
        if SELF_RETURNED.load(Ordering::SeqCst) != 0 {
            println!("reaper: FINDING: pile round {round}: terminate on its own handle returned");
            return Err(12);
        }
        let results = [
            KILL_RESULT[0].load(Ordering::SeqCst),
            KILL_RESULT[1].load(Ordering::SeqCst),
        ];
        let oks = results.iter().filter(|&&c| c == 1).count();
        if results.iter().any(|&c| c != 1 && c != 2) || oks > 1 {
            println!(
                "reaper: FINDING: pile round {round}: the killers' terminate of one SCPU answered {results:?} (1 = Ok, 2 = BadHandle, 3 + n = error n): at most one may kill it"
            );
            return Err(13);
        }
        if oks == 1 {
            killed += 1;
        } else {
            self_first += 1;
        }
    }
    println!(
        "reaper: pile: {ROUNDS} rounds of two killers and a self-ending target: killed {killed} times, ended itself first {self_first} times; no double kill, no terminate returned"
    );
    if killed == 0 || self_first == 0 {
        return Err(MISSED);
    }
    Ok(())
}
