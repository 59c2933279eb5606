//! The multiplexor's tree report: one row per SMACH of its subtree, in
//! pre-order, indented two spaces per level below it,
//!
//! ```text
//! mux [smach 7] budget none, mapped 23, weight 1, cpu 1002 ms, share -
//!   reader [smach 8] budget 64, mapped 21, weight 1, cpu 250 ms, share 24.9% (owed 25.0%)
//! ```
//!
//! A node's *share* is its CPU time over the measured interval divided by
//! its parent's (a SMACH's time includes its descendants'); it is *owed*
//! its weight over the sum of its siblings' weights (weighted
//! sub-scheduling). Shares are in tenths of a percent (permille).

use core::fmt;

/// A node of the measured tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Node {
    /// Its SMACH id.
    pub id: u64,
    /// Its parent's id.
    pub parent: u64,
    /// Its weight among its siblings.
    pub weight: u32,
    /// Its CPU time (ns) over the measured interval, descendants included.
    pub cpu_ns: u64,
}

/// `(share, owed)` in permille for `nodes[i]`; `None` for a node whose
/// parent is not in `nodes` (the report's root) or whose parent ran 0 ns.
#[must_use]
pub fn share_of(nodes: &[Node], i: usize) -> Option<(u32, u32)> {
    let node = nodes.get(i)?;
    let parent = nodes.iter().find(|n| n.id == node.parent)?;
    let weights: u64 = nodes
        .iter()
        .filter(|n| n.parent == node.parent)
        .map(|n| u64::from(n.weight))
        .sum();
    if parent.cpu_ns == 0 || weights == 0 {
        return None;
    }
    let share = u128::from(node.cpu_ns) * 1000 / u128::from(parent.cpu_ns);
    let owed = u64::from(node.weight) * 1000 / weights;
    Some((
        u32::try_from(share).unwrap_or(u32::MAX),
        u32::try_from(owed).unwrap_or(u32::MAX),
    ))
}

/// Whether `share` is within `percent`% of `owed` (both permille).
#[must_use]
pub fn is_within(share: u32, owed: u32, percent: u32) -> bool {
    u64::from(share.abs_diff(owed)) * 100 <= u64::from(owed) * u64::from(percent)
}

/// One row of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    /// Levels below the report's root.
    pub depth: u32,
    /// Its name.
    pub name: &'a str,
    /// Its SMACH id.
    pub id: u64,
    /// Its budget in frames (`None`: no budget).
    pub budget: Option<u64>,
    /// Frames it maps itself.
    pub mapped: u64,
    /// Its weight.
    pub weight: u32,
    /// Its CPU time over the measured interval, ms.
    pub cpu_ms: u64,
    /// `(share, owed)` in permille (see [`share_of`]).
    pub share: Option<(u32, u32)>,
}

struct Permille(u32);

impl fmt::Display for Permille {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}%", self.0 / 10, self.0 % 10)
    }
}

impl fmt::Display for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in 0..self.depth {
            f.write_str("  ")?;
        }
        write!(f, "{} [smach {}] budget ", self.name, self.id)?;
        match self.budget {
            Some(b) => write!(f, "{b}")?,
            None => f.write_str("none")?,
        }
        write!(
            f,
            ", mapped {}, weight {}, cpu {} ms, share ",
            self.mapped, self.weight, self.cpu_ms
        )?;
        match self.share {
            Some((share, owed)) => write!(f, "{} (owed {})", Permille(share), Permille(owed)),
            None => f.write_str("-"),
        }
    }
}

/// What the test reads back from a row: its depth and `(share, owed)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedRow {
    /// Levels below the report's root.
    pub depth: u32,
    /// `(share, owed)` in permille, `None` for the root.
    pub share: Option<(u32, u32)>,
}

/// Parses a row written by [`Row`]'s `Display`; `None` for any other line.
#[must_use]
pub fn parse_row(line: &str) -> Option<ParsedRow> {
    let body = line.trim_start_matches(' ');
    let indent = line.len() - body.len();
    if !indent.is_multiple_of(2) || !body.contains(" [smach ") {
        return None;
    }
    let (_, share) = body.rsplit_once(", share ")?;
    let share = if share == "-" {
        None
    } else {
        let (share, owed) = share.split_once(" (owed ")?;
        Some((
            parse_permille(share)?,
            parse_permille(owed.strip_suffix(')')?)?,
        ))
    };
    Some(ParsedRow {
        depth: u32::try_from(indent / 2).ok()?,
        share,
    })
}

