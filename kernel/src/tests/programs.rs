//! User programs from the initrd, run to completion: the seed's programs,
//! the end-to-end ABI test, faults that kill only their program, a hundred
//! programs at once, SMEP and SMAP (the system-call fuzzer is in `fuzz.rs`).

use super::leaks::Baseline;
use alloc::format;
use alloc::vec::Vec;
use sk_core::testing::{TestMachine, TEST_BUFFER, TEST_SPIN_CODE};
use sk_ktest::{ensure, ensure_eq, ktest};
use sk_machine::probe::{self, PF_FETCH, PF_PRESENT};

/// Exit status of `/bin/worker n`: primes below `2000 + n % 65536`, mod 200.
pub fn worker_status(n: u64) -> i32 {
    let limit = 2000 + (n % 65536) as usize;
    let mut composite = alloc::vec![false; limit];
    let mut primes = 0u64;
    for i in 2..limit {
        if !composite[i] {
            primes += 1;
            let mut j = i * i;
            while j < limit {
                composite[j] = true;
                j += i;
            }
        }
    }
    (primes % 200) as i32
}

pub(crate) fn run(path: &str, arg: u64) -> Result<i32, alloc::string::String> {
    let id = sk_core::spawn_program(path, arg).map_err(|e| format!("spawn {path}: {e}"))?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait {path}: {e}"));
    sk_core::release_program(id);
    status
}

/// Exit status of a program the kernel killed.
const KILLED: i32 = 137;

ktest!(
    fn seed_program_1_and_program_2_run() {
        ensure_eq!(run("/bin/prog1", 0)?, 0);
        ensure_eq!(run("/bin/prog2", 0)?, 0);
        Ok(())
    }
);

ktest!(
    fn abitest_passes_end_to_end() {
        ensure_eq!(run("/bin/abitest", 0)?, 0);
        Ok(())
    }
);

ktest!(
    fn each_kind_of_fault_kills_only_its_program() {
        for kind in 0..=8 {
            let status = run("/bin/faulty", kind)?;
            ensure!(
                status == KILLED,
                "fault kind {kind}: status {status}, expected {KILLED}"
            );
        }
        ensure_eq!(run("/bin/worker", 1)?, worker_status(1));
        Ok(())
    }
);

/// Starts 100 programs at once, every eleventh one faulting (nine kinds),
/// and checks each exit status.
fn hundred_programs() -> Result<(), alloc::string::String> {
    let mut running = Vec::new();
    for i in 0..100u64 {
        let (path, arg) = if i % 11 == 3 {
            ("/bin/faulty", (i / 11) % 9)
        } else {
            ("/bin/worker", i)
        };
        let id = sk_core::spawn_program(path, arg).map_err(|e| format!("spawn {i}: {e}"))?;
        running.push((i, path, arg, id));
    }
    let mut faulted = 0;
    for (i, path, arg, id) in running {
        let status = sk_core::wait_program(id).map_err(|e| format!("wait {i}: {e}"))?;
        sk_core::release_program(id);
        let want = if path == "/bin/faulty" {
            KILLED
        } else {
            worker_status(arg)
        };
        ensure!(
            status == want,
            "program {i} ({path} {arg}): status {status}, expected {want}"
        );
        faulted += usize::from(path == "/bin/faulty");
    }
    ensure_eq!(faulted, 9);
    Ok(())
}

ktest!(
    fn a_hundred_programs_with_faulty_ones_among_them() {
        // The first round is the warm-up: the kernel's containers (ready
        // queue, code-arena free lists) grow to the size a hundred
        // programs need; the second must give back exactly what it took.
        hundred_programs()?;
        let baseline = Baseline::take();
        hundred_programs()?;
        baseline.check("100 programs")?;
        Ok(())
    }
);

ktest!(
    fn smap_stops_kernel_reads_of_user_memory() {
        let _m = TestMachine::new(1).map_err(|e| format!("{e}"))?;
        if !sk_machine::usercopy::smap_enabled() {
            return Err("SMAP is not available on this CPU".into());
        }
        // The copy routine may read it ...
        let mut byte = [0u8; 1];
        ensure!(sk_machine::usercopy::copy_from_user(&mut byte, TEST_BUFFER).is_ok());
        // ... a plain kernel load may not (recovered through the fixup table).
        // SAFETY: a user page with SMAP on (checked above): both accesses
        // fault unless SMAP is broken, and the byte belongs to the test
        // program, whose data this test may change.
        #[allow(unsafe_code)]
        let (read, write) =
            unsafe { (probe::read_u8(TEST_BUFFER), probe::write_u8(TEST_BUFFER, 1)) };
        let fault = read
            .err()
            .ok_or("kernel read user memory outside the copy routines")?;
        ensure_eq!(fault.error_code & PF_PRESENT, PF_PRESENT);
        ensure!(
            write.is_err(),
            "kernel wrote user memory outside the copy routines"
        );
        Ok(())
    }
);

ktest!(
    fn smep_stops_kernel_execution_of_user_code() {
        let _m = TestMachine::new(1).map_err(|e| format!("{e}"))?;
        if !sk_machine::cpu::features().smep {
            return Err("SMEP is not available on this CPU".into());
        }
        // SAFETY: a user page with SMEP on (checked above): the fetch
        // faults, so the spin loop there never runs in ring 0.
        #[allow(unsafe_code)]
        let fault = unsafe { probe::call(TEST_SPIN_CODE) }
            .err()
            .ok_or("kernel executed a user page")?;
        ensure_eq!(
            fault.error_code & (PF_PRESENT | PF_FETCH),
            PF_PRESENT | PF_FETCH
        );
        Ok(())
    }
);

ktest!(
    fn tty_output_matches_the_generic_path() {
        // 100,000 writes and mode changes on /dev/tty through the
        // synthesized routines, then through the generic path; results
        // are checked here, the serial port's bytes of both runs by the
        // host (`xtask`'s tty output check, against the line discipline).
        ensure_eq!(run("/bin/synthtest", 8)?, 0);
        Ok(())
    }
);

ktest!(
    fn synthesized_routines_match_the_generic_path() {
        // Differential (100,000 random operations per SIO kind, synthesized
        // vs forced-generic calls) and one invalidation case per event.
        ensure_eq!(run("/bin/synthtest", 0)?, 0);
        Ok(())
    }
);
