//! Linux signals (docs/unix.md, "Signals"): `user/linux/sigtest.c` (glibc,
//! `gcc -static`) checks handlers, siginfo and ucontext, every register
//! across a delivery and after `rt_sigreturn`, masks and pending sets,
//! `SA_RESETHAND`, `sigaltstack`, and faults caught by handlers; the
//! kernel's waiter sees "killed by signal N" (128 + N) for default
//! actions and faults; forged `rt_sigreturn` frames and handler loops kill
//! only their program; a sleeping, a reading and a spinning program are
//! reached by signals the test posts (the last by Ctrl-C on the console).
//! Tests named `either_scheduler` run again with `synth=off` (the generic
//! `syscall` entry serves Linux threads).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sk_abi::ScpuState;
use sk_ktest::{ensure, ensure_eq, ktest};

/// Runs `/bin/sigtest` with `args` after `argv[0]`; its status.
fn sigtest(args: &[&str]) -> Result<i32, String> {
    let id = spawn(args)?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
    sk_core::release_program(id);
    status
}

fn spawn(args: &[&str]) -> Result<sk_core::ProgramId, String> {
    let mut argv: Vec<&str> = alloc::vec!["/bin/sigtest"];
    argv.extend_from_slice(args);
    sk_core::spawn_linux_program("/bin/sigtest", &argv)
        .map_err(|e| format!("spawn /bin/sigtest {args:?}: {e} (not found: not in the initrd)"))
}

/// Killed by signal `n`, as the kernel's waiter sees it (the shell's `$?`).
const fn killed_by(n: i32) -> i32 {
    128 + n
}
const SIGINT: u8 = 2;
const SIGKILL: u8 = 9;
const SIGTERM: u8 = 15;
const SIGUSR1: u8 = 10;

/// Yields until program `id`'s only thread is Blocked (at most `tries`
/// yields: a count, not a time).
fn until_blocked(id: sk_core::ProgramId) -> Result<(), String> {
    for _ in 0..200_000 {
        if sk_core::testing::program_thread_states(id) == [ScpuState::Blocked] {
            return Ok(());
        }
        sk_core::yield_now();
    }
    Err(format!(
        "program never blocked: {:?}",
        sk_core::testing::program_thread_states(id)
    ))
}

ktest!(
    fn linux_signals_sigtest_passes_every_check_either_scheduler() {
        // The status is sigtest's failure count (it prints each failure).
        ensure_eq!(sigtest(&[])?, 0);
        ensure_eq!(sk_machine::user_fs::msr_value(), 0);
        Ok(())
    }
);

ktest!(
    fn linux_signals_default_actions_kill_with_the_signal_either_scheduler() {
        ensure_eq!(sigtest(&["term"])?, killed_by(15));
        ensure_eq!(sigtest(&["segv"])?, killed_by(11));
        ensure_eq!(sigtest(&["fpe"])?, killed_by(8));
        ensure_eq!(sigtest(&["abort"])?, killed_by(6));
        Ok(())
    }
);

ktest!(
    fn linux_signals_forged_sigreturn_frames_kill_only_their_program() {
        // A kernel or non-canonical rip: refused by the decoder (SIGSEGV).
        ensure_eq!(sigtest(&["forge-rip"])?, killed_by(11));
        ensure_eq!(sigtest(&["forge-noncanon"])?, killed_by(11));
        // IOPL 3 is dropped: the `cli` it resumes at faults (99: granted).
        ensure_eq!(sigtest(&["forge-iopl"])?, killed_by(11));
        // The kernel's cs is replaced by the user's (98: it was not).
        ensure_eq!(sigtest(&["forge-cs"])?, 0);
        // The kernel and other programs go on.
        ensure_eq!(sigtest(&["term"])?, killed_by(15));
        Ok(())
    }
);

ktest!(
    fn linux_signals_handler_loops_die_alone_either_scheduler() {
        // A SIGSEGV handler that faults again: the second fault finds
        // SIGSEGV blocked, which resets it to SIG_DFL.
        ensure_eq!(sigtest(&["segv-loop"])?, killed_by(11));
        // A SA_NODEFER handler raising itself: frames fill the stack, the
        // one that does not fit is SIGSEGV.
        ensure_eq!(sigtest(&["storm"])?, killed_by(11));
        // A frame that cannot be written (rsp in unmapped memory).
        ensure_eq!(sigtest(&["badstack"])?, killed_by(11));
        ensure_eq!(sigtest(&["term"])?, killed_by(15));
        Ok(())
    }
);

