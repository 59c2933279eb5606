//! `cargo xtask bench --smoke --accel tcg`: every metric is measured on
//! every system, and the Linux guest really booted.
//!
//! Checks presence only: each required metric has a finite, positive
//! median, min and max in `target/bench/smoke/results.json` for all four
//! modes (`open_synthesis_cost` may be `null`: only a synthesizing kernel
//! that reports it has one). Never asserts on a time. Needs QEMU (the xtask
//! installs it on Debian) and Debian's `linux-image-amd64` (fetched once
//! into `target/linux/`); if the kernel cannot be fetched, the test fails
//! and says so.

use std::path::Path;
use std::process::Command;

const MODES: [&str; 4] = ["synthesized", "generic", "linux", "linux-mitigations-off"];

/// Every metric the bench program prints (user/bench/src/suite.rs).
const METRICS: [&str; 13] = [
    "null_call",
    "read_zero_1",
    "read_mem_1",
    "read_file_1",
    "read_file_1000",
    "program1",
    "program2",
    "write_null_1",
    "write_file_1024",
    "open_close_null",
    "open_close_file",
    "open_synthesis_cost",
    "compute_loop",
];

/// Measured by Synthesis alone, and only when the kernel reports it.
const OPTIONAL: [&str; 1] = ["open_synthesis_cost"];

#[test]
fn smoke_run_measures_every_metric_on_every_system() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "--smoke", "--accel", "tcg"])
        .output()
        .expect("run xtask");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("cannot fetch the Linux kernel"),
        "the Linux kernel for the comparison could not be fetched:\n{stderr}"
    );
    assert!(
        out.status.success(),
        "cargo xtask bench --smoke failed:\n{stdout}\n{stderr}"
    );

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/smoke/results.json");
    let text = std::fs::read_to_string(&path).expect("results.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");

    let linux = json["machine"]["linux_kernel"].as_str().unwrap_or("");
    assert!(
        !linux.is_empty(),
        "the Linux guest did not report its kernel (did it boot?)"
    );

    let results = json["results"].as_array().expect("results array");
    for mode in MODES {
        for metric in METRICS {
            let row = results
                .iter()
                .find(|r| r["name"] == metric && r["mode"] == mode)
                .unwrap_or_else(|| panic!("no row for {metric} on {mode}"));
            if OPTIONAL.contains(&metric) && row["cycles_per_op"].is_null() {
                continue;
            }
            for key in ["cycles_per_op", "min", "max"] {
                let value = row[key].as_f64().unwrap_or(f64::NAN);
                assert!(
                    value.is_finite() && value > 0.0,
                    "{metric} on {mode}: {key} = {}",
                    row[key]
                );
            }
            assert!(
                row["iterations"].as_u64().unwrap_or(0) > 0,
                "{metric} on {mode}: iterations"
            );
            assert!(
                row["reps"].as_u64().unwrap_or(0) > 0,
                "{metric} on {mode}: reps"
            );
        }
    }
}
