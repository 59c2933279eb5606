//! Linux threads on the kernel side (docs/unix.md, phase 2): `futex`,
//! `set_tid_address`, `gettid`/`getpid`, and `exit` of one thread.
//!
//! Owns [`futex`], [`exit_thread`], [`set_tid_address`], [`getpid`],
//! [`gettid`]. Futex sleepers are `sk_unix::FutexTable`'s; the check of
//! the word against the expected value, the registration and the block
//! are one critical section (`scheduler::block_current_unless`), so a
//! wake between them is never lost. Every futex is keyed by process and
//! virtual address, shared or private: a Linux process here has only
//! private anonymous memory (a fork copies it), for which Linux's keys
//! are the same two. A thread's `exit` writes 0 at its `clear_child_tid`
//! and wakes one waiter there (`pthread_join`); the last thread's `exit`
//! ends the process.

use crate::state::{self, Core};
use crate::user_memory::{write_bytes, KernelUserMemory};
use sk_sio::UserMemory;
use sk_unix::linux_flags::futex as fx;
use sk_unix::syscall_restart::Interrupted;
use sk_unix::{Errno, FutexKey};

type Answer = Result<u64, Errno>;

/// The futex word at `address` of the calling process.
fn key(core: &Core, address: u64) -> Result<FutexKey, Errno> {
    let process = core.current_smach.ok_or(Errno::ESRCH)?;
    sk_unix::FutexTable::check_address(address)?;
    Ok(FutexKey::Private { process, address })
}

fn read_u32(address: u64) -> Result<u32, Errno> {
    let mut word = [0u8; 4];
    KernelUserMemory
        .read(&mut word, address)
        .map_err(Errno::from_sys_error)?;
    Ok(u32::from_le_bytes(word))
}

/// The TSC deadline for `futex`'s timeout: relative for `FUTEX_WAIT`,
/// absolute (on the one clock there is) for `FUTEX_WAIT_BITSET`.
fn deadline(timeout: u64, absolute: bool) -> Result<Option<u64>, Errno> {
    if timeout == 0 {
        return Ok(None);
    }
    let mut bytes = [0u8; 16];
    KernelUserMemory
        .read(&mut bytes, timeout)
        .map_err(Errno::from_sys_error)?;
    let mut half = [0u8; 8];
    half.copy_from_slice(&bytes[..8]);
    let sec = i64::from_le_bytes(half);
    half.copy_from_slice(&bytes[8..]);
    let nsec = i64::from_le_bytes(half);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    let mut ns = (sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec as u64);
    if absolute {
        ns = ns.saturating_sub(sk_machine::tsc::now_ns());
    }
    let now = sk_machine::cpu::rdtsc();
    Ok(Some(sk_sched::deadline_after(
        now,
        ns,
        sk_machine::tsc::frequency_hz(),
    )))
}

/// `futex(uaddr, op, val, timeout, uaddr2, val3)`: `FUTEX_WAIT`,
/// `FUTEX_WAKE` and their `_BITSET` forms (others are `ENOSYS` at decode).
pub(crate) fn futex(uaddr: u64, op: u32, val: u32, timeout: u64, val3: u32) -> Answer {
    match op {
        fx::WAIT => wait(
            uaddr,
            val,
            deadline(timeout, false)?,
            sk_unix::futex_table::MATCH_ANY,
        ),
        fx::WAIT_BITSET => wait(uaddr, val, deadline(timeout, true)?, val3),
        fx::WAKE => wake(uaddr, val, sk_unix::futex_table::MATCH_ANY),
        fx::WAKE_BITSET => wake(uaddr, val, val3),
        _ => Err(Errno::ENOSYS),
    }
}

/// How a futex wait ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    Woken,
    Differs,
    TimedOut,
}