ktest!(
    fn linux_signals_interrupt_nanosleep_with_eintr_and_the_time_left() {
        let id = spawn(&["sleeper"])?;
        for _ in 0..2 {
            until_blocked(id)?;
            sk_core::testing::linux_post_signal(id, SIGUSR1)
                .map_err(|e| format!("post: errno {e}"))?;
        }
        let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
        sk_core::release_program(id);
        ensure_eq!(status?, 0);
        Ok(())
    }
);

ktest!(
    fn linux_signals_console_read_restarts_with_sa_restart_else_eintr() {
        sk_core::testing::console_discard();
        let id = spawn(&["restart"])?;
        until_blocked(id)?;
        sk_core::testing::linux_post_signal(id, SIGUSR1).map_err(|e| format!("post: {e}"))?;
        // Restarted: blocked in the read again, which then gets a line.
        until_blocked(id)?;
        sk_core::testing::console_input(b"x\n");
        until_blocked(id)?;
        sk_core::testing::linux_post_signal(id, SIGUSR1).map_err(|e| format!("post: {e}"))?;
        // The read must end with EINTR by itself; if it still waits after
        // many yields, a line ends it (and the program reports the read).
        let mut exited = false;
        for _ in 0..200_000 {
            if sk_core::testing::program_exit_status(id).is_some() {
                exited = true;
                break;
            }
            sk_core::yield_now();
        }
        if !exited {
            sk_core::testing::console_input(b"y\n");
        }
        let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
        sk_core::release_program(id);
        sk_core::testing::console_discard();
        ensure_eq!(status?, 0);
        ensure!(exited, "the read was not interrupted");
        Ok(())
    }
);

/// Spawns sigtest `mode`, waits until its SIGINT handler is installed.
fn spawn_with_sigint_handler(mode: &str) -> Result<sk_core::ProgramId, String> {
    let id = spawn(&[mode])?;
    for _ in 0..200_000 {
        if sk_core::testing::linux_has_handler(id, SIGINT) {
            return Ok(id);
        }
        sk_core::yield_now();
    }
    Err(format!("{mode}: the SIGINT handler was never installed"))
}

ktest!(
    fn linux_signals_handler_on_a_timer_return_keeps_the_interrupted_vector_registers_either_scheduler(
    ) {
        let id = spawn_with_sigint_handler("fpspin")?;
        sk_core::testing::linux_post_signal(id, SIGINT).map_err(|e| format!("post: {e}"))?;
        let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
        sk_core::release_program(id);
        // 4: xmm0 came back clobbered by the handler.
        ensure_eq!(status?, 0);
        Ok(())
    }
);

ktest!(
    fn linux_signals_ctrl_c_reaches_a_program_spinning_in_user_mode_either_scheduler() {
        let id = spawn(&["spin"])?;
        let mut installed = false;
        for _ in 0..200_000 {
            if sk_core::testing::linux_has_handler(id, SIGINT) {
                installed = true;
                break;
            }
            sk_core::yield_now();
        }
        ensure!(installed, "the SIGINT handler was never installed");
        // It spins without calls from here on: only a timer return can
        // deliver.
        ensure!(
            sk_core::testing::console_ctrl_c(),
            "Ctrl-C found no Linux foreground"
        );
        let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
        sk_core::release_program(id);
        ensure_eq!(status?, 0);
        // With no Linux program left, Ctrl-C is the native programs' byte.
        ensure!(
            !sk_core::testing::console_ctrl_c(),
            "Ctrl-C consumed with no Linux program"
        );
        Ok(())
    }
);

ktest!(
    fn linux_signals_end_a_poll_or_select_that_waits_forever() {
        // Found by the hostile review: a wait in poll/select ignored
        // signals, so nothing (not SIGKILL, not Ctrl-C) could end it.
        for (mode, signal) in [("pollwait", SIGTERM), ("selectwait", SIGKILL)] {
            let id = spawn(&[mode])?;
            until_blocked(id)?;
            sk_core::testing::linux_post_signal(id, signal).map_err(|e| format!("post: {e}"))?;
            let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
            sk_core::release_program(id);
            ensure_eq!(status?, killed_by(i32::from(signal)));
        }
        Ok(())
    }
);
