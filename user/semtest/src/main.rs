//! `semtest`: semaphores (`/dev/semaphore`), `yield` and `sleep` between
//! SCPUs, one scenario per mode; every mode also runs with every call
//! forced down the generic path.
//!
//! The start argument is `mode << 40 | generic << 32 | tsc_khz` (the kernel
//! test passes the TSC frequency, which user mode cannot learn).
//!
//! | mode | name | passes when |
//! |---|---|---|
//! | 0 | `prodcons` | 16 producers and 16 consumers move 16 × 200 tagged items through an 8-slot ring guarded by three semaphores: every item arrives exactly once (count and sum) |
//! | 1 | `mutex` | 16 SCPUs each add 1 to a shared counter 200 times, non-atomically (load, yield, store) inside P/V of one semaphore: the count is exactly 3,200 |
//! | 2 | `pingpong` | two SCPUs at the shortest quantum hand the CPU back and forth through two semaphores 25,000 times (10⁵ P and V) while a third keeps yielding between them and the timer ticks: nobody hangs (a lost wake-up would) and no unit is left over |
//! | 3 | `sleep` | sleeps of 1 µs to 20 ms each last at least that long in TSC ticks; a sleep past `MAX_SLEEP_NS` is `BadValue`; yield and sleep on another SCPU's handle are `NotPermitted` |
//! | 4 | `yield` | two SCPUs of equal priority yield to each other 2,000 times: each sees the other move between two of its turns (at most 2 misses) |
//! | 5 | `hostile` | P/V on a closed handle (from the opener and from another SCPU, whose table had the routines): `BadHandle`; a new semaphore on the reused handle counts on its own cell; an SCPU killed while blocked in P leaves the queue (a V then goes to the count); a semaphore closed under a waiter fails its P with `BadHandle`; a child SMACH using the handle number: `BadHandle` |
//! | 6 | `child` | (run by mode 5) P and V on handle `tsc_khz`: `BadHandle` |
//! | 7 | `unguarded` | mode 1 without the P/V: the count must come out short (the self-check that mode 1 can fail); exit 0 if it did |
//!
//! Exit status: 0 = passed, 1 = a check failed (the line says which),
//! 2 = unknown mode.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{Handle, ScpuState, SysError, MAX_SLEEP_NS};
use sk_user::{println, rdtsc, Scpu, Sio, Smach, Stack};

sk_user::entry!(main);

const THREADS: usize = 40;
static STACKS: [Stack<8192>; THREADS] = [const { Stack::new() }; THREADS];
static NEXT_STACK: AtomicU32 = AtomicU32::new(0);
/// Each worker's own SCPU handle, published by its creator (0: not yet).
static SELF_HANDLES: [AtomicU32; THREADS] = [const { AtomicU32::new(0) }; THREADS];

/// Semaphore handles shared by the workers.
static SEM_A: AtomicU32 = AtomicU32::new(0);
static SEM_B: AtomicU32 = AtomicU32::new(0);
static SEM_C: AtomicU32 = AtomicU32::new(0);
static DONE: AtomicU32 = AtomicU32::new(0);

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SUM: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
static TURNS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static MISSES: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static RING: [AtomicU64; RING_SLOTS] = [const { AtomicU64::new(0) }; RING_SLOTS];
static HEAD: AtomicU64 = AtomicU64::new(0);
static TAIL: AtomicU64 = AtomicU64::new(0);

const RING_SLOTS: usize = 8;
const PAIRS: u64 = 16;
const ITEMS: u64 = 200;
const MUTEX_THREADS: u64 = 16;
const MUTEX_ROUNDS: u64 = 200;
const PINGPONG_ROUNDS: u64 = 25_000;
const YIELD_ROUNDS: u64 = 2_000;

/// `value mod len` as an index.
fn slot(value: u64, len: usize) -> usize {
    // The remainder is below `len`, a usize.
    usize::try_from(value % len as u64).unwrap_or(0)
}

fn sem(cell: &AtomicU32) -> Sio {
    Sio::from_handle(Handle::new(cell.load(Ordering::Relaxed)))
}

fn fail(what: core::fmt::Arguments<'_>) {
    println!("semtest: FAILED: {what}");
    FAILED.store(true, Ordering::Relaxed);
}

