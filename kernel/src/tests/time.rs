//! The TSC clock and the APIC timer.

use alloc::format;
use sk_ktest::{ensure, ktest};
use sk_machine::{apic, cpu, tsc};

ktest!(
    fn tsc_frequency_is_plausible() {
        let hz = tsc::frequency_hz();
        ensure!(
            (100_000_000..20_000_000_000).contains(&hz),
            "TSC frequency {hz} Hz"
        );
        Ok(())
    }
);

ktest!(
    fn tsc_clock_is_monotonic() {
        let mut last_ticks = cpu::rdtsc();
        let mut last_ns = tsc::now_ns();
        for _ in 0..100_000 {
            let t = cpu::rdtsc();
            let ns = tsc::now_ns();
            ensure!(t >= last_ticks, "TSC went back: {t} < {last_ticks}");
            ensure!(ns >= last_ns, "clock went back: {ns} < {last_ns}");
            last_ticks = t;
            last_ns = ns;
        }
        Ok(())
    }
);

ktest!(
    fn timer_interrupts_arrive_at_the_configured_rate() {
        // Busy-wait (no hlt) for 20 ticks and compare with the TSC clock.
        const TICKS: u64 = 20;
        let start_tick = apic::ticks();
        while apic::ticks() == start_tick {
            core::hint::spin_loop();
        }
        let t0 = tsc::now_ns();
        let first = apic::ticks();
        while apic::ticks() < first + TICKS {
            core::hint::spin_loop();
        }
        let elapsed_ns = tsc::now_ns() - t0;
        let expected_ns = TICKS * 1_000_000_000 / apic::timer_hz();
        let error_permille = elapsed_ns.abs_diff(expected_ns) * 1000 / expected_ns;
        ensure!(
            error_permille <= 100,
            "{TICKS} ticks took {elapsed_ns} ns, expected {expected_ns} ns ({}.{}% off)",
            error_permille / 10,
            error_permille % 10
        );
        Ok(())
    }
);

ktest!(
    fn timer_keeps_ticking_while_halted() {
        let first = apic::ticks();
        for _ in 0..3 {
            cpu::wait_for_interrupt();
        }
        let now = apic::ticks();
        ensure!(now > first, "{}", format!("no tick: {first} -> {now}"));
        Ok(())
    }
);
