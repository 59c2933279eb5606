//! The Linux personality's synthesized `read`/`write` (docs/unix.md,
//! "Entry"; `sk-core`'s `linux_fast.rs`): an unmodified static glibc
//! program (`user/linux/linfast.c`) makes the same read and write calls
//! with its `read`/`write` slots on the fd dispatchers and again on the
//! Linux generic entry, and both runs must log the same results (bad
//! buffers, bad and closed-then-reused descriptors, a file truncated and
//! grown between calls included); the fast run must actually have taken
//! the synthesized routines. Tests named `either_scheduler` run again with
//! `synth=off`, where both runs are generic. The single-step counter counts
//! a Linux read and write (armed through the test kernel's `prctl`
//! options, `linux_fast::ktest_prctl`): 46 and 44 kernel instructions
//! through the dispatcher.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sk_ktest::{ensure, ensure_eq, ktest};

/// Runs `/bin/linfast` writing its log to `log`; returns its exit status
/// (its failed checks) and the log.
fn linfast(log: &str, generic: bool) -> Result<(i32, Vec<u8>), String> {
    let argv = ["/bin/linfast", log];
    let id = sk_core::testing::spawn_linux_program_on("/bin/linfast", &argv, generic)
        .map_err(|e| format!("spawn /bin/linfast: {e} (not found: not in the initrd)"))?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
    sk_core::release_program(id);
    let text = sk_core::with_fs(|fs| {
        let node = fs.lookup(log).map_err(|e| format!("{log}: {e:?}"))?;
        let mut bytes = alloc::vec![0; 16384];
        let len = fs.read(node, 0, &mut bytes).map_err(|e| format!("{e:?}"))?;
        bytes.truncate(len);
        let _ = fs.unlink(log);
        Ok::<_, String>(bytes)
    })?;
    Ok((status?, text))
}

/// The first line where two logs differ, for the message.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let lines = |t: &[u8]| {
        String::from_utf8_lossy(t)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let (a, b) = (lines(a), lines(b));
    for (x, y) in a.iter().zip(b.iter()) {
        if x != y {
            return format!("fast `{x}` / generic `{y}`");
        }
    }
    format!("{} lines / {} lines", a.len(), b.len())
}

ktest!(
    fn linux_fast_read_write_equal_the_generic_entry_either_scheduler() {
        // Eager synthesis: the subject is the routine made at open.
        let _eager = sk_core::testing::EagerSynthesis::new();
        let before = sk_core::testing::linux_generic_read_write_calls();
        let (fast_status, fast) = linfast("/linfast.fast", false)?;
        let fast_generic = sk_core::testing::linux_generic_read_write_calls() - before;
        let (generic_status, generic) = linfast("/linfast.generic", true)?;
        let all_generic =
            sk_core::testing::linux_generic_read_write_calls() - before - fast_generic;
        // Each run's own checks (the values real Linux gives, checked on
        // the host too) pass, and the two logs are the same line for line.
        ensure_eq!(fast_status, 0);
        ensure_eq!(generic_status, 0);
        ensure!(fast.len() > 1000, "log of {} bytes", fast.len());
        ensure!(fast == generic, "{}", first_difference(&fast, &generic));
        let lines = fast.iter().filter(|&&b| b == b'\n').count() as u64;
        if sk_core::testing::synthesis_enabled() {
            // The generic run sent every read and write to the generic
            // entry (the log's calls, glibc's console output and the log
            // write); the fast run only those without a routine: bad
            // descriptors, console output, calls too long for a routine,
            // closed fds and the write-only/read-only mismatches.
            ensure!(
                all_generic > lines / 2,
                "{all_generic} generic calls of {lines}"
            );
            ensure!(
                fast_generic + 15 <= all_generic,
                "fast run: {fast_generic} read/write calls at the generic entry, generic run {all_generic}"
            );
        } else {
            ensure_eq!(fast_generic, all_generic);
        }
        Ok(())
    }
);

ktest!(
    fn linux_fast_unopened_and_console_fds_take_the_slow_path() {
        if !sk_core::testing::synthesis_enabled() {
            return Ok(());
        }
        // `linfast x bench` opens /dev/zero at fd 3 and reads it.
        let id = sk_core::spawn_linux_program("/bin/linfast", &["/bin/linfast", "/x", "bench"])
            .map_err(|e| format!("spawn: {e}"))?;
        // Before it runs: nothing at fd 3; the console (0, 1, 2) generic.
        let at_start = sk_core::testing::linux_fd_has_routine(id, 3);
        let console = sk_core::testing::linux_fd_has_routine(id, 1);
        let status = sk_core::wait_program(id).map_err(|e| format!("{e}"));
        sk_core::release_program(id);
        ensure_eq!(status?, 0);
        ensure_eq!(at_start, Some((false, false)));
        ensure_eq!(console, Some((false, false)));
        Ok(())
    }
);

/// `linfast <log> trace` with the slots fast or generic: the kernel
/// instructions of its traced calls, by name.
fn traced_counts(generic: bool) -> Result<Vec<(String, u64)>, String> {
    let log = if generic {
        "/linfast.trace.generic"
    } else {
        "/linfast.trace.fast"
    };
    let argv = ["/bin/linfast", log, "trace"];
    let id = sk_core::testing::spawn_linux_program_on("/bin/linfast", &argv, generic)
        .map_err(|e| format!("spawn /bin/linfast: {e}"))?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
    sk_core::release_program(id);
    ensure_eq!(status?, 0);
    let text = sk_core::with_fs(|fs| {
        let node = fs.lookup(log).map_err(|e| format!("{log}: {e:?}"))?;
        let mut bytes = alloc::vec![0; 1024];
        let len = fs.read(node, 0, &mut bytes).map_err(|e| format!("{e:?}"))?;
        bytes.truncate(len);
        let _ = fs.unlink(log);
        Ok::<_, String>(bytes)
    })?;
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(" = ")?;
            let count = rest.split_whitespace().next()?.parse().ok()?;
            Some((String::from(name), count))
        })
        .collect())
}

ktest!(
    fn linux_fast_calls_counted_by_single_stepping() {
        // Eager synthesis: the subject is the routine made at open.
        let _eager = sk_core::testing::EagerSynthesis::new();
        if !sk_core::testing::synthesis_enabled() {
            return Ok(());
        }
        // The ktest boot allows tracing (`trace`); a test that turned it
        // off puts it back.
        let was_allowed = sk_core::testing::trace_allowed();
        sk_core::testing::allow_trace(true);
        let fast = traced_counts(false);
        let generic = traced_counts(true);
        sk_core::testing::allow_trace(was_allowed);
        let (fast, generic) = (fast?, generic?);
        ensure_eq!(fast.len(), 4);
        for ((name, fast), (_, generic)) in fast.iter().zip(generic.iter()) {
            sk_machine::println!(
                "linux abi: {name} kernel_instructions={fast} (generic entry: {generic})"
            );
            ensure!(*fast > 0 && *generic > 0, "{name}: not counted");
            if name != "getppid" {
                // The dispatcher and routine against decode and perform.
                ensure!(fast * 4 < *generic, "{name}: {fast} against {generic}");
            } else {
                // The same generic entry both ways; they differ only by the
                // signal replug's slot stores at its return (the dispatchers'
                // addresses against the pinned generic entry's).
                ensure!(
                    fast.abs_diff(*generic) <= 16,
                    "{name}: {fast} against {generic}"
                );
            }
        }
        Ok(())
    }
);