/// Starts `entry(index)` on a fresh stack; publishes its handle so it can
/// yield and sleep ([`own`]).
fn start(entry: extern "C" fn(u64) -> !, priority: u32, quantum_us: u32) -> Option<Scpu> {
    let index = NEXT_STACK.fetch_add(1, Ordering::Relaxed) as usize;
    let stack = STACKS.get(index)?.take()?;
    match Scpu::create_with(entry, stack, index as u64, priority, quantum_us) {
        Ok(scpu) => {
            SELF_HANDLES[index].store(scpu.handle().index(), Ordering::Release);
            Some(scpu)
        }
        Err(e) => {
            fail(format_args!("create SCPU {index}: {e:?}"));
            None
        }
    }
}

/// The calling worker's own SCPU (waits for its creator to publish it).
fn own(index: u64) -> Scpu {
    let cell = &SELF_HANDLES[slot(index, THREADS)];
    loop {
        let h = cell.load(Ordering::Acquire);
        if h != 0 {
            return Scpu::from_handle(Handle::new(h));
        }
        core::hint::spin_loop();
    }
}

/// Says "done" and ends the calling worker.
fn finish(index: u64) -> ! {
    if sem(&DONE).v().is_err() {
        FAILED.store(true, Ordering::Relaxed);
    }
    let _ = own(index).terminate(0);
    sk_user::exit(1)
}

fn wait_done(n: u64) {
    for _ in 0..n {
        if let Err(e) = sem(&DONE).p() {
            fail(format_args!("P(done): {e:?}"));
            return;
        }
    }
}

fn open_into(cell: &AtomicU32) -> Sio {
    match Sio::semaphore() {
        Ok(s) => {
            cell.store(s.handle().index(), Ordering::Relaxed);
            s
        }
        Err(e) => {
            println!("semtest: open /dev/semaphore: {e:?}");
            sk_user::exit(1)
        }
    }
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let mode = arg >> 40;
    let generic = (arg >> 32) & 0xff != 0;
    TSC_KHZ.store(arg & 0xffff_ffff, Ordering::Relaxed);
    if mode == 6 {
        return child(arg & 0xffff_ffff);
    }
    sk_user::set_generic_mode(generic);
    let path = if generic { "generic" } else { "synthesized" };
    let done = open_into(&DONE);
    if !generic {
        // Synthesis on: P and V are the synthesized routines.
        let mut text = [0_u8; 512];
        let n = done.routines(&mut text).unwrap_or(0);
        let text = text.get(..n).unwrap_or(&[]);
        let (p, v) = (
            sk_user::routine_of(text, "read"),
            sk_user::routine_of(text, "write"),
        );
        println!("semtest: P is {p:?}, V is {v:?}");
        // Lazy synthesis: generic until the op's K-th generic call (the
        // test's calls cross it).
        let pending = |op| sk_user::pending_of(text, op).is_some_and(|(calls, k)| calls < k);
        let p_ok = p == Some(sk_user::Routine::Synthesized("semaphore_p"))
            || (p == Some(sk_user::Routine::Generic) && pending("read"));
        let v_ok = v == Some(sk_user::Routine::Synthesized("semaphore_v"))
            || (v == Some(sk_user::Routine::Generic) && pending("write"));
        if !p_ok || !v_ok {
            fail(format_args!("the semaphore's routines are not synthesized"));
        }
    }
    let start_tsc = rdtsc();
    match mode {
        0 => prodcons(),
        1 => mutex(true),
        2 => pingpong(),
        3 => sleep(),
        4 => yielding(),
        5 => hostile(),
        7 => {
            mutex(false);
            let count = COUNTER.load(Ordering::Relaxed);
            let full = MUTEX_THREADS * MUTEX_ROUNDS;
            println!("semtest unguarded ({path}): {count} of {full} increments survived");
            return if count < full { 0 } else { 1 };
        }
        _ => return 2,
    }
    let ticks = rdtsc().wrapping_sub(start_tsc);
    let failed = FAILED.load(Ordering::Relaxed);
    println!(
        "semtest mode {mode} ({path}): {} in {ticks} TSC ticks",
        if failed { "FAILED" } else { "passed" }
    );
    i32::from(failed)
}

// ---- 0: producers and consumers --------------------------------------------

