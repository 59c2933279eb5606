//! `cargo xtask`: builds, boots, tests and debugs the Synthesis kernel.
//!
//! ```text
//! cargo xtask run  [--accel kvm|tcg] [-- KERNEL ARGS]  boot the release kernel and run the default demo
//! cargo xtask test [--accel kvm|tcg]                   check, host tests beside the in-kernel tests, then scheduler (synth=off), semaphore (sched=generic) and FP (fp.fxsave) tests again, then the replay check
//! cargo xtask replay [--accel kvm|tcg]                 the replay check alone: routines regenerated on the host from the kernel's records
//! cargo xtask check                                    layering, rustfmt and clippy gates
//! cargo xtask ktest [--inject] [--accel kvm|tcg]        in-kernel tests only
//! cargo xtask gdb  [--accel kvm|tcg] [-- KERNEL ARGS]  boot halted with a gdb stub on :1234
//! cargo xtask bench [--smoke] [--accel kvm|tcg]         benchmarks: Synthesis vs Linux (see `bench`)
//! cargo xtask session [--accel kvm|tcg] [-- shell]     a scripted console session: the host types into the serial port (ttyecho: line editing, raw mode, EOF; shell: busybox sh)
//! cargo xtask audio [--accel kvm|tcg]                  the AC'97 driver plays two tones into a WAV file; the host checks their pitch and length
//! cargo xtask music [--accel kvm|tcg]                  the music synthesizer plays `chords` (synthesized, then synth=off); the host checks each note of the WAV
//! cargo xtask linux-suite [--accel kvm|tcg]            the Linux test programs (user/linux/*/) as /init of the Linux guest: Linux's own answers
//! cargo xtask profile [--accel kvm|tcg]                kernel instructions per function of each traced bench call (target/bench/profile.md)
//! ```
//!
//! Every subcommand first installs what a fresh machine lacks (the
//! `x86_64-unknown-none` target, QEMU). Setting `SK_KTEST_INJECT=1` adds a
//! failing and a panicking test to the in-kernel run (the self-check).

// A binary crate: `pub` marks what other modules use.
#![allow(unreachable_pub)]

mod accel;
mod audio;
mod backtrace;
mod bench;
mod build;
mod busybox;
mod check;
mod ktest;
mod linux_suite;
mod music;
mod music_check;
mod prefix_output;
mod profile;
mod qemu;
mod replay;
mod session;
mod setup;
mod shell_session;
mod tty_output;

use accel::Accel;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <run|test|check|ktest|replay|gdb|bench|profile|session|audio|music|linux-suite> [--accel kvm|tcg] [--inject] [--smoke] [-- kernel args]";

