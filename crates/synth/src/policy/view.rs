//! Views collapsed into routines: a chain of windows folded into the hole
//! values of the base SIO's template (Collapsing Layers).
//!
//! Owns [`ViewLevel`], [`ViewBase`], [`ViewFacts`], [`ViewWindow`],
//! [`collapse`] and the plan of a view's slots ([`plan_view`], called by
//! [`super::plan()`]). The kernel walks a view's chain once per replan
//! (the view, its parent, ... down to the base SIO), hands the levels and
//! the base's facts to [`collapse`], and puts the result in
//! [`SioTarget::View`](super::SioTarget::View).
//!
//! A level `i` (0 = the view called, then its parent, ...) maps its byte
//! `c` to its parent's byte `c + offset_i` and allows `c < length_i`. With
//! `S_i` the sum of the offsets from level `i` down, base byte `b` is
//! reachable through every level exactly when `S_0 <= b < min_i(S_i +
//! length_i)` (and inside the base). So the whole chain is one window
//! `[S_0, end)` of the base: a `/dev/mem` window at any depth is
//! `dev_mem_read` with `base + S_0` and the intersection as its size, and
//! a RAM file that covers the window (its size reaches `end`; the fact is
//! kept by replanning every view on the node at truncate, growth past
//! capacity, unlink) is the same template on the file's data. The generic
//! path (the kernel's `views.rs`) walks the levels one at a time instead;
//! the property tests in `tests/view.rs` hold the two to the same answers.

use super::prefix_chain::{self, LevelPrefix, PrefixedChain};
use super::{FileFacts, SlotPlan};
use crate::templates::DevMemReadHoles;
use crate::{Imm32, Imm64};
use sk_abi::SysError;

use super::{Env, RoutineSpec, SioFacts, SioPlan};

/// One level of a view chain, as the kernel finds it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ViewLevel {
    /// Its first byte in its parent's coordinates.
    pub offset: u64,
    /// Its bytes.
    pub length: u64,
    /// Reads through this level are allowed (its rights, and a share's).
    pub can_read: bool,
    /// Writes through this level are allowed.
    pub can_write: bool,
    /// Revoked (or its parent is gone): every call fails with `Revoked`.
    pub is_revoked: bool,
    /// A prefix view's prefix (`None`: a window).
    pub prefix: Option<LevelPrefix>,
    /// Address of the level's position cell (a prefix view's line state).
    pub line_state_cell: u64,
}

/// The SIO at the bottom of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViewBase {
    /// `/dev/mem`: a fixed kernel window.
    Mem {
        /// Kernel address of its first byte.
        base: u64,
        /// Its bytes.
        window_bytes: u64,
    },
    /// A RAM file and its size now.
    File {
        /// Its layout.
        file: FileFacts,
        /// Its size in bytes now.
        size: u64,
    },
    /// The console tty (a chain of prefix views stands on it).
    Tty {
        /// In raw mode (no `'\n'` → `"\r\n"`).
        is_raw: bool,
        /// The UART's transmit port.
        data_port: u16,
        /// Its line status port.
        status_port: u16,
    },
    /// Anything else (or no base: the chain is broken).
    Other,
}

/// A chain folded into one window of kernel memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ViewWindow {
    /// Kernel address of the view's byte 0.
    pub base: u64,
    /// The view's readable bytes (all of them backed by the base now).
    pub bytes: u64,
    /// The file the window is on, if any (node and layout generation: the
    /// routine is stale once either changes).
    pub file: Option<(u64, u64)>,
}

/// A view's facts: the folded chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ViewFacts {
    /// The chain as one window of kernel memory, if it is one now
    /// (`None`: the generic walk, e.g. a file shorter than the window).
    pub window: Option<ViewWindow>,
    /// Every level allows reads.
    pub can_read: bool,
    /// Every level allows writes.
    pub can_write: bool,
    /// Some level is revoked.
    pub is_revoked: bool,
    /// Levels in the chain (the view's depth; 1 for a view of a base).
    pub depth: u32,
    /// A chain of prefix views over the cooked tty, folded
    /// ([`prefix_chain::fold`]).
    pub prefixed: Option<PrefixedChain>,
}

