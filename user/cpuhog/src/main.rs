//! `cpuhog`: tries to keep the CPU from other SCPUs, one way per mode,
//! and checks, in guest time (TSC ticks), that it cannot.
//!
//! The start argument is `mode << 32 | tsc_khz` (the kernel test passes the
//! TSC frequency, which user mode cannot learn, so "a second" means one):
//!
//! | mode | name | what it does | passes when |
//! |---|---|---|---|
//! | 0 | `quantum` | an SCPU at priority 7 with a quantum of `u32::MAX` µs spins for 1 s, watching the main SCPU (default priority and quantum) count | the counter advanced at least 3 times and never stood still for 400 ms or more (the longest a clamped priority-7 quantum plus one default one can last is about 250 ms) |
//! | 1 | `traced-read` | `TraceNextCall`, then a 1-byte `/dev/zero` read with TF set, then the same for 4 MiB on the generic path, while a counting SCPU runs | the 1-byte read counts 1..100,000 kernel instructions; the 4 MiB read returns 4 MiB, `LastTrace` reads 0 (the trace was abandoned) and the counting SCPU was never kept off the CPU for 100 ms or more meanwhile |
//! | 2 | `generic-read` | a 32 MiB `/dev/zero` read forced down the generic path into a 32 MiB SMEM, while a counting SCPU runs | it returns 32 MiB of zeros and the counting SCPU was never kept off the CPU for 20 ms or more meanwhile |
//! | 3 | `trace-refused` | `TraceNextCall` | refused with `NotPermitted` (exit 0); granted: exit 6 |
//! | 4 | `far-write` | a 1-byte write at offset 512 MiB of an empty file, while a counting SCPU runs | it returns 1, the file reads back (zeros in the gap, the byte at the end) and the counting SCPU was never kept off the CPU for 20 ms or more meanwhile |
//! | 5 | `pressure-growth` | grows a file to 256 MiB in 64 KiB writes, fills memory with SMEM until only about the file's size plus 32 MiB is free, then writes 16 more 64 KiB pieces past the end, while a counting SCPU runs | both phases write every byte, the file reads back, and the counting SCPU was never kept off the CPU for 20 ms or more during either |
//!
//! | 6 | `truncating-open` | a 256 MiB file opened again with `TRUNCATE`, while a counting SCPU runs | the open succeeds, the size is 0, the cut bytes read back as zeros, and the counting SCPU was never kept off the CPU for 20 ms or more meanwhile |
//!
//! Modes 4, 5 and 6 are in [`growth`]; their file stays in `/tmp` (the ABI
//! cannot unlink): the kernel test removes it.
//!
//! In modes 1, 2, 4, 5 and 6 the main SCPU counts and the calls are made by a
//! second SCPU created at priority 0 (a one-tick quantum, 10 ms), which
//! starts each call right after getting the CPU back ([`fresh_quantum`]).
//! The counting SCPU logs every stretch it spent off the CPU (a gap of
//! more than [`GAP_TICKS`] between two of its iterations, as TSC values).
//! One CPU runs one SCPU at a time, so the longest such stretch that
//! overlaps the call is the longest the caller held the CPU during it: a
//! kernel that preempts a long call at its preemption points keeps it near
//! one quantum; one that masks interrupts for the whole call, the whole
//! call ([`LONGEST_OFF_CPU_MS`]). (Counting resumes between the TSC reads
//! around the `syscall` is not enough: the timer tick left pending by a
//! call that masked interrupts throughout switches the caller out right
//! after the call returns, before it can read the TSC.)
//!
//! Each mode prints what it measured. Exit status: 0 = passed, 1 = a check
//! failed (the line says which), 2 = unknown mode, 6 = mode 3's call was
//! granted.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "raw calls with TF set, and SMEM bytes; SAFETY comments per block"
)]

mod growth;

use core::arch::asm;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use sk_user::abi::{Call, CallWord, Handle, QuerySelector, SmachReconfigure, SysError};
use sk_user::{println, rdtsc, OpenFlags, Prot, Scpu, Sio, Smach, Smem, Stack};

sk_user::entry!(main);

const TF: u64 = 1 << 8;
const MIB: u64 = 1 << 20;

/// Most kernel instructions the kernel steps through in one traced call
/// (`sk-core`'s `trace::MAX_STEPS`).
const MAX_TRACE_STEPS: u64 = 100_000;