fn parse_permille(text: &str) -> Option<u32> {
    let (whole, tenth) = text.strip_suffix('%')?.split_once('.')?;
    if tenth.len() != 1 {
        return None;
    }
    whole
        .parse::<u32>()
        .ok()?
        .checked_mul(10)?
        .checked_add(tenth.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(id: u64, parent: u64, weight: u32, cpu_ns: u64) -> Node {
        Node {
            id,
            parent,
            weight,
            cpu_ns,
        }
    }

    #[test]
    fn shares_are_of_the_parent_and_owed_by_sibling_weights() {
        let nodes = [
            node(1, 0, 1, 1000),
            node(2, 1, 1, 250),
            node(3, 1, 3, 750),
            node(4, 3, 2, 500),
            node(5, 3, 1, 240),
        ];
        assert_eq!(share_of(&nodes, 0), None);
        assert_eq!(share_of(&nodes, 1), Some((250, 250)));
        assert_eq!(share_of(&nodes, 2), Some((750, 750)));
        assert_eq!(share_of(&nodes, 3), Some((666, 666)));
        assert_eq!(share_of(&nodes, 4), Some((320, 333)));
    }

    #[test]
    fn within_is_relative_to_what_is_owed() {
        assert!(is_within(250, 250, 10));
        assert!(is_within(275, 250, 10));
        assert!(!is_within(276, 250, 10));
        assert!(!is_within(224, 250, 10));
    }

    #[test]
    fn a_row_reads_back() {
        let row = Row {
            depth: 2,
            name: "reader",
            id: 9,
            budget: Some(64),
            mapped: 21,
            weight: 3,
            cpu_ms: 250,
            share: Some((249, 250)),
        };
        let mut text = [0_u8; 256];
        let text = write(&mut text, &row);
        assert_eq!(
            text,
            "    reader [smach 9] budget 64, mapped 21, weight 3, cpu 250 ms, share 24.9% (owed 25.0%)"
        );
        assert_eq!(
            parse_row(text),
            Some(ParsedRow {
                depth: 2,
                share: Some((249, 250))
            })
        );
        assert_eq!(parse_row("mux: every child finished"), None);
    }

    fn write<'b>(buf: &'b mut [u8; 256], row: &Row<'_>) -> &'b str {
        struct W<'b>(&'b mut [u8], usize);
        impl fmt::Write for W<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let end = self.1 + s.len();
                self.0
                    .get_mut(self.1..end)
                    .ok_or(fmt::Error)?
                    .copy_from_slice(s.as_bytes());
                self.1 = end;
                Ok(())
            }
        }
        let mut w = W(buf, 0);
        fmt::write(&mut w, format_args!("{row}")).unwrap();
        let len = w.1;
        core::str::from_utf8(&buf[..len]).unwrap()
    }

    proptest! {
        #[test]
        fn every_row_reads_back(
            depth in 0_u32..8, id: u64, budget: Option<u64>, mapped: u64,
            weight in 1_u32..1000, cpu_ms: u64, share: Option<(u32, u32)>,
        ) {
            let row = Row { depth, name: "w-1", id, budget, mapped, weight, cpu_ms, share };
            let mut buf = [0_u8; 256];
            let text = write(&mut buf, &row);
            prop_assert_eq!(parse_row(text), Some(ParsedRow { depth, share }));
        }

        #[test]
        fn owed_shares_of_siblings_add_up_to_about_all(weights in proptest::collection::vec(1_u32..1000, 1..8)) {
            let mut nodes = vec![node(1, 0, 1, 1000)];
            for (i, w) in weights.iter().enumerate() {
                nodes.push(node(i as u64 + 2, 1, *w, 1));
            }
            let total: u32 = (1..nodes.len()).map(|i| share_of(&nodes, i).unwrap().1).sum();
            prop_assert!(total <= 1000 && total as usize + weights.len() >= 1000);
        }
    }
}
