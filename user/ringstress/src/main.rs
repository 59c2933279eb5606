//! `ringstress`: work for the scheduler tests (`kernel/src/tests/scheduling.rs`),
//! on either scheduler (the executable ready queue, or the generic round
//! robin with `synth=off` / `sched=generic`).
//!
//! The start argument is `mode | param << 8 | seed << 16`:
//!
//! | mode | what | passes when |
//! |---|---|---|
//! | 1 | `param` SCPUs in this SMACH (main among them, at most 16) each loop: read a line from the console (blocks; the kernel test feeds lines and wakes readers), then one random action: spin (sometimes across a timer tick), yield 1-50 times (`sk_user::yield_now`), suspend a sibling and check it does not run while suspended, kill a sibling and start another on a fresh stack, spawn `/bin/worker` and wait for it (blocks on the SMACH wait) | never exits on its own: the test kills it. A finding exits at once with status 10 and up (the line printed says which) |
//! | 2 | `param` SCPUs (main among them, at most 16) each compute `worker`'s result for `seed + i`, spin a random while, and end themselves (`terminate` on their own handle; main blocks on the console instead); the last to finish checks every result | exits with `(Σ status(seed + i)) mod 200`, the sum of `worker`'s statuses; 250 if a result is wrong or a call failed |
//!
//! | 3 | one SCPU spins reading the TSC, then two: each gap in its TSC readings is a timer tick (alone: the interrupt and the timer hook, no switch), and each change of reader is a one-way switch by the timer (the other's last reading to this one's first) | prints `ringstress: timer gaps: alone min=… median=…; switch min=… median=…` (TSC ticks: instructions under `-icount`); exits 0 |
//! | 4 | one SCPU reads one line from the console (the lost-wake-up test injects the line while it is about to block, `kernel/src/tests/scheduling.rs`) | exits with the line's first byte; 250 if the read failed or was empty |
//! | 5 | one SCPU spawns `/bin/worker` with `seed` and waits for it (the lost-wake-up test lets the child exit while the wait is about to block) | exits with the worker's status; 250 if a call failed |
//! | 6 | `param` SCPUs (main among them) hammer the synthesized yield (`reconfigure(YieldCaller)` on the SMACH's own handle) with a per-SCPU value live in `xmm0` and `rbx`-`r15` untouched by Rust across it; workers change their own quantum now and then (their switch code is rebuilt while they run) and yield at once; main, for 300 rounds, gives every worker a new priority and quantum (rebuilt while they are parked in a yield), arms `TraceNextCall` and yields without TF, suspends a worker and checks it does not move, then kills the workers and yields alone | exits 0; 20 = an `xmm0` value changed across a yield; 21 = a suspended SCPU ran; 13 = a call failed |
//!
//! Exit statuses (mode 1): 10 = a suspended SCPU ran while suspended; 11 =
//! a killed SCPU's handle still answered after many spins; 12 = a waited
//! child's status was wrong; 13 = a call that must succeed failed.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use sk_user::abi::{Handle, ScpuState, SysError};
use sk_user::{println, Scpu, Sio, Smach, Stack};

sk_user::entry!(main);

/// Most SCPUs a mode runs at once.
const MAX_THREADS: usize = 16;
/// Stacks for SCPUs started in place of killed ones (mode 1); no more
/// kills once they are used up.
const SPARE_STACKS: usize = 48;
/// Bytes per stack.
const STACK_BYTES: usize = 8192;

static STACKS: [Stack<STACK_BYTES>; MAX_THREADS + SPARE_STACKS] =
    [const { Stack::new() }; MAX_THREADS + SPARE_STACKS];
/// The next unused stack.
static NEXT_STACK: AtomicUsize = AtomicUsize::new(0);
/// Handle index + 1 of each slot's SCPU (0: none; main's slot 0 has none).
static HANDLES: [AtomicU64; MAX_THREADS] = [const { AtomicU64::new(0) }; MAX_THREADS];
/// SCPUs started in each slot so far (a suspend check of a slot whose SCPU
/// was replaced meanwhile proves nothing: handle numbers are reused).
static GENERATIONS: [AtomicU64; MAX_THREADS] = [const { AtomicU64::new(0) }; MAX_THREADS];
/// Progress of each slot's SCPU (it counts in its spin loops too).
static COUNTERS: [AtomicU64; MAX_THREADS] = [const { AtomicU64::new(0) }; MAX_THREADS];
/// Results of mode 2, per slot (`u64::MAX`: not yet).
static RESULTS: [AtomicU64; MAX_THREADS] = [const { AtomicU64::new(u64::MAX) }; MAX_THREADS];
/// SCPUs of this program in use (slots `0..THREADS`).
static THREADS: AtomicUsize = AtomicUsize::new(0);
/// Mode 2: SCPUs finished.
static FINISHED: AtomicUsize = AtomicUsize::new(0);
/// The program's seed.
static SEED: AtomicU64 = AtomicU64::new(1);

