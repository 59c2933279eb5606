//! The attacker's review of `program | tty` (`/bin/pipetest` modes 14 to
//! 21, see `user/pipetest/src/console_review.rs`): refusals, the ends
//! closed and blocked around the switch, hostile buffers, an end swapped
//! under a long write, console mode changes during writes, the revocation
//! race of a shared console-bound end, the switch with the heap full, and
//! the leak check. Each program mode runs on the table path and forced
//! generic, followed by the scheduler's self-check and no stale sleeper.

use super::leaks::Baseline;
use super::programs::run;
use super::review::kernel_carries_on;
use crate::memory::FRAMES;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{OpenFlags, SysError};
use sk_core::ProgramId;
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

fn arg(mode: u64, param: u64, generic: bool) -> u64 {
    param << 16 | mode << 8 | u64::from(generic)
}

/// Runs `mode` (with `param`) on the table path and forced generic.
fn both(mode: u64, param: u64) -> Result<(), String> {
    for generic in [false, true] {
        ensure_eq!(run(PIPETEST, arg(mode, param, generic))?, 0);
        sound()?;
    }
    Ok(())
}

ktest!(
    fn pipe_console_review_refusals_closed_and_blocked_ends_and_hostile_buffers() {
        both(14, 0)
    }
);

/// The program the swap hook acts on, and the pieces counted at its swap
/// (`u64::MAX` until it ran; `u64::MAX - 1` if it failed).
static SWAP_ID: AtomicU64 = AtomicU64::new(0);
static SWAP_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Run between two pieces of the write: the end closed and a new
/// console-bound end put at its handle, in one critical section.
fn swap_hook() {
    let id = ProgramId(SWAP_ID.load(Ordering::Relaxed));
    let at = sk_core::testing::find_pipe_write_end(id, true)
        .ok_or(SysError::BadHandle)
        .and_then(|h| sk_core::testing::swap_console_end(id, h));
    SWAP_AT.store(at.unwrap_or(u64::MAX - 1), Ordering::Relaxed);
}

/// Mode 15 makes a long write (20,000 bytes) on its console-bound end;
/// between its first two pieces the end is closed and a new console-bound
/// end put at the same handle. No piece may go out after that: the write
/// belongs to the open it started on.
fn swap_under_write(generic: bool) -> Result<(), String> {
    SWAP_AT.store(u64::MAX, Ordering::Relaxed);
    let id =
        sk_core::spawn_program(PIPETEST, arg(15, 0, generic)).map_err(|e| format!("spawn: {e}"))?;
    SWAP_ID.store(id.0, Ordering::Relaxed);
    sk_core::testing::inject_between_console_pieces(swap_hook);
    let mut tries = 0u64;
    while SWAP_AT.load(Ordering::Relaxed) == u64::MAX && tries < 1_000_000 {
        sk_core::yield_now();
        tries += 1;
    }
    for _ in 0..200 {
        sk_core::yield_now();
    }
    let later = sk_core::testing::console_pipe_pieces();
    sk_core::release_program(id);
    sk_machine::println!();
    let at = SWAP_AT.load(Ordering::Relaxed);
    ensure!(at < u64::MAX - 1, "the swap did not happen ({at:#x})");
    ensure!(
        later == at,
        "{} pieces of the write went out through the new open",
        later - at
    );
    sound()
}

ktest!(
    fn pipe_console_review_a_write_stops_when_its_end_is_closed_and_the_handle_reused() {
        swap_under_write(false)?;
        swap_under_write(true)
    }
);

ktest!(
    fn pipe_console_review_console_mode_flips_during_writes_on_another_scpu() {
        both(16, 0)
    }
);