struct Args {
    command: String,
    accel: Option<Accel>,
    inject: bool,
    filter: Option<String>,
    smoke: bool,
    kernel_args: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or(USAGE)?;
    let mut args = Args {
        command,
        accel: None,
        inject: false,
        filter: None,
        smoke: false,
        kernel_args: Vec::new(),
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--accel" => {
                let value = it.next().ok_or("--accel needs kvm or tcg")?;
                args.accel =
                    Some(Accel::parse(&value).ok_or(format!("unknown accelerator {value:?}"))?);
            }
            "--inject" => args.inject = true,
            "--smoke" => args.smoke = true,
            "--filter" => {
                args.filter = Some(it.next().ok_or("--filter needs a test-name substring")?)
            }
            "--" => args.kernel_args.extend(it.by_ref()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if std::env::var("SK_KTEST_INJECT").is_ok_and(|v| !v.is_empty() && v != "0") {
        args.inject = true;
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command.as_str() {
        "run" => run(&args),
        "test" => test(&args),
        "check" => check::command(),
        "ktest" => in_kernel_tests(&args),
        "replay" => replay_boot(&args),
        "gdb" => gdb(&args),
        "bench" => bench::run(args.accel, args.smoke),
        "profile" => profile::run(args.accel),
        "session" if args.kernel_args.iter().any(|a| a == "shell") => {
            shell_session::shell_session(args.accel)
        }
        "session" => session::ttyecho_session(args.accel),
        "audio" => audio::audio_boot(args.accel),
        "music" => music::music_boot(args.accel),
        "linux-suite" => linux_suite::guest_boot(args.accel),
        _ => Err(format!("unknown command {:?}\n{USAGE}", args.command)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The demo boots the release kernel, the one `bench` measures, so its
/// figures are the benchmarks' (the dev kernel's generic path is slower).
fn run(args: &Args) -> Result<ExitCode, String> {
    setup::ensure_all()?;
    let profile = build::Profile::Release;
    let kernel = build::kernel(profile, &[])?;
    let music = music::Plan::from_args(&args.kernel_args)?;
    let initrd = build::initrd_with(music.as_ref().map_or(&[][..], |m| &m.extra[..]))?;
    println!(
        "xtask: kernel: {} ({})",
        profile.describe(),
        kernel.display()
    );
    let accel = accel::choose(args.accel, &kernel);
    let cmdline = match &music {
        // The kernel's own words before `music`, then init's command.
        Some(plan) => {
            let before = args.kernel_args.iter().take_while(|a| *a != "music");
            let mut words: Vec<String> = before.cloned().collect();
            words.push(plan.init_args.clone());
            words.join(" ")
        }
        // A shell session shows the programs' output alone: the kernel's
        // notes (calls a program made that are not implemented, ...) are
        // `info`, below `log=warn`, unless a log level was asked for.
        None if args.kernel_args.iter().any(|a| a == "shell")
            && !args.kernel_args.iter().any(|a| a.starts_with("log=")) =>
        {
            format!("log=warn {}", args.kernel_args.join(" "))
        }
        None => args.kernel_args.join(" "),
    };
    // `shell` is a session with a person at the console.
    let interactive = args.kernel_args.iter().any(|a| a == "shell");
    let devices = music.as_ref().map(music::Plan::devices).unwrap_or_default();
    let outcome = qemu::Boot::new(&kernel, accel, &cmdline)
        .initrd(&initrd)
        .echo(true)
        .interactive(interactive)
        .devices(&devices)
        .run()?;
    println!("xtask: QEMU finished: {}", outcome.status.describe());
    if let Some(plan) = &music {
        match music::listen(plan, &outcome.output) {
            Ok(report) => report.iter().for_each(|l| println!("xtask: music: {l}")),
            Err(problem) => {
                println!("xtask: music: {problem}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(if outcome.status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every gate and test; a failing stage does not stop the later ones (one
/// run shows every finding), but fails the whole.
fn test(args: &Args) -> Result<ExitCode, String> {
    setup::ensure_all()?;
    setup::ensure_components()?;
    let mut failed: Vec<String> = Vec::new();
    // Wall-clock time per stage, for information only.
    let mut times: Vec<(&str, std::time::Duration)> = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |stage| {
        times.push((stage, clock.elapsed()));
        clock = std::time::Instant::now();
    };
    println!("xtask: quality gates (cargo xtask check)");
    let gates = check::run()?;
    lap("check");
    if !gates.is_empty() {
        println!("xtask: check FAILED: {}", gates.join("; "));
        failed.push("check".into());
    }
    // Every crate that builds on the host: the default members, and the
    // user programs' pure parts (`sk-user`, `sysfuzz`, `synthtest`, ...).
    // They run beside the in-kernel tests (a QEMU on one core; the host
    // tests build in their own target directory): the two stages' times
    // overlap instead of adding up. Their output goes to a log, summed up
    // here when they end.
    let host = check::Graph::of_workspace()?.host_exclusions();
    println!(
        "xtask: host tests (cargo test --workspace {}), beside the in-kernel tests; output in target/host-tests.log",
        host.join(" ")
    );
    let host_log_path = build::root().join("target/host-tests.log");
    let host_log = std::fs::File::create(&host_log_path)
        .map_err(|e| format!("creating {}: {e}", host_log_path.display()))?;
    let host_err = host_log
        .try_clone()
        .map_err(|e| format!("{}: {e}", host_log_path.display()))?;
    let mut host_tests = std::process::Command::new(build::cargo())
        .current_dir(build::root())
        .args(["test", "--workspace"])
        .args(&host)
        .stdout(host_log)
        .stderr(host_err)
        .spawn()
        .map_err(|e| format!("running cargo test: {e}"))?;
    let kernel_tests = in_kernel_tests(args);
    lap("in-kernel tests");
    let status = host_tests
        .wait()
        .map_err(|e| format!("waiting for cargo test: {e}"))?;
    lap("host tests (after the in-kernel tests)");
    let log = std::fs::read_to_string(&host_log_path).unwrap_or_default();
    let summary = host_test_summary(&log);
    println!("xtask: host tests: {summary}");
    if !status.success() {
        for line in log.lines().filter(|l| is_host_failure_line(l)) {
            println!("xtask: host tests: {line}");
        }
        println!(
            "xtask: host tests FAILED (full output in {})",
            host_log_path.display()
        );
        failed.push("host tests".into());
    }
    if kernel_tests? != ExitCode::SUCCESS {
        failed.push("in-kernel tests".into());
    }
    // The default boot runs the executable ready queue with XSAVE(OPT);
    // some tests run again on the other paths.
    for boot in EXTRA_BOOTS {
        println!(
            "xtask: in-kernel {} (ktest.filter={} {})",
            boot.what, boot.filter, boot.option
        );
        if extra_boot(args, boot)? != ExitCode::SUCCESS {
            failed.push(format!("in-kernel {} ({})", boot.what, boot.option));
        }
        lap(boot.lap);
    }
    if session::ttyecho_session(args.accel)? != ExitCode::SUCCESS {
        failed.push("console session".into());
    }
    lap("console session");
    if shell_session::shell_session(args.accel)? != ExitCode::SUCCESS {
        failed.push("shell session".into());
    }
    lap("shell session");
    if audio::audio_boot(args.accel)? != ExitCode::SUCCESS {
        failed.push("audio check".into());
    }
    lap("audio check");
    if music::music_boot(args.accel)? != ExitCode::SUCCESS {
        failed.push("music check".into());
    }
    lap("music check");
    if linux_suite::guest_boot(args.accel)? != ExitCode::SUCCESS {
        failed.push("Linux suite on the Linux guest".into());
    }
    lap("linux suite on Linux");
    if replay_boot(args)? != ExitCode::SUCCESS {
        failed.push("replay check".into());
    }
    lap("replay check");
    let times: Vec<String> = times
        .iter()
        .map(|(stage, t)| format!("{stage} {:.0} s", t.as_secs_f64()))
        .collect();
    println!("xtask test: took {}", times.join(", "));
    Ok(if failed.is_empty() {
        println!("xtask test: everything passed");
        ExitCode::SUCCESS
    } else {
        println!("xtask test: FAILED: {}", failed.join(", "));
        ExitCode::FAILURE
    })
}

/// The host tests' totals from `cargo test`'s output: tests passed,
/// failed and ignored over every `test result:` line.
fn host_test_summary(log: &str) -> String {
    let mut totals = [0u64; 3];
    let mut suites = 0;
    for line in log.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        suites += 1;
        for (total, word) in totals.iter_mut().zip(["passed", "failed", "ignored"]) {
            let count = rest
                .split(';')
                .find_map(|part| part.trim().strip_suffix(word))
                .and_then(|n| n.trim().rsplit(' ').next()?.parse::<u64>().ok());
            *total += count.unwrap_or(0);
        }
    }
    format!(
        "{} passed, {} failed, {} ignored in {suites} test binaries",
        totals[0], totals[1], totals[2]
    )
}

/// A line of `cargo test`'s output worth showing when it failed.
fn is_host_failure_line(line: &str) -> bool {
    line.contains("FAILED")
        || line.contains("panicked at")
        || line.starts_with("error")
        || line.starts_with("failures:")
}

/// A boot of the in-kernel tests on another path than the default.
struct ExtraBoot {
    /// What runs, for the log.
    what: &'static str,
    /// `ktest.filter` (comma-separated parts).
    filter: &'static str,
    /// The kernel option that picks the path.
    option: &'static str,
    /// The stage's name in the times line.
    lap: &'static str,
}

/// The boots after the default one:
/// - every test of `kernel/src/tests/scheduling.rs` and `fp.rs`, and the
///   ones whose name says "either_scheduler", on the generic scheduler
///   with synthesis off (FP state is kept by the switch code on the ring,
///   by `fp::on_switch` on the generic scheduler);
/// - the semaphore, yield and sleep tests on the generic scheduler with
///   synthesis on (they check the synthesized P and V, so not `synth=off`);
/// - the FP tests with `fp.fxsave` (on the ring): the FXSAVE/FXRSTOR
///   fallback and its switch templates, which a CPU with XSAVE never uses
///   otherwise.
const EXTRA_BOOTS: &[ExtraBoot] = &[
    ExtraBoot {
        what: "scheduler tests on the generic scheduler",
        filter: "tests::scheduling::,tests::fp::,either_scheduler",
        option: "synth=off",
        lap: "scheduler tests, synth=off",
    },
    ExtraBoot {
        what: "semaphore tests on the generic scheduler",
        filter: "tests::semaphores::",
        option: "sched=generic",
        lap: "semaphore tests, sched=generic",
    },
    ExtraBoot {
        what: "FP tests with FXSAVE",
        filter: "tests::fp::",
        option: "fp.fxsave",
        lap: "FP tests, fp.fxsave",
    },
];

/// The tests whose boot logs every installed routine for the replay
/// check: `abitest` and `synthtest` open every kind of SIO (its routines,
/// error stubs, trampolines, call counters), the semaphore and pipe tests
/// add theirs, a port transfer its send and receive, the yield routine and
/// the ring's switch code.
const REPLAY_FILTER: &str = "synthesized_routines_match_the_generic_path,abitest_passes_end_to_end,tests::semaphores::,tests::pipes::,port_transfers_200,linux_fast_read_write";

/// Boots `REPLAY_FILTER`'s tests with `synth.replay` and checks every
/// logged routine regenerates identically on the host (`replay::check`).
fn replay_boot(args: &Args) -> Result<ExitCode, String> {
    println!("xtask: replay check (ktest.filter={REPLAY_FILTER} synth.replay)");
    let kernel = build::kernel(build::Profile::Dev, build::TEST_FEATURES)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(args.accel, &kernel);
    let mut extra = args.kernel_args.clone();
    extra.push("synth.replay".into());
    let summary = ktest::run_all(
        &kernel,
        &initrd,
        accel,
        false,
        Some(REPLAY_FILTER),
        &extra.join(" "),
        ktest::shards_for(None),
    )?;
    let report = replay::check(&summary.output);
    let templates: Vec<String> = report
        .identical
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    println!(
        "xtask: replay: {} routines of {} templates regenerated identically ({})",
        report.routines(),
        report.identical.len(),
        templates.join(", ")
    );
    for problem in &report.problems {
        println!("xtask: replay: FAILED: {problem}");
    }
    Ok(if summary.ok() && report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs `boot`'s tests with its option.
fn extra_boot(args: &Args, boot: &ExtraBoot) -> Result<ExitCode, String> {
    let kernel = build::kernel(build::Profile::Dev, build::TEST_FEATURES)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(args.accel, &kernel);
    let mut extra = args.kernel_args.clone();
    extra.push(boot.option.into());
    let summary = ktest::run_all(
        &kernel,
        &initrd,
        accel,
        false,
        Some(boot.filter),
        &extra.join(" "),
        1,
    )?;
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn in_kernel_tests(args: &Args) -> Result<ExitCode, String> {
    setup::ensure_all()?;
    let kernel = build::kernel(build::Profile::Dev, build::TEST_FEATURES)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(args.accel, &kernel);
    let summary = ktest::run_all(
        &kernel,
        &initrd,
        accel,
        args.inject,
        args.filter.as_deref(),
        &args.kernel_args.join(" "),
        ktest::shards_for(args.filter.as_deref()),
    )?;
    let tty_ran = summary
        .output
        .contains(&format!("{} ...", tty_output::TEST_NAME));
    let tty = tty_output::check(&summary.output);
    if !tty.runs.is_empty() && tty.problems.is_empty() {
        println!(
            "xtask: tty output: runs {} ({}) each put the line discipline's {} bytes on the serial port",
            tty.runs.iter().collect::<String>(),
            tty_output::RUNS.map(|(label, name)| format!("{label}: {name}")).join("; "),
            tty.bytes
        );
    }
    for problem in &tty.problems {
        println!("xtask: tty output: FAILED: {problem}");
    }
    if !tty.ok(tty_ran) && tty.problems.is_empty() {
        println!(
            "xtask: tty output: FAILED: {} ran but not every run was found (found: {:?})",
            tty_output::TEST_NAME,
            tty.runs
        );
    }
    let prefix_ran = summary
        .output
        .contains(&format!("{} ...", prefix_output::TEST_NAME));
    let prefix = prefix_output::check(&summary.output);
    for problem in &prefix.problems {
        println!("xtask: prefix view output: FAILED: {problem}");
    }
    let missing = prefix_output::missing_lines(&summary.output);
    for problem in &missing {
        println!("xtask: serial lines: FAILED: {problem}");
    }
    if prefix.problems.is_empty() && !prefix.runs.is_empty() {
        println!(
            "xtask: prefix view output: runs {} put the same {} bytes on the serial port (A: tty_write_prefixed, B: generic)",
            prefix.runs.iter().collect::<String>(),
            prefix.bytes
        );
    }
    if !prefix.ok(prefix_ran) && prefix.problems.is_empty() {
        println!(
            "xtask: prefix view output: FAILED: {} ran but runs A and B were not both found",
            prefix_output::TEST_NAME
        );
    }
    Ok(
        if summary.ok() && tty.ok(tty_ran) && prefix.ok(prefix_ran) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

fn gdb(args: &Args) -> Result<ExitCode, String> {
    setup::ensure_all()?;
    let kernel = build::kernel(build::Profile::Dev, build::TEST_FEATURES)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(args.accel, &kernel);
    println!("xtask: QEMU waits for gdb on localhost:1234; in another terminal run:");
    println!(
        "  gdb {} -ex 'target remote :1234' -ex 'break sk_kernel::kernel_main' -ex continue",
        kernel.display()
    );
    let cmdline = args.kernel_args.join(" ");
    let outcome = qemu::Boot::new(&kernel, accel, &cmdline)
        .initrd(&initrd)
        .echo(true)
        .gdb(true)
        .timeout_secs(24 * 3600)
        .run()?;
    println!("xtask: QEMU finished: {}", outcome.status.describe());
    Ok(if outcome.status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_test_totals_add_up_every_binary_and_failures_show() {
        let log = "running 3 tests\n\
                   test a ... ok\n\
                   test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.1s\n\
                   test b ... FAILED\n\
                   thread 'b' panicked at src/lib.rs:1:1:\n\
                   test result: FAILED. 10 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.0s\n";
        assert_eq!(
            host_test_summary(log),
            "13 passed, 2 failed, 1 ignored in 2 test binaries"
        );
        let shown: Vec<&str> = log.lines().filter(|l| is_host_failure_line(l)).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
    }
}
