//! Lazy FP/SSE/AVX state: the unit's setup, every register of 18 SCPUs in
//! two SMACHs across 10^5 switches (`/bin/fpstress`), the same test
//! failing when a switch skips the save, FP faults that kill only their
//! program, and FP threads killed mid-loop giving their areas back.
//!
//! The timer runs at [`STRESS_HZ`] during these tests ([`FastTimer`]): at
//! the kernel's 100 Hz, 10^5 one-tick quanta would take 1,000 s of guest
//! time.

use super::leaks::Baseline;
use super::programs::run;
use alloc::format;
use alloc::string::String;
use sk_core::fp::{FpStats, Injection};
use sk_ktest::{ensure, ensure_eq, ktest};
use sk_machine::fpu::{self, SaveInstruction};

/// Timer rate for the FP tests: one tick is 25,000 guest instructions
/// under TCG with `-icount` (the kernel's timer interrupt and switch take
/// a few thousand).
const STRESS_HZ: u64 = 40_000;

/// Exit status of a program the kernel killed.
const KILLED: i32 = 137;

/// Sets the timer to `hz` while alive; puts the old rate back on drop.
struct FastTimer(u64);

impl FastTimer {
    fn new(hz: u64) -> Self {
        let old = sk_machine::apic::timer_hz();
        sk_machine::apic::set_timer_hz(hz);
        Self(old)
    }
}

impl Drop for FastTimer {
    fn drop(&mut self) {
        sk_machine::apic::set_timer_hz(self.0);
    }
}

/// `fpstress` mode 0: `fp` FP and `lazy` lazy SCPUs, `gaps` stretches off
/// the CPU each; a partner SMACH with `partner` = (FP, lazy) SCPUs.
fn stress_arg(fp: u64, lazy: u64, gaps: u64, partner: (u64, u64)) -> u64 {
    (fp << 8) | (lazy << 16) | (gaps << 24) | (partner.0 << 44) | (partner.1 << 52)
}

fn delta(after: FpStats, before: FpStats) -> FpStats {
    FpStats {
        traps: after.traps - before.traps,
        first_uses: after.first_uses - before.first_uses,
        repeated: after.repeated - before.repeated,
        no_memory: after.no_memory - before.no_memory,
        switch_saves: after.switch_saves - before.switch_saves,
        switch_restores: after.switch_restores - before.switch_restores,
        resyntheses: after
            .resyntheses
            .zip(before.resyntheses)
            .map(|(a, b)| a - b),
        nm_ticks: after.nm_ticks - before.nm_ticks,
        nm_ticks_max: after.nm_ticks_max,
        first_use_ticks: after.first_use_ticks - before.first_use_ticks,
        resynthesis_ticks: after.resynthesis_ticks - before.resynthesis_ticks,
        areas_live: after.areas_live,
    }
}

/// [`FpStats::resyntheses`] for the console: "n/a" on the generic
/// scheduler, which has no switch code to rebuild (no allocation: the
/// tests check the heap).
struct ResynthesisCount(Option<u64>);

impl core::fmt::Display for ResynthesisCount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("n/a (generic scheduler)"),
        }
    }
}

/// True if this boot was asked for FXSAVE (`fp.fxsave`).
fn fxsave_forced() -> bool {
    crate::BOOT
        .get()
        .is_some_and(|(_, options)| options.fp_fxsave)
}

