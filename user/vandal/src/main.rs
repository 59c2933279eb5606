//! `vandal`: the third review's hostile probes of the executable-scheduler
//! work (native `yield` and `sleep`, `/dev/semaphore`, the executable ready
//! queue, lazy FP state), one scenario per mode.
//!
//! The start argument is `mode | param << 8`.
//!
//! | mode | name | passes when |
//! |---|---|---|
//! | 0 | `sleepers` | SCPUs asleep for `MAX_SLEEP_NS` are suspended, resumed (and sleep again), killed; 30 SCPUs sleep short random times in a loop while being suspended, resumed, killed and replaced; 20,000 sleeps of 1 ns and 1,000 of 0 ns; sleeps past the limit and of `u64::MAX` are `BadValue`; then the program exits while an SCPU still sleeps for days: exit 0 |
//! | 1 | `semaphores` | P and V ignore any buffer and length (kernel, unmapped, `u64::MAX`) on both paths; 100,000 V then 100,000 P leave the count at 0; a blocked waiter killed, a suspended one granted a unit and then killed (the unit goes to the next waiter), a semaphore closed under waiters on both paths (`BadHandle`); then the program ends while SCPUs block in P: param 0 by `exit` from a sleeping SCPU, param 1 by its last running SCPU ending itself (the kernel test then kills the program, whose SCPUs all block) |
//! | 2 | `churn` | 16 SCPUs (half keep a pattern in the XMM registers, checked all the time) while the main SCPU reconfigures them at random (quantum 0, 1, 100, `u32::MAX` µs; priority 0..8, 8 refused), suspends, resumes, kills and replaces them, and they yield, sleep and end themselves at random: every FP check holds, exit 0 |
//! | 3 | `fpodd` | odd FP states across calls, yields, sleeps and timer switches: a pending unmasked x87 exception (the kernel must not raise it in ring 0, and it is still pending after), MXCSR with every exception unmasked and every flag set, dirty AVX upper halves; an SCPU that ends itself or is killed with a pending x87 exception, after which SCPUs with and without FP state run `fwait`: nobody gets `#MF`, exit 0 |
//! | 5 | `priority` | (param: the TSC's kHz) 62 SCPUs asleep; 16 `reconfigure(Priority)` on our own SMACH alternating 0 and 7 (each rebuilds every SCPU's switch code under the kernel lock, interrupts masked): exit 0; prints the longest call in TSC ticks (`vandal: priority: longest ... ticks`), and fails if it is over 20 ms |
//! | 4 | `firstfault` | an SCPU whose first FP instruction faults after its `#NM` (param 0: `fxrstor64` from an unmapped page, `#PF`; 1: `fxsave64` to a kernel address, `#PF`; 2: `movaps` from a misaligned address, `#GP`) while two FP SCPUs hold save areas: the program is killed (137) |
//!
//! Exit status: 0 = passed, 1 = a check failed (the line says which),
//! 2 = unknown mode, 3 = an expected fault did not come.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "inline asm on the FP registers and raw calls with hostile buffers; SAFETY comments per block"
)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "x86-64 only; narrowing random bits on purpose"
)]

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{Call, CallWord, Handle, ScpuState, SysError, MAX_SLEEP_NS};
use sk_user::{println, Scpu, Sio, Stack};

sk_user::entry!(main);

const SLOTS: usize = 40;
/// Stacks handed out in turn; a killed SCPU's stack is not reused (it
/// may have been killed mid-write), so there are enough for the runs.
static STACKS: [Stack<4096>; SLOTS] = [const { Stack::new() }; SLOTS];
static NEXT_STACK: AtomicU32 = AtomicU32::new(0);
/// Each SCPU's own handle by slot, published by its creator (0: not yet).
static HANDLES: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
static FAILED: AtomicBool = AtomicBool::new(false);
static FLAGS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
static SEM: AtomicU32 = AtomicU32::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
/// The orchestrating SCPU (the main thread has no handle of its own to
/// yield or sleep with: it waits in P on `DONE` while this one works).
static ORCH: AtomicU32 = AtomicU32::new(0);
static ORCH_STACK: Stack<65536> = Stack::new();
static DONE: AtomicU32 = AtomicU32::new(0);

