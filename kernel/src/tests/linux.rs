//! The Linux personality, phase 1 (docs/unix.md): an unmodified static
//! glibc program (`user/linux/lintest.c`, built by the xtask with `gcc
//! -static`) runs through a Linux entry stub and table; its checks of
//! every phase-1 call and their error paths, hostile call numbers and
//! `arch_prctl` bases, registers at return; exit statuses reach the
//! parent; the FS base stays per thread across switches; a fault kills
//! only the Linux program. Tests named `either_scheduler` run again with
//! `synth=off` (no stubs: the generic entry serves Linux threads).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sk_ktest::{ensure, ensure_eq, ktest};

/// Runs the Linux program `/bin/lintest` with `args` after `argv[0]`.
fn lintest(args: &[&str]) -> Result<i32, String> {
    let mut argv: Vec<&str> = alloc::vec!["/bin/lintest"];
    argv.extend_from_slice(args);
    let id = sk_core::spawn_linux_program("/bin/lintest", &argv)
        .map_err(|e| {
            format!("spawn /bin/lintest {args:?}: {e} (not found: not in the initrd; not supported: the entry=slot mode)")
        })?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
    sk_core::release_program(id);
    status
}

/// Exit status of a Linux program a fault killed: SIGSEGV's default
/// action, as the kernel's waiter sees it (128 + 11; linux_signals.rs).
const KILLED_BY_SIGSEGV: i32 = 139;

ktest!(
    fn linux_lintest_passes_every_check_either_scheduler() {
        // The status is lintest's failure count (it prints each failure).
        ensure_eq!(lintest(&[])?, 0);
        ensure_eq!(sk_machine::user_fs::msr_value(), 0);
        Ok(())
    }
);

ktest!(
    fn linux_exit_status_reaches_the_parent() {
        ensure_eq!(lintest(&["exit", "42"])?, 42);
        ensure_eq!(lintest(&["exit", "0"])?, 0);
        // exit_group keeps the low 8 bits, as Linux's wait status does.
        ensure_eq!(lintest(&["exit", "300"])?, 44);
        Ok(())
    }
);

ktest!(
    fn linux_fs_base_stays_per_thread_across_switches_either_scheduler() {
        // Two Linux programs with their own FS bases and a native one
        // yield to each other 300 times each; every switch must bring each
        // one's base back (`user_fs.rs`), and none may leak into the
        // kernel or another thread.
        let a = sk_core::spawn_linux_program("/bin/lintest", &["/bin/lintest", "fs", "1111"])
            .map_err(|e| format!("spawn a: {e}"))?;
        let b = sk_core::spawn_linux_program("/bin/lintest", &["/bin/lintest", "fs", "2222"])
            .map_err(|e| format!("spawn b: {e}"))?;
        let native = sk_core::spawn_program("/bin/worker", 7).map_err(|e| format!("{e}"))?;
        let sa = sk_core::wait_program(a).map_err(|e| format!("{e}"))?;
        let sb = sk_core::wait_program(b).map_err(|e| format!("{e}"))?;
        let sn = sk_core::wait_program(native).map_err(|e| format!("{e}"))?;
        for id in [a, b, native] {
            sk_core::release_program(id);
        }
        ensure_eq!(sa, 0);
        ensure_eq!(sb, 0);
        ensure_eq!(sn, super::programs::worker_status(7));
        ensure_eq!(sk_machine::user_fs::msr_value(), 0);
        Ok(())
    }
);

ktest!(
    fn linux_fault_kills_only_the_linux_program() {
        ensure_eq!(lintest(&["kwrite"])?, KILLED_BY_SIGSEGV);
        ensure_eq!(lintest(&["exit", "3"])?, 3);
        ensure_eq!(sk_machine::user_fs::msr_value(), 0);
        Ok(())
    }
);