/// A gap between two iterations of the counting loop longer than this
/// many TSC ticks means the SCPU was off the CPU (an iteration takes tens;
/// a timer interrupt that switches nothing, a few thousand).
const GAP_TICKS: u64 = 20_000;

/// Exit statuses.
const FAILED: i32 = 1;
const UNKNOWN: i32 = 2;
const GRANTED: i32 = 6;

/// Iterations of the counting loop.
static COUNT: AtomicU64 = AtomicU64::new(0);
/// Times the counting SCPU was off the CPU, as TSC values: its last
/// iteration before the gap and its first one after (a ring).
static GAP_FROM: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];
static GAP_TO: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];
/// Gaps logged (the ring holds the last 256).
static GAP_COUNT: AtomicUsize = AtomicUsize::new(0);
/// Gaps that ended after this TSC value count in the watch below
/// ([`watch`], [`watched`]).
static WATCH_FROM: AtomicU64 = AtomicU64::new(u64::MAX);
/// The longest watched gap, their sum and their number.
static WATCH_LONGEST: AtomicU64 = AtomicU64::new(0);
static WATCH_TOTAL: AtomicU64 = AtomicU64::new(0);
static WATCH_GAPS: AtomicU64 = AtomicU64::new(0);
/// TSC ticks per millisecond (from the start argument).
static TSC_KHZ: AtomicU64 = AtomicU64::new(1_000_000);

static STACK: Stack<16384> = Stack::new();

fn ms_to_ticks(ms: u64) -> u64 {
    ms.saturating_mul(TSC_KHZ.load(Ordering::Relaxed))
}

fn ticks_to_ms(ticks: u64) -> u64 {
    ticks / TSC_KHZ.load(Ordering::Relaxed).max(1)
}

fn ticks_to_us(ticks: u64) -> u64 {
    ticks.saturating_mul(1000) / TSC_KHZ.load(Ordering::Relaxed).max(1)
}

