//! Nested SMACHs' memory budgets and the tree `query` reports
//! (docs/nesting.md); the rules are `sk_smach::budget`'s.
//!
//! Owns [`usage`] (a SMACH's frames: mapped by itself, carved by its live
//! children), [`admit_frames`] (an SMEM create, or a child's program),
//! [`carve_child`] (a new child of a budgeted parent gets exactly what its
//! program took), [`set_budget`] (`SmachSelector::Budget`),
//! [`query_tree`] (`QuerySelector::Tree`), and the charge for RAM-file
//! data: a file made by a budgeted SMACH is paid by it (`sk_fs`'s payer
//! tag, counted in its mapped frames), grows only by what its budget
//! grants ([`with_file_growth`]), and passes to the nearest live ancestor
//! when its payer exits ([`pass_file_charges`]).

use crate::state::{Core, SmachId};
use alloc::vec::Vec;
use sk_abi::{SmachState, SmachTreeEntry, SysError};
use sk_smach::budget::{self, Usage};

/// SMACH `id`'s live children.
fn children(core: &Core, id: SmachId) -> Vec<SmachId> {
    core.smachs
        .values()
        .filter(|s| s.parent() == Some(id) && s.state() != SmachState::Exited)
        .map(|s| s.id())
        .collect()
}

/// SMACH `id`'s memory as the budget sees it (`depth` bounds the
/// recursion).
pub(crate) fn usage(core: &Core, id: SmachId, depth: usize) -> Usage {
    let Some(smach) = core.smachs.get(&id) else {
        return Usage::default();
    };
    let carved = if depth < sk_smach::MAX_SMACHS {
        children(core, id)
            .into_iter()
            .map(|c| usage(core, c, depth.saturating_add(1)).carve())
            .fold(0_u64, u64::saturating_add)
    } else {
        0
    };
    Usage {
        budget: smach.budget(),
        mapped: smach
            .mapped_frames()
            .saturating_add(core.fs.paid_frames(id)),
        carved,
    }
}

/// SMACH `id` and its ancestors, nearest first.
fn chain(core: &Core, id: SmachId) -> Vec<Usage> {
    let mut out = Vec::new();
    let mut at = Some(id);
    while let Some(s) = at.and_then(|a| core.smachs.get(&a)) {
        out.push(usage(core, s.id(), 0));
        if s.budget().is_some() || out.len() > sk_smach::MAX_SMACHS {
            break;
        }
        at = s.parent();
    }
    out
}

/// SMACH `id`'s depth (0: a root), walking up (bounded: every SMACH was
/// made within `sk_smach::MAX_DEPTH`).
pub(crate) fn depth(core: &Core, id: SmachId) -> usize {
    let mut depth = 0_usize;
    let mut up = core.smachs.get(&id).and_then(|s| s.parent());
    while let Some(p) = up {
        depth = depth.saturating_add(1);
        if depth > sk_smach::MAX_SMACHS {
            break;
        }
        up = core.smachs.get(&p).and_then(|s| s.parent());
    }
    depth
}

/// Whether SMACH `id` may map `frames` more.
///
/// # Errors
/// [`SysError::OverBudget`].
pub(crate) fn admit_frames(core: &Core, id: SmachId, frames: u64) -> Result<(), SysError> {
    budget::admit(chain(core, id), frames)
}

/// True if SMACH `id` or an ancestor has a budget.
pub(crate) fn budgeted(core: &Core, id: SmachId) -> bool {
    chain(core, id).iter().any(|u| u.budget.is_some())
}

/// Runs `attempt` (a call that may grow a file); if a paid file's growth
/// was refused for want of a grant (`is_refused`, and the file system
/// says whose and how much: `sk_fs::RefusedGrowth`), grants what the
/// payer's budget has room for (`sk_smach::budget::headroom`) and runs it
/// once more. Files nobody pays for never come here.
pub(crate) fn with_file_growth<R>(
    core: &mut Core,
    is_refused: impl Fn(&R) -> bool,
    mut attempt: impl FnMut(&mut Core) -> R,
) -> R {
    // A refusal some earlier call left untaken is not this call's.
    let _stale = core.fs.take_refused_growth();
    let first = attempt(core);
    if !is_refused(&first) {
        return first;
    }
    let Some(refused) = core.fs.take_refused_growth() else {
        return first;
    };
    let grant = match budget::headroom(chain(core, refused.payer)) {
        None => refused.preferred_frames,
        Some(room) if room >= refused.needed_frames => room.min(refused.preferred_frames),
        Some(_) => return first,
    };
    core.fs.grant_growth(refused.payer, grant);
    let second = attempt(core);
    core.fs.end_growth_grant();
    let _unmet = core.fs.take_refused_growth();
    second
}

/// A file SMACH `me` just made: it pays for it if a budget limits it.
pub(crate) fn pay_for_new_file(core: &mut Core, me: SmachId, node: sk_fs::NodeId) {
    if budgeted(core, me) && !core.nest.unpaid_files {
        // Only a stale node or a directory fails: neither is paid for.
        let _ = core.fs.set_payer(node, me);
    }
}

