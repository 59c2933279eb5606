//! The benchmark suite's metrics: names and labels, in one place.
//!
//! Owns [`Metric`] and [`METRICS`]. The bench program (this package's
//! binary) runs them under these names; `cargo xtask bench` parses its
//! output and writes the report with these labels, in this order. Adding a
//! metric here is the one edit that names it for both.
#![no_std]
#![forbid(unsafe_code)]

/// One metric of the suite.
#[derive(Debug)]
pub struct Metric {
    /// Name in the `bench:` lines and results.json.
    pub name: &'static str,
    /// What it measures, for results.md.
    pub label: &'static str,
    /// Not every system can measure it (`n/a` there): the synthesis cost
    /// only Synthesis reports, the pipe ping-pong only Linux has until
    /// Synthesis has pipes.
    pub is_optional: bool,
}

const fn metric(name: &'static str, label: &'static str) -> Metric {
    Metric {
        name,
        label,
        is_optional: false,
    }
}

/// The null call (Synthesis `Call::Null`; Linux `getppid`).
pub const NULL_CALL: Metric = metric("null_call", "null call (Linux: getppid)");
/// 1-byte read of `/dev/zero`.
pub const READ_ZERO_1: Metric = metric("read_zero_1", "read 1 byte, /dev/zero");
/// 1-byte read of `/dev/mem` (Linux: the RAM file `/tmp/mem`).
pub const READ_MEM_1: Metric = metric("read_mem_1", "read 1 byte, /dev/mem (Linux: /tmp/mem)");
/// 1-byte read of a RAM file.
pub const READ_FILE_1: Metric = metric("read_file_1", "read 1 byte, RAM file");
/// 1,000-byte read of a RAM file.
pub const READ_FILE_1000: Metric = metric("read_file_1000", "read 1000 bytes, RAM file");
/// 1-byte read of `/dev/mem` through N window views (Synthesis only:
/// the views of issue 15; depth 0 is `/dev/mem` itself, the baseline).
const fn view_metric(name: &'static str, label: &'static str) -> Metric {
    Metric {
        name,
        label,
        is_optional: true,
    }
}
/// Depth 0.
pub const VIEW_READ_1_DEPTH_0: Metric = view_metric(
    "view_read_1_depth_0",
    "read 1 byte, /dev/mem, no view (Synthesis only)",
);
/// Depth 1.
pub const VIEW_READ_1_DEPTH_1: Metric = view_metric(
    "view_read_1_depth_1",
    "read 1 byte, window view of /dev/mem, depth 1",
);
/// Depth 2.
pub const VIEW_READ_1_DEPTH_2: Metric = view_metric(
    "view_read_1_depth_2",
    "read 1 byte, window view of /dev/mem, depth 2",
);
/// Depth 3.
pub const VIEW_READ_1_DEPTH_3: Metric = view_metric(
    "view_read_1_depth_3",
    "read 1 byte, window view of /dev/mem, depth 3",
);
/// A 32-byte line written through N prefix views of the cooked tty
/// (Synthesis only: issue 15's prefixed tty streams).
pub const PREFIX_WRITE_LINE_DEPTH_1: Metric = view_metric(
    "prefix_write_line_depth_1",
    "write a 32-byte line through a prefix view of the cooked tty, depth 1 (Synthesis only)",
);
/// Depth 2.
pub const PREFIX_WRITE_LINE_DEPTH_2: Metric = view_metric(
    "prefix_write_line_depth_2",
    "write a 32-byte line through prefix views of the cooked tty, depth 2",
);
/// Depth 3.
pub const PREFIX_WRITE_LINE_DEPTH_3: Metric = view_metric(
    "prefix_write_line_depth_3",
    "write a 32-byte line through prefix views of the cooked tty, depth 3",
);
/// The seed's Program 1, whole.
pub const PROGRAM1: Metric = metric(
    "program1",
    "Program 1: 100,000 × read 1 byte /dev/mem (whole program)",
);
/// The seed's Program 2, whole.
pub const PROGRAM2: Metric = metric(
    "program2",
    "Program 2: 10,000 × read 1000 bytes /dev/mem (whole program)",
);
/// 1-byte write to `/dev/null`.
pub const WRITE_NULL_1: Metric = metric("write_null_1", "write 1 byte, /dev/null");
/// 1 KiB write inside a RAM file.
pub const WRITE_FILE_1024: Metric = metric("write_file_1024", "write 1 KiB, RAM file (in place)");
/// A cooked tty write of one 32-byte line (Synthesis: the collapsed
/// `tty_write_cooked`; Linux: the serial console's tty).
pub const TTY_WRITE_LINE: Metric = metric(
    "tty_write_line",
    "write a 32-byte line ending in \\n, cooked /dev/tty (Linux: /dev/ttyS0, returns once queued in the tty buffer: not comparable)",
);
/// Open and close of `/dev/null`, synthesis included.
pub const OPEN_CLOSE_NULL: Metric = metric(
    "open_close_null",
    "open (write-only) + close /dev/null, incl. synthesis",
);
/// Open and close of a RAM file, synthesis included.
pub const OPEN_CLOSE_FILE: Metric = metric(
    "open_close_file",
    "open (read-only) + close RAM file, incl. synthesis",
);
/// The kernel's own report of one open's synthesis cost: the instantiation
/// and install of its one routine (a write-only `/dev/null`'s write), in
/// TSC ticks, which are kernel instructions under TCG with `-icount`.
pub const OPEN_SYNTHESIS_COST: Metric = Metric {
    name: "open_synthesis_cost",
    label: "instantiate + install of one routine (kernel instrs; kernel's report, /dev/null write)",
    is_optional: true,
};
/// V then P on an uncontended semaphore.
pub const SEMAPHORE_PV: Metric = metric(
    "semaphore_pv",
    "uncontended V + P, /dev/semaphore (Linux: eventfd write + read)",
);
/// One-way switch by yield between two SCPUs of one SMACH.
pub const YIELD_THREAD: Metric = metric(
    "yield_thread",
    "one-way switch by yield, 2 SCPUs of 1 SMACH (Linux: sched_yield, 2 threads)",
);
/// The same with SSE state in use in both threads.
pub const YIELD_THREAD_VECTOR: Metric = metric(
    "yield_thread_vector",
    "the same, both using SSE (lazy FP state saved and restored)",
);
/// One-way switch by yield between two SMACHs (address-space change).
pub const YIELD_SMACH: Metric = metric(
    "yield_smach",
    "one-way switch by yield, 2 SMACHs (Linux: sched_yield, 2 processes)",
);
/// Pipe write then read of 1 byte in one SCPU.
pub const PIPE_WRITE_READ_1: Metric = metric(
    "pipe_write_read_1",
    "pipe write + read, 1 byte, 1 SCPU (kernel instructions: the write)",
);
/// The same with 1,024 bytes.
pub const PIPE_WRITE_READ_1024: Metric = metric(
    "pipe_write_read_1024",
    "pipe write + read, 1024 bytes, 1 SCPU (kernel instructions: the write)",
);
/// The same with 4,096 bytes.
pub const PIPE_WRITE_READ_4096: Metric = metric(
    "pipe_write_read_4096",
    "pipe write + read, 4096 bytes, 1 SCPU (kernel instructions: the write)",
);
/// Round trip of a byte over two pipes between two SCPUs of one SMACH.
pub const PIPE_PINGPONG_THREADS: Metric = metric(
    "pipe_pingpong_threads",
    "pipe ping-pong round trip, 2 SCPUs of 1 SMACH, 1 byte (Linux: 2 threads)",
);
/// Round trip of a byte over two pipes between two processes.
pub const PIPE_PINGPONG: Metric = Metric {
    name: "pipe_pingpong",
    label: "pipe ping-pong round trip, 2 processes, 1 byte (Synthesis: 2 SMACHs, pipe ends shared)",
    is_optional: true,
};
/// A 64-byte message sent on a port and received back, in one SCPU.
pub const PORT_SEND_RECEIVE_64: Metric = metric(
    "port_send_receive_64",
    "port send + receive, 64-byte message, 1 SCPU (Linux: SOCK_SEQPACKET unix socketpair write + read; kernel instructions: the send)",
);
/// An SCPU created, ending itself, joined.
pub const SCPU_CREATE_TERMINATE: Metric = metric(
    "scpu_create_terminate",
    "SCPU create + it terminates itself + join (Linux: clone, exit, futex join)",
);
/// A compute-only loop: both systems must agree (a control).
pub const COMPUTE_LOOP: Metric = metric(
    "compute_loop",
    "compute-only loop, per iteration (5 instructions)",
);

