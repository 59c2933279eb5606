//! The default demo of `cargo xtask run`: shows the timer ticking and the
//! clock advancing, then exits QEMU with success.

use sk_machine::{apic, cpu, println, qemu, tsc};

/// Ticks shown before the demo ends.
const TICKS_TO_SHOW: u64 = 5;

pub fn run() -> ! {
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
    println!("demo: done");
    qemu::exit(qemu::ExitCode::Success)
}