/// The counting loop: counts, and logs each time it was off the CPU.
fn count_forever() -> ! {
    let mut previous = rdtsc();
    loop {
        let now = rdtsc();
        if now.wrapping_sub(previous) > GAP_TICKS {
            // The slot first, then the count that publishes it, then COUNT
            // (which `fresh_quantum` waits on).
            let n = GAP_COUNT.load(Ordering::SeqCst);
            let slot = n % GAP_FROM.len();
            if let (Some(from), Some(to)) = (GAP_FROM.get(slot), GAP_TO.get(slot)) {
                from.store(previous, Ordering::SeqCst);
                to.store(now, Ordering::SeqCst);
            }
            GAP_COUNT.store(n + 1, Ordering::SeqCst);
            if now > WATCH_FROM.load(Ordering::SeqCst) {
                let gap = now.wrapping_sub(previous);
                WATCH_LONGEST.fetch_max(gap, Ordering::SeqCst);
                WATCH_TOTAL.fetch_add(gap, Ordering::SeqCst);
                WATCH_GAPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        previous = now;
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
}

/// Over the gaps of the counting SCPU that overlap `start..end`: how many
/// ended inside it, and the longest one in TSC ticks. Call it once the
/// counting SCPU has run after `end` ([`fresh_quantum`]), so the gap that
/// covers the end of the call is logged.
fn gaps_over(start: u64, end: u64) -> (usize, u64) {
    let logged = GAP_COUNT.load(Ordering::SeqCst).min(GAP_FROM.len());
    let mut resumed_inside = 0;
    let mut longest = 0;
    for (from, to) in GAP_FROM.iter().zip(&GAP_TO).take(logged) {
        let (from, to) = (from.load(Ordering::SeqCst), to.load(Ordering::SeqCst));
        if to > start && from < end {
            longest = longest.max(to - from);
            resumed_inside += usize::from(to < end);
        }
    }
    (resumed_inside, longest)
}

/// The counting SCPU's time off the CPU over a stretch of calls too long
/// for the gap ring: gaps that ended after [`watch`] began.
#[derive(Clone, Copy, Debug)]
struct Watched {
    /// The longest gap, in TSC ticks.
    longest: u64,
    /// All gaps together (the time the calling SCPU held the CPU).
    total: u64,
    /// How many (the counting SCPU resumed this often).
    gaps: u64,
}

/// Starts watching the counting SCPU's gaps; returns the TSC now.
fn watch() -> u64 {
    WATCH_FROM.store(u64::MAX, Ordering::SeqCst);
    WATCH_LONGEST.store(0, Ordering::SeqCst);
    WATCH_TOTAL.store(0, Ordering::SeqCst);
    WATCH_GAPS.store(0, Ordering::SeqCst);
    let now = rdtsc();
    WATCH_FROM.store(now, Ordering::SeqCst);
    now
}

/// Ends the watch once the counting SCPU has run again (so the gap over
/// the end of the watched calls is logged); what it saw.
fn watched() -> Watched {
    fresh_quantum();
    let seen = Watched {
        longest: WATCH_LONGEST.load(Ordering::SeqCst),
        total: WATCH_TOTAL.load(Ordering::SeqCst),
        gaps: WATCH_GAPS.load(Ordering::SeqCst),
    };
    WATCH_FROM.store(u64::MAX, Ordering::SeqCst);
    seen
}

/// The longest the counting SCPU may be kept off the CPU while the other
/// SCPU, at priority 0 (a one-tick quantum), is in a long call: two timer
/// periods at the kernel's 100 Hz. A kernel that preempts long calls holds
/// it about one period (the quantum, plus at most one piece of the call or
/// one abandoned trace); one that masks interrupts for the whole call,
/// the whole call.
const LONGEST_OFF_CPU_MS: u64 = 20;

/// As [`LONGEST_OFF_CPU_MS`], for the traced call: its first 100,000
/// kernel instructions run single-stepped with interrupts masked before the
/// kernel gives the trace up (about 15 ms under TCG), so the bound is ten
/// timer periods; the whole 4 MiB read traced takes about 40.
const LONGEST_OFF_CPU_TRACED_MS: u64 = 100;

/// Waits until the counting SCPU has run again, so the caller has just
/// been given the CPU back, at a timer tick: a whole quantum lies ahead,
/// and a call made now is not switched away from before it starts (a
/// switch between `TraceNextCall` and the traced call cancels the trace).
fn fresh_quantum() {
    let seen = COUNT.load(Ordering::SeqCst);
    while COUNT.load(Ordering::SeqCst) == seen {
        core::hint::spin_loop();
    }
}

// ---- mode 0: quantum ----

/// The hog: spins for a second at priority 7 with an unbounded quantum,
/// watching the main SCPU's counter; exits the program with the verdict.
extern "C" fn hog(_arg: u64) -> ! {
    let start = rdtsc();
    let end = start.saturating_add(ms_to_ticks(1000));
    let mut seen = COUNT.load(Ordering::SeqCst);
    let mut last_change = start;
    let mut longest_still = 0;
    let mut advances = 0_u64;
    loop {
        let now = rdtsc();
        let count = COUNT.load(Ordering::SeqCst);
        if count != seen {
            seen = count;
            longest_still = longest_still.max(now - last_change);
            last_change = now;
            advances += 1;
        }
        if now >= end {
            longest_still = longest_still.max(now - last_change);
            break;
        }
    }
    let longest_ms = ticks_to_ms(longest_still);
    println!(
        "cpuhog: quantum: over 1000 ms the hog saw the other SCPU advance {advances} times; longest standstill {longest_ms} ms"
    );
    let ok = advances >= 3 && longest_ms < 400;
    if !ok {
        println!(
            "cpuhog: FAILED: an SCPU with a quantum of u32::MAX us at priority 7 starved the other one"
        );
    }
    sk_user::exit(if ok { 0 } else { FAILED })
}

fn quantum() -> i32 {
    let Some(stack) = STACK.take() else {
        return FAILED;
    };
    match Scpu::create_with(hog, stack, 0, 7, u32::MAX) {
        Ok(_) => println!("cpuhog: quantum: hog started (priority 7, quantum u32::MAX us)"),
        Err(e) => {
            // A kernel may refuse the request outright: also no starvation.
            println!("cpuhog: quantum: SCPU with quantum u32::MAX refused: {e:?}");
            return 0;
        }
    }
    // The main SCPU counts; the hog ends the program.
    count_forever()
}

// ---- mode 1: traced read ----

/// One read of `len` bytes into `buf` with call word `word` (a read on a
/// `/dev/zero` handle), with TF set for the `syscall`; returns `(rax, tsc
/// before, tsc after)`.
///
/// # Safety
/// `buf..buf + len` must be memory of this program that no Rust reference
/// covers while the kernel writes zeros into it.
unsafe fn traced_read(word: u64, buf: u64, len: u64) -> (i64, u64, u64) {
    let before = rdtsc();
    let rax: i64;
    // SAFETY: TF is set only for the `syscall`: the kernel counts the call
    // (or gives the count up) and clears TF on the way back, or the #DB kills
    // this program. The kernel writes only `buf..buf + len` (the caller's
    // promise). Every register the call may change is declared.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {tf}",
            "popfq",
            "syscall",
            tf = const TF,
            inlateout("rax") word => rax,
            inlateout("rdi") buf => _,
            inlateout("rsi") len => _,
            out("rcx") _, out("r11") _,
            out("rdx") _, out("r8") _, out("r9") _, out("r10") _,
        );
    }
    let after = rdtsc();
    (rax, before, after)
}

fn last_trace() -> Result<u64, SysError> {
    let word = CallWord::new(Handle::SELF, Call::Query).get();
    // SAFETY: `query(self, LastTrace)` with no buffer writes no memory.
    let count = unsafe { sk_user::raw::syscall3(word, u64::from(QuerySelector::LastTrace), 0, 0) };
    SysError::decode_return(count)
}

fn arm_trace() -> Result<u64, SysError> {
    Smach::this().reconfigure(SmachReconfigure::TraceNextCall)
}

fn traced() -> Result<(), i32> {
    let fail = |what: &str| {
        println!("cpuhog: FAILED: {what}");
        FAILED
    };
    let zero = Sio::open("/dev/zero", OpenFlags::READ).map_err(|_| fail("open /dev/zero"))?;
    let mut region = Smem::create(4 * MIB, Prot::READ | Prot::WRITE)
        .map_err(|_| fail("SMEM create of 4 MiB"))?;
    let read_word = CallWord::new(zero.handle(), Call::Read).get();
    // The long read takes the generic path: that is where a call of many
    // pieces has preemption points (the synthesized routines' own bound
    // is not what this tests).
    let generic_read_word = read_word | CallWord::FORCE_GENERIC;

    // One byte: a short call is still counted.
    fresh_quantum();
    arm_trace().map_err(|e| {
        println!("cpuhog: FAILED: TraceNextCall: {e:?}");
        FAILED
    })?;
    // SAFETY: the region is mapped read-write and no reference to it lives.
    let (got, _, _) = unsafe { traced_read(read_word, region.addr(), 1) };
    let small = last_trace().map_err(|_| fail("LastTrace"))?;
    println!("cpuhog: traced 1-byte read returned {got}, {small} kernel instructions");
    if got != 1 || small == 0 || small >= MAX_TRACE_STEPS {
        return Err(fail(
            "a traced 1-byte read must count 1..100000 instructions",
        ));
    }

    // Four MiB on the generic path: the trace is given up, the call
    // completes, others run.
    fresh_quantum();
    arm_trace().map_err(|_| fail("TraceNextCall"))?;
    let len = 4 * MIB;
    // SAFETY: as above; 4 MiB is the region's length.
    let (got, before, after) = unsafe { traced_read(generic_read_word, region.addr(), len) };
    let count = last_trace().map_err(|_| fail("LastTrace"))?;
    fresh_quantum();
    let (resumed, longest) = gaps_over(before, after);
    println!(
        "cpuhog: traced 4 MiB read returned {got} after {} us; LastTrace {count}; meanwhile the counting SCPU resumed {resumed} times and was kept off the CPU for at most {} us at a time",
        ticks_to_us(after - before),
        ticks_to_us(longest)
    );
    // Every condition is checked (and each failure printed).
    let got = u64::try_from(got).unwrap_or(0);
    // SAFETY: mapped read-write; the kernel is done with it.
    let zeroed = unsafe { region.as_mut_slice() }.iter().all(|&b| b == 0);
    let failures = [
        (got != len, "the traced 4 MiB read did not complete"),
        (!zeroed, "the traced read left non-zero bytes"),
        (
            count != 0,
            "LastTrace must read 0: a trace past 100000 steps is abandoned",
        ),
        (
            longest >= ms_to_ticks(LONGEST_OFF_CPU_TRACED_MS),
            "the traced call kept the other SCPU off the CPU for 100 ms or more",
        ),
    ];
    let mut ok = true;
    for (failed, what) in failures {
        if failed {
            fail(what);
            ok = false;
        }
    }
    if !ok {
        return Err(FAILED);
    }
    Ok(())
}

// ---- mode 2: generic read ----

fn generic_read() -> Result<(), i32> {
    let fail = |what: &str| {
        println!("cpuhog: FAILED: {what}");
        FAILED
    };
    let len = 32 * MIB;
    let zero = Sio::open("/dev/zero", OpenFlags::READ).map_err(|_| fail("open /dev/zero"))?;
    let mut region =
        Smem::create(len, Prot::READ | Prot::WRITE).map_err(|_| fail("SMEM create of 32 MiB"))?;
    {
        // SAFETY: mapped read-write; the slice ends before the read.
        let bytes = unsafe { region.as_mut_slice() };
        bytes.fill(0xa5);
    }
    let word = CallWord::new(zero.handle(), Call::Read).get() | CallWord::FORCE_GENERIC;
    // Start the call with a whole one-tick quantum ahead.
    fresh_quantum();
    let before = rdtsc();
    // SAFETY: the kernel writes only the region (mapped read-write, no
    // reference to it lives during the call).
    let got = unsafe { sk_user::raw::syscall3(word, region.addr(), len, 0) };
    let after = rdtsc();
    fresh_quantum();
    let (resumed, longest) = gaps_over(before, after);
    println!(
        "cpuhog: generic 32 MiB read returned {got} after {} us; meanwhile the counting SCPU resumed {resumed} times and was kept off the CPU for at most {} us at a time",
        ticks_to_us(after - before),
        ticks_to_us(longest)
    );
    // SAFETY: mapped read-write; the kernel is done with it.
    let zeroed = unsafe { region.as_mut_slice() }.iter().all(|&b| b == 0);
    let failures = [
        (
            u64::try_from(got).ok() != Some(len),
            "the 32 MiB generic read did not return 32 MiB",
        ),
        (!zeroed, "the 32 MiB read left non-zero bytes"),
        (
            longest >= ms_to_ticks(LONGEST_OFF_CPU_MS),
            "a 32 MiB generic read kept the other SCPU off the CPU for 20 ms or more",
        ),
    ];
    let mut ok = true;
    for (failed, what) in failures {
        if failed {
            fail(what);
            ok = false;
        }
    }
    if !ok {
        return Err(FAILED);
    }
    Ok(())
}

/// The SCPU that makes the long calls of modes 1 and 2 (priority 0: a
/// one-tick quantum) while the main SCPU counts; it exits the program with
/// the verdict.
extern "C" fn caller(mode: u64) -> ! {
    let verdict = match mode {
        1 => traced(),
        2 => generic_read(),
        4 => growth::far_write(),
        5 => growth::pressure_growth(),
        6 => growth::truncating_open(),
        _ => Err(UNKNOWN),
    };
    sk_user::exit(verdict.map_or_else(|status| status, |()| 0))
}

/// Modes 1, 2, 4, 5 and 6: starts [`caller`] at priority 0, then counts.
fn count_while_calling(mode: u64) -> i32 {
    let Some(stack) = STACK.take() else {
        return FAILED;
    };
    if let Err(e) = Scpu::create_with(caller, stack, mode, 0, 0) {
        println!("cpuhog: FAILED: SCPU create: {e:?}");
        return FAILED;
    }
    count_forever()
}

// ---- mode 3: trace refused ----

fn trace_refused() -> i32 {
    match arm_trace() {
        Err(SysError::NotPermitted) => {
            println!("cpuhog: TraceNextCall refused: NotPermitted");
            0
        }
        Ok(_) => {
            println!("cpuhog: TraceNextCall granted");
            GRANTED
        }
        Err(e) => {
            println!("cpuhog: FAILED: TraceNextCall: {e:?}, want NotPermitted");
            FAILED
        }
    }
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let khz = arg & 0xffff_ffff;
    if khz != 0 {
        TSC_KHZ.store(khz, Ordering::Relaxed);
    }
    match arg >> 32 {
        0 => quantum(),
        mode @ (1 | 2 | 4 | 5 | 6) => count_while_calling(mode),
        3 => trace_refused(),
        mode => {
            println!("cpuhog: unknown mode {mode}");
            UNKNOWN
        }
    }
}
