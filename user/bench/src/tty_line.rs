//! The `tty_write_line` metric: one line to the cooked console tty.
//!
//! Owns [`run`]. Each operation writes [`LINE`] (32 bytes, its last a
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
