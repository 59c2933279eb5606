//! `reaper`: the attacker's second review. SCPUs that end themselves
//! (`terminate` on their own handle) from every state a program can
//! arrange, threads killed or woken while blocked in the kernel, the
//! generic write's count when a later piece stops part-way, and SIO churn
//! across SCPUs against the code arena's in-place synthesis. The kernel
//! tests are in `kernel/src/tests/review2.rs`.
//!
//! The start argument is `mode | param << 8`:
//!
//! | mode | what | passes when |
//! |---|---|---|
//! | 1 | 24 threads in turn open a file, end themselves, leave their handle number to the next | each ends, never returns, runs once; the SIO it opened still reads right; exit 0 |
//! | 2 | thread O opens a 16 MiB file; thread C reads it all through O's SIO; O ends itself at its first turn after C entered the call (and notes whether C's call was still running) | C gets the whole file; exit 0 (3: the race was missed) |
//! | 3 | a thread ends itself on a flag while `main` kills it by handle (32 rounds: `main` a little later each even round, after the thread said it is about to end each odd one) | `main` gets `Ok` or `BadHandle`, the thread never returns, both seen; exit 0 (3: missed) |
//! | 4 | a thread ends itself on a flag while `main` exits (after `param` x 10,000 spins) | exit 42 |
//! | 5 | spawns mode 6 and suspends and resumes it until it exits | its status is 7; exit 0 |
//! | 6 | six threads end themselves at staggered times, then `main` exits | exit 7 |
//! | 7 | parks reading the console | never exits (killed by its parent) |
//! | 8 | `param` times: a thread waits for a parked child and is killed while blocked; then creates `/tmp/rp.parked` and parks | (the kernel test measures the kernel heap while it is parked) |
//! | 9 | a thread blocks reading `/dev/tty` at handle h; `main` closes h, opens `/dev/mem` (h again), suspends and resumes the reader | the read blocks again or ends, never reads `/dev/mem`; exit 0 (10, 11: finding) |
//! | 10 | a thread makes a traced wait for a parked child and blocks; `main` creates `/tmp/rp.blocked`, waits for `/tmp/rp.go`, kills the child | the thread comes back to user mode and goes on; exit 0 (137: killed for the `#DB` the kernel owed it) |
//! | 11 | a thread ends itself with a traced `terminate` on its own handle | it ends, never returns; exit 0 |
//! | 12 | writes from a buffer whose end is followed by unmapped pages: files (plain, append, past the end), the console | each count equals the bytes written (position and size); exit 0 (10: finding) |
//! | 13 | a 16 MiB write whose buffer `main` unmaps between two pieces | the count equals position and size, all bytes `A`; exit 0 |
//! | 14 | three SCPUs churn open/read/write/close on files, `/dev/zero`, `/dev/mem` and a shared SIO (`param` bit 0: with memory full of SMEM) | every byte read is right; exit 0 (10: finding) |
//! | 15 | 48 rounds: two killers terminate a target's handle while it ends itself; then each ends itself | at most one `Ok` per round; no own `terminate` returns; both "killed" and "ended itself first" seen; exit 0 (3: missed) |
//! | 16 | `param` times: a thread blocked reading the console is suspended, resumed (woken), and killed before or after it blocks again; then creates `/tmp/rp.parked` and parks | (the kernel test counts console readers and measures the heap while it is parked) |
//!
//! Exit status: 0 = the defence held; 1 = setup failed; 3 = the race was
//! not hit; 10 and up = a finding (the line printed says which).
#![no_std]
#![no_main]

mod blocked;
mod churn;
mod pile;
mod selfend;
mod support;
mod writes;

use sk_user::println;

sk_user::entry!(main);

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let (mode, param) = (arg & 0xff, arg >> 8);
    let verdict = match mode {
        1 => selfend::reuse(),
        2 => selfend::mid_shared_call(),
        3 => selfend::vs_kill(),
        4 => selfend::vs_exit(param),
        5 => selfend::suspend_parent(),
        6 => selfend::child_self_enders(),
        7 => blocked::park(),
        8 => blocked::waiter_leak(param),
        9 => blocked::blocked_read_reused_handle(),
        10 => blocked::traced_waiter_mode(),
        11 => blocked::traced_self_end_mode(),
        12 => writes::partial_writes(),
        13 => writes::write_unmap_race(),
        14 => churn::churn(param),
        15 => pile::pile(),
        16 => blocked::woken_reader_killed(param),
        _ => {
            println!("reaper: unknown mode {mode}");
            Err(2)
        }
    };
    match verdict {
        Ok(()) => 0,
        Err(code) => code,
    }
}