ktest!(
    fn fp_unit_is_enabled_from_cpuid_and_lazy() {
        let c = fpu::config();
        let l1 = core::arch::x86_64::__cpuid(1);
        let xsave = l1.ecx & (1 << 26) != 0;
        let avx = l1.ecx & (1 << 28) != 0;
        sk_machine::println!(
            "fpu: xcr0 {:#x} (supported {:#x}), {:?}, area {} bytes, mxcsr mask {:#x}; cpuid xsave={xsave} avx={avx}",
            c.xcr0,
            c.xcr0_supported,
            c.save_instruction,
            c.area_bytes,
            c.mxcsr_mask
        );
        let [mp, em, ne, osfxsr, osxmmexcpt, osxsave] = fpu::control_bits();
        ensure!(mp && !em && ne, "CR0: MP {mp} EM {em} NE {ne}");
        ensure!(
            osfxsr && osxmmexcpt,
            "CR4: OSFXSR {osfxsr} OSXMMEXCPT {osxmmexcpt}"
        );
        let forced = fxsave_forced();
        // The policy's choice (sk_scpu::fp::choose_save) is what runs.
        ensure_eq!(
            c.save_instruction,
            sk_core::fp::choose_save_instruction(forced)
        );
        ensure_eq!(osxsave, xsave && !forced);
        ensure_eq!(c.xcr0 & 3, 3);
        if xsave && !forced {
            ensure_eq!(fpu::xcr0_in_force(), c.xcr0);
            let leaf = core::arch::x86_64::__cpuid_count(0xd, 0);
            ensure_eq!(c.area_bytes, leaf.ebx as usize);
            ensure_eq!(avx, c.xcr0 & fpu::XCR0_AVX != 0);
            let supported = u64::from(leaf.eax) | (u64::from(leaf.edx) << 32);
            ensure_eq!(
                supported & fpu::XCR0_AVX512 == fpu::XCR0_AVX512 && avx,
                c.xcr0 & fpu::XCR0_AVX512 != 0
            );
            let xsaveopt = core::arch::x86_64::__cpuid_count(0xd, 1).eax & 1 != 0;
            ensure_eq!(
                c.save_instruction,
                if xsaveopt {
                    SaveInstruction::Xsaveopt
                } else {
                    SaveInstruction::Xsave
                }
            );
        } else {
            ensure_eq!(c.save_instruction, SaveInstruction::Fxsave);
            ensure_eq!(c.area_bytes, 512);
            ensure_eq!(c.xcr0, 3);
            ensure_eq!(fpu::xcr0_in_force(), 0);
        }
        // This kernel thread never used FP: TS is set while it runs.
        ensure!(fpu::ts_is_set(), "CR0.TS clear in a kernel thread");
        Ok(())
    }
);

ktest!(
    fn fp_registers_survive_1e5_switches_in_two_smachs() {
        let _timer = FastTimer::new(STRESS_HZ);
        // Warm-up (caches reach their working size), then the run.
        // The same threads (tables and queues grow to the same size).
        ensure_eq!(run("/bin/fpstress", stress_arg(8, 4, 20, (4, 2)))?, 0);
        let baseline = Baseline::take();
        let before = sk_core::fp::stats();
        let switches = sk_core::switches();
        let tsc = sk_machine::cpu::rdtsc();
        // SMACH A: 8 FP + 4 lazy SCPUs; SMACH B: 4 FP + 2 lazy.
        let status = run("/bin/fpstress", stress_arg(8, 4, 6_000, (4, 2)))?;
        let ticks = sk_machine::cpu::rdtsc() - tsc;
        let switches = sk_core::switches() - switches;
        let d = delta(sk_core::fp::stats(), before);
        let resyntheses = ResynthesisCount(d.resyntheses);
        sk_machine::println!(
            "fp stress: {switches} switches in {ticks} TSC ticks ({:?}); #NM {} (first uses {}, repeated {}), switch code resynthesized {resyntheses}, saves {}, restores {} at switches, {} areas live",
            fpu::config().save_instruction,
            d.traps,
            d.first_uses,
            d.repeated,
            d.switch_saves,
            d.switch_restores,
            d.areas_live
        );
        sk_machine::println!(
            "fp stress: #NM hook {} TSC ticks per first use (max {}): area {} + switch code {}",
            d.nm_ticks / d.traps.max(1),
            d.nm_ticks_max,
            d.first_use_ticks / d.traps.max(1),
            d.resynthesis_ticks / d.traps.max(1)
        );
        ensure_eq!(status, 0);
        ensure!(switches >= 100_000, "only {switches} switches");
        // Each of the 18 workers traps exactly once; main and park never.
        ensure_eq!(d.first_uses, 18);
        ensure_eq!(d.traps, 18);
        ensure_eq!(d.repeated, 0);
        ensure_eq!(d.areas_live, before.areas_live);
        // The switch counters move on both schedulers (the ring's code
        // counts in the per-CPU block): 12 of 18 workers use FP from the
        // start, so most switches save and restore. Per thread the saves
        // and restores alternate (its first use restores outside a switch,
        // not counted), so they differ by at most one per worker.
        ensure!(
            d.switch_saves >= switches / 4 && d.switch_restores >= switches / 4,
            "saves {} restores {} for {switches} switches",
            d.switch_saves,
            d.switch_restores
        );
        ensure!(
            d.switch_saves.abs_diff(d.switch_restores) <= 18,
            "saves {} restores {}",
            d.switch_saves,
            d.switch_restores
        );
        // The ring rebuilds a thread's switch code once, at its first use;
        // the generic scheduler has no switch code to rebuild.
        ensure_eq!(d.resyntheses, sk_core::scheduler_is_ring().then_some(18));
        baseline.check("fp stress")
    }
);

