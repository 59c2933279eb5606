//! What an SCPU's priority must be when other SCPUs of its SMACH may set
//! it behind the fuzzer's back.
//!
//! Owns [`PriorityClock`], [`ScpuPriority`] and [`check_query`]. In a
//! child SMACH a priority asked is only an upper bound (the kernel caps it
//! at the parent's, [`ScpuPriority::at_most`]); a query adopts what it saw.
//! `reconfigure(SMACH, Priority(p))` on the caller's own SMACH sets the
//! priority of every SCPU of that SMACH, so a fuzzer's "priority self"
//! call changes the spinning SCPUs of every fuzzer (worker SCPU) that
//! shares the SMACH. The model stays exact where it can:
//!
//! - every fuzzer counts its priority-self calls in its SMACH's one
//!   [`PriorityClock`] (a static: statics are per SMACH): `started` just
//!   before the call, `finished` just after it returns;
//! - each SCPU object keeps, with the priority the model says
//!   ([`ScpuPriority::value`]), `since`: `finished` as read just *before*
//!   the call that gave it that value (the create, the reconfigure, or a
//!   query that read it);
//! - a query reads `finished` before it is made and `started` after it
//!   returns, and [`check_query`] demands the exact value unless
//!   `started` moved past `since`, in which case any valid priority is
//!   taken (and adopted).
//!
//! **Why it is sound** (no false failure, however the SCPUs interleave).
//! Each priority-self call P sets the priorities at one instant t(P) inside
//! the kernel (one critical section), after its `started` bump and before
//! its `finished` bump. Let C be the call that gave the model its value, at
//! instant t(C), with `since` read before C was made, and Q the query that
//! reads the priority at t(Q), with `started` read after Q returned.
//! Calls counted in `since` finished before C began, so they also started
//! before Q returned: those counted in `since` are among those counted in
//! `started`. If the two counts are equal, the sets are equal: every P that
//! started before Q returned, which includes every P with t(P) < t(Q),
//! finished before C began, so t(P) < t(C). No P took effect between t(C)
//! and t(Q), and the value at t(Q) must be the model's. If they differ, a P
//! may have, and any value up to [`MAX_PRIORITY`] is right. (The kernel's
//! lock orders the instants, and a call entry and return order the
//! fuzzers' atomic accesses around them.) A single counter bumped after the
//! call would not do: a P whose effect lands between t(C) and t(Q) but
//! whose bump comes after Q's check would pass unseen and fail the exact
//! comparison.
//!
//! An SCPU's own fuzzer may also set the exact value after its own
//! priority-self call when it is the only SCPU of its SMACH making calls
//! ([`PriorityClock::finished`] read after its bump is then a valid
//! `since`: no other P exists).

use core::sync::atomic::{AtomicU64, Ordering};

use sk_abi::MAX_PRIORITY;

/// Priority-self calls of one SMACH: how many started, how many finished.
#[derive(Debug)]
pub struct PriorityClock {
    started: AtomicU64,
    finished: AtomicU64,
}

impl Default for PriorityClock {
    fn default() -> Self {
        Self::new()
    }
}

impl PriorityClock {
    /// No calls yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        }
    }

    /// Just before a priority-self call.
    pub fn start(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
    }

    /// Just after a priority-self call returned (whatever it returned).
    pub fn finish(&self) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }

    /// Calls started so far (read after a query returns).
    #[must_use]
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }

    /// Calls finished so far (read before a call that sets or reads a
    /// priority).
    #[must_use]
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::SeqCst)
    }
}

/// An SCPU's priority as the model knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScpuPriority {
    /// The priority (or, if `at_most`, the highest it can be).
    pub value: u32,
    /// [`PriorityClock::finished`] read before the call that set `value`.
    pub since: u64,
    /// True when `value` is what was asked of an SCPU of a child SMACH:
    /// the kernel caps it at the parent SMACH's priority at that moment
    /// (`sk_smach::capped_priority`), which other SCPUs of the parent may
    /// change at any time, so only `value` as a bound is known.
    pub at_most: bool,
}

impl ScpuPriority {
    /// A priority known exactly.
    #[must_use]
    pub const fn exact(value: u32, since: u64) -> Self {
        Self {
            value,
            since,
            at_most: false,
        }
    }

    /// What the kernel gives when `asked` is asked for an SCPU: exactly
    /// that in a root SMACH, at most that in a child (`in_child`).
    #[must_use]
    pub const fn asked(asked: u32, since: u64, in_child: bool) -> Self {
        Self {
            value: asked,
            since,
            at_most: in_child,
        }
    }
}

/// What a query that saw `seen` makes of `model`: the model after it
/// (the value seen, `since` = `finished_before`), or `None` if `seen` is
/// wrong. `finished_before` is [`PriorityClock::finished`] read before the
/// query, `started_after` [`PriorityClock::started`] read after it
/// returned.
#[must_use]
pub fn check_query(
    model: ScpuPriority,
    seen: u32,
    finished_before: u64,
    started_after: u64,
) -> Option<ScpuPriority> {
    let exact = started_after == model.since;
    let ok = if exact {
        seen == model.value || (model.at_most && seen <= model.value)
    } else {
        seen <= MAX_PRIORITY
    };
    ok.then_some(ScpuPriority::exact(seen, finished_before))
}
