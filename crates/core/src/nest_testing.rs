//! Support for the in-kernel nesting tests (kernel/src/tests/nesting.rs):
//! the tree a SMACH's `query(Tree)` reports, a sleep for the test's
//! kernel thread, and the faults the share tests must catch.

use crate::state;
use alloc::vec::Vec;
use sk_abi::{SmachTreeEntry, SysError};

/// SMACH `id`'s subtree as `query(QuerySelector::Tree)` reports it.
pub fn tree(id: u64) -> Vec<SmachTreeEntry> {
    state::with(|core| crate::nest_memory::tree(core, id))
}

/// Blocks the calling kernel thread for at least `ns` of guest time.
///
/// # Errors
/// [`SysError::NoMemory`] if the sleep queue cannot grow.
pub fn sleep_ns(ns: u64) -> Result<(), SysError> {
    crate::scheduler::sleep_current(ns)
}

/// Fault injection: the sub-scheduler ignores weights (every member
/// weighs 1) while `on`.
pub fn inject_ignore_weights(on: bool) {
    state::with(|core| core.nest.tree.inject_ignore_weights(on));
}

/// What keeping the groups' sub-rings closed cost since the last call
/// (then zeroed), and the sub-ring closings the ring refused so far.
pub fn take_reclose_cost() -> (crate::RecloseCost, u64) {
    state::with(|core| {
        let cost = core::mem::take(&mut core.nest.reclose_cost);
        (cost, crate::ring::close_errors())
    })
}

/// Fault injection: a group's sub-ring is never closed on the
/// synthesized scheduler (its last SCPU's yield leaves the group) while
/// `on`.
pub fn inject_open_sub_rings(on: bool) {
    state::with(|core| core.nest.open_sub_rings = on);
}

/// Fault injection: groups are not held to one queued SCPU (each SCPU of
/// a subtree queues as a root's would) for groups that form while `on`.
pub fn inject_no_grouping(on: bool) {
    state::with(|core| core.nest.no_grouping = on);
}

/// Fault injection: files a budgeted SMACH makes while `on` are paid by
/// nobody (so they grow past its budget).
pub fn inject_unpaid_files(on: bool) {
    state::with(|core| core.nest.unpaid_files = on);
}

/// Who pays for the file at `path` (`sk_fs::NO_PAYER`: nobody) and the
/// frames its buffer holds; then removes it (the nesting tests' files).
///
/// # Errors
/// The file system's, as text.
pub fn payer_and_frames_then_remove(path: &str) -> Result<(u64, u64), alloc::string::String> {
    state::with(|core| {
        let node = core
            .fs
            .lookup(path)
            .map_err(|e| alloc::format!("{path}: {e}"))?;
        let payer = core
            .fs
            .payer(node)
            .map_err(|e| alloc::format!("{path}: {e}"))?;
        let stat = core
            .fs
            .stat(node)
            .map_err(|e| alloc::format!("{path}: {e}"))?;
        core.fs
            .unlink(path)
            .map_err(|e| alloc::format!("{path}: {e}"))?;
        Ok((payer, sk_fs::frames_of(stat.capacity_bytes)))
    })
}

/// True if some nested group exists (none once every test's machines
/// are gone).
pub fn groups_exist() -> bool {
    state::with(|core| !core.nest.tree.is_empty())
}

/// Asks every SCPU of SMACH `smach` for `priority` through the kernel's
/// own path (`ScpuSelector::Priority`, where the parent's cap applies);
/// returns the priorities they have afterwards.
///
/// # Errors
/// What the reconfigure returns.
pub fn ask_priority(smach: u64, priority: u32) -> Result<Vec<u32>, SysError> {
    state::with(|core| {
        let threads = core
            .smachs
            .get(&smach)
            .map(|s| s.threads.clone())
            .unwrap_or_default();
        for &t in &threads {
            crate::scpu_calls::apply(core, t, sk_abi::ScpuReconfigure::Priority(priority))?;
        }
        Ok(threads
            .iter()
            .filter_map(|t| core.threads.get(t).map(|t| t.scpu.priority()))
            .collect())
    })
}

/// Gives SMACH `smach` the sub-scheduling policy `policy` through the
/// kernel's own path (`SmachSelector::SubPolicy`): it becomes a group's
/// root with its subtree.
///
/// # Errors
/// `BadHandle` for no such SMACH; what the reconfigure returns.
pub fn choose_sub_policy(smach: u64, policy: sk_abi::SubPolicy) -> Result<(), SysError> {
    state::with(|core| {
        core.smachs
            .get_mut(&smach)
            .ok_or(SysError::BadHandle)?
            .reconfigure(sk_abi::SmachReconfigure::SubPolicy(policy), true, false)?;
        crate::nest::chose_policy(core, smach)
    })
}

/// Kills SMACH `smach` (and its subtree) as a parent's `terminate` would.
pub fn kill(smach: u64) {
    state::with(|core| crate::smach::exit(core, smach, sk_abi::ExitStatus::KILLED));
}