/// Spawns `mode` and yields until `find` sees its pipe write end.
fn spawn_owner(mode: u64, generic: bool, to_console: bool) -> Result<(ProgramId, u32), String> {
    let id = sk_core::spawn_program(PIPETEST, arg(mode, 0, generic))
        .map_err(|e| format!("spawn: {e}"))?;
    for _ in 0..100_000 {
        if let Some(h) = sk_core::testing::find_pipe_write_end(id, to_console) {
            return Ok((id, h));
        }
        sk_core::yield_now();
    }
    sk_core::release_program(id);
    Err("the owner made no pipe".into())
}

/// The end the revoke hook revokes (owner, handle), and the pieces
/// counted right after its revoke returned (`u64::MAX` until it ran;
/// `u64::MAX - 1` if the revoke failed).
static REVOKE_OWNER: AtomicU64 = AtomicU64::new(0);
static REVOKE_END: AtomicU64 = AtomicU64::new(0);
static REVOKE_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Run between two pieces of a holder's write: every share revoked.
fn revoke_hook() {
    let owner = ProgramId(REVOKE_OWNER.load(Ordering::Relaxed));
    let end = REVOKE_END.load(Ordering::Relaxed) as u32;
    let revoked = sk_core::testing::revoke_sio(owner, end);
    let at = match revoked {
        Ok(1) => sk_core::testing::console_pipe_pieces(),
        _ => u64::MAX - 1,
    };
    REVOKE_AT.store(at, Ordering::Relaxed);
}

/// Round 0 revokes between two pieces of a holder's write (the hook);
/// the others race: `rounds` rounds of the owner's console-bound end
/// shared with the looping holder, a few turns, revoked. After each
/// revoke returns, no piece of any holder's write reaches the console.
fn revoke_race(generic: bool, rounds: u64) -> Result<(), String> {
    let (owner, end) = spawn_owner(17, generic, true)?;
    let holder = sk_core::spawn_program(PIPETEST, arg(18, 0, generic))
        .map_err(|e| format!("spawn the holder: {e}"))?;
    let mut result = Ok(());
    let mut moved_before = 0;
    REVOKE_OWNER.store(owner.0, Ordering::Relaxed);
    REVOKE_END.store(u64::from(end), Ordering::Relaxed);
    REVOKE_AT.store(u64::MAX, Ordering::Relaxed);
    for round in 0..rounds {
        if let Err(e) = sk_core::testing::share_sio(owner, end, holder, OpenFlags::WRITE) {
            result = Err(format!("round {round}: share: {e}"));
            break;
        }
        if round == 0 {
            sk_core::testing::inject_between_console_pieces(revoke_hook);
            let mut tries = 0u64;
            while REVOKE_AT.load(Ordering::Relaxed) == u64::MAX && tries < 1_000_000 {
                sk_core::yield_now();
                tries += 1;
            }
            for _ in 0..3 {
                sk_core::yield_now();
            }
            let at = REVOKE_AT.load(Ordering::Relaxed);
            let later = sk_core::testing::console_pipe_pieces();
            if at >= u64::MAX - 1 || later != at {
                result = Err(format!(
                    "the revoke between two pieces ({at:#x}): {} pieces after it",
                    later.wrapping_sub(at)
                ));
                break;
            }
            continue;
        }
        let before = sk_core::testing::console_pipe_pieces();
        for _ in 0..=(round % 3) {
            sk_core::yield_now();
        }
        let revoked = sk_core::testing::revoke_sio(owner, end);
        let after = sk_core::testing::console_pipe_pieces();
        moved_before += after - before;
        for _ in 0..3 {
            sk_core::yield_now();
        }
        let later = sk_core::testing::console_pipe_pieces();
        if revoked != Ok(1) || later != after {
            result = Err(format!(
                "round {round}: revoke {revoked:?}, then {} pieces after it returned",
                later - after
            ));
            break;
        }
    }
    sk_core::release_program(holder);
    sk_core::release_program(owner);
    sk_machine::println!();
    sk_machine::println!("{rounds} revokes; {moved_before} pieces moved while shared");
    result?;
    ensure!(moved_before > 0, "the holder never wrote");
    sound()
}

