//! `fpstress`: every x87/SSE/AVX register of many SCPUs, in two SMACHs,
//! across 10^5 context switches; lazy first use; hostile FP faults.
//!
//! The start argument's low byte is the mode:
//!
//! | mode | what it does | expected end |
//! |---|---|---|
//! | 0 `stress` | `F` FP SCPUs and `L` lazy SCPUs (bits 8-15, 16-23), each running until it has seen `G` stretches off the CPU (bits 24-43); with `PF`/`PL` (bits 44-51, 52-59) non-zero it first starts a partner SMACH (`fpstress` mode 0 with `PF` FP and `PL` lazy SCPUs) | exit 0; 1 if any register ever differed (a `FAIL` line names the SMACH, thread, register and values) |
//! | 1 `park` | spins, no FP (the stress mode's blocker child) | killed |
//! | 2 `simd-fault` | divides by zero in SSE with the exception unmasked | killed by `#XM`; exit 4 if the CPU only flagged it in MXCSR (QEMU TCG) |
//! | 3 `x87-fault` | divides by zero on the x87 with the exception unmasked | killed by `#MF` |
//! | 4 `bad-mxcsr` | `ldmxcsr` of a reserved bit | killed by `#GP`; exit 5 if the CPU accepted it (QEMU TCG) |
//! | 5 `avx512` | `vpaddd zmm0, zmm0, zmm0` | killed by `#UD` unless XCR0 enables AVX-512 (then exit 0) |
//! | 6 `bad-xrstor` | `xrstor` of an image whose XSTATE_BV names a component XCR0 lacks | killed by `#GP` |
//! | 7 `misaligned-fxrstor` | `fxrstor64` from an address that is not 16-byte aligned | killed by `#GP` |
//!
//! **Stress.** Every worker SCPU runs at priority 0 with a 100 µs quantum
//! (one timer tick), so every tick switches. An *FP* SCPU's first FP
//! instruction is a read of every register (`fxsave64` and
//! `vextractf128`), which must trap (`#NM`) and find the initial state;
//! then it loads a random pattern into ST0-7, FCW, YMM0-15 (XMM0-15
//! without AVX) and MXCSR ([`regs`]), and spins reading the TSC. After
//! every stretch off the CPU (a TSC gap over [`GAP_TICKS`]) and every 256
//! iterations it reads every register back and compares; every 64
//! iterations it yields (`sk_user::yield_now`: on the ring, the
//! synthesized yield) and compares right after; after every fourth gap it
//! loads a new pattern; every 1,024 iterations it makes a null call. A
//! *lazy* SCPU first spins without FP for a quarter of its gaps (other
//! SCPUs' values sit in the registers meanwhile, behind CR0.TS), then
//! does the same. Each SCPU's first FP read is timed
//! against a second one: the difference is the `#NM` round trip.
//!
//! The main SCPU uses no FP and must not hold the CPU (its quantum is
//! the default): it starts a `park` child, suspends it and waits for it;
//! the last worker to finish kills the child, which wakes main. Finished
//! workers spin on until all have finished (so the others keep being
//! switched out), then terminate themselves with their FP state live.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "inline asm on the FP registers; SAFETY comments per block"
)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "x86-64 only; narrowing random bits and bounded argument fields on purpose"
)]

mod hostile;
mod regs;

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use sk_user::abi::Handle;
use sk_user::{println, rdtsc, Scpu, Smach, Stack};

sk_user::entry!(main);

/// A TSC gap longer than this between the starts of two iterations means
/// the SCPU was off the CPU: an iteration takes tens of ticks, one with a
/// register check about 5,000, a timer tick that switches nothing a few
/// thousand; a switch costs at least one other SCPU's tick (25,000 at the
/// kernel test's 40 kHz under TCG with `-icount`).
pub(crate) const GAP_TICKS: u64 = 15_000;
/// Most worker SCPUs.
const MAX_WORKERS: usize = 32;
/// Worker quantum (clamped to the kernel's minimum, one tick).
const WORKER_QUANTUM_US: u32 = 100;

static STACKS: [Stack<16384>; MAX_WORKERS] = [const { Stack::new() }; MAX_WORKERS];
/// Each worker's SCPU handle (0 until main stored it).
static HANDLES: [AtomicU32; MAX_WORKERS] = [const { AtomicU32::new(0) }; MAX_WORKERS];
/// The parked child's SMACH handle (0 until stored).
static PARK: AtomicU32 = AtomicU32::new(0);
static WORKERS: AtomicU64 = AtomicU64::new(0);
static FINISHED: AtomicU64 = AtomicU64::new(0);
static GAPS_TARGET: AtomicU64 = AtomicU64::new(0);
static AVX: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicBool = AtomicBool::new(false);
static CHECKS: AtomicU64 = AtomicU64::new(0);
static GAPS: AtomicU64 = AtomicU64::new(0);
static NM_MIN: AtomicU64 = AtomicU64::new(u64::MAX);
static NM_MAX: AtomicU64 = AtomicU64::new(0);
/// This SMACH's tag in messages ("A" for the first, "B" for a partner).
static TAG: AtomicU32 = AtomicU32::new(b'A' as u32);

