//! `sysfuzz`: a stateful, typed system-call fuzzer (see the library docs,
//! [`sk_user_sysfuzz`], for what it checks).
//!
//! Start argument: `(calls << 32) | (mode << 24) | seed`, bit 31 reserved
//! ([`sk_user_sysfuzz::plan`]); `sysfuzz 1` is a full run with seed 1 and
//! 1,000,000 calls in all. A run (mode `Main`):
//!
//! 1. **alone** (12% of the calls): the first fuzzer works on its twins,
//!    files, SMEMs, spinning SCPUs, echo children; handle numbers must be
//!    the lowest free ones, closed handles must answer `BadHandle`;
//! 2. **crowd**: three worker SCPUs join it in its SMACH (8% each, sharing
//!    published SIOs, which must lose their synthesized routines), three
//!    child fuzzers run beside it (16% each: alone, then with a worker
//!    SCPU of their own), victims (a busy child moving data, a child
//!    waiting for a busy grandchild, a thread reading `/dev/zero`) are
//!    killed mid-call, finished workers end themselves (`terminate` on
//!    their own SCPU handle) or are killed while blocked in a call, and 40
//!    `hostile` children enter the kernel in the documented
//!    hostile ways;
//! 3. **memory full** (8%): SMEMs and file data fill memory until
//!    `NoMemory`; fuzzing goes on (calls must work or get `NoMemory`);
//!    everything is freed and memory must be usable again.
//!
//! It prints successes per call x kind (create, terminate, reconfigure,
//! query, read, write, null; SMACH, SCPU, SMEM, SIO), the share of calls on
//! live objects, the totals, and exits 0 only if every check passed, at
//! least 80% of the calls were on live objects, every applicable cell had
//! a success, and all planned calls were made; 1 otherwise, 2 for a bad
//! start argument (an unknown mode, or the reserved bit set).
//!
//! **Determinism.** Every fuzzer draws from its own generator, seeded from
//! the run's seed and its place in the run; what it does next depends only
//! on that and on the results it got. Under QEMU with `-icount` (how the
//! tests boot) the interleaving repeats too, so a run repeats exactly for a
//! given kernel and initrd. `SYSFUZZ_TRACE=tag:index:from:to` at build
//! time prints one fuzzer's calls in a range (see `fuzzer.rs`).
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "captured system calls with chosen registers, raw memory of the fuzzer's own regions; SAFETY comments per block"
)]

mod bad_calls;
mod capture;
mod children;
mod crowd;
mod format;
mod fuzzer;
mod memory;
mod objects;
mod pressure;
mod shared;
mod sio;
mod victim;

use sk_user::println;
use sk_user_sysfuzz::plan::{Mode, Plan, SEED_MASK};
use sk_user_sysfuzz::rng::derive_seed;
use sk_user_sysfuzz::stats::{is_applicable, Stats, COLUMNS, COLUMN_NAMES, ROWS, ROW_NAMES};

use crate::fuzzer::Fuzzer;

sk_user::entry!(main);

/// Where spinning SCPUs' stacks end: they never touch them.
#[repr(align(16))]
struct SpinArea([u8; 64]);
static SPIN_AREA: SpinArea = SpinArea([0; 64]);

/// How a run's calls are split.
#[derive(Clone, Copy, Debug)]
struct Budgets {
    solo: u64,
    crowd: u64,
    workers: usize,
    worker: u64,
    children: usize,
    child: u64,
    pressure: u64,
    /// Victims and hostile children (the main run only).
    hostile: bool,
}

impl Budgets {
    fn of(plan: &Plan) -> Self {
        let calls = plan.calls;
        match plan.mode {
            Mode::Child => Self {
                solo: calls / 2,
                crowd: calls / 4,
                workers: 1,
                worker: calls / 4,
                children: 0,
                child: 0,
                pressure: 0,
                hostile: false,
            },
            _ => Self {
                solo: calls * 12 / 100,
                crowd: calls * 8 / 100,
                workers: 3,
                worker: calls * 8 / 100,
                children: 3,
                child: calls * 16 / 100,
                pressure: calls * 8 / 100,
                hostile: true,
            },
        }
    }
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let Some(plan) = Plan::from_arg(arg) else {
        println!("sysfuzz: bad start argument {arg:#x} (unknown mode, or reserved bit 31 set)");
        return 2;
    };
    match plan.mode {
        Mode::Echo => i32::from(plan.seed.to_le_bytes()[0]),
        Mode::Victim => victim::run(plan),
        Mode::Main | Mode::Child => fuzz(plan),
    }
}

