//! `cargo xtask`: builds, boots, tests and debugs the Synthesis kernel.
//!
//! ```text
//! cargo xtask run  [--accel kvm|tcg] [-- KERNEL ARGS]  boot and run the default demo
//! cargo xtask test [--accel kvm|tcg]                   host tests, then in-kernel tests
//! cargo xtask ktest [--inject] [--accel kvm|tcg]        in-kernel tests only
//! cargo xtask gdb  [--accel kvm|tcg] [-- KERNEL ARGS]  boot halted with a gdb stub on :1234
//! cargo xtask bench [--smoke] [--accel kvm|tcg]         benchmarks: Synthesis vs Linux (see `bench`)
//! ```
//!
//! Every subcommand first installs what a fresh machine lacks (the
//! `x86_64-unknown-none` target, QEMU). Setting `SK_KTEST_INJECT=1` adds a
//! failing and a panicking test to the in-kernel run (the self-check).

// A binary crate: `pub` marks what other modules use.
#![allow(unreachable_pub)]

mod accel;
mod bench;
mod build;
mod ktest;
mod qemu;
mod setup;

use accel::Accel;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <run|test|ktest|gdb|bench> [--accel kvm|tcg] [--inject] [--smoke] [-- kernel args]";

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
        "ktest" => in_kernel_tests(&args),
        "gdb" => gdb(&args),
        "bench" => bench::run(args.accel, args.smoke),
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

fn run(args: &Args) -> Result<ExitCode, String> {
    setup::ensure_all()?;
    let kernel = build::kernel(build::Profile::Dev)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(args.accel, &kernel);
    let cmdline = args.kernel_args.join(" ");
    let outcome = qemu::Boot::new(&kernel, accel, &cmdline)
        .initrd(&initrd)
        .echo(true)
        .run()?;
    println!("xtask: QEMU finished: {}", outcome.status.describe());
    Ok(if outcome.status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn test(args: &Args) -> Result<ExitCode, String> {
    setup::ensure_all()?;
    println!("xtask: host tests (cargo test)");
    let status = std::process::Command::new(build::cargo())
        .arg("test")
        .status()
        .map_err(|e| format!("running cargo test: {e}"))?;
    let host_ok = status.success();
    if !host_ok {
        println!("xtask: host tests FAILED");
    }
    let kernel_ok = in_kernel_tests(args)? == ExitCode::SUCCESS;
    Ok(if host_ok && kernel_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn in_kernel_tests(args: &Args) -> Result<ExitCode, String> {
    setup::ensure_all()?;
    let kernel = build::kernel(build::Profile::Dev)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(args.accel, &kernel);
    let summary = ktest::run_all(&kernel, &initrd, accel, args.inject, args.filter.as_deref())?;
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn gdb(args: &Args) -> Result<ExitCode, String> {
    setup::ensure_all()?;
    let kernel = build::kernel(build::Profile::Dev)?;
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