ktest!(
    fn pipe_console_review_revoke_race_no_piece_reaches_the_console_after_revoke() {
        // The holder's routines are generic either way (a shared end);
        // both ways for the table's error stubs after the revoke.
        revoke_race(false, 60)?;
        revoke_race(true, 60)
    }
);

/// Takes every free frame and the heap's last crumbs; returns what must
/// be given back ([`give_back`]).
fn fill_heap() -> Result<(sk_core::testing::PipeHoard, Vec<u64>), String> {
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
    let _ = hoard.fill();
    let _ = hoard.crumble();
    Ok((hoard, frames))
}

fn give_back((hoard, frames): (sk_core::testing::PipeHoard, Vec<u64>)) {
    drop(hoard);
    for f in frames {
        // SAFETY: allocated by `fill_heap`, referred to by nothing.
        #[allow(unsafe_code)]
        unsafe {
            FRAMES.free_frame(f)
        };
    }
}

ktest!(
    fn pipe_console_review_mode_change_with_the_heap_full_leaves_no_stale_routine() {
        // Eager synthesis: the subject is the routine made at open.
        let _eager = sk_core::testing::EagerSynthesis::new();
        // The console goes raw with the heap unable to grow: the
        // console-bound end gets `tty_write` or stays generic, never
        // keeps the cooked routine.
        let (owner, end) = spawn_owner(17, false, true)?;
        let (before, _) = sk_core::testing::pipe_end_write_routine(owner, end);
        let held = fill_heap()?;
        sk_core::testing::set_console_mode(true);
        let (raw, _) = sk_core::testing::pipe_end_write_routine(owner, end);
        give_back(held);
        sk_core::testing::set_console_mode(false);
        let (cooked, _) = sk_core::testing::pipe_end_write_routine(owner, end);
        sk_core::release_program(owner);
        sk_machine::println!(
            "the end's write: {before:?}, raw with the heap full {raw:?}, cooked {cooked:?}"
        );
        ensure_eq!(before, Some("tty_write_cooked"));
        ensure!(
            raw != Some("tty_write_cooked"),
            "the console is raw, the end kept the cooked routine"
        );
        ensure_eq!(cooked, Some("tty_write_cooked"));
        sound()
    }
);

/// The owner's plain end switched by the test with the heap unable to
/// grow (every free frame taken, the heap's last crumbs hoarded): the
/// switch either happens with its routine replanned or fails changing
/// nothing; never a console-bound end left with the pipe's routine.
fn heap_full_switch(generic: bool) -> Result<(), String> {
    let (owner, end) = spawn_owner(20, generic, false)?;
    let held = fill_heap()?;
    let switched = sk_core::testing::pipe_to_console(owner, end);
    let (routine, bound) = sk_core::testing::pipe_end_write_routine(owner, end);
    give_back(held);
    sk_core::release_program(owner);
    sk_machine::println!("the switch with the heap full: {switched:?}, write {routine:?}");
    match switched {
        Ok(_) => {
            ensure!(bound, "switched but not console-bound");
            ensure!(
                routine != Some("pipe_write"),
                "a console-bound end kept the pipe's routine"
            );
        }
        Err(e) => {
            ensure_eq!(e, SysError::NoMemory);
            ensure!(!bound, "failed but console-bound");
        }
    }
    sound()
}

ktest!(
    fn pipe_console_review_switch_with_the_heap_full_leaves_no_stale_routine() {
        heap_full_switch(false)?;
        heap_full_switch(true)?;
        kernel_carries_on()
    }
);

ktest!(
    fn pipe_console_review_create_switch_close_loops_leak_nothing() {
        both(21, 50)?;
        both(14, 0)?;
        let before = Baseline::take();
        both(21, 50)?;
        both(14, 0)?;
        before.check("pipe | tty churn")?;
        kernel_carries_on()
    }
);
