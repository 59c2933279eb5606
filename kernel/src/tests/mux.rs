//! The multiplexor (`/bin/mux`, user/mux; docs/nesting.md): its demo
//! configuration (`/etc/mux.conf`) run to its end, checked from its tree
//! report (the rows it printed on the console, also written to
//! `/tmp/mux.tree`, read back with `sk_mux::report::parse_row`): four
//! levels, every share within 10% of what its weight is owed over the
//! measured interval of guest time, every child finished, and every
//! frame, heap byte and code block back afterwards. From the serial port
//! (`xtask` checks it: the workers' lines go through the synthesized
//! `tty_write_prefixed`, past the kernel's console capture): a worker
//! three levels down writes with its three prefixes, and a worker with a
//! root of its own finds its room and not the file system's `/etc`. A
//! configuration with bad lines and refused children: each skipped, the
//! good child run, exit 1, nothing leaked. An injected
//! sub-scheduler that ignores weights makes the share check fail.

use super::leaks::{clean_tmp, Baseline};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use sk_core::nest_testing;
use sk_ktest::{ensure, ktest};
use sk_mux::report::{is_within, parse_row};

const REPORT: &str = "/tmp/mux.tree";
/// How far a share may be from what its weight is owed, in percent of it.
const TOLERANCE_PERCENT: u32 = 10;

/// Runs `/bin/mux` to its end; returns its exit status and its report.
///
/// The lines the workers write through their multiplexors' prefix views
/// go to the UART from `tty_write_prefixed`, which the kernel's console
/// capture cannot see: `xtask` finds them on the serial port instead
/// (`xtask/src/prefix_output.rs`, `REQUIRED_LINES`: a worker three levels
/// down with its three prefixes, a rooted worker in its room).
fn run_mux() -> Result<(i32, String), String> {
    let status = run_mux_program()?;
    read_report().map(|report| (status, report))
}

/// Runs `/bin/mux` to its end; its exit status.
fn run_mux_program() -> Result<i32, String> {
    sk_core::spawn_program("/bin/mux", 0)
        .map_err(|e| format!("spawn mux: {e}"))
        .and_then(|id| {
            let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
            sk_core::release_program(id);
            status
        })
}

/// The tree report mux left in [`REPORT`].
fn read_report() -> Result<String, String> {
    sk_core::with_fs(|fs| {
        let node = fs.lookup(REPORT).map_err(|e| format!("{REPORT}: {e}"))?;
        let mut buf = vec![0_u8; 8192];
        let n = fs
            .read(node, 0, &mut buf)
            .map_err(|e| format!("{REPORT}: {e}"))?;
        buf.truncate(n);
        String::from_utf8(buf).map_err(|_| format!("{REPORT}: not UTF-8"))
    })
}

/// The report's deepest level, and the first share outside the tolerance.
fn check_report(report: &str) -> Result<(), String> {
    let mut deepest = 0;
    let mut shares = 0;
    for line in report.lines() {
        let Some(row) = parse_row(line) else { continue };
        deepest = deepest.max(row.depth);
        if let Some((share, owed)) = row.share {
            shares += 1;
            ensure!(
                is_within(share, owed, TOLERANCE_PERCENT),
                "share {share}‰ is not within {TOLERANCE_PERCENT}% of the {owed}‰ owed: {line:?}"
            );
        }
    }
    ensure!(
        deepest >= 3,
        "the tree is {deepest} levels below mux, not 3"
    );
    ensure!(shares >= 8, "only {shares} shares in the report");
    ensure!(
        report.contains("mux: every child finished"),
        "not every child finished: {report}"
    );
    Ok(())
}

/// One run: exit 0, a good report; `/tmp` emptied after.
fn run_and_check() -> Result<(), String> {
    let result = run_mux().and_then(|(status, report)| {
        ensure!(status == 0, "mux exited with {status}:\n{report}");
        check_report(&report)
    });
    clean_tmp()?;
    result
}

ktest!(
    fn mux_nests_four_levels_holds_weighted_shares_and_returns_everything() {
        run_and_check()?;
        let baseline = Baseline::take();
        run_and_check()?;
        baseline.check("mux's demo tree, run to its end")?;
        // A sub-scheduler that ignores weights must fail the share check.
        nest_testing::inject_ignore_weights(true);
        let faulty = run_mux();
        nest_testing::inject_ignore_weights(false);
        clean_tmp()?;
        let (status, report) = faulty?;
        ensure!(status == 0, "mux exited with {status} with weights ignored");
        ensure!(
            check_report(&report).is_err(),
            "the injected fault was not caught:\n{report}"
        );
        Ok(())
    }
);

/// A configuration with one good line and every kind of bad one: a weight
/// of 0, a budget below what the program maps (`OverBudget`), a program
/// that is not there, a file as a root (`WrongKind`), a view that is none.
const BAD_CONFIG: &[u8] = b"good /bin/muxwork 128 1 ro=/etc/mux/poem.txt
zero /bin/muxwork 128 0
small /bin/muxwork 8 1
missing /bin/nothere 128 1
fileroot /bin/muxwork 128 1 root=/etc/mux/poem.txt
what /bin/muxwork 128 1 sideways
";

/// Runs mux with `config` as `/etc/mux.conf` (the demo's put back after).
fn run_mux_with(config: &[u8]) -> Result<(i32, String), String> {
    const CONF: &str = "/etc/mux.conf";
    let replace = |bytes: &[u8]| -> Result<alloc::vec::Vec<u8>, String> {
        sk_core::with_fs(|fs| {
            let node = fs.lookup(CONF).map_err(|e| format!("{CONF}: {e}"))?;
            let mut old = vec![0_u8; 4096];
            let n = fs.read(node, 0, &mut old).map_err(|e| format!("{e}"))?;
            old.truncate(n);
            fs.truncate(node, 0).map_err(|e| format!("{e}"))?;
            fs.write(node, 0, bytes).map_err(|e| format!("{e}"))?;
            Ok(old)
        })
    };
    let demo = replace(config)?;
    let result = run_mux_program();
    replace(&demo)?;
    let status = result?;
    Ok((status, read_report()?))
}

ktest!(
    fn mux_skips_bad_lines_and_refused_children_with_a_message_and_leaks_nothing() {
        let check = || -> Result<(), String> {
            let result = run_mux_with(BAD_CONFIG);
            clean_tmp()?;
            let (status, report) = result?;
            ensure!(status == 1, "mux exited with {status}, not 1");
            let rows = report.lines().filter_map(parse_row).count();
            ensure!(rows == 2, "{rows} rows, not mux and `good`:\n{report}");
            ensure!(report.contains("every child finished: 1 of 1"), "{report}");
            Ok(())
        };
        check()?;
        let baseline = Baseline::take();
        check()?;
        baseline.check("mux with bad lines and refused children")
    }
);
