#![doc = include_str!("suite.md")]

use core::fmt;

use crate::fixture::{Fixture, FILE_BYTES};
use crate::measure::{self, timed_loop, Plan};
use crate::os::{self, Access, File};
use crate::paths::{Path, DATA_FILE, DEV_NULL, DEV_ZERO, WRITE_FILE};
use crate::{println, tsc, vector, TracedCall};
use sk_user_bench as metrics;

mod port;
mod view;
mod yields;
use port::port_send_receive;
use yields::{yield_between_smachs, yield_between_threads};

/// Reads in Program 1 (paper §4.2).
const PROGRAM1_READS: u64 = 100_000;
/// Reads in Program 2.
const PROGRAM2_READS: u64 = 10_000;
/// Bytes per read in Program 2 and `read_file_1000`.
const BULK_READ_BYTES: usize = 1000;
/// Bytes per write in `write_file_1024`.
const BULK_WRITE_BYTES: usize = 1024;

/// Iterations and repetitions per kind of metric.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    /// Single small calls (null, 1-byte reads and writes).
    calls: Plan,
    /// 1000-byte reads and 1 KiB writes; `iterations` × size stays within
    /// the 1 MiB files.
    bulk: Plan,
    /// Open and close pairs; also the repetitions of `open_synthesis_cost`.
    opens: Plan,
    /// Programs 1 and 2: repetitions of the whole program.
    programs: Plan,
    /// The calibration loop.
    compute: Plan,
    /// One-way switches (even: each yield of the timed side is two).
    switches: Plan,
    /// SCPU (thread) create and join.
    threads: Plan,
}

impl Sizes {
    /// The real run: medians of 7 (5 for the programs).
    pub(crate) const FULL: Self = Self {
        calls: Plan {
            iterations: 20_000,
            reps: 7,
        },
        bulk: Plan {
            iterations: 1_000,
            reps: 7,
        },
        opens: Plan {
            iterations: 2_000,
            reps: 7,
        },
        programs: Plan {
            iterations: 1,
            reps: 5,
        },
        compute: Plan {
            iterations: 1_000_000,
            reps: 7,
        },
        switches: Plan {
            iterations: 10_000,
            reps: 5,
        },
        threads: Plan {
            iterations: 1_000,
            reps: 5,
        },
    };

    /// Smoke mode: everything runs, briefly.
    pub(crate) const SMOKE: Self = Self {
        calls: Plan {
            iterations: 200,
            reps: 3,
        },
        bulk: Plan {
            iterations: 20,
            reps: 3,
        },
        opens: Plan {
            iterations: 20,
            reps: 3,
        },
        programs: Plan {
            iterations: 1,
            reps: 1,
        },
        compute: Plan {
            iterations: 10_000,
            reps: 3,
        },
        switches: Plan {
            iterations: 100,
            reps: 3,
        },
        threads: Plan {
            iterations: 20,
            reps: 3,
        },
    };
}