extern "C" fn producer(index: u64) -> ! {
    let (items, slots, mutex) = (sem(&SEM_A), sem(&SEM_B), sem(&SEM_C));
    for i in 0..ITEMS {
        let item = index * 1_000_000 + i + 1;
        let ok = slots.p().is_ok() && mutex.p().is_ok();
        let at = HEAD.load(Ordering::Relaxed);
        RING[slot(at, RING_SLOTS)].store(item, Ordering::Relaxed);
        HEAD.store(at + 1, Ordering::Relaxed);
        if !(ok && mutex.v().is_ok() && items.v().is_ok()) {
            fail(format_args!("producer {index}: a P or V failed"));
        }
    }
    finish(index)
}

extern "C" fn consumer(index: u64) -> ! {
    let (items, slots, mutex) = (sem(&SEM_A), sem(&SEM_B), sem(&SEM_C));
    for _ in 0..ITEMS {
        let ok = items.p().is_ok() && mutex.p().is_ok();
        let at = TAIL.load(Ordering::Relaxed);
        let item = RING[slot(at, RING_SLOTS)].load(Ordering::Relaxed);
        TAIL.store(at + 1, Ordering::Relaxed);
        SUM.fetch_add(item, Ordering::Relaxed);
        COUNTER.fetch_add(1, Ordering::Relaxed);
        if !(ok && mutex.v().is_ok() && slots.v().is_ok()) {
            fail(format_args!("consumer {index}: a P or V failed"));
        }
    }
    finish(index)
}

fn prodcons() {
    open_into(&SEM_A);
    let slots = open_into(&SEM_B);
    let mutex = open_into(&SEM_C);
    for _ in 0..RING_SLOTS {
        let _ = slots.v();
    }
    let _ = mutex.v();
    let mut started = 0;
    for _ in 0..PAIRS {
        started += u64::from(start(producer, 3, 0).is_some());
        started += u64::from(start(consumer, 3, 0).is_some());
    }
    wait_done(started);
    // Producer p made items p * 10^6 + 1 ..= p * 10^6 + ITEMS; indices
    // alternate producer, consumer from 0.
    let mut want = 0;
    for pair in 0..PAIRS {
        let p = pair * 2;
        want += ITEMS * p * 1_000_000 + ITEMS * (ITEMS + 1) / 2;
    }
    let (count, sum) = (COUNTER.load(Ordering::Relaxed), SUM.load(Ordering::Relaxed));
    println!(
        "prodcons: {count} items, sum {sum} (want {} and {want})",
        PAIRS * ITEMS
    );
    if count != PAIRS * ITEMS || sum != want {
        fail(format_args!("items lost or duplicated"));
    }
}

// ---- 1 and 7: mutual exclusion ---------------------------------------------

static GUARDED: AtomicBool = AtomicBool::new(true);

extern "C" fn incrementer(index: u64) -> ! {
    let me = own(index);
    let mutex = sem(&SEM_A);
    let guarded = GUARDED.load(Ordering::Relaxed);
    for round in 0..MUTEX_ROUNDS {
        if guarded && mutex.p().is_err() {
            fail(format_args!("incrementer {index}: P failed"));
        }
        let value = COUNTER.load(Ordering::Relaxed);
        if round % 2 == 0 {
            let _ = me.yield_now();
        }
        COUNTER.store(value + 1, Ordering::Relaxed);
        if guarded && mutex.v().is_err() {
            fail(format_args!("incrementer {index}: V failed"));
        }
    }
    finish(index)
}

fn mutex(guarded: bool) {
    GUARDED.store(guarded, Ordering::Relaxed);
    let mutex = open_into(&SEM_A);
    let _ = mutex.v();
    let mut started = 0;
    for _ in 0..MUTEX_THREADS {
        started += u64::from(start(incrementer, 3, 0).is_some());
    }
    wait_done(started);
    let count = COUNTER.load(Ordering::Relaxed);
    if guarded {
        println!(
            "mutex: counter {count} (want {})",
            MUTEX_THREADS * MUTEX_ROUNDS
        );
        if count != MUTEX_THREADS * MUTEX_ROUNDS {
            fail(format_args!("lost increments under the semaphore"));
        }
    }
}

// ---- 2: ping-pong under timer pressure -------------------------------------

extern "C" fn ping(index: u64) -> ! {
    let (to, from) = (sem(&SEM_A), sem(&SEM_B));
    for _ in 0..PINGPONG_ROUNDS {
        if to.v().is_err() || from.p().is_err() {
            fail(format_args!("ping: P or V failed"));
        }
    }
    finish(index)
}

