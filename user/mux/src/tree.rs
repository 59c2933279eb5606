//! The top multiplexor's tree report: two `query(Tree)` snapshots
//! [`MEASURE_MS`](crate::MEASURE_MS) of guest time apart, each SMACH's
//! CPU time between them and its share of its parent's
//! ([`sk_mux::report`]), one indented row per SMACH, named from the
//! configurations (walked the way the multiplexors read them).

use core::fmt::{self, Write};

use sk_mux::config::{self, MAX_NAME};
use sk_mux::report::{share_of, Node, Row};
use sk_user::abi::{OpenFlags, SmachTreeEntry};
use sk_user::{print, Sio, Smach};

/// Where the report is written besides the console.
pub(crate) const REPORT_PATH: &str = "/tmp/mux.tree";
const MAX_NODES: usize = 32;
const MS: u64 = 1_000_000;

/// A SMACH's name from the configurations, at its depth.
#[derive(Clone, Copy, Default)]
struct Label {
    depth: u32,
    name: [u8; MAX_NAME],
    len: usize,
}

impl Label {
    fn new(depth: u32, name: &str) -> Self {
        let mut label = Self {
            depth,
            ..Self::default()
        };
        let len = name.len().min(MAX_NAME);
        label.name[..len].copy_from_slice(&name.as_bytes()[..len]);
        label.len = len;
        label
    }

    fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.len]).unwrap_or("?")
    }
}

/// The labels of `config`'s children (and theirs), in pre-order.
fn walk(config: &str, depth: u32, labels: &mut [Label; MAX_NODES], count: &mut usize) {
    for line in config.lines() {
        let Ok(Some(child)) = config::parse_line(line) else {
            continue;
        };
        if *count == MAX_NODES {
            return;
        }
        labels[*count] = Label::new(depth, child.name);
        *count += 1;
        if child.program.ends_with("/mux") {
            if let Some(path) = child.nested_config() {
                let mut text = [0_u8; 2048];
                if let Ok(nested) = crate::read_path(path, &mut text) {
                    walk(nested, depth + 1, labels, count);
                }
            }
        }
    }
}

/// Measures, prints the tree to the console and `REPORT_PATH`; returns
/// whether both snapshots were taken.
pub(crate) fn measure_and_print(config: &str, measure_ms: u64) -> bool {
    let me = Smach::this();
    let mut before = [SmachTreeEntry::default(); MAX_NODES];
    let mut after = [SmachTreeEntry::default(); MAX_NODES];
    let Ok(n_before) = me.query_tree(&mut before) else {
        return false;
    };
    let _ = sk_user::sleep_ns(measure_ms * MS);
    let Ok(n) = me.query_tree(&mut after) else {
        return false;
    };
    let n = n.min(MAX_NODES);
    let before = &before[..n_before.min(MAX_NODES)];
    let mut nodes = [Node::default(); MAX_NODES];
    for (node, e) in nodes.iter_mut().zip(&after[..n]) {
        let then = before.iter().find(|b| b.id == e.id).map_or(0, |b| b.cpu_ns);
        *node = Node {
            id: e.id,
            parent: e.parent,
            weight: e.weight,
            cpu_ns: e.cpu_ns.saturating_sub(then),
        };
    }
    let mut labels = [Label::default(); MAX_NODES];
    labels[0] = Label::new(0, "mux");
    let mut count = 1;
    walk(config, 1, &mut labels, &mut count);
    // Names only where the configurations and the tree agree on shape.
    let named = count == n
        && labels
            .iter()
            .zip(&after[..n])
            .all(|(l, e)| l.depth == e.depth);
    let mut report = Sio::open(
        crate::tree::REPORT_PATH,
        OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )
    .ok();
    let mut out = |line: fmt::Arguments<'_>| {
        print!("{line}");
        if let Some(file) = report.as_mut() {
            let _ = file.write_fmt(line);
        }
    };
    out(format_args!(
        "mux: its tree over {measure_ms} ms of guest time (frames of 4 KiB; share: of the parent's CPU time, owed: by weight)\n"
    ));
    for (i, e) in after[..n].iter().enumerate() {
        let row = Row {
            depth: e.depth,
            name: if named { labels[i].name() } else { "smach" },
            id: e.id,
            budget: (e.budget_frames != u64::MAX).then_some(e.budget_frames),
            mapped: e.mapped_frames,
            weight: e.weight,
            cpu_ms: nodes[i].cpu_ns / MS,
            share: share_of(&nodes[..n], i),
        };
        out(format_args!("{row}\n"));
    }
    if let Some(file) = report {
        let _ = file.close();
    }
    true
}

/// Appends a line to the report file.
pub(crate) fn append_report(line: fmt::Arguments<'_>) {
    let flags = OpenFlags::WRITE | OpenFlags::APPEND;
    if let Ok(mut file) = Sio::open(REPORT_PATH, flags) {
        let _ = file.write_fmt(line);
        let _ = file.close();
    }
}