/// Why a metric could not be measured.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A call failed.
    Os(&'static str, os::Error),
    /// A read or write moved this many bytes, not the expected number.
    Short(&'static str, usize),
    /// A yield with a partner cost less than one alone: the partner did
    /// not run (ticks per one-way switch, per lone yield; hundredths).
    PartnerIdle(u64, u64),
    /// The partner yielded this many times while this side yielded that
    /// many: the two did not alternate.
    PartnerLagged(u64, u64),
}

impl Failure {
    /// A failed call while doing `what`.
    pub(crate) fn os(what: &'static str, error: os::Error) -> Self {
        Self::Os(what, error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Os(what, error) => write!(f, "{what}: {error}"),
            Self::Short(what, n) => write!(f, "{what}: moved {n} bytes"),
            Self::PartnerIdle(switch, alone) => write!(
                f,
                "a switch cost {switch}/100 ticks, a lone yield {alone}/100: the partner did not run"
            ),
            Self::PartnerLagged(partner, mine) => write!(
                f,
                "the partner yielded {partner} times to this side's {mine}: no alternation"
            ),
        }
    }
}

/// One metric: its name and the function that measures and prints it.
struct Metric {
    name: &'static str,
    run: fn(&'static str, &Sizes) -> Result<(), Failure>,
}

/// Every metric, in the catalogue's order (`sk_user_bench::METRICS`).
const METRICS: &[Metric] = &[
    Metric {
        name: metrics::NULL_CALL.name,
        run: null_call,
    },
    Metric {
        name: metrics::READ_ZERO_1.name,
        run: |n, s| read_metric(n, DEV_ZERO, 1, s.calls, false),
    },
    Metric {
        name: metrics::READ_MEM_1.name,
        run: |n, s| read_metric(n, os::MEM, 1, s.calls, true),
    },
    Metric {
        name: metrics::READ_FILE_1.name,
        run: |n, s| read_metric(n, DATA_FILE, 1, s.calls, true),
    },
    Metric {
        name: metrics::READ_FILE_1000.name,
        run: |n, s| read_metric(n, DATA_FILE, BULK_READ_BYTES, s.bulk, true),
    },
    Metric {
        name: metrics::VIEW_READ_1_DEPTH_0.name,
        run: |n, s| view::view_read(n, 0, s.calls),
    },
    Metric {
        name: metrics::VIEW_READ_1_DEPTH_1.name,
        run: |n, s| view::view_read(n, 1, s.calls),
    },
    Metric {
        name: metrics::VIEW_READ_1_DEPTH_2.name,
        run: |n, s| view::view_read(n, 2, s.calls),
    },
    Metric {
        name: metrics::VIEW_READ_1_DEPTH_3.name,
        run: |n, s| view::view_read(n, 3, s.calls),
    },
    Metric {
        name: metrics::PROGRAM1.name,
        run: |n, s| program(n, PROGRAM1_READS, 1, s.programs),
    },
    Metric {
        name: metrics::PROGRAM2.name,
        run: |n, s| program(n, PROGRAM2_READS, BULK_READ_BYTES, s.programs),
    },
    Metric {
        name: metrics::WRITE_NULL_1.name,
        run: |n, s| write_metric(n, DEV_NULL, 1, s.calls, false),
    },
    Metric {
        name: metrics::WRITE_FILE_1024.name,
        run: |n, s| write_metric(n, WRITE_FILE, BULK_WRITE_BYTES, s.bulk, true),
    },
    Metric {
        name: metrics::TTY_WRITE_LINE.name,
        run: |n, s| crate::tty_line::run(n, s.bulk),
    },
    Metric {
        name: metrics::PREFIX_WRITE_LINE_DEPTH_1.name,
        run: |n, s| crate::tty_line::prefixed(n, 1, s.bulk),
    },
    Metric {
        name: metrics::PREFIX_WRITE_LINE_DEPTH_2.name,
        run: |n, s| crate::tty_line::prefixed(n, 2, s.bulk),
    },
    Metric {
        name: metrics::PREFIX_WRITE_LINE_DEPTH_3.name,
        run: |n, s| crate::tty_line::prefixed(n, 3, s.bulk),
    },
    Metric {
        name: metrics::OPEN_CLOSE_NULL.name,
        run: |n, s| open_close(n, DEV_NULL, Access::Write, s.opens),
    },
    Metric {
        name: metrics::OPEN_CLOSE_FILE.name,
        run: |n, s| open_close(n, DATA_FILE, Access::Read, s.opens),
    },
    Metric {
        name: metrics::OPEN_SYNTHESIS_COST.name,
        run: open_synthesis_cost,
    },
    Metric {
        name: metrics::SEMAPHORE_PV.name,
        run: semaphore_pv,
    },
    Metric {
        name: metrics::YIELD_THREAD.name,
        run: |n, s| yield_between_threads(n, s, false),
    },
    Metric {
        name: metrics::YIELD_THREAD_VECTOR.name,
        run: |n, s| yield_between_threads(n, s, true),
    },
    Metric {
        name: metrics::YIELD_SMACH.name,
        run: yield_between_smachs,
    },
    Metric {
        name: metrics::PIPE_WRITE_READ_1.name,
        run: |n, s| pipe_write_read(n, 1, s.calls),
    },
    Metric {
        name: metrics::PIPE_WRITE_READ_1024.name,
        run: |n, s| pipe_write_read(n, 1024, s.bulk),
    },
    Metric {
        name: metrics::PIPE_WRITE_READ_4096.name,
        run: |n, s| pipe_write_read(n, 4096, s.bulk),
    },
    Metric {
        name: metrics::PIPE_PINGPONG_THREADS.name,
        run: pipe_pingpong_threads,
    },
    Metric {
        name: metrics::PIPE_PINGPONG.name,
        run: pipe_pingpong,
    },
    Metric {
        name: metrics::PORT_SEND_RECEIVE_64.name,
        run: |n, s| port_send_receive(n, s.calls),
    },
    Metric {
        name: metrics::SCPU_CREATE_TERMINATE.name,
        run: scpu_create_terminate,
    },
    Metric {
        name: metrics::COMPUTE_LOOP.name,
        run: compute_loop,
    },
];

/// Runs every metric; returns the exit status (0 if none failed).
pub(crate) fn run(is_smoke: bool) -> i32 {
    let sizes = if is_smoke { Sizes::SMOKE } else { Sizes::FULL };
    // The runners must follow the catalogue the report is made from.
    let names = METRICS.iter().map(|m| m.name);
    if !names.eq(metrics::METRICS.iter().map(|m| m.name)) {
        println!("bench: the runners do not follow sk_user_bench::METRICS");
        return 1;
    }
    println!(
        "bench: start system={} smoke={}",
        os::SYSTEM,
        u8::from(is_smoke)
    );
    os::describe_system();
    let mut failures = 0_u32;
    if let Err(error) = Fixture::create() {
        println!("bench: setup error: {error}");
        failures += 1;
    }
    for metric in METRICS {
        if let Err(error) = (metric.run)(metric.name, &sizes) {
            println!("bench: {} error: {error}", metric.name);
            failures += 1;
        }
    }
    // Lazy synthesis's break-even table (Synthesis only; not metrics).
    os::break_even_table();
    println!("bench: done failures={failures}");
    i32::from(failures != 0)
}

/// Prints one call's kernel instructions (Synthesis only).
pub(crate) fn print_trace(name: &str, call: TracedCall<'_>) {
    if !os::HAS_KERNEL_TRACE {
        return;
    }
    match os::trace_call(call) {
        Some(count) => println!("bench: {name} kernel_instructions={count}"),
        None => println!("bench: {name} kernel_instructions=n/a"),
    }
}

/// Checks that a read or write moved `expected` bytes.
fn check(
    what: &'static str,
    result: Result<usize, os::Error>,
    expected: usize,
) -> Result<(), Failure> {
    match result {
        Ok(n) if n == expected => Ok(()),
        Ok(n) => Err(Failure::Short(what, n)),
        Err(e) => Err(Failure::os(what, e)),
    }
}

/// Opens `path`.
fn open(path: Path, access: Access) -> Result<File, Failure> {
    File::open(path, access).map_err(|e| Failure::os("open", e))
}

/// Closes `file`.
fn close(file: File) -> Result<(), Failure> {
    file.close().map_err(|e| Failure::os("close", e))
}

/// Rewinds `file`.
fn rewind(file: &File) -> Result<(), Failure> {
    file.rewind().map_err(|e| Failure::os("seek to 0", e))
}

/// V then P on an uncontended semaphore; the kernel count is V's plus P's.
fn semaphore_pv(name: &'static str, sizes: &Sizes) -> Result<(), Failure> {
    let semaphore = os::open_semaphore().map_err(|e| Failure::os("open semaphore", e))?;
    let mut token = os::SEMAPHORE_TOKEN;
    let len = token.len();
    check("V", semaphore.write(&token), len)?;
    check("P", semaphore.read(&mut token), len)?;
    let stats = measure::repeat::<Failure>(sizes.calls, |n| {
        Ok(timed_loop(n, || {
            let _ = semaphore.write(&os::SEMAPHORE_TOKEN);
            let _ = semaphore.read(&mut token);
        }))
    })?;
    stats.print(name);
    if os::HAS_KERNEL_TRACE {
        let v = os::trace_call(TracedCall::Write(&semaphore, &os::SEMAPHORE_TOKEN));
        let p = os::trace_call(TracedCall::Read(&semaphore, &mut token));
        match (v, p) {
            (Some(v), Some(p)) => println!("bench: {name} kernel_instructions={}", v + p),
            _ => println!("bench: {name} kernel_instructions=n/a"),
        }
    }
    close(semaphore)
}

/// `len` bytes written to a pipe and read back, one thread.
fn pipe_write_read(name: &'static str, len: usize, plan: Plan) -> Result<(), Failure> {
    let (r, w) = os::new_pipe().map_err(|e| Failure::os("pipe", e))?;
    let mut data = [0_u8; 4096];
    crate::fixture::fill_pattern(&mut data, 0);
    let data = data.get(..len).unwrap_or(&[]);
    let mut back = [0_u8; 4096];
    let back = back.get_mut(..len).unwrap_or(&mut []);
    check("pipe write", w.write(data), len)?;
    check("pipe read", r.read(back), len)?;
    if back != data {
        return Err(Failure::Short("pipe read back other bytes", len));
    }
    // Lazy synthesis: the routines come at the K-th generic call of each
    // op (a few): warm both ends up before the traced write.
    for _ in 0..WARM_UP_CALLS {
        check("pipe write", w.write(data), len)?;
        check("pipe read", r.read(back), len)?;
    }
    // The traced write (where there is a counter) leaves its bytes in the
    // pipe: each pair below then reads the bytes one write older, and the
    // pipe never holds more than two writes.
    print_trace(name, TracedCall::Write(&w, data));
    let stats = measure::repeat::<Failure>(plan, |n| {
        Ok(timed_loop(n, || {
            let _ = w.write(data);
            let _ = r.read(back);
        }))
    })?;
    stats.print(name);
    close(r)?;
    close(w)
}

/// Calls that take any SIO past lazy synthesis's K (`synth.lazy=auto`: 3
/// to 5) before a traced call.
pub(crate) const WARM_UP_CALLS: usize = 16;

/// One byte to an echoing thread and back, over two pipes.
fn pipe_pingpong_threads(name: &'static str, sizes: &Sizes) -> Result<(), Failure> {
    let (there_r, there_w) = os::new_pipe().map_err(|e| Failure::os("pipe", e))?;
    let (back_r, back_w) = os::new_pipe().map_err(|e| Failure::os("pipe", e))?;
    let echo =
        os::EchoThread::start(&there_r, &back_w).map_err(|e| Failure::os("echo thread", e))?;
    let mut byte = [7_u8];
    let round_trip = |byte: &mut [u8; 1]| -> Result<(), Failure> {
        check("pipe write", there_w.write(byte), 1)?;
        check("pipe read", back_r.read(byte), 1)
    };
    let stats = round_trip(&mut byte).and_then(|()| {
        let plan = Plan {
            iterations: sizes.switches.iterations / 2,
            reps: sizes.switches.reps,
        };
        measure::repeat::<Failure>(plan, |n| {
            Ok(timed_loop(n, || {
                let _ = there_w.write(&byte);
                let _ = back_r.read(&mut byte);
            }))
        })
    });
    close(there_w)?;
    echo.join();
    stats?.print(name);
    close(there_r)?;
    close(back_r)?;
    close(back_w)
}

/// A byte to a child process and back, over two pipes.
fn pipe_pingpong(name: &'static str, sizes: &Sizes) -> Result<(), Failure> {
    let Some(pipes) = os::PingPong::start().map_err(|e| Failure::os("start", e))? else {
        println!("bench: {name} n/a");
        return Ok(());
    };
    let mut byte = [7_u8];
    let checked = pipes
        .round_trip(&mut byte)
        .map_err(|e| Failure::os("round trip", e));
    let stats = checked.and_then(|()| {
        let plan = Plan {
            iterations: sizes.switches.iterations / 2,
            reps: sizes.switches.reps,
        };
        measure::repeat::<Failure>(plan, |n| {
            Ok(timed_loop(n, || {
                let _ = pipes.round_trip(&mut byte);
            }))
        })
    });
    pipes.stop().map_err(|e| Failure::os("stop", e))?;
    stats?.print(name);
    Ok(())
}

/// A thread created, ending itself, and joined.
fn scpu_create_terminate(name: &'static str, sizes: &Sizes) -> Result<(), Failure> {
    let once = || os::create_and_join_thread().map_err(|e| Failure::os("create and join", e));
    once()?;
    let stats = measure::repeat::<Failure>(sizes.threads, |n| {
        let start = tsc::read();
        for _ in 0..n {
            once()?;
        }
        Ok(tsc::read().wrapping_sub(start))
    })?;
    stats.print(name);
    Ok(())
}

fn null_call(name: &'static str, sizes: &Sizes) -> Result<(), Failure> {
    let stats = measure::repeat::<Failure>(sizes.calls, |n| Ok(timed_loop(n, os::null_call)))?;
    stats.print(name);
    print_trace(name, TracedCall::Null);
    Ok(())
}

/// `len`-byte reads of `path`; rewound before each repetition if
/// `is_positioned` (a device without positions is not).
fn read_metric(
    name: &'static str,
    path: Path,
    len: usize,
    plan: Plan,
    is_positioned: bool,
) -> Result<(), Failure> {
    let file = open(path, Access::Read)?;
    let mut buf = [0_u8; BULK_READ_BYTES];
    let buf = buf.get_mut(..len).unwrap_or(&mut []);
    check("read", file.read(buf), len)?;
    let stats = measure::repeat::<Failure>(plan, |n| {
        if is_positioned {
            rewind(&file)?;
        }
        Ok(timed_loop(n, || {
            let _ = file.read(buf);
        }))
    })?;
    stats.print(name);
    print_trace(name, TracedCall::Read(&file, buf));
    close(file)
}

/// Program 1 or 2: open the memory device, `reads` reads of `len` bytes,
/// close; one operation is the whole program.
fn program(name: &'static str, reads: u64, len: usize, plan: Plan) -> Result<(), Failure> {
    let mut buf = [0_u8; BULK_READ_BYTES];
    let buf = buf.get_mut(..len).unwrap_or(&mut []);
    let file = open(os::MEM, Access::Read)?;
    check("read", file.read(buf), len)?;
    close(file)?;
    let stats = measure::repeat::<Failure>(plan, |_| {
        let start = tsc::read();
        let file = open(os::MEM, Access::Read)?;
        for _ in 0..reads {
            let _ = file.read(buf);
        }
        close(file)?;
        Ok(tsc::read().wrapping_sub(start))
    })?;
    stats.print(name);
    Ok(())
}

/// `len`-byte writes to `path` (opened write-only, not truncated);
/// rewound before each repetition if `is_positioned`.
fn write_metric(
    name: &'static str,
    path: Path,
    len: usize,
    plan: Plan,
    is_positioned: bool,
) -> Result<(), Failure> {
    let mut data = [0_u8; BULK_WRITE_BYTES];
    crate::fixture::fill_pattern(&mut data, 0);
    let data = data.get(..len).unwrap_or(&[]);
    debug_assert!(plan.iterations.saturating_mul(len as u64) <= FILE_BYTES as u64);
    let file = open(path, Access::Write)?;
    check("write", file.write(data), len)?;
    let stats = measure::repeat::<Failure>(plan, |n| {
        if is_positioned {
            rewind(&file)?;
        }
        Ok(timed_loop(n, || {
            let _ = file.write(data);
        }))
    })?;
    stats.print(name);
    if is_positioned {
        rewind(&file)?;
    }
    print_trace(name, TracedCall::Write(&file, data));
    close(file)
}

/// Open and close of `path`. The access decides what Synthesis
/// synthesizes at open (nothing for a read-only `/dev/null`).
fn open_close(name: &'static str, path: Path, access: Access, plan: Plan) -> Result<(), Failure> {
    close(open(path, access)?)?;
    print_trace(name, TracedCall::OpenClose(path, access));
    let stats = measure::repeat::<Failure>(plan, |n| {
        Ok(timed_loop(n, || {
            if let Ok(file) = File::open(path, access) {
                let _ = file.close();
            }
        }))
    })?;
    stats.print(name);
    Ok(())
}

/// The kernel's report of what synthesizing a write-only `/dev/null`'s
/// routines cost, one open per repetition; `n/a` where the kernel reports
/// none.
fn open_synthesis_cost(name: &'static str, sizes: &Sizes) -> Result<(), Failure> {
    let one = || -> Result<Option<u64>, Failure> {
        let file = open(DEV_NULL, Access::Write)?;
        // Lazy synthesis: the routine comes at the K-th generic write.
        for _ in 0..64 {
            if os::synthesis_cost(&file).is_some() {
                break;
            }
            let _ = file.write(&[0]);
        }
        let cost = os::synthesis_cost(&file);
        close(file)?;
        Ok(cost)
    };
    if one()?.is_none() {
        println!("bench: {name} n/a");
        return Ok(());
    }
    let plan = Plan {
        iterations: 1,
        reps: sizes.opens.reps,
    };
    let stats = measure::repeat::<Failure>(plan, |_| Ok(one()?.unwrap_or(0)))?;
    stats.print(name);
    Ok(())
}

fn compute_loop(name: &'static str, sizes: &Sizes) -> Result<(), Failure> {
    let mut sink = 0_u64;
    let stats = measure::repeat::<Failure>(sizes.compute, |n| {
        let start = tsc::read();
        sink ^= tsc::compute_loop(n, sink);
        Ok(tsc::read().wrapping_sub(start))
    })?;
    stats.print(name);
    println!(
        "bench: {name} instructions_per_iteration={}",
        tsc::COMPUTE_LOOP_INSTRUCTIONS
    );
    Ok(())
}