const KERNEL_ADDR: u64 = 0xffff_ffff_8000_0000;
const UNMAPPED: u64 = 0x0000_6000_0000_0000;

fn fail(what: core::fmt::Arguments<'_>) {
    println!("vandal: FAILED: {what}");
    FAILED.store(true, Ordering::Relaxed);
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Starts `entry(slot)` on a fresh stack (priority, quantum); returns the
/// slot and publishes the handle.
fn start(entry: extern "C" fn(u64) -> !, priority: u32, quantum_us: u32) -> Option<usize> {
    let slot = NEXT_STACK.fetch_add(1, Ordering::Relaxed) as usize;
    let stack = STACKS.get(slot)?.take()?;
    match Scpu::create_with(entry, stack, slot as u64, priority, quantum_us) {
        Ok(scpu) => {
            HANDLES[slot].store(scpu.handle().index(), Ordering::Release);
            Some(slot)
        }
        Err(e) => {
            fail(format_args!("create SCPU {slot}: {e:?}"));
            None
        }
    }
}

/// The SCPU in `slot` (waits for its creator to publish it).
fn scpu(slot: u64) -> Scpu {
    let cell = &HANDLES[(slot as usize) % SLOTS];
    loop {
        let h = cell.load(Ordering::Acquire);
        if h != 0 {
            return Scpu::from_handle(Handle::new(h));
        }
        core::hint::spin_loop();
    }
}

fn state(slot: usize) -> Option<ScpuState> {
    let info = scpu(slot as u64).query().ok()?;
    ScpuState::from_number(u64::from(info.state))
}

/// The orchestrating SCPU (the caller, in every mode's code).
fn me() -> Scpu {
    Scpu::from_handle(Handle::new(ORCH.load(Ordering::Acquire)))
}

/// Yields (then sleeps a millisecond at a time, at most 100,000 times)
/// until `done()`; false if it never was.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    for i in 0..100_000 {
        if done() {
            return true;
        }
        if i < 100 {
            let _ = me().yield_now();
        } else {
            let _ = me().sleep_ns(1_000_000);
        }
    }
    done()
}

/// Yields until the SCPU in `slot` is `want`.
fn wait_state(slot: usize, want: ScpuState) {
    if !wait_for(|| state(slot) == Some(want)) {
        fail(format_args!(
            "SCPU {slot} never became {want:?} (is {:?})",
            state(slot)
        ));
    }
}

/// Yields until the flag of `slot` is nonzero.
fn wait_flag(slot: usize) -> u64 {
    wait_for(|| FLAGS[slot].load(Ordering::Acquire) != 0);
    FLAGS[slot].load(Ordering::Acquire)
}

fn kill(slot: usize) {
    if let Err(e) = scpu(slot as u64).terminate(0) {
        fail(format_args!("kill SCPU {slot}: {e:?}"));
    }
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let done = match Sio::semaphore() {
        Ok(s) => s,
        Err(e) => {
            println!("vandal: open: {e:?}");
            return 1;
        }
    };
    DONE.store(done.handle().index(), Ordering::Release);
    let Some(stack) = ORCH_STACK.take() else {
        return 1;
    };
    match Scpu::create_with(orchestrate, stack, arg, 0, 100) {
        Ok(s) => ORCH.store(s.handle().index(), Ordering::Release),
        Err(e) => {
            println!("vandal: create: {e:?}");
            return 1;
        }
    }
    if let Err(e) = done.p() {
        fail(format_args!("P(done): {e:?}"));
    }
    i32::from(FAILED.load(Ordering::Relaxed))
}

/// Runs the mode, then lets main end the program (whatever else still
/// sleeps or blocks).
extern "C" fn orchestrate(arg: u64) -> ! {
    while ORCH.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
    let (mode, param) = (arg & 0xff, arg >> 8);
    match mode {
        0 => sleepers(),
        1 => semaphores(param),
        2 => churn(),
        3 => fpodd(),
        4 => first_fault(param),
        5 => priority(param),
        _ => {
            println!("vandal: unknown mode {mode}");
            sk_user::exit(2)
        }
    }
    let _ = Sio::from_handle(Handle::new(DONE.load(Ordering::Acquire))).v();
    loop {
        let _ = me().sleep_ns(MAX_SLEEP_NS);
    }
}