/// A fuzzing SMACH: the main run, or a child fuzzer.
fn fuzz(plan: Plan) -> i32 {
    let is_main = plan.mode == Mode::Main;
    let budgets = Budgets::of(&plan);
    let tag = (plan.mode.number() << 24) | plan.seed;
    let Some(regions) = crowd::map_zone(0) else {
        println!("sysfuzz[{tag:x}]: cannot map its memory");
        return 1;
    };
    let handles = regions.each_ref().map(|r| r.handle().index());
    let spin_top = SPIN_AREA.0.as_ptr() as u64 + 64;
    let mut fuzzer = Fuzzer::new(tag, 0, derive_seed(plan.seed, 0), &handles, spin_top);
    fuzzer.name_files();
    if is_main {
        println!(
            "sysfuzz: seed {}, {} calls planned ({:?})",
            plan.seed, plan.calls, budgets
        );
    }
    let start = sk_user::rdtsc();
    let mut total = Stats::new();

    let mut lap = Lap::new(is_main);
    fuzzer.run(budgets.solo);
    lap.done("alone", fuzzer.stats.total);
    crowd_phase(&mut fuzzer, &plan, &budgets, &mut total);
    lap.done("crowd (this fuzzer's calls)", fuzzer.stats.total);
    if budgets.pressure > 0 {
        pressure::run(&mut fuzzer, budgets.pressure);
        lap.done("memory full", fuzzer.stats.total);
    }
    fuzzer.cleanup();
    total.add(&fuzzer.stats);
    let ticks = sk_user::rdtscp().saturating_sub(start);

    if !is_main {
        fuzzer.write_stats(plan.seed, &total);
        crowd::unmap_zone(regions);
        println!(
            "sysfuzz[{tag:x}]: {} calls, {} failed checks",
            total.total, total.failures
        );
        return i32::from(total.failures > 0);
    }
    crowd::unmap_zone(regions);
    report(&plan, &total, ticks)
}

/// The crowd: worker SCPUs, child fuzzers, victims, hostile children.
fn crowd_phase(fuzzer: &mut Fuzzer<'_>, plan: &Plan, budgets: &Budgets, total: &mut Stats) {
    let mut children = [(0_u32, 0_u64); 3];
    let mut child_count = 0;
    for index in 0..budgets.children {
        let seed = derive_seed(plan.seed, 100 + index as u64) & SEED_MASK;
        if let Some(handle) = fuzzer.spawn_fuzzer(seed, budgets.child) {
            if let Some(slot) = children.get_mut(child_count) {
                *slot = (handle, seed);
                child_count += 1;
            }
        } else {
            fuzzer.fail("crowd", format_args!("child fuzzer {index} did not start"));
        }
    }
    let mut victims = [0_u32; 2];
    let mut victim_count = 0;
    if budgets.hostile {
        let seed = derive_seed(plan.seed, 200) & SEED_MASK;
        let started = [
            fuzzer.spawn_victim(seed, children::VICTIM_BUSY),
            fuzzer.spawn_victim(seed ^ 1, children::VICTIM_WAITS),
        ];
        for handle in started.into_iter().flatten() {
            if let Some(slot) = victims.get_mut(victim_count) {
                *slot = handle;
                victim_count += 1;
            }
        }
    }
    fuzzer.solo = false;
    fuzzer.shared = Some(&crowd::SHARED);
    fuzzer.owns_shared = true;
    let (workers, worker_count) =
        crowd::start_workers(fuzzer, budgets.workers, plan.seed, budgets.worker);
    let mut victim_scpu = if budgets.hostile {
        crowd::start_victim(fuzzer)
    } else {
        None
    };

    let begin = fuzzer.stats.total;
    let end = begin + budgets.crowd;
    let kills = victim_count as u64 + u64::from(victim_scpu.is_some());
    let mut next_kill = 0_u64;
    let hostile_batches = if budgets.hostile { 20 } else { 0 };
    let mut next_batch = 0_u64;
    let mut steps = 0_u64;
    loop {
        fuzzer.step();
        steps += 1;
        let done = fuzzer.stats.total.saturating_sub(begin);
        // Victims die early in this fuzzer's share (they take CPU time
        // from the fuzzers while they live), at spread points.
        if next_kill < kills && done >= budgets.crowd * (next_kill + 1) / (8 * (kills + 1)) {
            match victims
                .get(usize::try_from(next_kill).unwrap_or(usize::MAX))
                .copied()
            {
                Some(handle) if next_kill < victim_count as u64 => fuzzer.kill(handle),
                _ => {
                    if let Some(handle) = victim_scpu.take() {
                        crowd::kill_victim(fuzzer, handle);
                        fuzzer.stats.kills += 1;
                    }
                }
            }
            next_kill += 1;
        }
        // Hostile children once the victims are dead (a victim spinning
        // with `pause` is slow to emulate), spread over the rest.
        let after_kills = budgets.crowd / 8;
        if next_kill >= kills
            && next_batch < hostile_batches
            && done >= after_kills + (budgets.crowd - after_kills) * next_batch / hostile_batches
        {
            fuzzer.hostile_batch(2);
            next_batch += 1;
        }
        if fuzzer.stats.total >= end && steps.is_multiple_of(64) {
            let workers_done = crowd::workers_done(worker_count);
            let children_done = children
                .iter()
                .take(child_count)
                .all(|&(handle, _)| fuzzer.has_exited(handle));
            if workers_done && children_done {
                break;
            }
        }
    }
    if let Some(handle) = victim_scpu.take() {
        crowd::kill_victim(fuzzer, handle);
    }
    fuzzer.unpublish_all();
    fuzzer.shared = None;
    fuzzer.owns_shared = false;
    crowd::collect_workers(
        fuzzer,
        workers.get(..worker_count).unwrap_or_default(),
        total,
    );
    for &(handle, seed) in children.iter().take(child_count) {
        fuzzer.collect_fuzzer(handle, seed, total);
    }
    fuzzer.solo = true;
}