/// Every metric, in the order the program runs them.
pub const METRICS: &[Metric] = &[
    NULL_CALL,
    READ_ZERO_1,
    READ_MEM_1,
    READ_FILE_1,
    READ_FILE_1000,
    VIEW_READ_1_DEPTH_0,
    VIEW_READ_1_DEPTH_1,
    VIEW_READ_1_DEPTH_2,
    VIEW_READ_1_DEPTH_3,
    PROGRAM1,
    PROGRAM2,
    WRITE_NULL_1,
    WRITE_FILE_1024,
    TTY_WRITE_LINE,
    PREFIX_WRITE_LINE_DEPTH_1,
    PREFIX_WRITE_LINE_DEPTH_2,
    PREFIX_WRITE_LINE_DEPTH_3,
    OPEN_CLOSE_NULL,
    OPEN_CLOSE_FILE,
    OPEN_SYNTHESIS_COST,
    SEMAPHORE_PV,
    YIELD_THREAD,
    YIELD_THREAD_VECTOR,
    YIELD_SMACH,
    PIPE_WRITE_READ_1,
    PIPE_WRITE_READ_1024,
    PIPE_WRITE_READ_4096,
    PIPE_PINGPONG_THREADS,
    PIPE_PINGPONG,
    PORT_SEND_RECEIVE_64,
    SCPU_CREATE_TERMINATE,
    COMPUTE_LOOP,
];