/// The base window `[start, end)` a chain reaches (`levels[0]` is the
/// view called), before the base's own size clips it. An offset sum that
/// overflows reaches nothing (`start == end`); an end that overflows is
/// `u64::MAX`.
#[must_use]
pub fn chain_window(levels: &[ViewLevel]) -> (u64, u64) {
    let mut sum: Option<u64> = Some(0);
    let mut end = u64::MAX;
    // From the bottom up: S_i = offset_i + S_{i+1}.
    for level in levels.iter().rev() {
        sum = sum.and_then(|s| s.checked_add(level.offset));
        match sum {
            Some(s) => end = end.min(s.saturating_add(level.length)),
            None => return (0, 0),
        }
    }
    let start = sum.unwrap_or(0);
    (start, end.max(start))
}

/// Folds `levels` over `base` (see the module doc).
#[must_use]
pub fn collapse(base: &ViewBase, levels: &[ViewLevel]) -> ViewFacts {
    let depth = u32::try_from(levels.len()).unwrap_or(u32::MAX);
    let can_read = levels.iter().all(|l| l.can_read);
    let can_write = levels.iter().all(|l| l.can_write);
    let is_revoked = levels.iter().any(|l| l.is_revoked);
    let (start, end) = chain_window(levels);
    let window = match *base {
        ViewBase::Mem { base, window_bytes } => {
            let end = end.min(window_bytes).max(start.min(window_bytes));
            let start = start.min(window_bytes);
            base.checked_add(start).map(|b| ViewWindow {
                base: b,
                bytes: end.saturating_sub(start),
                file: None,
            })
        }
        // The file covers the window: every byte of it is data now.
        ViewBase::File { file, size }
            if !file.is_unlinked && end <= size && end <= file.capacity =>
        {
            file.data_addr.checked_add(start).map(|b| ViewWindow {
                base: b,
                bytes: end.saturating_sub(start),
                file: Some((file.node, file.generation)),
            })
        }
        ViewBase::File { .. } | ViewBase::Tty { .. } | ViewBase::Other => None,
    };
    ViewFacts {
        window,
        can_read,
        can_write,
        is_revoked,
        depth,
        prefixed: prefix_chain::fold(base, levels),
    }
}

/// The plan of a view's slots (`facts.target` is `View(view)`), in the
/// table: revoked anywhere in the chain, both slots `ErrorStub(Revoked)`;
/// an op some level forbids, `ErrorStub(NotPermitted)` (a read-only
/// view's write slot, in code); a read on a chain that is one window now,
/// `dev_mem_read` on it (shared or not: the routine checks its window on
/// every call and shares the position cell with the generic path, as a
/// second machine's calls would); a write through a chain of prefix views
/// over the cooked tty that folds ([`prefix_chain::fold`]),
/// `tty_write_prefixed`; everything else generic.
pub(super) fn plan_view(facts: &SioFacts, view: &ViewFacts, env: &Env) -> SioPlan {
    if facts.is_revoked || view.is_revoked {
        let revoked = SlotPlan::ErrorStub(error_return(SysError::Revoked));
        return SioPlan {
            read: revoked,
            write: revoked,
        };
    }
    let forbidden = SlotPlan::ErrorStub(error_return(SysError::NotPermitted));
    let read = if !(facts.can_read && view.can_read) {
        forbidden
    } else {
        view.window
            .and_then(|w| window_read(facts, &w, env))
            .map_or(SlotPlan::Generic, SlotPlan::Routine)
    };
    let write = if facts.can_write && view.can_write {
        view.prefixed
            .and_then(|chain| prefix_chain::prefixed_write(&chain, env))
            .map_or(SlotPlan::Generic, SlotPlan::Routine)
    } else {
        forbidden
    };
    SioPlan { read, write }
}

/// `dev_mem_read` on `window` with the view's position cell, if its size
/// fits the `Imm32` hole.
fn window_read(facts: &SioFacts, window: &ViewWindow, env: &Env) -> Option<RoutineSpec> {
    Some(RoutineSpec::DevMemRead(DevMemReadHoles {
        base: Imm64(window.base),
        window_size: Imm32(i32::try_from(window.bytes).ok()?),
        position_cell: Imm64(facts.position_cell),
        bad_address: Imm32(env.bad_address),
        max_len: Imm32(i32::try_from(env.max_copy_bytes).ok()?),
        slow_path: Imm64(env.slow_path),
    }))
}

/// The value a call failing with `error` returns (`-(code)`).
const fn error_return(error: SysError) -> i32 {
    0_i32.wrapping_sub(error.code() as i32)
}