/// Spins of a wait for a killed SCPU to be gone before it is a finding.
const GONE_SPINS: u64 = 1_000_000;

const SUSPENDED_RAN: i32 = 10;
const KILL_NOT_GONE: i32 = 11;
const WRONG_STATUS: i32 = 12;
const CALL_FAILED: i32 = 13;
/// Mode 2's failure (its passing statuses are 0..200).
const MODE2_FAILED: i32 = 250;

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let (mode, param, seed) = (arg & 0xff, (arg >> 8) & 0xff, arg >> 16);
    SEED.store(seed, Ordering::SeqCst);
    let threads = usize::try_from(param).unwrap_or(0).clamp(1, MAX_THREADS);
    match mode {
        1 => stress(threads),
        2 => finish_in_random_order(threads),
        3 => timer_gaps(),
        4 => read_one_line(),
        5 => wait_for_worker(seed),
        6 => yield_storm(threads),
        _ => {
            println!("ringstress: unknown mode {mode}");
            1
        }
    }
}

fn counter(slot: usize) -> &'static AtomicU64 {
    &COUNTERS[slot % MAX_THREADS]
}

fn handle_of(slot: usize) -> Option<Scpu> {
    let h = HANDLES[slot % MAX_THREADS].load(Ordering::SeqCst);
    let index = u32::try_from(h.checked_sub(1)?).ok()?;
    Some(Scpu::from_handle(Handle::new(index)))
}

/// Starts `entry(slot)` on the next unused stack, at a random priority and
/// a short quantum (100 µs asked, one timer tick given).
fn start(entry: sk_user::ScpuEntry, slot: usize, rng: &mut Rng) -> Result<Scpu, i32> {
    let index = NEXT_STACK.fetch_add(1, Ordering::SeqCst);
    let stack = STACKS
        .get(index)
        .and_then(|s| s.take())
        .ok_or(CALL_FAILED)?;
    let priority = u32::try_from(rng.below(8)).unwrap_or(0);
    let scpu = Scpu::create_with(entry, stack, slot as u64, priority, 100).map_err(|e| {
        println!("ringstress: SCPU create: {e:?}");
        CALL_FAILED
    })?;
    GENERATIONS[slot % MAX_THREADS].fetch_add(1, Ordering::SeqCst);
    HANDLES[slot % MAX_THREADS].store(u64::from(scpu.handle().index()) + 1, Ordering::SeqCst);
    Ok(scpu)
}

fn spin(slot: usize, iterations: u64) {
    let c = counter(slot);
    for _ in 0..iterations {
        c.fetch_add(1, Ordering::SeqCst);
    }
}

// ---- mode 1 ----------------------------------------------------------------

fn stress(threads: usize) -> i32 {
    let mut rng = Rng::new(SEED.load(Ordering::SeqCst) ^ 0x5eed);
    THREADS.store(threads, Ordering::SeqCst);
    // Stack 0 stays unused (main runs on its own stack).
    NEXT_STACK.store(1, Ordering::SeqCst);
    for slot in 1..threads {
        if let Err(code) = start(stress_thread, slot, &mut rng) {
            return code;
        }
    }
    stress_loop(0)
}

extern "C" fn stress_thread(slot: u64) -> ! {
    stress_loop(usize::try_from(slot).unwrap_or(0))
}

fn finding(code: i32, what: core::fmt::Arguments<'_>) -> ! {
    println!("ringstress: FINDING: {what}");
    sk_user::exit(code)
}