fn wait(uaddr: u64, val: u32, deadline: Option<u64>, bitset: u32) -> Answer {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let mut registered = false;
    let mut ended = None;
    let mut error = None;
    loop {
        crate::scheduler::block_current_unless(|core| {
            let current = core.current;
            let key = match key(core, uaddr) {
                Ok(k) => k,
                Err(e) => {
                    error = Some(e);
                    return Ok(true);
                }
            };
            if registered {
                // Woken: by a FUTEX_WAKE (it took us off the table), the
                // timer, or something else (look again).
                if !core.linux_world.futexes.forget(current) {
                    core.sleepers.remove(current);
                    ended = Some(Ended::Woken);
                    return Ok(true);
                }
                if deadline.is_some_and(|d| sk_machine::cpu::rdtsc() >= d) {
                    ended = Some(Ended::TimedOut);
                    return Ok(true);
                }
            } else {
                match read_u32(uaddr) {
                    Ok(v) if v != val => {
                        ended = Some(Ended::Differs);
                        return Ok(true);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        error = Some(e);
                        return Ok(true);
                    }
                }
            }
            if crate::linux_signals::interrupts_wait_as(core, Interrupted::RestartSys) {
                // Off the futex table already (or never on it).
                core.sleepers.remove(current);
                error = Some(Errno::EINTR);
                return Ok(true);
            }
            if let Err(e) = core.linux_world.futexes.wait(key, current, bitset) {
                error = Some(e);
                return Ok(true);
            }
            if let Some(d) = deadline {
                if let Err(e) = crate::scheduler::register_sleeper(core, current, d) {
                    // No registration may outlive the wait: a later wake
                    // would count this thread and lose a real waiter's.
                    core.linux_world.futexes.forget(current);
                    return Err(e);
                }
            }
            registered = true;
            Ok(false)
        })
        .map_err(Errno::from_sys_error)?;
        if let Some(e) = error {
            return Err(e);
        }
        match ended {
            Some(Ended::Woken) => return Ok(0),
            Some(Ended::Differs) => return Err(Errno::EAGAIN),
            Some(Ended::TimedOut) => return Err(Errno::ETIMEDOUT),
            None => {}
        }
    }
}

/// Wakes up to `count` waiters on `uaddr` of the calling process.
fn wake(uaddr: u64, count: u32, bitset: u32) -> Answer {
    state::with(|core| {
        let key = key(core, uaddr)?;
        wake_key(core, key, count, bitset)
    })
}

fn wake_key(core: &mut Core, key: FutexKey, count: u32, bitset: u32) -> Answer {
    let woken = core.linux_world.futexes.wake(key, count, bitset)?;
    let n = woken.len() as u64;
    for tid in woken {
        crate::scheduler::wake(core, tid);
    }
    Ok(n)
}

/// `set_tid_address(tidptr)`: recorded for the thread's exit; its tid.
pub(crate) fn set_tid_address(tidptr: u64) -> Answer {
    state::with(|core| {
        let current = core.current;
        crate::linux_pids::my_pid(core)?;
        core.linux_world.set_clear_child_tid(current, tidptr);
        Ok(current)
    })
}

/// `getpid()`: the process's pid (its main thread's tid).
pub(crate) fn getpid() -> Answer {
    state::with(|core| crate::linux_pids::my_pid(core).map(|p| p as u64))
}

/// `gettid()`: the calling thread's tid.
pub(crate) fn gettid() -> Answer {
    state::with(|core| {
        crate::linux_pids::my_pid(core)?;
        Ok(core.current)
    })
}

/// `exit(code)`: the calling thread ends; the last one ends the process
/// with `code`.
pub(crate) fn exit_thread(code: i32) -> ! {
    let last = state::with(|core| {
        let current = core.current;
        let Some(me) = core.current_smach else {
            return true;
        };
        let others = core
            .smachs
            .get(&me)
            .is_some_and(|s| s.threads.iter().any(|&t| t != current));
        if !others {
            return true;
        }
        let clear = core.linux_world.remove_thread(current);
        if clear != 0 && write_bytes(clear, &0u32.to_le_bytes()).is_ok() {
            let key = FutexKey::Private {
                process: me,
                address: clear,
            };
            let _ = wake_key(core, key, 1, sk_unix::futex_table::MATCH_ANY);
        }
        if let Some(p) = core.linux.get_mut(&me) {
            p.signals.remove_thread(current);
        }
        if let Some(s) = core.smachs.get_mut(&me) {
            s.threads.retain(|&t| t != current);
        }
        if let Some(thread) = core.threads.remove(&current) {
            core.dying = Some(thread.context.clone());
        }
        crate::scpu_calls::forget(core, current);
        false
    });
    if last {
        crate::linux_wait::exit_group(code)
    }
    crate::scheduler::exit_current()
}