extern "C" fn pong(index: u64) -> ! {
    let (from, to) = (sem(&SEM_A), sem(&SEM_B));
    for _ in 0..PINGPONG_ROUNDS {
        if from.p().is_err() || to.v().is_err() {
            fail(format_args!("pong: P or V failed"));
        }
    }
    finish(index)
}

/// Keeps a third SCPU in the round robin: it yields at once every time
/// (spinning through whole quanta would make the test take minutes of
/// guest time), so ping and pong are switched away from at every point.
extern "C" fn spinner(index: u64) -> ! {
    let me = own(index);
    while !STOP.load(Ordering::Relaxed) {
        for _ in 0..(index * 37) % 200 {
            core::hint::spin_loop();
        }
        let _ = me.yield_now();
    }
    finish(index)
}

fn pingpong() {
    open_into(&SEM_A);
    open_into(&SEM_B);
    let mut started = 0;
    // The shortest quantum: the timer preempts them as often as it can.
    started += u64::from(start(ping, 3, 1).is_some());
    started += u64::from(start(pong, 3, 1).is_some());
    let spin = start(spinner, 3, 1);
    wait_done(started);
    STOP.store(true, Ordering::Relaxed);
    if spin.is_some() {
        wait_done(1);
    }
    let left = [sem(&SEM_A).query(), sem(&SEM_B).query()];
    println!(
        "pingpong: {PINGPONG_ROUNDS} rounds; counts left {:?}",
        left.map(|i| i.map(|i| i.size))
    );
    if left
        .iter()
        .any(|i| !matches!(i, Ok(info) if info.size == 0))
    {
        fail(format_args!("units left over"));
    }
}

// ---- 3: sleep --------------------------------------------------------------

extern "C" fn sleeper(index: u64) -> ! {
    let me = own(index);
    let khz = TSC_KHZ.load(Ordering::Relaxed);
    for ns in [1_000_u64, 50_000, 1_000_000, 3_000_000, 20_000_000, 0] {
        let before = rdtsc();
        let result = me.sleep_ns(ns);
        let ticks = rdtsc().wrapping_sub(before);
        // khz is rounded down: this is at most the true minimum.
        let least = ns * khz / 1_000_000;
        println!("sleep {ns} ns: {ticks} TSC ticks (at least {least})");
        if result.is_err() || ticks < least {
            fail(format_args!(
                "sleep {ns} ns: {result:?} after {ticks} ticks"
            ));
        }
    }
    if me.sleep_ns(MAX_SLEEP_NS + 1) != Err(SysError::BadValue) {
        fail(format_args!("a sleep past MAX_SLEEP_NS was not BadValue"));
    }
    finish(index)
}

extern "C" fn idler(index: u64) -> ! {
    let _ = sem(&SEM_A).p();
    finish(index)
}

fn sleep() {
    open_into(&SEM_A);
    let Some(_sleeper) = start(sleeper, 3, 0) else {
        return;
    };
    // Yield and sleep on another SCPU's handle.
    if let Some(other) = start(idler, 3, 0) {
        let r = (other.yield_now(), other.sleep_ns(1000));
        if r != (Err(SysError::NotPermitted), Err(SysError::NotPermitted)) {
            fail(format_args!("yield/sleep on another SCPU: {r:?}"));
        }
        let _ = sem(&SEM_A).v();
        wait_done(1);
    }
    wait_done(1);
}

// ---- 4: yield --------------------------------------------------------------

extern "C" fn yielder(index: u64) -> ! {
    let me = own(index);
    let (mine, other) = ((index % 2) as usize, ((index + 1) % 2) as usize);
    let mut seen = TURNS[other].load(Ordering::Relaxed);
    for _ in 0..YIELD_ROUNDS {
        TURNS[mine].fetch_add(1, Ordering::Relaxed);
        let _ = me.yield_now();
        let now = TURNS[other].load(Ordering::Relaxed);
        let other_done = now >= YIELD_ROUNDS;
        if now == seen && !other_done {
            MISSES[mine].fetch_add(1, Ordering::Relaxed);
        }
        seen = now;
    }
    finish(index)
}