fn tag() -> char {
    char::from_u32(TAG.load(Ordering::Relaxed)).unwrap_or('?')
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    match arg & 0xff {
        0 => stress(arg),
        1 => loop {
            core::hint::spin_loop();
        },
        mode => hostile::run(mode),
    }
}

fn field(arg: u64, shift: u32, bits: u32) -> u64 {
    (arg >> shift) & ((1 << bits) - 1)
}

/// Bit 60 of a partner's argument: it is the partner (tag "B").
const PARTNER_BIT: u64 = 1 << 60;

fn stress(arg: u64) -> i32 {
    let fp = field(arg, 8, 8) as usize;
    let lazy = field(arg, 16, 8) as usize;
    let gaps = field(arg, 24, 20);
    let (partner_fp, partner_lazy) = (field(arg, 44, 8), field(arg, 52, 8));
    if arg & PARTNER_BIT != 0 {
        TAG.store(u32::from(b'B'), Ordering::Relaxed);
    }
    let workers = fp + lazy;
    if workers == 0 || workers > MAX_WORKERS {
        println!("fpstress {}: bad thread count {workers}", tag());
        return 2;
    }
    let avx = regs::avx_enabled();
    AVX.store(avx, Ordering::Relaxed);
    GAPS_TARGET.store(gaps, Ordering::Relaxed);
    WORKERS.store(workers as u64, Ordering::Relaxed);
    let partner = if partner_fp + partner_lazy > 0 {
        let partner_arg = (fp_field(partner_fp, partner_lazy, gaps)) | PARTNER_BIT;
        match Smach::spawn_with_arg("/bin/fpstress", partner_arg) {
            Ok(p) => Some(p),
            Err(e) => {
                println!("fpstress {}: spawning the partner: {e:?}", tag());
                return 2;
            }
        }
    } else {
        None
    };
    for i in 0..workers {
        let Some(stack) = STACKS.get(i).and_then(|s| s.take()) else {
            return 2;
        };
        let kind = u64::from(i >= fp);
        match Scpu::create_with(worker, stack, i as u64 | (kind << 8), 0, WORKER_QUANTUM_US) {
            Ok(scpu) => {
                if let Some(h) = HANDLES.get(i) {
                    h.store(scpu.handle().index(), Ordering::SeqCst);
                }
            }
            Err(e) => {
                println!("fpstress {}: creating SCPU {i}: {e:?}", tag());
                return 2;
            }
        }
    }
    // Block until the last worker kills the parked child.
    let park = match Smach::spawn_with_arg("/bin/fpstress", 1) {
        Ok(p) => p,
        Err(e) => {
            println!("fpstress {}: spawning the park child: {e:?}", tag());
            return 2;
        }
    };
    let _ = park.suspend();
    PARK.store(park.handle().index(), Ordering::SeqCst);
    let _ = park.wait();
    let partner_status = partner.map_or(0, |p| p.wait().unwrap_or(-1));
    let nm_min = NM_MIN.load(Ordering::Relaxed);
    println!(
        "fpstress {}: {workers} SCPUs ({fp} FP, {lazy} lazy), avx={avx} xcr0={:#x}: {} checks, {} stretches off the CPU, first FP use (#NM round trip) {}..{} TSC ticks, {}",
        tag(),
        regs::xcr0(),
        CHECKS.load(Ordering::Relaxed),
        GAPS.load(Ordering::Relaxed),
        if nm_min == u64::MAX { 0 } else { nm_min },
        NM_MAX.load(Ordering::Relaxed),
        if FAILED.load(Ordering::Relaxed) { "FAILED" } else { "all registers intact" }
    );
    if FAILED.load(Ordering::Relaxed) {
        1
    } else if partner_status != 0 {
        println!("fpstress {}: partner exited with {partner_status}", tag());
        1
    } else {
        0
    }
}

/// The stress argument for `fp` FP and `lazy` lazy SCPUs and `gaps`.
fn fp_field(fp: u64, lazy: u64, gaps: u64) -> u64 {
    (fp << 8) | (lazy << 16) | (gaps << 24)
}

