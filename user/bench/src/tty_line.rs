//! The `tty_write_line` metric: one line to the cooked console tty.
//!
//! Owns [`run`] and [`prefixed`] (the same line through a chain of prefix
//! views, `prefix_write_line_depth_N`). Each operation writes [`LINE`] (32 bytes, its last a
//! `'\n'` the cooked tty sends as `"\r\n"`) to the console tty opened for
//! writing: on Synthesis `/dev/tty`, whose write is the collapsed
//! `tty_write_cooked` (line discipline and 16550 driver in one routine) on
//! the table path and the layered line discipline → UART driver with
//! `synth=off`; on Linux `/dev/ttyS0`. Every line reaches the console, so
//! the plan is a twentieth of the bulk plan (50 × 7 lines in the full run,
//! 5 × 3 in smoke mode): a few hundred lines of dots, not a flood.

use crate::measure::{self, timed_loop, Plan};
use crate::os::{Access, File};
use crate::paths::TTY;
use crate::suite::{print_trace, Failure};
use crate::TracedCall;

/// The line: 31 dots and a newline.
const LINE: &[u8; 32] = b"...............................\n";

/// Measures `name` with a plan derived from `bulk`.
pub(crate) fn run(name: &'static str, bulk: Plan) -> Result<(), Failure> {
    let plan = Plan {
        iterations: (bulk.iterations / 20).max(5),
        reps: bulk.reps,
    };
    let tty = File::open(TTY, Access::Write).map_err(|e| Failure::os("open tty", e))?;
    match tty.write(LINE) {
        Ok(n) if n == LINE.len() => {}
        Ok(n) => return Err(Failure::Short("write tty", n)),
        Err(e) => return Err(Failure::os("write tty", e)),
    }
    let stats = measure::repeat::<Failure>(plan, |n| {
        Ok(timed_loop(n, || {
            let _ = tty.write(LINE);
        }))
    })?;
    stats.print(name);
    print_trace(name, TracedCall::Write(&tty, LINE));
    tty.close().map_err(|e| Failure::os("close tty", e))
}

/// Prefixes of the levels, the tty's nearest first.
const PREFIXES: [&[u8]; 3] = [b"[p1] ", b"[p2] ", b"[p3] "];

/// Measures `name`: [`LINE`] through `depth` prefix views of the tty
/// (each a view of the one before), with the plan of [`run`]. Empty writes
/// first take the top view past lazy synthesis's K (they put nothing out).
pub(crate) fn prefixed(name: &'static str, depth: usize, bulk: Plan) -> Result<(), Failure> {
    if !crate::os::HAS_PREFIX_VIEWS {
        crate::println!("bench: {name} n/a");
        return Ok(());
    }
    let plan = Plan {
        iterations: (bulk.iterations / 20).max(5),
        reps: bulk.reps,
    };
    let tty = File::open(TTY, Access::Write).map_err(|e| Failure::os("open tty", e))?;
    let mut levels: [Option<File>; 3] = [None, None, None];
    for (d, prefix) in PREFIXES.iter().enumerate().take(depth) {
        let parent = match d.checked_sub(1).and_then(|p| levels.get(p)) {
            Some(Some(parent)) => parent,
            _ => &tty,
        };
        let Some(view) = crate::os::prefix_view(parent, prefix) else {
            crate::println!("bench: {name} n/a");
            return close_all(tty, levels);
        };
        if let Some(slot) = levels.get_mut(d) {
            *slot = Some(view);
        }
    }
    let Some(Some(top)) = depth.checked_sub(1).and_then(|d| levels.get(d)) else {
        return close_all(tty, levels);
    };
    for _ in 0..crate::suite::WARM_UP_CALLS {
        let _ = top.write(b"");
    }
    match top.write(LINE) {
        Ok(n) if n == LINE.len() => {}
        Ok(n) => return Err(Failure::Short("write prefix view", n)),
        Err(e) => return Err(Failure::os("write prefix view", e)),
    }
    let stats = measure::repeat::<Failure>(plan, |n| {
        Ok(timed_loop(n, || {
            let _ = top.write(LINE);
        }))
    })?;
    stats.print(name);
    print_trace(name, TracedCall::Write(top, LINE));
    close_all(tty, levels)
}

/// Closes the views, deepest first, then the tty.
fn close_all(tty: File, levels: [Option<File>; 3]) -> Result<(), Failure> {
    let [a, b, c] = levels;
    for level in [c, b, a].into_iter().flatten() {
        level
            .close()
            .map_err(|e| Failure::os("close prefix view", e))?;
    }
    tty.close().map_err(|e| Failure::os("close tty", e))
}
