//! The default demo of `cargo xtask run`: shows the timer ticking, then
//! runs `/bin/init` from the initrd (which runs the seed paper's Program 1
//! and Program 2) and exits QEMU with its status.

use sk_machine::{apic, cpu, println, qemu, tsc};

/// Ticks shown before the demo ends.
const TICKS_TO_SHOW: u64 = 5;

/// Runs `path` with `arg` and exits QEMU with success if it exits 0.
pub fn run_program(path: &str, arg: u64) -> ! {
    let status = sk_core::spawn_program(path, arg).and_then(|id| {
        let status = sk_core::wait_program(id);
        sk_core::release_program(id);
        status
    });
    println!("kernel: {path} exited with {status:?}");
    qemu::exit(if status == Ok(0) {
        qemu::ExitCode::Success
    } else {
        qemu::ExitCode::Failure
    })
}

/// The bench suite's Linux build, `/bin/bench-linux` (the binary the
/// Linux guest runs as `/init`), run unmodified through the Linux
/// personality; `bench.smoke` reaches it as an argument. Exits QEMU as
/// [`run_program`] does.
pub fn run_linux_bench(smoke: bool) -> ! {
    const PATH: &str = "/bin/bench-linux";
    let argv: &[&str] = if smoke {
        &[PATH, "bench.smoke"]
    } else {
        &[PATH]
    };
    let status = sk_core::spawn_linux_program(PATH, argv).and_then(|id| {
        let status = sk_core::wait_program(id);
        sk_core::release_program(id);
        status
    });
    println!("kernel: {PATH} exited with {status:?}");
    qemu::exit(if status == Ok(0) {
        qemu::ExitCode::Success
    } else {
        qemu::ExitCode::Failure
    })
}
/// Timer ticks the demo waits at most for queued audio to play out (more
/// than the 32 DMA buffers' 1.3 s at 25 kHz).
const AUDIO_DRAIN_TICKS: u64 = 500;

/// Timer ticks after the last frame for QEMU's audio backend (300 ms:
/// 50 ms lost the last 30 ms of sound).
const AUDIO_BACKEND_TICKS: u64 = 30;

/// The default demo; `init_args` (words after `--`) go to `/bin/init`
/// through the file `/etc/init.args`.
pub fn run(init_args: &str) -> ! {
    if !init_args.is_empty() {
        sk_core::with_fs(|fs| {
            let _ = fs.mkdir("/etc");
            if let Ok(node) = fs.create("/etc/init.args", sk_fs::CreateMode::OpenExisting) {
                let _ = fs.write(node, 0, init_args.as_bytes());
            }
        });
    }
    println!("demo: waiting for {TICKS_TO_SHOW} timer ticks");
    let first = apic::ticks();
    let mut seen = first;
    while seen < first + TICKS_TO_SHOW {
        cpu::wait_for_interrupt();
        let now = apic::ticks();
        if now != seen {
            seen = now;
            let ns = tsc::now_ns();
            println!(
                "tick {} at {}.{:06} s",
                seen - first,
                ns / 1_000_000_000,
                (ns / 1000) % 1_000_000
            );
        }
    }
    println!("demo: starting /bin/init");
    let status = match sk_core::spawn_program("/bin/init", 0) {
        Ok(id) => {
            let status = sk_core::wait_program(id);
            sk_core::release_program(id);
            status
        }
        Err(e) => {
            println!("demo: cannot start /bin/init: {e}");
            qemu::exit(qemu::ExitCode::Failure)
        }
    };
    println!("demo: /bin/init exited with {status:?}");
    // Frames still queued for the sound card play out before power-off
    // (bounded: a card that stopped taking frames ends the wait).
    let start = apic::ticks();
    let played = sk_core::audio_out::is_playing();
    while sk_core::audio_out::is_playing() && apic::ticks() < start + AUDIO_DRAIN_TICKS {
        cpu::wait_for_interrupt();
    }
    // The card took its last frame; QEMU's audio backend writes out at
    // its own period (10 ms): give it a few before powering off.
    let end = apic::ticks();
    while played && apic::ticks() < end + AUDIO_BACKEND_TICKS {
        cpu::wait_for_interrupt();
    }
    if played {
        println!(
            "demo: waited {} timer ticks for the sound card to play out",
            apic::ticks() - start
        );
    }
    qemu::exit(if status == Ok(0) {
        qemu::ExitCode::Success
    } else {
        qemu::ExitCode::Failure
    })
}