/// Prints the table and totals; the exit status.
fn report(plan: &Plan, total: &Stats, ticks: u64) -> i32 {
    println!(
        "sysfuzz: successes / calls per call x kind (seed {}):",
        plan.seed
    );
    let mut header = [0_u8; 128];
    let mut len = 0;
    for name in COLUMN_NAMES {
        len += format::format_into(
            header.get_mut(len..).unwrap_or_default(),
            format_args!("{name:>20}"),
        );
    }
    println!(
        "sysfuzz: {:<12}{}",
        "",
        core::str::from_utf8(header.get(..len).unwrap_or_default()).unwrap_or("")
    );
    for row in 0..ROWS {
        let mut line = [0_u8; 160];
        let mut len = 0;
        for column in 0..COLUMNS {
            let ok = total
                .ok
                .get(row)
                .and_then(|r| r.get(column))
                .copied()
                .unwrap_or(0);
            let calls = total
                .calls
                .get(row)
                .and_then(|r| r.get(column))
                .copied()
                .unwrap_or(0);
            let mark = if is_applicable(row, column) || ok > 0 {
                ' '
            } else {
                '-'
            };
            len += format::format_into(
                line.get_mut(len..).unwrap_or_default(),
                format_args!("{:>19}{mark}", Cell2(ok, calls)),
            );
        }
        println!(
            "sysfuzz: {:<12}{}",
            ROW_NAMES.get(row).copied().unwrap_or("?"),
            core::str::from_utf8(line.get(..len).unwrap_or_default()).unwrap_or("")
        );
    }
    let permille = total.live_permille();
    println!(
        "sysfuzz: {} calls, {} on live objects ({}.{}%), {} failed checks; {} twin comparisons, {} synthesized routines confirmed, {} NoMemory answers, {} fuzzers, {} kills; {} TSC ticks ({} per call)",
        total.total,
        total.live,
        permille / 10,
        permille % 10,
        total.failures,
        total.twins,
        total.synthesized,
        total.no_memory,
        total.instances,
        total.kills,
        ticks,
        ticks.checked_div(total.total).unwrap_or(0)
    );
    let verdict = total.verdict(plan.calls);
    if verdict.passes() {
        println!("sysfuzz: PASS");
        0
    } else {
        println!("sysfuzz: FAIL {verdict:?}");
        for (row, column) in total.empty_cells() {
            println!(
                "sysfuzz: no success for {} on {}",
                ROW_NAMES.get(row).copied().unwrap_or("?"),
                COLUMN_NAMES.get(column).copied().unwrap_or("?")
            );
        }
        1
    }
}

/// Prints how long each phase took (the main run only).
struct Lap {
    is_on: bool,
    since: u64,
    calls: u64,
}

impl Lap {
    fn new(is_on: bool) -> Self {
        Self {
            is_on,
            since: sk_user::rdtsc(),
            calls: 0,
        }
    }

    fn done(&mut self, phase: &str, calls: u64) {
        let now = sk_user::rdtscp();
        if self.is_on {
            println!(
                "sysfuzz: phase {phase}: {} calls, {} TSC ticks",
                calls - self.calls,
                now - self.since
            );
        }
        self.since = now;
        self.calls = calls;
    }
}

/// `ok/calls`, right-aligned as one field.
struct Cell2(u64, u64);

impl core::fmt::Display for Cell2 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut buf = [0_u8; 48];
        let len = format::format_into(&mut buf, format_args!("{}/{}", self.0, self.1));
        f.pad(core::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or(""))
    }
}
