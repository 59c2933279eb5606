//! SMEMs, SCPUs and SMACHs a fuzzer makes, and calls on its own SMACH.
//!
//! Owns [`SmemObj`], [`ScpuObj`], [`SmachObj`] and their operations. Each
//! object carries what it must answer: an SMEM its placement, length and
//! protection (and, through reads into it, whether the kernel honours the
//! protection); an SCPU (a thread spinning on a stack it never touches)
//! its state, priority (exact unless another fuzzer of the SMACH may have
//! set every SCPU's: [`sk_user_sysfuzz::priority`]) and quantum; a child
//! SMACH (`sysfuzz` in its echo mode, or `/bin/worker`) the exit status it
//! must end with.
//!
//! One file per kind: [`smem`], [`scpu`], [`smach`] (children), and
//! [`own_smach`] for the calls a fuzzer makes on its own SMACH. This file
//! keeps what they share: picking a handle of a kind, the SMACH's
//! [`PriorityClock`], and [`Fuzzer::sequence_op`], which draws one of the
//! lifecycles.

mod own_smach;
mod scpu;
mod smach;
mod smem;

pub(crate) use scpu::ScpuObj;
pub(crate) use smach::{Role, SmachObj, SYSFUZZ};
pub(crate) use smem::SmemObj;

use sk_user_sysfuzz::priority::PriorityClock;

use crate::fuzzer::{Fuzzer, Obj};

/// The priority-self calls of this SMACH's fuzzers (a static: one per
/// SMACH, shared by its worker SCPUs).
static PRIORITY_CLOCK: PriorityClock = PriorityClock::new();

impl Fuzzer<'_> {
    /// Handles of this fuzzer's objects of a sort.
    fn handles_of(
        &self,
        pick: impl Fn(&Obj) -> bool,
    ) -> ([u32; crate::fuzzer::MAX_OBJECTS], usize) {
        self.objects.handles_where(pick)
    }

    /// A random handle among those `pick` says yes to.
    fn pick_handle(&mut self, pick: impl Fn(&Obj) -> bool) -> Option<u32> {
        let (handles, n) = self.handles_of(pick);
        if n == 0 {
            return None;
        }
        handles.get(self.rng.index(n)).copied()
    }

    /// One of the lifecycles.
    pub(crate) fn sequence_op(&mut self) {
        match self.rng.below(100) {
            0..=54 => self.file_sequence(),
            55..=79 => self.smem_sequence(),
            80..=89 => self.scpu_sequence(),
            _ => self.smach_sequence(),
        }
    }
}