ktest!(
    fn linux_program_refused_without_its_file() {
        let e = sk_core::spawn_linux_program("/bin/no-such-linux-program", &["x"]);
        ensure!(e.is_err(), "spawned a program that does not exist");
        Ok(())
    }
);

ktest!(
    fn linux_thread_gets_its_own_stub_and_a_table_of_generic_entries() {
        // Read before it runs (spawning does not yield): the table as built.
        let id = sk_core::spawn_linux_program("/bin/lintest", &["/bin/lintest", "exit", "5"])
            .map_err(|e| format!("spawn: {e}"))?;
        let entry = sk_core::testing::linux_entry_of(id);
        let native = sk_core::spawn_program("/bin/worker", 1).map_err(|e| format!("{e}"))?;
        let native_entry = sk_core::testing::linux_entry_of(native);
        let status = sk_core::wait_program(id).map_err(|e| format!("{e}"))?;
        let native_status = sk_core::wait_program(native).map_err(|e| format!("{e}"))?;
        sk_core::release_program(id);
        sk_core::release_program(native);
        let entry = entry.ok_or("the Linux program has no entry stub")?;
        ensure!(entry.is_linux_process && entry.is_linux_table, "{entry:?}");
        // Every Linux call number, 0..=450, and nothing else.
        ensure_eq!(entry.slots, 451);
        // All but read and write (the fd dispatchers, linux_fast.rs).
        ensure_eq!(entry.generic_slots, 449);
        ensure!(entry.stub_in_arena, "stub outside the code arena");
        let native_entry = native_entry.ok_or("the native program has no entry stub")?;
        ensure!(
            !native_entry.is_linux_process && !native_entry.is_linux_table,
            "{native_entry:?}"
        );
        ensure_eq!(native_entry.generic_slots, 0);
        ensure_eq!(status, 5);
        ensure_eq!(native_status, super::programs::worker_status(1));
        Ok(())
    }
);

/// Runs Debian's busybox-static (`/bin/busybox`, fetched and cached by
/// the xtask, `xtask/src/busybox.rs`) with `argv`.
fn busybox(argv: &[&str]) -> Result<i32, String> {
    let id = sk_core::spawn_linux_program("/bin/busybox", argv).map_err(|e| {
        format!(
            "spawn /bin/busybox {argv:?}: {e}: no busybox in the initrd? The xtask \
             fetches Debian's busybox-static with apt-get (see its output)"
        )
    })?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
    sk_core::release_program(id);
    status
}

ktest!(
    fn linux_busybox_runs_unmodified_echo_true_false_sh_and_cp() {
        ensure_eq!(busybox(&["busybox", "echo", "hi"])?, 0);
        ensure_eq!(busybox(&["busybox", "true"])?, 0);
        // A status other than 0 comes through too (not a vacuous pass).
        ensure_eq!(busybox(&["busybox", "false"])?, 1);
        ensure_eq!(busybox(&["busybox", "sh", "-c", "exit 3"])?, 3);
        ensure_eq!(
            busybox(&["busybox", "cp", "/bin/lintest", "/tmp/bbcopy"])?,
            0
        );
        // The copy busybox made (open, read, write; sendfile is ENOSYS).
        let same = sk_core::with_fs(|fs| -> Option<bool> {
            let a = fs.lookup("/bin/lintest").ok()?;
            let b = fs.lookup("/tmp/bbcopy").ok()?;
            let size = fs.stat(a).ok()?.size_bytes;
            let (mut x, mut y) = (
                alloc::vec![0u8; size as usize],
                alloc::vec![0u8; size as usize],
            );
            fs.read(a, 0, &mut x).ok()?;
            fs.read(b, 0, &mut y).ok()?;
            Some(fs.stat(b).ok()?.size_bytes == size && x == y)
        });
        ensure_eq!(same, Some(true));
        let _ = sk_core::with_fs(|fs| fs.unlink("/tmp/bbcopy"));
        ensure_eq!(sk_machine::user_fs::msr_value(), 0);
        Ok(())
    }
);