fn stress_loop(slot: usize) -> ! {
    let seed = SEED.load(Ordering::SeqCst);
    let mut rng = Rng::new(seed ^ (slot as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let console = Sio::console();
    let mut line = [0u8; 64];
    loop {
        // Blocks until the test feeds a line (or a sibling's suspend and
        // resume wakes us: the read then blocks again in the kernel).
        match console.read(&mut line) {
            Ok(_) | Err(SysError::Interrupted) => {}
            Err(e) => finding(CALL_FAILED, format_args!("console read: {e:?}")),
        }
        counter(slot).fetch_add(1, Ordering::SeqCst);
        match rng.below(100) {
            // A short spin; now and then a long one, across a timer tick
            // (10^7 instructions), so the timer switches us out.
            // Yields (on the ring, the synthesized yield: jumps along the
            // switch code the kernel only learns of at its next look).
            30..=39 => {
                for _ in 0..=rng.below(50) {
                    let _ = sk_user::yield_now();
                }
            }
            0..=29 => {
                let n = if rng.below(20) == 0 {
                    rng.below(4_000_000)
                } else {
                    rng.below(20_000)
                };
                spin(slot, n);
            }
            40..=84 => suspend_check(slot, &mut rng),
            85..=94 => kill_and_replace(slot, &mut rng),
            _ => wait_for_a_child(&mut rng),
        }
    }
}

/// Which slot (+ 1) is suspend-checking each slot (0: none): one checker
/// per target, so no sibling resumes it during a check.
static CHECKER: [AtomicU64; MAX_THREADS] = [const { AtomicU64::new(0) }; MAX_THREADS];

/// Suspends a random sibling, checks its counter does not move while we
/// spin (long enough, sometimes, for a timer tick), resumes it.
fn suspend_check(me: usize, rng: &mut Rng) {
    let threads = THREADS.load(Ordering::SeqCst);
    let target = usize::try_from(rng.below(threads as u64)).unwrap_or(0);
    if target == me || target >= MAX_THREADS {
        return;
    }
    let claim = me as u64 + 1;
    if CHECKER[target]
        .compare_exchange(0, claim, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return;
    }
    checked_suspend(me, target, rng);
    let _ = CHECKER[target].compare_exchange(claim, 0, Ordering::SeqCst, Ordering::SeqCst);
}

fn checked_suspend(me: usize, target: usize, rng: &mut Rng) {
    let generation = GENERATIONS[target].load(Ordering::SeqCst);
    let Some(scpu) = handle_of(target) else {
        return;
    };
    if scpu.suspend().is_err() {
        // Killed meanwhile (its handle is gone, or names another object
        // now): fine.
        return;
    }
    let before = counter(target).load(Ordering::SeqCst);
    let n = if rng.below(10) == 0 {
        rng.below(3_000_000)
    } else {
        rng.below(5_000)
    };
    spin(me, n);
    let after = counter(target).load(Ordering::SeqCst);
    // Still suspended? The kernel test suspends and resumes whole programs
    // (us too): after such a resume the target may run, and is no longer
    // Suspended; nothing else but our own resume below makes it run.
    let still = matches!(
        scpu.query().map(|i| i.state()),
        Ok(Ok(ScpuState::Suspended))
    );
    if GENERATIONS[target].load(Ordering::SeqCst) != generation {
        // A sibling killed it and started another in its slot meanwhile;
        // the handle may name anything now. Undo the suspend whatever it
        // hit.
        let _ = scpu.resume();
        return;
    }
    if still && after != before {
        finding(
            SUSPENDED_RAN,
            format_args!(
                "slot {target} ran while suspended (counter {before} -> {after}) while slot {me} spun {n}"
            ),
        );
    }
    if let Err(e) = scpu.resume() {
        // Killed (and replaced) since the check above: fine.
        if GENERATIONS[target].load(Ordering::SeqCst) == generation {
            finding(CALL_FAILED, format_args!("resume of slot {target}: {e:?}"));
        }
    }
}

/// Kills a random sibling (not main) and starts another in its slot.
fn kill_and_replace(me: usize, rng: &mut Rng) {
    let threads = THREADS.load(Ordering::SeqCst);
    let target = usize::try_from(rng.below(threads as u64)).unwrap_or(0);
    if target == me || target == 0 || NEXT_STACK.load(Ordering::SeqCst) >= STACKS.len() {
        return;
    }
    // Claim the slot: one killer per SCPU.
    let claimed = HANDLES[target].swap(0, Ordering::SeqCst);
    let Some(index) = claimed.checked_sub(1).and_then(|i| u32::try_from(i).ok()) else {
        return;
    };
    let h = Handle::new(index);
    let scpu = Scpu::from_handle(h);
    // A suspend check of this slot in progress proves nothing from now on,
    // and the checks it was making end with it.
    GENERATIONS[target].fetch_add(1, Ordering::SeqCst);
    for c in &CHECKER {
        let _ = c.compare_exchange(target as u64 + 1, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
    if let Err(e) = scpu.terminate(137) {
        finding(CALL_FAILED, format_args!("kill of slot {target}: {e:?}"));
    }
    let mut gone = false;
    for _ in 0..GONE_SPINS {
        if Scpu::from_handle(h).query() == Err(SysError::BadHandle) {
            gone = true;
            break;
        }
    }
    if !gone {
        finding(
            KILL_NOT_GONE,
            format_args!("killed slot {target} still answers"),
        );
    }
    if let Err(code) = start(stress_thread, target, rng) {
        finding(code, format_args!("start in slot {target}"));
    }
}

/// Spawns `/bin/worker` and waits for it (blocks in the SMACH wait).
fn wait_for_a_child(rng: &mut Rng) {
    let n = rng.below(1000);
    let child = match Smach::spawn_with_arg("/bin/worker", n) {
        Ok(c) => c,
        Err(SysError::NoMemory | SysError::TooManyHandles) => return,
        Err(e) => finding(CALL_FAILED, format_args!("spawn worker: {e:?}")),
    };
    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            // A sibling's suspend and resume of this SCPU interrupts it.
            Err(SysError::Interrupted) => {}
            Err(e) => finding(CALL_FAILED, format_args!("wait for worker: {e:?}")),
        }
    };
    let _ = child.terminate();
    if status != sk_user_worker::status(n) {
        finding(
            WRONG_STATUS,
            format_args!(
                "worker {n} exited {status}, expected {}",
                sk_user_worker::status(n)
            ),
        );
    }
}

// ---- modes 4 and 5 ---------------------------------------------------------

/// Mode 4: one console line; its first byte is the status.
fn read_one_line() -> i32 {
    let mut line = [0u8; 64];
    match Sio::console().read(&mut line) {
        Ok(n) if n > 0 => i32::from(line[0]),
        Ok(_) => MODE2_FAILED,
        Err(e) => {
            println!("ringstress: console read: {e:?}");
            MODE2_FAILED
        }
    }
}

/// Mode 5: `/bin/worker seed`, waited for; its status is the status.
fn wait_for_worker(seed: u64) -> i32 {
    let child = match Smach::spawn_with_arg("/bin/worker", seed) {
        Ok(c) => c,
        Err(e) => {
            println!("ringstress: spawn worker: {e:?}");
            return MODE2_FAILED;
        }
    };
    match child.wait() {
        Ok(status) => status,
        Err(e) => {
            println!("ringstress: wait for worker: {e:?}");
            MODE2_FAILED
        }
    }
}

// ---- mode 2 ----------------------------------------------------------------

fn finish_in_random_order(threads: usize) -> i32 {
    let mut rng = Rng::new(SEED.load(Ordering::SeqCst) ^ 0xf1f1);
    THREADS.store(threads, Ordering::SeqCst);
    NEXT_STACK.store(1, Ordering::SeqCst);
    for slot in 1..threads {
        if start(finisher, slot, &mut rng).is_err() {
            return MODE2_FAILED;
        }
    }
    work(0);
    finish(0);
    // Not the last: wait on the console (for ever) until the last one
    // ends the program.
    let mut line = [0u8; 8];
    loop {
        let _ = Sio::console().read(&mut line);
    }
}

extern "C" fn finisher(slot: u64) -> ! {
    let slot = usize::try_from(slot).unwrap_or(0);
    work(slot);
    finish(slot);
    // Main stores our handle after `create` returns; we may get here first.
    loop {
        if let Some(me) = handle_of(slot) {
            let _ = me.terminate(0);
            break;
        }
        core::hint::spin_loop();
    }
    println!("ringstress: slot {slot} could not end itself");
    sk_user::exit(MODE2_FAILED)
}

fn work(slot: usize) {
    let n = SEED.load(Ordering::SeqCst).wrapping_add(slot as u64);
    let result = sk_user_worker::result(n);
    // A random while, so the SCPUs finish in random order.
    let mut rng = Rng::new(n.wrapping_mul(0x2545_f491_4f6c_dd1d));
    spin(slot, rng.below(200_000));
    RESULTS[slot].store(result, Ordering::SeqCst);
}

/// Counts `slot` finished; the last one checks every result and ends the
/// program with the sum of the statuses mod 200.
fn finish(slot: usize) {
    let threads = THREADS.load(Ordering::SeqCst);
    if FINISHED.fetch_add(1, Ordering::SeqCst) + 1 != threads {
        return;
    }
    let seed = SEED.load(Ordering::SeqCst);
    let mut sum = 0i64;
    for (i, r) in RESULTS.iter().enumerate().take(threads) {
        let n = seed.wrapping_add(i as u64);
        let got = r.load(Ordering::SeqCst);
        if got != sk_user_worker::result(n) {
            println!(
                "ringstress: slot {i} (last: {slot}) stored {got}, expected {}",
                sk_user_worker::result(n)
            );
            sk_user::exit(MODE2_FAILED);
        }
        sum += i64::from(sk_user_worker::status(n));
    }
    sk_user::exit(i32::try_from(sum % 200).unwrap_or(1))
}

// ---- mode 3 ----------------------------------------------------------------

/// Gaps measured per phase.
const GAPS: usize = 17;
/// A gap longer than this many TSC ticks is not one loop iteration.
const GAP_TICKS: u64 = 200;
/// The last TSC reading and whose it was: `tsc << 4 | owner` (one swap,
/// so a switch cannot fall between the two).
static LAST_READING: AtomicU64 = AtomicU64::new(0);
/// Gaps between two readings of different SCPUs.
static SWITCH_GAPS: [AtomicU64; GAPS] = [const { AtomicU64::new(0) }; GAPS];
static SWITCHES_SEEN: AtomicUsize = AtomicUsize::new(0);

/// Spins reading the TSC; records the gaps when the reader changed.
fn gap_loop(me: u64) {
    // Both SCPUs stop once enough gaps are in (whichever recorded the
    // last: the other must not wait for a change that never comes).
    while SWITCHES_SEEN.load(Ordering::SeqCst) < GAPS {
        let now = sk_user::rdtsc();
        let prev = LAST_READING.swap(now << 4 | me, Ordering::SeqCst);
        let (prev_tsc, owner) = (prev >> 4, prev & 0xf);
        // A switch between our `rdtsc` and the swap leaves `now` older
        // than the other's reading: no gap to record then.
        if owner != me && owner != 0 && prev_tsc < now {
            let n = SWITCHES_SEEN.fetch_add(1, Ordering::SeqCst);
            if let Some(slot) = SWITCH_GAPS.get(n) {
                slot.store(now - prev_tsc, Ordering::SeqCst);
            }
        }
    }
}

extern "C" fn gap_thread(_: u64) -> ! {
    gap_loop(2);
    loop {
        core::hint::spin_loop();
    }
}

fn median_and_min(values: &mut [u64]) -> (u64, u64) {
    values.sort_unstable();
    (
        values.get(values.len() / 2).copied().unwrap_or(0),
        values.first().copied().unwrap_or(0),
    )
}

fn timer_gaps() -> i32 {
    // Alone: every long gap is a timer tick that switched nothing.
    let mut alone = [0u64; GAPS];
    let mut seen = 0;
    let mut prev = sk_user::rdtsc();
    while seen < GAPS {
        let now = sk_user::rdtsc();
        if now.wrapping_sub(prev) > GAP_TICKS {
            alone[seen] = now.wrapping_sub(prev);
            seen += 1;
        }
        prev = now;
    }
    let Some(stack) = STACKS.get(1).and_then(|s| s.take()) else {
        return 1;
    };
    // Priority 0, one-tick quantum (main keeps the default): the timer
    // switches between them at the end of each quantum.
    if let Err(e) = Scpu::create_with(gap_thread, stack, 0, 0, 100) {
        println!("ringstress: SCPU create: {e:?}");
        return 1;
    }
    gap_loop(1);
    // A slot the other SCPU claimed but has not filled yet stays 0: left
    // out.
    let mut switch = [0u64; GAPS];
    let mut filled = 0;
    for gap in &SWITCH_GAPS {
        let g = gap.load(Ordering::SeqCst);
        if g != 0 {
            switch[filled] = g;
            filled += 1;
        }
    }
    let (alone_median, alone_min) = median_and_min(&mut alone);
    let (switch_median, switch_min) = median_and_min(&mut switch[..filled]);
    println!(
        "ringstress: timer gaps: alone min={alone_min} median={alone_median}; switch min={switch_min} median={switch_median} (TSC ticks)"
    );
    0
}

// ---- mode 6 ----------------------------------------------------------------

/// Loads `value` into `xmm0`, yields through the synthesized yield and
/// returns what `xmm0` holds after (the thread's FP state must survive
/// the switch and the other threads' use of `xmm0`).
fn yield_with_xmm0(value: u64) -> (u64, Result<(), SysError>) {
    let word = sk_user::abi::CallWord::new(Handle::SELF, sk_user::abi::Call::Reconfigure).get();
    let rax: i64;
    let after: u64;
    // SAFETY: `reconfigure(YieldCaller)` touches no user memory; xmm0 is
    // not used by this soft-float program's compiled code; every register
    // the native ABI clobbers is declared.
    unsafe {
        core::arch::asm!(
            "movq xmm0, {v}",
            "syscall",
            "movq {a}, xmm0",
            v = in(reg) value,
            a = lateout(reg) after,
            inlateout("rax") word => rax,
            inlateout("rdi") 5u64 => _,
            inlateout("rsi") 0u64 => _,
            inlateout("rdx") 0u64 => _,
            lateout("rcx") _, lateout("r8") _, lateout("r9") _,
            lateout("r10") _, lateout("r11") _,
        );
    }
    (after, SysError::decode_return(rax).map(drop))
}

fn checked_yield(slot: usize, n: u64) {
    let value = (slot as u64) << 48 | n;
    let (after, result) = yield_with_xmm0(value);
    if result.is_err() {
        finding(
            CALL_FAILED,
            format_args!("SCPU {slot}: yield failed: {result:?}"),
        );
    }
    if after != value {
        finding(
            20,
            format_args!("SCPU {slot}: xmm0 {value:#x} came back {after:#x} across a yield"),
        );
    }
}

extern "C" fn storm_thread(slot: u64) -> ! {
    let slot = usize::try_from(slot).unwrap_or(0);
    let mut rng = Rng::new(SEED.load(Ordering::SeqCst) ^ slot as u64);
    let mut n = 0u64;
    loop {
        n += 1;
        counter(slot).fetch_add(1, Ordering::SeqCst);
        if n.is_multiple_of(16) {
            // Its own switch code rebuilt while it runs: the yield that
            // follows must call the new switch-out.
            let q = 50 + u32::try_from(rng.below(20_000)).unwrap_or(0);
            if let Some(me) = handle_of(slot) {
                if me.set_quantum(q).is_err() {
                    finding(CALL_FAILED, format_args!("SCPU {slot}: own quantum"));
                }
            }
        }
        checked_yield(slot, n);
    }
}

fn yield_storm(threads: usize) -> i32 {
    let mut rng = Rng::new(SEED.load(Ordering::SeqCst) ^ 0x57);
    let threads = threads.max(2);
    NEXT_STACK.store(1, Ordering::SeqCst);
    let mut scpus = [const { None }; MAX_THREADS];
    for (slot, cell) in scpus.iter_mut().enumerate().take(threads).skip(1) {
        match start(storm_thread, slot, &mut rng) {
            Ok(s) => *cell = Some(s),
            Err(code) => return code,
        }
    }
    let mut armed = 0u32;
    for round in 0..300u64 {
        for s in scpus.iter().flatten() {
            let p = u32::try_from(rng.below(8)).unwrap_or(0);
            let q = 50 + u32::try_from(rng.below(20_000)).unwrap_or(0);
            if s.set_priority(p).is_err() || s.set_quantum(q).is_err() {
                return CALL_FAILED;
            }
        }
        checked_yield(0, round);
        if round % 10 == 3
            && Smach::this()
                .reconfigure(sk_user::abi::SmachReconfigure::TraceNextCall)
                .is_ok()
        {
            // Armed, then a yield without TF (the generic path takes it
            // and cancels the count), then an ordinary one.
            armed += 1;
            checked_yield(0, round);
        }
        if round % 50 == 7 {
            let slot = 1 + usize::try_from(rng.below(threads as u64 - 1)).unwrap_or(0);
            if let Some(s) = scpus[slot].as_ref() {
                if s.suspend().is_err() {
                    return CALL_FAILED;
                }
                let before = counter(slot).load(Ordering::SeqCst);
                for i in 0..20 {
                    checked_yield(0, i);
                }
                if counter(slot).load(Ordering::SeqCst) != before {
                    println!("ringstress: suspended SCPU {slot} ran");
                    return 21;
                }
                if s.resume().is_err() {
                    return CALL_FAILED;
                }
            }
        }
    }
    for s in scpus.iter_mut() {
        if let Some(s) = s.take() {
            if s.terminate(0).is_err() {
                return CALL_FAILED;
            }
        }
    }
    // Alone: each yield jumps to its own switch-in.
    for i in 0..100 {
        checked_yield(0, i);
    }
    let total: u64 = (1..threads)
        .map(|s| counter(s).load(Ordering::SeqCst))
        .sum();
    println!(
        "ringstress: yield storm: {threads} SCPUs, {total} worker yields, {armed} armed yields"
    );
    0
}