ktest!(
    fn fp_register_test_fails_when_a_switch_skips_the_save() {
        let _timer = FastTimer::new(STRESS_HZ);
        sk_core::fp::inject(Injection::NoSave);
        let status = run("/bin/fpstress", stress_arg(3, 1, 40, (0, 0)));
        sk_core::fp::inject(Injection::None);
        ensure_eq!(status?, 1);
        Ok(())
    }
);

ktest!(
    fn fp_register_test_fails_when_a_switch_leaves_ts_clear() {
        let _timer = FastTimer::new(STRESS_HZ);
        let before = sk_core::fp::stats();
        sk_core::fp::inject(Injection::NoTs);
        let status = run("/bin/fpstress", stress_arg(3, 1, 40, (0, 0)));
        sk_core::fp::inject(Injection::None);
        let d = delta(sk_core::fp::stats(), before);
        sk_machine::println!("fp no-TS injection: #NM {}, status {status:?}", d.traps);
        ensure_eq!(status?, 1);
        Ok(())
    }
);

ktest!(
    fn fp_faults_kill_only_their_program() {
        let _timer = FastTimer::new(STRESS_HZ);
        // FP work goes on meanwhile and must not notice.
        let background = sk_core::spawn_program("/bin/fpstress", stress_arg(3, 1, 600, (0, 0)))
            .map_err(|e| format!("spawn: {e}"))?;
        let avx512 = fpu::config().xcr0 & fpu::XCR0_AVX512 != 0;
        // (mode, expected status, expected vector)
        let cases = [
            (2, KILLED, Some(19)),
            (3, KILLED, Some(16)),
            (4, KILLED, Some(13)),
            (5, if avx512 { 0 } else { KILLED }, (!avx512).then_some(6)),
            // Without XSAVE (fp.fxsave leaves CR4.OSXSAVE off) the
            // program has nothing to test and says so.
            if fpu::config().xcr0_supported == 0 {
                (6, 0, None)
            } else {
                (6, KILLED, Some(13))
            },
            (7, KILLED, Some(13)),
        ];
        let mut failures = String::new();
        for (mode, want, vector) in cases {
            let status = run("/bin/fpstress", mode)?;
            // QEMU's TCG never raises #XM (it only flags MXCSR) and lets
            // `ldmxcsr` set reserved bits: the program says so (4, 5).
            if is_tcg() && ((mode == 2 && status == 4) || (mode == 4 && status == 5)) {
                sk_machine::println!(
                    "fp faults: mode {mode}: QEMU TCG does not raise this fault; untested here"
                );
                continue;
            }
            if status != want {
                failures += &format!(" mode {mode}: status {status}, expected {want};");
                continue;
            }
            if let Some(vector) = vector {
                let last = sk_machine::traps::last_user_trap().map(|t| t.0);
                if last != Some(vector) {
                    failures +=
                        &format!(" mode {mode}: last user trap {last:?}, expected {vector};");
                }
            }
        }
        let status = sk_core::wait_program(background).map_err(|e| format!("wait: {e}"))?;
        sk_core::release_program(background);
        ensure_eq!(status, 0);
        ensure!(failures.is_empty(), "{failures}");
        Ok(())
    }
);

/// True under QEMU's TCG (hypervisor signature "TCGTCGTCGTCG").
fn is_tcg() -> bool {
    &sk_machine::cpu::features().hypervisor_vendor == b"TCGTCGTCGTCG"
}

/// Starts FP threads looping forever, waits until all used FP, lets them
/// run on, kills the program.
fn kill_fp_loop() -> Result<(), String> {
    let before = sk_core::fp::stats();
    let id = sk_core::spawn_program("/bin/fpstress", stress_arg(8, 0, 0xf_ffff, (0, 0)))
        .map_err(|e| format!("spawn: {e}"))?;
    let mut yields = 0u64;
    while sk_core::fp::stats().first_uses - before.first_uses < 8 {
        sk_core::yield_now();
        yields += 1;
        ensure!(yields < 10_000, "the FP threads never all used FP");
    }
    let switches = sk_core::switches();
    while sk_core::switches() - switches < 500 {
        sk_core::yield_now();
    }
    ensure!(
        sk_core::fp::stats().areas_live >= before.areas_live + 8,
        "areas not held"
    );
    sk_core::release_program(id);
    ensure_eq!(sk_core::fp::stats().areas_live, before.areas_live);
    Ok(())
}

ktest!(
    fn fp_threads_killed_mid_loop_free_their_areas() {
        let _timer = FastTimer::new(STRESS_HZ);
        kill_fp_loop()?;
        let baseline = Baseline::take();
        kill_fp_loop()?;
        baseline.check("FP threads killed mid-loop")
    }
);
