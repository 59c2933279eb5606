//! The view metrics (`view_read_1_depth_N`): 1-byte reads of `/dev/mem`
//! through a chain of N window views (depth 0: `/dev/mem` itself), so the
//! cost of Collapsing Layers shows per depth: on the synthesized path
//! every depth is `dev_mem_read` with other constants, on the generic
//! path each level is one more step of the walk. `n/a` where there are no
//! views (Linux).

use super::{check, close, open, print_trace, rewind, Failure};
use crate::measure::{self, timed_loop, Plan};
use crate::os::{self, Access, File};
use crate::{println, TracedCall};

/// Each level starts this many bytes into its parent.
const LEVEL_OFFSET: u64 = 8;
/// Each level's length (`/dev/mem` is 16 MiB; every read of a run fits).
const LEVEL_BYTES: u64 = 1 << 20;

/// 1-byte reads through `depth` (0 to 3) window views of `/dev/mem`.
pub(super) fn view_read(name: &'static str, depth: usize, plan: Plan) -> Result<(), Failure> {
    let base = open(os::MEM, Access::Read)?;
    let mut levels: [Option<File>; 3] = [None, None, None];
    for d in 0..depth.min(levels.len()) {
        let parent = match d.checked_sub(1).and_then(|p| levels.get(p)) {
            Some(Some(parent)) => parent,
            _ => &base,
        };
        let Some(view) = os::view(parent, LEVEL_OFFSET, LEVEL_BYTES) else {
            println!("bench: {name} n/a");
            return close_all(base, levels);
        };
        if let Some(slot) = levels.get_mut(d) {
            *slot = Some(view);
        }
    }
    let file = match depth.checked_sub(1).and_then(|d| levels.get(d)) {
        Some(Some(top)) => top,
        _ => &base,
    };
    let mut buf = [0_u8; 1];
    check("read", file.read(&mut buf), 1)?;
    let stats = measure::repeat::<Failure>(plan, |n| {
        rewind(file)?;
        Ok(timed_loop(n, || {
            let _ = file.read(&mut buf);
        }))
    })?;
    stats.print(name);
    print_trace(name, TracedCall::Read(file, &mut buf));
    close_all(base, levels)
}

/// Closes the views, deepest first, then the base.
fn close_all(base: File, levels: [Option<File>; 3]) -> Result<(), Failure> {
    let [a, b, c] = levels;
    for level in [c, b, a].into_iter().flatten() {
        close(level)?;
    }
    close(base)
}