fn yielding() {
    let a = start(yielder, 3, 0);
    let b = start(yielder, 3, 0);
    wait_done(u64::from(a.is_some()) + u64::from(b.is_some()));
    let misses = [
        MISSES[0].load(Ordering::Relaxed),
        MISSES[1].load(Ordering::Relaxed),
    ];
    println!("yield: {YIELD_ROUNDS} rounds each, turns without the other moving: {misses:?}");
    // The first turn may come before the other SCPU started.
    if misses.iter().any(|&m| m > 2) {
        fail(format_args!("yield did not let the other SCPU run"));
    }
}

// ---- 5 and 6: hostile ------------------------------------------------------

extern "C" fn stale_user(index: u64) -> ! {
    // Waits until the main SCPU closed SEM_A, then uses it.
    while !STOP.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let r = (sem(&SEM_A).p(), sem(&SEM_A).v());
    if r != (Err(SysError::BadHandle), Err(SysError::BadHandle)) {
        fail(format_args!(
            "P/V on a closed semaphore from another SCPU: {r:?}"
        ));
    }
    finish(index)
}

extern "C" fn blocked_p(index: u64) -> ! {
    let r = sem(&SEM_B).p();
    // Only reached when the semaphore is closed under it.
    if r != Err(SysError::BadHandle) {
        fail(format_args!("P on a semaphore closed while waiting: {r:?}"));
    }
    finish(index)
}

fn wait_blocked(scpu: &Scpu) {
    let me_spin = rdtsc();
    loop {
        if matches!(scpu.query().map(|i| i.state()), Ok(Ok(ScpuState::Blocked))) {
            return;
        }
        if rdtsc().wrapping_sub(me_spin) > 10_000_000_000 {
            fail(format_args!("an SCPU never blocked"));
            return;
        }
        core::hint::spin_loop();
    }
}

fn hostile() {
    // A closed semaphore, from its opener and from another SCPU whose
    // table had its routines.
    let a = open_into(&SEM_A);
    let _ = a.v();
    STOP.store(false, Ordering::Relaxed);
    let user = start(stale_user, 3, 0);
    let handle = a.handle();
    let _ = a.close();
    STOP.store(true, Ordering::Release);
    let stale = Sio::from_handle(handle);
    let r = (stale.p(), stale.v());
    if r != (Err(SysError::BadHandle), Err(SysError::BadHandle)) {
        fail(format_args!("P/V on a closed semaphore: {r:?}"));
    }
    if user.is_some() {
        wait_done(1);
    }
    // The handle reused by a new semaphore: its own cell, count 0.
    let fresh = open_into(&SEM_A);
    if fresh.handle() != handle {
        println!(
            "semtest: (handle not reused: {:?} vs {handle:?})",
            fresh.handle()
        );
    }
    let _ = fresh.v();
    match fresh.query() {
        Ok(info) if info.size == 1 => {}
        other => fail(format_args!(
            "a new semaphore on a reused handle: {other:?}"
        )),
    }
    let _ = fresh.p();
    // An SCPU killed while blocked in P leaves the queue.
    let b = open_into(&SEM_B);
    if let Some(victim) = start(blocked_p, 3, 0) {
        wait_blocked(&victim);
        if let Err(e) = victim.terminate(0) {
            fail(format_args!("kill a blocked SCPU: {e:?}"));
        }
        let _ = b.v();
        match b.query() {
            Ok(info) if info.size == 1 => {}
            other => fail(format_args!(
                "V after the waiter was killed: {other:?} (the unit went to a dead SCPU)"
            )),
        }
        if b.p().is_err() {
            fail(format_args!("P after the killed waiter"));
        }
    }
    // A semaphore closed under a waiter.
    if let Some(waiter) = start(blocked_p, 3, 0) {
        wait_blocked(&waiter);
        let _ = b.close();
        wait_done(1);
    }
    // Another SMACH: the handle number means nothing there.
    let khz_field = u64::from(fresh.handle().index());
    match Smach::spawn_with_arg("/bin/semtest", (6 << 40) | khz_field).and_then(|c| c.wait()) {
        Ok(0) => {}
        other => fail(format_args!(
            "child SMACH on the parent's handle: {other:?}"
        )),
    }
}

fn child(handle: u64) -> i32 {
    let s = Sio::from_handle(Handle::new(u32::try_from(handle).unwrap_or(u32::MAX)));
    let r = (s.p(), s.v());
    if r == (Err(SysError::BadHandle), Err(SysError::BadHandle)) {
        0
    } else {
        println!("semtest child: P/V on the parent's handle {handle}: {r:?}");
        1
    }
}
