//! The kernel command line.
//!
//! Words: `ktest [ktest.start=N] [ktest.inject] [ktest.filter=A,B]
//! [ktest.shard=I/N]` (in-kernel tests; a shard runs every N-th test of
//! the plan from the I-th, so N boots can share one run),
//! `probe` (accelerator probe), `bench [bench.smoke] [bench.linux]` (run
//! `/bin/bench`, or with `bench.linux` the same suite's Linux build
//! `/bin/bench-linux` as an unmodified Linux program),
//! `synth=off|on`, `entry=lstar|slot` (how the CPU reaches a thread's
//! synthesized entry stub), `sched=ring|generic` (the scheduler: the
//! executable ready queue, the default when synthesis is on, or the Rust
//! round robin, which `synth=off` selects too; `sched=ring` with
//! `synth=off` is refused: the generic scheduler runs and the kernel says
//! so at boot), `synth.count` (call counters),
//! `fp.fxsave` (save FP state with FXSAVE/FXRSTOR and leave XSAVE and
//! AVX off, as on a CPU without XSAVE: tests the fallback),
//! `synth.show` (`query(Routines)` may show routine addresses and hole
//! values: kernel addresses, so off by default), `synth.replay` (log a
//! replay record and the bytes of every installed routine, for
//! `cargo xtask test`'s replay check), `trace` (programs may
//! count a call's kernel instructions by single-stepping it; `bench`
//! implies it), `trace.rips` (also record the address of every stepped
//! instruction and print them when the count is read: `cargo xtask
//! profile`), `synth.lazy=off|auto|K` (when an SIO's routines are made:
//! at open, at their kind's break-even point, the default, or after K
//! generic calls of the op; `sk_synth::policy::lazy`), `log=SPEC`; anything after `--` is passed to `/bin/init`
//! (e.g. `show /dev/mem`, which implies `synth.count` and `synth.show`).
//! Unknown words are ignored.

/// What this boot does after bring-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootMode {
    /// The default demo (`/bin/init`).
    Demo,
    /// In-kernel tests from index `start`; `inject` adds the self-check's
    /// failing and panicking tests.
    Test {
        start: usize,
        inject: bool,
        filter: Option<&'static str>,
        /// `(index, count)`: this boot runs shard `index` of `count`.
        shard: (usize, usize),
    },
    /// The accelerator probe (ring-3 `syscall` round trip).
    Probe,
    /// The benchmark suite; `smoke` runs few iterations; `linux` runs its
    /// Linux build through the Linux personality.
    Bench { smoke: bool, linux: bool },
}

/// Parsed options.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub mode: BootMode,
    pub log: Option<&'static str>,
    /// `synth=off` and `entry=lstar|slot`.
    pub synth: sk_core::SynthConfig,
    /// `trace`: allow `TraceNextCall`.
    pub trace: bool,
    /// `trace.rips`: record each traced instruction's address.
    pub trace_rips: bool,
    /// The synthesized scheduler (executable ready queue): on when
    /// synthesis is, unless `sched=generic`; `synth=off` runs the Rust
    /// round robin (the generic path) whatever `sched=` says.
    pub sched_ring: bool,
    /// `sched=ring` was asked for with `synth=off` (refused).
    pub sched_refused: bool,
    /// `fp.fxsave`: FXSAVE/FXRSTOR even where the CPU has XSAVE.
    pub fp_fxsave: bool,
    /// Words after `--`, for `/bin/init`.
    pub init_args: &'static str,
}

