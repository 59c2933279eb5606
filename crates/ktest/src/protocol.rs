//! The runner's line protocol, formatted by the kernel, parsed by the xtask.
//!
//! Owns [`Line`] and its text form. Parsing never panics on arbitrary
//! console output (a test can print anything).

use core::fmt;

/// One protocol line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `ktest: plan N tests, start S`
    Plan {
        /// Tests in the whole run.
        total: usize,
        /// Index of the first test this boot runs.
        start: usize,
    },
    /// `test [i/N] name ...` with no result yet.
    Started {
        /// Test index.
        index: usize,
        /// Test name.
        name: &'a str,
    },
    /// `test [i/N] name ... ok` or `... FAILED: reason`.
    Finished {
        /// Test index.
        index: usize,
        /// Test name.
        name: &'a str,
        /// `None` if it passed, else the reason.
        failure: Option<&'a str>,
    },
    /// `ktest: boot-end passed=P failed=F`
    BootEnd {
        /// Tests passed in this boot.
        passed: usize,
        /// Tests failed in this boot.
        failed: usize,
    },
}

/// The text a test line starts with, before its result.
pub struct TestHeader<'a> {
    /// Index of the test.
    pub index: usize,
    /// Total number of tests.
    pub total: usize,
    /// Name of the test.
    pub name: &'a str,
}

impl fmt::Display for TestHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "test [{}/{}] {} ... ", self.index, self.total, self.name)
    }
}

/// Formats the plan line.
pub fn plan_line(total: usize, start: usize) -> impl fmt::Display {
    struct Plan(usize, usize);
    impl fmt::Display for Plan {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "ktest: plan {} tests, start {}", self.0, self.1)
        }
    }
    Plan(total, start)
}

/// Formats the end-of-boot line.
pub fn boot_end_line(passed: usize, failed: usize) -> impl fmt::Display {
    struct End(usize, usize);
    impl fmt::Display for End {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "ktest: boot-end passed={} failed={}", self.0, self.1)
        }
    }
    End(passed, failed)
}

fn parse_test(rest: &str) -> Option<Line<'_>> {
    let (index, rest) = rest.split_once('/')?;
    let index = index.parse().ok()?;
    let (_total, rest) = rest.split_once("] ")?;
    let (name, result) = rest.split_once(" ...")?;
    let result = result.trim();
    if result.is_empty() {
        Some(Line::Started { index, name })
    } else if result == "ok" {
        Some(Line::Finished {
            index,
            name,
            failure: None,
        })
    } else if let Some(reason) = result.strip_prefix("FAILED") {
        let reason = reason.trim_start_matches(':').trim();
        Some(Line::Finished {
            index,
            name,
            failure: Some(if reason.is_empty() { "failed" } else { reason }),
        })
    } else {
        // Output printed by the test itself after the header.
        Some(Line::Started { index, name })
    }
}

/// Parses one console line; `None` for anything else.
pub fn parse(line: &str) -> Option<Line<'_>> {
    let line = line.trim_end_matches(['\r', '\n']);
    if let Some(rest) = line.strip_prefix("test [") {
        return parse_test(rest);
    }
    if let Some(rest) = line.strip_prefix("ktest: plan ") {
        let (total, rest) = rest.split_once(" tests, start ")?;
        return Some(Line::Plan {
            total: total.parse().ok()?,
            start: rest.trim().parse().ok()?,
        });
    }
    if let Some(rest) = line.strip_prefix("ktest: boot-end passed=") {
        let (passed, failed) = rest.split_once(" failed=")?;
        return Some(Line::BootEnd {
            passed: passed.parse().ok()?,
            failed: failed.trim().parse().ok()?,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn header_and_result_round_trip() {
        let h = TestHeader {
            index: 3,
            total: 20,
            name: "a::b",
        };
        assert_eq!(
            parse(&format!("{h}ok")),
            Some(Line::Finished {
                index: 3,
                name: "a::b",
                failure: None
            })
        );
        assert_eq!(
            parse(&format!("{h}FAILED: boom 1")),
            Some(Line::Finished {
                index: 3,
                name: "a::b",
                failure: Some("boom 1")
            })
        );
        assert_eq!(
            parse(&format!("{h}")),
            Some(Line::Started {
                index: 3,
                name: "a::b"
            })
        );
    }

    #[test]
    fn plan_and_boot_end_round_trip() {
        assert_eq!(
            parse(&format!("{}", plan_line(23, 4))),
            Some(Line::Plan {
                total: 23,
                start: 4
            })
        );
        assert_eq!(
            parse(&format!("{}\r\n", boot_end_line(2, 1))),
            Some(Line::BootEnd {
                passed: 2,
                failed: 1
            })
        );
    }

    #[test]
    fn noise_is_ignored() {
        for line in [
            "",
            "test",
            "test [x/y] z",
            "ktest: plan x tests, start 1",
            "[0.1][0][INFO] hi",
            "test [1/2]",
        ] {
            assert_eq!(parse(line), None, "{line:?}");
        }
    }

    #[test]
    fn interleaved_output_counts_as_started() {
        assert_eq!(
            parse("test [0/1] t ... panicked"),
            Some(Line::Started {
                index: 0,
                name: "t"
            })
        );
    }
}