// ---- 0: sleepers ----------------------------------------------------------

extern "C" fn sleep_forever(slot: u64) -> ! {
    let me = scpu(slot);
    loop {
        let r = me.sleep_ns(MAX_SLEEP_NS);
        // A resume wakes nobody early: the sleep goes on inside the call.
        FLAGS[slot as usize].store(1, Ordering::Release);
        fail(format_args!("a sleep of MAX_SLEEP_NS returned: {r:?}"));
    }
}

extern "C" fn sleep_short(slot: u64) -> ! {
    let me = scpu(slot);
    let mut rng = Rng(slot.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    loop {
        let ns = rng.below(300_000);
        if let Err(e) = me.sleep_ns(ns) {
            fail(format_args!("sleep {ns}: {e:?}"));
        }
        FLAGS[slot as usize].fetch_add(1, Ordering::Relaxed);
    }
}

fn sleepers() {
    let (Some(a), Some(b)) = (start(sleep_forever, 0, 100), start(sleep_forever, 0, 100)) else {
        return;
    };
    wait_state(a, ScpuState::Blocked);
    wait_state(b, ScpuState::Blocked);
    for _ in 0..20 {
        let _ = scpu(a as u64).suspend();
        wait_state(a, ScpuState::Suspended);
        let _ = scpu(a as u64).resume();
        // Woken by the resume, it finds its deadline far off and sleeps again.
        wait_state(a, ScpuState::Blocked);
    }
    kill(a);
    if scpu(a as u64).query() != Err(SysError::BadHandle) {
        fail(format_args!("a killed sleeper's handle still answers"));
    }
    // Short sleepers, suspended, resumed, killed and replaced at random.
    let mut live: [Option<usize>; 8] = [None; 8];
    let mut rng = Rng(0x5eed_0001);
    for round in 0..400 {
        let i = rng.below(live.len() as u64) as usize;
        match (live[i], rng.below(4)) {
            (None, _) => {
                if NEXT_STACK.load(Ordering::Relaxed) as usize + 2 < SLOTS {
                    live[i] = start(sleep_short, (round % 8) as u32, 100);
                }
            }
            (Some(s), 0) => {
                kill(s);
                live[i] = None;
            }
            (Some(s), 1) => {
                let _ = scpu(s as u64).suspend();
            }
            (Some(s), _) => {
                let _ = scpu(s as u64).resume();
            }
        }
        let _ = me().sleep_ns(rng.below(100_000));
    }
    // Our own sleeps need a handle of our own: a helper does them.
    let Some(c) = start(sleep_calls, 0, 100) else {
        return;
    };
    if wait_flag(c) != 1 {
        fail(format_args!("the sleep calls did not finish"));
    }
    for s in live.into_iter().flatten() {
        let _ = scpu(s as u64).resume();
    }
    if FLAGS[a].load(Ordering::Acquire) != 0 || FLAGS[b].load(Ordering::Acquire) != 0 {
        fail(format_args!("a sleeper for MAX_SLEEP_NS woke"));
    }
    // Ends the program while `b` sleeps for days (and the short ones sleep).
}

/// Many tiny sleeps and the refused ones; then ends itself.
extern "C" fn sleep_calls(slot: u64) -> ! {
    let me = scpu(slot);
    for ns in [MAX_SLEEP_NS + 1, u64::MAX] {
        if me.sleep_ns(ns) != Err(SysError::BadValue) {
            fail(format_args!("a sleep of {ns} ns was not BadValue"));
        }
    }
    for _ in 0..20_000 {
        if let Err(e) = me.sleep_ns(1) {
            fail(format_args!("sleep 1 ns: {e:?}"));
        }
    }
    for _ in 0..1_000 {
        if let Err(e) = me.sleep_ns(0) {
            fail(format_args!("sleep 0 ns: {e:?}"));
        }
    }
    FLAGS[slot as usize].store(1, Ordering::Release);
    // Queried as Exited by main until the handle is closed: end by a
    // terminate of our own handle.
    let _ = me.terminate(0);
    sk_user::exit(1)
}

// ---- 1: semaphores --------------------------------------------------------

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

fn semaphores(param: u64) -> ! {
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

// ---- 2: churn -------------------------------------------------------------

/// Loads `value` into xmm0-15.
fn load_xmm(value: u64) {
    let v = [value, !value];
    // SAFETY: loads the XMM registers from a local (this SCPU's own FP state).
    unsafe {
        asm!(
            "movdqu xmm0, [{v}]", "movdqu xmm1, [{v}]", "movdqu xmm2, [{v}]",
            "movdqu xmm3, [{v}]", "movdqu xmm4, [{v}]", "movdqu xmm5, [{v}]",
            "movdqu xmm6, [{v}]", "movdqu xmm7, [{v}]", "movdqu xmm8, [{v}]",
            "movdqu xmm9, [{v}]", "movdqu xmm10, [{v}]", "movdqu xmm11, [{v}]",
            "movdqu xmm12, [{v}]", "movdqu xmm13, [{v}]", "movdqu xmm14, [{v}]",
            "movdqu xmm15, [{v}]",
            v = in(reg) v.as_ptr(),
            options(nostack, readonly),
        );
    }
}

/// True if every XMM register holds what [`load_xmm`] put there.
fn xmm_hold(value: u64) -> bool {
    let mut out = [0u64; 32];
    // SAFETY: stores the XMM registers into a local.
    unsafe {
        asm!(
            "movdqu [{o}], xmm0", "movdqu [{o} + 16], xmm1", "movdqu [{o} + 32], xmm2",
            "movdqu [{o} + 48], xmm3", "movdqu [{o} + 64], xmm4", "movdqu [{o} + 80], xmm5",
            "movdqu [{o} + 96], xmm6", "movdqu [{o} + 112], xmm7", "movdqu [{o} + 128], xmm8",
            "movdqu [{o} + 144], xmm9", "movdqu [{o} + 160], xmm10", "movdqu [{o} + 176], xmm11",
            "movdqu [{o} + 192], xmm12", "movdqu [{o} + 208], xmm13", "movdqu [{o} + 224], xmm14",
            "movdqu [{o} + 240], xmm15",
            o = in(reg) out.as_mut_ptr(),
            options(nostack),
        );
    }
    out.chunks(2).all(|c| c == [value, !value])
}

extern "C" fn churner(slot: u64) -> ! {
    let me = scpu(slot);
    let fp = slot.is_multiple_of(2);
    let mut rng = Rng(slot.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    let mut value = rng.next();
    // A few spins first: the first FP use (#NM) comes at a random moment.
    for _ in 0..rng.below(50_000) {
        core::hint::spin_loop();
    }
    if fp {
        load_xmm(value);
    }
    loop {
        if fp && !xmm_hold(value) {
            fail(format_args!("SCPU {slot}: XMM registers changed"));
            load_xmm(value);
        }
        match rng.below(1000) {
            0 => {
                // Ends itself with its FP state live; main replaces it.
                FLAGS[slot as usize].store(1, Ordering::Release);
                let _ = scpu(slot).terminate(0);
            }
            1..=20 => {
                let _ = me.yield_now();
            }
            21..=30 => {
                let _ = me.sleep_ns(rng.below(200_000));
            }
            31..=40 if fp => {
                value = rng.next();
                load_xmm(value);
            }
            41..=45 => {
                let _ = me.set_quantum(100 + rng.below(3) as u32 * 10_000);
            }
            _ => {}
        }
        // Yield every turn: twelve spinners with one-tick quanta would
        // leave the orchestrator a tick in thirteen.
        let _ = me.yield_now();
        if STOP.load(Ordering::Relaxed) {
            loop {
                let _ = me.sleep_ns(MAX_SLEEP_NS);
            }
        }
    }
}

fn churn() {
    let mut live: [Option<usize>; 12] = [None; 12];
    for slot in &mut live {
        *slot = start(churner, 0, 100);
    }
    let mut rng = Rng(0xc4a5_e000_0001);
    let quanta = [0, 1, 100, u32::MAX];
    for _ in 0..1_500 {
        let i = rng.below(live.len() as u64) as usize;
        let Some(s) = live[i] else {
            if (NEXT_STACK.load(Ordering::Relaxed) as usize) < SLOTS {
                live[i] = start(churner, rng.below(8) as u32, 100);
            }
            continue;
        };
        let target = scpu(s as u64);
        if FLAGS[s].load(Ordering::Acquire) == 1 {
            // It ended itself: its handle is closed.
            live[i] = None;
            continue;
        }
        let r = match rng.below(6) {
            0 => {
                let q = quanta[rng.below(4) as usize];
                let r = target.set_quantum(q);
                if q == 0 && r != Err(SysError::BadValue) {
                    fail(format_args!("quantum 0: {r:?}"));
                }
                if q == 0 {
                    Ok(())
                } else {
                    r
                }
            }
            1 => {
                let p = rng.below(9) as u32;
                let r = target.set_priority(p);
                if p > 7 && r != Err(SysError::BadValue) {
                    fail(format_args!("priority {p}: {r:?}"));
                }
                Ok(())
            }
            2 => target.suspend(),
            3 => target.resume(),
            4 if rng.below(8) == 0 => {
                let r = target.terminate(0);
                live[i] = None;
                r
            }
            _ => Ok(()),
        };
        // A target that ended itself meanwhile: BadHandle.
        if let Err(e) = r {
            if e != SysError::BadHandle {
                fail(format_args!("reconfigure SCPU {s}: {e:?}"));
            }
        }
        if rng.below(4) == 0 {
            let _ = me().yield_now();
        }
    }
    STOP.store(true, Ordering::Release);
    for s in live.into_iter().flatten() {
        let _ = scpu(s as u64).resume();
    }
}

// ---- 3: fpodd -------------------------------------------------------------

/// Unmasks x87 divide-by-zero and divides by zero without a waiting
/// instruction after: the exception is pending (FSW.ES), raised as `#MF`
/// by the next waiting x87 instruction only.
fn pend_x87_exception() {
    let fcw: u16 = 0x037f & !(1 << 2);
    // SAFETY: x87 state of this SCPU; `fnstsw` (non-waiting) reads back.
    unsafe {
        asm!(
            "fninit",
            "fldcw [{c}]",
            "fld1",
            "fldz",
            "fdivp st(1), st",
            c = in(reg) &raw const fcw,
            options(nostack, readonly),
        );
    }
}

/// FSW (non-waiting read).
fn fsw() -> u16 {
    let s: u16;
    // SAFETY: reads the x87 status word.
    unsafe { asm!("fnstsw ax", out("ax") s, options(nomem, nostack)) };
    s
}

fn clear_x87() {
    // SAFETY: `fninit` resets the x87 state (non-waiting: no #MF).
    unsafe { asm!("fninit", options(nomem, nostack)) };
}

/// Ends itself (or waits to be killed, param 1) with a pending x87
/// exception in the live registers.
extern "C" fn pending_then_gone(slot: u64) -> ! {
    pend_x87_exception();
    FLAGS[slot as usize].store(1, Ordering::Release);
    if slot.is_multiple_of(2) {
        let _ = scpu(slot).terminate(0);
    }
    loop {
        core::hint::spin_loop();
    }
}

/// Its first FP instruction is `fwait` (it has no save area yet): must
/// not be `#MF` from someone else's pending exception.
extern "C" fn lazy_fwait(slot: u64) -> ! {
    // SAFETY: `fwait` raises a pending unmasked x87 exception if any.
    unsafe { asm!("fwait", options(nomem, nostack)) };
    let s = fsw();
    FLAGS[slot as usize].store(2 | u64::from(s) << 8, Ordering::Release);
    loop {
        let _ = scpu(slot).sleep_ns(MAX_SLEEP_NS);
    }
}

/// Main's own calls, yields and sleeps with `f` between: a helper SCPU
/// with a handle does the yields and sleeps; main makes null calls and
/// spins across timer switches.
fn busy_with_switches() {
    for _ in 0..100 {
        let _ = sk_user::null_call();
    }
    // Timer switches: spin long enough for a few ticks.
    for _ in 0..10_000_000 {
        core::hint::spin_loop();
    }
}

extern "C" fn odd_yielder(slot: u64) -> ! {
    let me = scpu(slot);
    // (a) pending x87 exception across yield and sleep.
    pend_x87_exception();
    let before = fsw();
    for _ in 0..20 {
        let _ = me.yield_now();
        let _ = me.sleep_ns(150_000);
    }
    let after = fsw();
    if before & 0x80 == 0 || after != before {
        fail(format_args!(
            "pending x87 exception: FSW {before:#x} before, {after:#x} after"
        ));
    }
    clear_x87();
    // (b) MXCSR with every exception unmasked and every flag set.
    let wild: u32 = 0x003f;
    let mut back: u32 = 0;
    // SAFETY: MXCSR of this SCPU; flags set and unmasked raise nothing
    // until an SSE instruction computes.
    unsafe { asm!("ldmxcsr [{}]", in(reg) &raw const wild, options(nostack, readonly)) };
    for _ in 0..20 {
        let _ = me.yield_now();
        let _ = me.sleep_ns(150_000);
    }
    // SAFETY: stores MXCSR into a local.
    unsafe { asm!("stmxcsr [{}]", in(reg) &raw mut back, options(nostack)) };
    if back != wild {
        fail(format_args!(
            "MXCSR {back:#x} after switches, want {wild:#x}"
        ));
    }
    let default: u32 = 0x1f80;
    // SAFETY: back to the default MXCSR.
    unsafe { asm!("ldmxcsr [{}]", in(reg) &raw const default, options(nostack, readonly)) };
    // (c) dirty AVX upper halves (no vzeroupper) across switches.
    let v: [u64; 4] = [1, 2, 3, 0xdead_beef_0bad_cafe];
    let mut out = [0u64; 4];
    // SAFETY: ymm7 of this SCPU, from and to locals.
    unsafe { asm!("vmovdqu ymm7, [{}]", in(reg) v.as_ptr(), options(nostack, readonly)) };
    for _ in 0..20 {
        let _ = me.yield_now();
        let _ = me.sleep_ns(150_000);
    }
    // SAFETY: as above.
    unsafe { asm!("vmovdqu [{}], ymm7", in(reg) out.as_mut_ptr(), options(nostack)) };
    if out != v {
        fail(format_args!("ymm7 {out:x?} after switches, want {v:x?}"));
    }
    FLAGS[slot as usize].store(1, Ordering::Release);
    loop {
        let _ = me.sleep_ns(MAX_SLEEP_NS);
    }
}

fn has_avx() -> bool {
    let ecx: u32;
    // SAFETY: cpuid leaf 1 (rbx is reserved by LLVM: saved around it).
    unsafe {
        asm!(
            "push rbx", "cpuid", "pop rbx",
            inout("eax") 1u32 => _, inout("ecx") 0u32 => ecx, out("edx") _,
            options(nomem)
        );
    }
    ecx & (1 << 28) != 0 && ecx & (1 << 27) != 0
}

fn fpodd() {
    if !has_avx() {
        println!("vandal: no AVX: the ymm case runs anyway and would #UD");
    }
    let Some(y) = start(odd_yielder, 0, 100) else {
        return;
    };
    // Main: pending x87 exception across calls and timer switches.
    pend_x87_exception();
    let before = fsw();
    busy_with_switches();
    if fsw() != before || before & 0x80 == 0 {
        fail(format_args!("main: FSW {before:#x} then {:#x}", fsw()));
    }
    clear_x87();
    if wait_flag(y) != 1 {
        fail(format_args!("the odd yielder did not finish"));
    }
    // An SCPU ends itself / is killed with a pending exception; then an
    // SCPU without FP state and main (with FP state) `fwait`.
    for round in 0..4 {
        let Some(g) = start(pending_then_gone, 0, 100) else {
            return;
        };
        wait_flag(g);
        if g % 2 == 1 {
            kill(g);
        }
        let Some(l) = start(lazy_fwait, 0, 100) else {
            return;
        };
        wait_flag(l);
        let f = FLAGS[l].load(Ordering::Acquire);
        if f & 0xff != 2 || (f >> 8) & 0x80 != 0 {
            fail(format_args!(
                "round {round}: the lazy SCPU's fwait: flag {f:#x}"
            ));
        }
        // SAFETY: `fwait` on main's own x87 state (no exception pending).
        unsafe { asm!("fwait", options(nomem, nostack)) };
    }
}

// ---- 5: priority ----------------------------------------------------------

static SMALL_STACKS: [Stack<1024>; 62] = [const { Stack::new() }; 62];

extern "C" fn asleep(_arg: u64) -> ! {
    loop {
        // No handle of its own: it blocks in P on a semaphore nobody V's.
        let _ = Sio::from_handle(Handle::new(SEM.load(Ordering::Acquire))).p();
    }
}

/// `tsc_khz`: the TSC's frequency (the kernel test passes it).
fn priority(tsc_khz: u64) {
    let sem = match Sio::semaphore() {
        Ok(s) => s,
        Err(e) => return fail(format_args!("open: {e:?}")),
    };
    SEM.store(sem.handle().index(), Ordering::Release);
    let mut made = 0;
    for stack in &SMALL_STACKS {
        let Some(stack) = stack.take() else {
            break;
        };
        // The default quantum: its ticks scale with the priority, so every
        // change of priority changes a fact the switch code bakes in.
        match Scpu::create_with(asleep, stack, 0, 0, 0) {
            Ok(_) => made += 1,
            Err(e) => {
                println!("vandal: priority: SCPU {made}: {e:?}");
                break;
            }
        }
    }
    let me_smach = sk_user::Smach::from_handle(Handle::SELF);
    let mut longest = 0;
    for round in 0..16u32 {
        let t0 = sk_user::rdtsc();
        let r = me_smach.set_priority(if round % 2 == 0 { 0 } else { 7 });
        let ticks = sk_user::rdtsc().wrapping_sub(t0);
        if let Err(e) = r {
            fail(format_args!("priority: {e:?}"));
        }
        longest = longest.max(ticks);
    }
    println!(
        "vandal: priority: longest of 16 calls over {} SCPUs: {longest} ticks",
        made + 2
    );
    // The bound `cpuhog` holds every long call to: 20 ms.
    if longest > tsc_khz.saturating_mul(20) {
        fail(format_args!(
            "a priority change kept interrupts masked {longest} ticks (> 20 ms)"
        ));
    }
}

// ---- 4: firstfault --------------------------------------------------------

extern "C" fn fp_holder(slot: u64) -> ! {
    load_xmm(0x1234_5678_9abc_def0);
    loop {
        let _ = scpu(slot).sleep_ns(MAX_SLEEP_NS);
    }
}

extern "C" fn faulter(param: u64) -> ! {
    let aligned = [0u128; 3];
    let misaligned = (aligned.as_ptr() as u64 + 1) as *const u8;
    // SAFETY: each instruction is this SCPU's first FP one: `#NM` first,
    // then the fault that kills the program. Nothing of ours is written.
    unsafe {
        match param {
            0 => asm!("fxrstor64 [{}]", in(reg) UNMAPPED, options(nostack, readonly)),
            1 => asm!("fxsave64 [{}]", in(reg) KERNEL_ADDR, options(nostack)),
            _ => asm!("movaps xmm0, [{}]", in(reg) misaligned, options(nostack, readonly)),
        }
    }
    println!("vandal: first-use fault {param} did not come");
    sk_user::exit(3)
}

fn first_fault(param: u64) {
    for _ in 0..2 {
        let _ = start(fp_holder, 0, 100);
    }
    for _ in 0..50 {
        let _ = me().yield_now();
    }
    let Some(stack) = STACKS.get(SLOTS - 1).and_then(Stack::take) else {
        return;
    };
    if let Err(e) = Scpu::create_with(faulter, stack, param, 0, 100) {
        fail(format_args!("create the faulter: {e:?}"));
        return;
    }
    loop {
        let _ = me().yield_now();
    }
}