impl Options {
    pub fn parse(line: &'static str) -> Self {
        // `-- ARGS`, or everything from the first word that is one of
        // init's commands (`show PATH`, `shell`, ...), goes to /bin/init.
        let (kernel_words, init_args) = match line.split_once("-- ") {
            Some((k, i)) => (k, i.trim()),
            None => match first_init_command(line) {
                Some(at) => (&line[..at], line[at..].trim()),
                None => (line, ""),
            },
        };
        let mut options = Options {
            mode: BootMode::Demo,
            log: None,
            synth: sk_core::SynthConfig {
                enabled: true,
                entry: sk_core::EntryMode::Lstar,
                count_calls: false,
                show_addresses: false,
                log_installs: false,
                keep_idle: true,
                lazy: sk_core::LazyMode::Auto,
            },
            trace: false,
            trace_rips: false,
            sched_ring: true,
            sched_refused: false,
            fp_fxsave: false,
            init_args,
        };
        let (mut test, mut start, mut inject, mut bench, mut smoke) =
            (false, 0, false, false, false);
        let mut bench_linux = false;
        let mut filter = None;
        let mut shard = (0, 1);
        let mut sched = None;
        for word in kernel_words.split_ascii_whitespace() {
            match word.split_once('=') {
                None if word == "ktest" => test = true,
                None if word == "ktest.inject" => inject = true,
                None if word == "probe" => options.mode = BootMode::Probe,
                None if word == "bench" => bench = true,
                None if word == "bench.smoke" => smoke = true,
                None if word == "bench.linux" => bench_linux = true,
                Some(("ktest.start", n)) => start = n.parse().unwrap_or(0),
                Some(("ktest.filter", f)) => filter = Some(f),
                Some(("ktest.shard", s)) => shard = parse_shard(s).unwrap_or(shard),
                Some(("log", spec)) => options.log = Some(spec),
                Some(("synth", "off")) => options.synth.enabled = false,
                Some(("synth", "on")) => options.synth.enabled = true,
                None if word == "synth.count" => options.synth.count_calls = true,
                None if word == "synth.show" => options.synth.show_addresses = true,
                None if word == "synth.replay" => options.synth.log_installs = true,
                Some(("synth.idle", "0")) => options.synth.keep_idle = false,
                Some(("synth.lazy", mode)) => {
                    if let Some(mode) = sk_core::LazyMode::parse(mode) {
                        options.synth.lazy = mode;
                    }
                }
                None if word == "trace" => options.trace = true,
                None if word == "trace.rips" => options.trace_rips = true,
                None if word == "fp.fxsave" => options.fp_fxsave = true,
                Some(("sched", "ring")) => sched = Some(true),
                Some(("sched", "generic")) => sched = Some(false),
                Some(("entry", "lstar")) => options.synth.entry = sk_core::EntryMode::Lstar,
                Some(("entry", "slot")) => options.synth.entry = sk_core::EntryMode::PerCpuSlot,
                _ => {}
            }
        }
        // The executable ready queue is synthesized code: no synthesis, no
        // ring.
        options.sched_ring = options.synth.enabled && sched != Some(false);
        options.sched_refused = sched == Some(true) && !options.synth.enabled;
        // `show` reports call counts, so it turns counting on.
        if init_args.starts_with("show") {
            options.synth.count_calls = true;
            options.synth.show_addresses = true;
        }
        if bench {
            options.mode = BootMode::Bench {
                smoke,
                linux: bench_linux,
            };
            options.trace = true;
        }
        if test {
            // The tests measure with the instruction counter too.
            options.trace = true;
            options.mode = BootMode::Test {
                start,
                inject,
                filter,
                shard,
            };
        }
        options
    }
}

/// Words that start a command for `/bin/init` when they appear on the
/// kernel command line without `--` (`cargo xtask run -- shell`).
const INIT_COMMANDS: [&str; 5] = ["show", "run", "shell", "music", "mux"];

/// Where the first word naming one of [`INIT_COMMANDS`] starts in `line`.
fn first_init_command(line: &str) -> Option<usize> {
    let mut at = 0;
    for word in line.split(' ') {
        if INIT_COMMANDS.contains(&word) {
            return Some(at);
        }
        at += word.len() + 1;
    }
    None
}

/// `I/N` with `I < N`, as `(I, N)`.
fn parse_shard(word: &str) -> Option<(usize, usize)> {
    let (index, count) = word.split_once('/')?;
    let (index, count) = (index.parse().ok()?, count.parse().ok()?);
    (index < count).then_some((index, count))
}
