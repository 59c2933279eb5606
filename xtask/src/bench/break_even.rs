//! Lazy synthesis's break-even table, from the `synthesized` boot's
//! `lazy: <kind> k=… generic=… synthesized=… install=… retire=…` lines
//! (user/bench/src/native/break_even.rs: every figure is the kernel's
//! single-step count of kernel instructions).
//!
//! Owns [`parse`], [`Row`] and the table's Markdown ([`markdown`]) and
//! JSON ([`json`]). Synthesis cost = install (the replan at the `K`-th
//! call) + retire (the extra cost of closing an SIO with a routine);
//! saving = generic − synthesized per call; break-even = ⌈synthesis /
//! saving⌉ calls on the routine.

use serde_json::{json, Value};
use std::fmt::Write;

/// One kind's figures (kernel instructions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The routine (template name).
    pub kind: String,
    /// The generic call at which the kernel synthesized it.
    pub k: u64,
    /// One call on the generic path.
    pub generic: u64,
    /// One call on the routine.
    pub synthesized: u64,
    /// What the first `K` calls cost beyond `K` generic calls (the plan
    /// at the first, the replan that installed it at the `K`-th).
    pub install: u64,
    /// What closing costs more with the routine than without.
    pub retire: u64,
}

impl Row {
    /// Install + retire.
    pub fn synthesis(&self) -> u64 {
        self.install + self.retire
    }

    /// Generic − synthesized (0 if none).
    pub fn saving(&self) -> u64 {
        self.generic.saturating_sub(self.synthesized)
    }

    /// ⌈synthesis / saving⌉ (at least 1); `None` if it saves nothing.
    pub fn break_even(&self) -> Option<u64> {
        let saving = self.saving();
        (saving > 0).then(|| self.synthesis().div_ceil(saving).max(1))
    }
}

/// The rows (or `(kind, error)`) in the order printed.
pub fn parse(log: &str) -> Vec<Result<Row, (String, String)>> {
    let mut rows = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find("lazy: ") else {
            continue;
        };
        let rest = line[at + "lazy: ".len()..].trim_end();
        let Some((kind, fields)) = rest.split_once(' ') else {
            continue;
        };
        if let Some(why) = fields.strip_prefix("error: ") {
            rows.push(Err((kind.to_string(), why.to_string())));
            continue;
        }
        let field = |name: &str| -> Option<u64> {
            fields
                .split_ascii_whitespace()
                .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
        };
        let row = (|| {
            Some(Row {
                kind: kind.to_string(),
                k: field("k")?,
                generic: field("generic")?,
                synthesized: field("synthesized")?,
                install: field("install")?,
                retire: field("retire")?,
            })
        })();
        if let Some(row) = row {
            rows.push(Ok(row));
        }
    }
    rows
}

/// The table, with a heading and a note on the figures.
pub fn markdown(rows: &[Result<Row, (String, String)>]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nLazy synthesis, break-even per SIO kind (`synth.lazy=auto`; kernel instructions, single-step counter; \
         synthesis = what the first K calls cost beyond K generic calls (the plan, the install at the K-th) + the extra cost of the close that retires it; \
         saving = generic − synthesized per call; break-even = ⌈synthesis / saving⌉ calls):\n"
    );
    let _ = writeln!(
        s,
        "| routine | K (kernel's) | generic call | synthesized call | saving | install | retire | synthesis | break-even (calls) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        match row {
            Ok(r) => {
                let _ = writeln!(
                    s,
                    "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |",
                    r.kind,
                    r.k,
                    r.generic,
                    r.synthesized,
                    r.saving(),
                    r.install,
                    r.retire,
                    r.synthesis(),
                    r.break_even()
                        .map_or_else(|| "never".to_string(), |b| b.to_string()),
                );
            }
            Err((kind, why)) => {
                let _ = writeln!(s, "| `{kind}` | n/a ({why}) | | | | | | | |");
            }
        }
    }
    s
}

/// The rows as JSON.
pub fn json(rows: &[Result<Row, (String, String)>]) -> Value {
    Value::Array(
        rows.iter()
            .map(|row| match row {
                Ok(r) => json!({
                    "routine": r.kind,
                    "k": r.k,
                    "generic_call": r.generic,
                    "synthesized_call": r.synthesized,
                    "saving": r.saving(),
                    "install": r.install,
                    "retire": r.retire,
                    "synthesis": r.synthesis(),
                    "break_even_calls": r.break_even(),
                }),
                Err((kind, why)) => json!({ "routine": kind, "error": why }),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_into_rows_and_break_even() {
        let log = "bench: done failures=0\n\
                   lazy: dev_mem_read k=2 generic=560 synthesized=31 install=700 retire=300\r\n\
                   \x1b[0mlazy: pipe_read error: never synthesized\n";
        let rows = parse(log);
        assert_eq!(rows.len(), 2);
        let r = rows[0].as_ref().unwrap();
        assert_eq!((r.k, r.saving(), r.synthesis()), (2, 529, 1000));
        assert_eq!(r.break_even(), Some(2));
        assert_eq!(
            rows[1],
            Err(("pipe_read".to_string(), "never synthesized".to_string()))
        );
        let md = markdown(&rows);
        assert!(md.contains("| `dev_mem_read` | 2 | 560 | 31 | 529 | 700 | 300 | 1000 | 2 |"));
        assert_eq!(json(&rows)[0]["break_even_calls"], 2);
    }
}
