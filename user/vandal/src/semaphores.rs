//! Mode 1: `/dev/semaphore` with hostile buffers, many V and P, waiters killed, suspended and closed under.

use super::*;

/// `op` on `handle` with a hostile buffer; generic or through the table.
fn raw(handle: Handle, op: Call, buf: u64, len: u64, generic: bool) -> i64 {
    let bits = if generic { CallWord::FORCE_GENERIC } else { 0 };
    // SAFETY: P and V ignore the buffer (the point of the test); were the
    // kernel to use it, a kernel or unmapped address is refused or faults
    // in the kernel's fixups, never in Rust memory of ours.
    unsafe { sk_user::raw::syscall2(CallWord::new(handle, op).get() | bits, buf, len) }
}

/// P on the semaphore in `SEM`, recording the result in its flag:
/// 1 = acquired, 2 = `BadHandle`, 3 = another error.
extern "C" fn waiter(slot: u64) -> ! {
    let sem = Sio::from_handle(Handle::new(SEM.load(Ordering::Acquire)));
    let generic = slot.is_multiple_of(2);
    let r = raw(sem.handle(), Call::Read, KERNEL_ADDR, u64::MAX, generic);
    let flag = match r {
        0 => 1,
        r if r == SysError::BadHandle.to_return() => 2,
        _ => 3,
    };
    FLAGS[slot as usize].store(flag, Ordering::Release);
    loop {
        let _ = scpu(slot).sleep_ns(MAX_SLEEP_NS);
    }
}

fn count(sem: &Sio) -> u64 {
    sem.query().map_or(u64::MAX, |i| i.size)
}

pub(super) fn semaphores(param: u64) -> ! {
    let sem = match Sio::semaphore() {
        Ok(s) => s,
        Err(e) => {
            fail(format_args!("open: {e:?}"));
            sk_user::exit(1)
        }
    };
    let h = sem.handle();
    SEM.store(h.index(), Ordering::Release);
    let buffers = [(0, 0), (KERNEL_ADDR, u64::MAX), (UNMAPPED, 1 << 40), (1, 3)];
    for generic in [false, true] {
        for (buf, len) in buffers {
            let r = raw(h, Call::Write, buf, len, generic);
            if r != 0 {
                fail(format_args!(
                    "V with buffer {buf:#x}+{len:#x} (generic {generic}): {r}"
                ));
            }
        }
        for (buf, len) in buffers {
            let r = raw(h, Call::Read, buf, len, generic);
            if r != 0 {
                fail(format_args!(
                    "P with buffer {buf:#x}+{len:#x} (generic {generic}): {r}"
                ));
            }
        }
    }
    for _ in 0..100_000 {
        let _ = sem.v();
    }
    if count(&sem) != 100_000 {
        fail(format_args!("count {} after 100,000 V", count(&sem)));
    }
    for _ in 0..100_000 {
        let _ = sem.p();
    }
    if count(&sem) != 0 {
        fail(format_args!("count {} after as many P", count(&sem)));
    }
    // Four waiters in FIFO order (each blocks before the next starts).
    let mut w = [0usize; 4];
    for slot in &mut w {
        let Some(s) = start(waiter, 0, 100) else {
            sk_user::exit(1);
        };
        wait_state(s, ScpuState::Blocked);
        *slot = s;
    }
    kill(w[1]);
    let _ = scpu(w[2] as u64).suspend();
    let _ = sem.v(); // to w[0]
    let _ = sem.v(); // granted to w[2], which is suspended
    kill(w[2]); // its grant passes to w[3]
    wait_state(w[0], ScpuState::Blocked); // back asleep after its P
    wait_state(w[3], ScpuState::Blocked);
    let flags: [u64; 4] = core::array::from_fn(|i| FLAGS[w[i]].load(Ordering::Acquire));
    if flags != [1, 0, 0, 1] {
        fail(format_args!(
            "waiters' results {flags:?}, want [1, 0, 0, 1]"
        ));
    }
    if count(&sem) != 0 {
        fail(format_args!("count {} after the hand-offs", count(&sem)));
    }
    // Closed under two waiters (one generic, one through the table).
    let (Some(x), Some(y)) = (start(waiter, 0, 100), start(waiter, 0, 100)) else {
        sk_user::exit(1);
    };
    wait_state(x, ScpuState::Blocked);
    wait_state(y, ScpuState::Blocked);
    let _ = sem.close();
    for s in [x, y] {
        if wait_flag(s) != 2 {
            fail(format_args!(
                "a P under a close: flag {}",
                FLAGS[s].load(Ordering::Acquire)
            ));
        }
    }
    for generic in [false, true] {
        for op in [Call::Read, Call::Write] {
            let r = raw(h, op, 0, 0, generic);
            if r != SysError::BadHandle.to_return() {
                fail(format_args!("{op:?} on the closed semaphore: {r}"));
            }
        }
    }
    // The end: waiters block in P on a semaphore nobody V's.
    let sem = match Sio::semaphore() {
        Ok(s) => s,
        Err(e) => {
            fail(format_args!("open: {e:?}"));
            sk_user::exit(1)
        }
    };
    SEM.store(sem.handle().index(), Ordering::Release);
    for _ in 0..3 {
        let Some(s) = start(waiter, 0, 100) else {
            sk_user::exit(1);
        };
        wait_state(s, ScpuState::Blocked);
    }
    if FAILED.load(Ordering::Relaxed) {
        sk_user::exit(1)
    }
    let Some(last) = start(if param == 0 { exit_later } else { end_self }, 0, 0) else {
        sk_user::exit(1);
    };
    // We block too (main waits on `DONE`); `last` ends the program or itself.
    let _ = last;
    let _ = sem.p();
    fail(format_args!("a P nobody V's returned"));
    loop {
        let _ = me().sleep_ns(MAX_SLEEP_NS);
    }
}

/// Sleeps a little, then ends the program with status 0 while every
/// other SCPU blocks in P.
extern "C" fn exit_later(slot: u64) -> ! {
    let _ = scpu(slot).sleep_ns(200_000);
    sk_user::exit(i32::from(FAILED.load(Ordering::Relaxed)))
}

/// Sleeps a little, then ends itself: the program's last running SCPU.
extern "C" fn end_self(slot: u64) -> ! {
    let me = scpu(slot);
    let _ = me.sleep_ns(200_000);
    println!(
        "vandal: the last running SCPU ends itself (failed: {})",
        FAILED.load(Ordering::Relaxed)
    );
    let _ = me.terminate(0);
    sk_user::exit(1)
}