/// Reports a mismatch.
fn fail(index: u64, lazy: bool, when: &str, checks: u64, gaps: u64, m: &regs::Mismatch) {
    FAILED.store(true, Ordering::SeqCst);
    println!(
        "fpstress {}: FAIL thread {index} ({}){when}: check {checks} after {gaps} stretches off the CPU: {}{} = {:#x}, expected {:#x}",
        tag(),
        if lazy { "lazy" } else { "FP" },
        m.register,
        m.index,
        m.got,
        m.expected
    );
}

/// One worker SCPU (`arg`: index, bit 8 = lazy).
extern "C" fn worker(arg: u64) -> ! {
    let index = arg & 0xff;
    let lazy = arg & (1 << 8) != 0;
    let target = GAPS_TARGET.load(Ordering::Relaxed);
    let avx = AVX.load(Ordering::Relaxed);
    let mut rng =
        regs::Rng::new(rdtsc() ^ (index << 40) ^ (u64::from(TAG.load(Ordering::Relaxed)) << 56));
    let mut gaps = 0_u64;
    let mut previous = rdtsc();
    if lazy {
        // No FP for a quarter of the run: other SCPUs' registers are live.
        while gaps < target / 4 {
            let now = rdtsc();
            if now.wrapping_sub(previous) > GAP_TICKS {
                gaps += 1;
            }
            previous = now;
        }
    }
    // First FP instruction: a read, which traps and must see the initial
    // state; timed against a second read that does not trap.
    let mut snap = regs::Snapshot::new();
    let t0 = rdtsc();
    regs::capture(&mut snap, avx);
    let t1 = rdtsc();
    let mut again = regs::Snapshot::new();
    regs::capture(&mut again, avx);
    let t2 = rdtsc();
    let cost = (t1 - t0).saturating_sub(t2 - t1);
    NM_MIN.fetch_min(cost, Ordering::Relaxed);
    NM_MAX.fetch_max(cost, Ordering::Relaxed);
    let mut checks = 1_u64;
    let mut ok = true;
    if let Err(m) = regs::compare(&snap, None, avx) {
        fail(
            index,
            lazy,
            " at its first FP use (initial state)",
            checks,
            gaps,
            &m,
        );
        ok = false;
    }
    let mask = regs::mxcsr_mask(&snap);
    let mut pattern = regs::Pattern::random(&mut rng, mask);
    regs::load(&pattern, avx);
    let mut iterations = 0_u64;
    previous = rdtsc();
    while ok && gaps < target {
        // Consecutive iteration starts: a stretch off the CPU anywhere in
        // the iteration, the check included, shows up here.
        let now = rdtsc();
        let gap = now.wrapping_sub(previous) > GAP_TICKS;
        previous = now;
        iterations += 1;
        // Every 64th iteration the worker yields (the synthesized yield on
        // the ring: a jump along the switch code, the FP state saved and
        // restored by it) and checks right after.
        let yielded = iterations.is_multiple_of(64);
        if yielded {
            let _ = sk_user::yield_now();
        }
        if gap || yielded || iterations.is_multiple_of(256) {
            gaps += u64::from(gap);
            regs::capture(&mut snap, avx);
            checks += 1;
            if let Err(m) = regs::compare(&snap, Some(&pattern), avx) {
                fail(index, lazy, "", checks, gaps, &m);
                ok = false;
            }
            if gap && gaps.is_multiple_of(4) {
                pattern = regs::Pattern::random(&mut rng, mask);
                regs::load(&pattern, avx);
            }
        }
        if iterations.is_multiple_of(1024) {
            let _ = sk_user::null_call();
        }
    }
    CHECKS.fetch_add(checks, Ordering::Relaxed);
    GAPS.fetch_add(gaps, Ordering::Relaxed);
    finish(index as usize)
}

/// Counts this worker finished and keeps it on the CPU (spinning, no
/// new FP work) until every worker has finished, so that the others go
/// on being switched out (a worker alone on the CPU would see no
/// stretches off it); the last one kills the parked child (waking main).
/// Then each worker ends itself, its FP state live.
fn finish(index: usize) -> ! {
    let workers = WORKERS.load(Ordering::SeqCst);
    if FINISHED.fetch_add(1, Ordering::SeqCst) + 1 == workers {
        let park = loop {
            let h = PARK.load(Ordering::SeqCst);
            if h != 0 {
                break h;
            }
            core::hint::spin_loop();
        };
        let _ = Smach::from_handle(Handle::new(park)).terminate();
    }
    loop {
        let h = HANDLES.get(index).map_or(0, |h| h.load(Ordering::SeqCst));
        if h != 0 && FINISHED.load(Ordering::SeqCst) == workers {
            let _ = Scpu::from_handle(Handle::new(h)).terminate(0);
        }
        core::hint::spin_loop();
    }
}