/// SMACH `id` ended: its nearest ancestor that has not exited pays for
/// its files from now on (nobody, if none).
pub(crate) fn pass_file_charges(core: &mut Core, id: SmachId) {
    let mut heir = core.smachs.get(&id).and_then(|s| s.parent());
    let mut steps = 0_usize;
    while let Some(h) = heir {
        match core.smachs.get(&h) {
            Some(s) if s.state() == SmachState::Exited && steps <= sk_smach::MAX_SMACHS => {
                heir = s.parent();
                steps = steps.saturating_add(1);
            }
            Some(_) => break,
            None => heir = None,
        }
    }
    core.fs.pass_charges(id, heir.unwrap_or(sk_fs::NO_PAYER));
}

/// A child was just made for `parent`: under a budget, the child's budget
/// is what its program took, carved from the parent's.
///
/// # Errors
/// [`SysError::OverBudget`] if the parent has not that much left (the
/// caller releases the child).
pub(crate) fn carve_child(
    core: &mut Core,
    parent: SmachId,
    child: SmachId,
) -> Result<(), SysError> {
    if !budgeted(core, parent) {
        return Ok(());
    }
    let frames = usage(core, child, 0).committed();
    if let Some(c) = core.smachs.get_mut(&child) {
        c.set_budget(frames);
    }
    // The child's frames are in the parent's carved count now.
    admit_frames(core, parent, 0)
}

/// `SmachSelector::Budget` on child `target`, by its parent.
///
/// # Errors
/// [`SysError::OverBudget`] if the child uses more than `frames` or the
/// parent has not the difference left.
pub(crate) fn set_budget(core: &mut Core, target: SmachId, frames: u64) -> Result<(), SysError> {
    let smach = core.smachs.get(&target).ok_or(SysError::BadHandle)?;
    let parent = smach.parent();
    let extra = budget::rebudget(&usage(core, target, 0), frames)?;
    if let Some(p) = parent {
        admit_frames(core, p, extra)?;
    }
    if let Some(s) = core.smachs.get_mut(&target) {
        s.set_budget(frames);
    }
    Ok(())
}

/// Appends SMACH `id`'s record and its subtree's, pre-order.
fn walk(core: &Core, id: SmachId, depth: u32, out: &mut Vec<SmachTreeEntry>) {
    let Some(s) = core.smachs.get(&id) else {
        return;
    };
    let u = usage(core, id, 0);
    let cpu = core
        .nest
        .tree
        .smach_info(id)
        .map_or(0, |(_, _, used)| sk_machine::tsc::ticks_to_ns(used));
    out.push(SmachTreeEntry {
        id,
        parent: s.parent().unwrap_or(0),
        cpu_ns: cpu,
        budget_frames: s.budget().unwrap_or(u64::MAX),
        mapped_frames: u.mapped,
        carved_frames: u.carved,
        depth,
        weight: s.weight(),
        policy: s.sub_policy().number(),
        state: s.state().number(),
        scpus: u32::try_from(s.threads.len()).unwrap_or(u32::MAX),
        _pad: 0,
    });
    if (depth as usize) < sk_smach::MAX_SMACHS {
        for c in children(core, id) {
            walk(core, c, depth.saturating_add(1), out);
        }
    }
}

/// SMACH `id`'s subtree, pre-order (what `query(Tree)` writes).
pub(crate) fn tree(core: &Core, id: SmachId) -> Vec<SmachTreeEntry> {
    let mut out = Vec::new();
    walk(core, id, 0, &mut out);
    out
}

/// `query(QuerySelector::Tree)` on the SMACH handle `handle` of the
/// caller: writes as many records as fit in `len` bytes at `ptr` (a
/// multiple of the record size); returns the subtree's size.
///
/// # Errors
/// [`SysError::BadLength`] for a length that is no multiple of the record;
/// [`SysError::WrongKind`] for a handle that names no SMACH;
/// [`SysError::BadAddress`] for a buffer not in user memory.
pub(crate) fn query_tree(
    core: &mut Core,
    handle: sk_abi::Handle,
    ptr: u64,
    len: u64,
) -> Result<u64, SysError> {
    let size = SmachTreeEntry::SIZE as u64;
    if !len.is_multiple_of(size) {
        return Err(SysError::BadLength);
    }
    let id = match core.current_smach()?.handles.get(handle)? {
        sk_smach::Object::Smach(id) => *id,
        _ => return Err(SysError::WrongKind),
    };
    let entries = tree(core, id);
    let fit = usize::try_from(len / size).unwrap_or(usize::MAX);
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(entries.len().min(fit).saturating_mul(SmachTreeEntry::SIZE))
        .map_err(|_| SysError::NoMemory)?;
    for e in entries.iter().take(fit) {
        bytes.extend_from_slice(&e.to_bytes());
    }
    crate::user_memory::write_bytes(ptr, &bytes)?;
    Ok(entries.len() as u64)
}
