//! Sub-scheduling of nested SMACHs: how a parent's CPU share is divided
//! among its own SCPUs and its children's subtrees (Synthesis §3.1: "child
//! synthetic machines are scheduled as any other SCPU, but they may
//! sub-schedule their own SCPUs with different scheduling algorithms").
//!
//! Owns [`ShareTree`] and [`SubPolicy`]. The tree has one node per SMACH
//! in a nested group (a root SMACH with children, and its descendants) and
//! one leaf per SCPU. The kernel gives a group **one slot** of the round,
//! so the whole subtree gets the CPU as one SCPU of the root's level
//! would (never more than the root's share): on the synthesized scheduler
//! its SCPUs are a closed sub-ring inside that slot
//! ([`crate::group_ring`]), on the generic one a single admitted SCPU
//! represents it. At each tick of the slot [`ShareTree::choose`] picks
//! the group's SCPU that runs and [`ShareTree::charge`] books the CPU
//! time used.
//!
//! The choice is stride scheduling, level by level: every member (a child
//! SMACH or an own SCPU) has a *pass*, advanced by `used × SCALE / weight`
//! when it is charged; at each node the ready member with the smallest
//! pass wins. A node's [`SubPolicy`] says which weight its members have:
//! all 1 ([`SubPolicy::RoundRobin`]) or the children's own weights
//! ([`SubPolicy::Weighted`]; an own SCPU weighs 1). A member that was not
//! ready for a while comes back at most [`LAG`] behind the node's virtual
//! time, so sleeping never saves up CPU for a burst later.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Pass units per unit of CPU time at weight 1.
pub const SCALE: u64 = 1 << 10;

/// Largest weight a child may have.
pub const MAX_WEIGHT: u32 = 1000;

/// How far behind the node's virtual time (in charged time units × SCALE)
/// a member that was idle may come back: a few quanta's worth at 1 GHz.
pub const LAG: u64 = 50_000_000 * SCALE;

pub use sk_abi::SubPolicy;

/// Errors of the tree's bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareError {
    /// The id is not in the tree.
    Unknown,
    /// The id is in the tree already.
    Exists,
    /// A weight of 0 or above [`MAX_WEIGHT`].
    BadWeight,
}

#[derive(Clone, Debug)]
struct Node {
    parent: Option<u64>,
    weight: u32,
    policy: SubPolicy,
    pass: u64,
    /// The largest pass chosen among its members so far.
    vtime: u64,
    used: u64,
}

#[derive(Clone, Debug)]
struct Leaf {
    smach: u64,
    pass: u64,
    used: u64,
}

/// The nested groups' SMACHs and SCPUs, their weights, policies and the
/// CPU time charged to each (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct ShareTree {
    nodes: BTreeMap<u64, Node>,
    leaves: BTreeMap<u64, Leaf>,
    /// Fault injection for the tests: every weight counts as 1.
    ignore_weights: bool,
}

/// A member of a node: a child SMACH or an own SCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Member {
    Smach(u64),
    Scpu(u64),
}

impl ShareTree {
    /// An empty tree.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            nodes: BTreeMap::new(),
            leaves: BTreeMap::new(),
            ignore_weights: false,
        }
    }

    /// True if no SMACH is in it.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds SMACH `id` under `parent` (None: a group's root), weight 1,
    /// round robin. It starts level with its siblings (the parent's
    /// virtual time).
    ///
    /// # Errors
    /// [`ShareError::Exists`]; [`ShareError::Unknown`] for a parent not in
    /// the tree.
    pub fn add_smach(&mut self, id: u64, parent: Option<u64>) -> Result<(), ShareError> {
        if self.nodes.contains_key(&id) {
            return Err(ShareError::Exists);
        }
        let pass = match parent {
            Some(p) => self.nodes.get(&p).ok_or(ShareError::Unknown)?.vtime,
            None => 0,
        };
        self.nodes.insert(
            id,
            Node {
                parent,
                weight: 1,
                policy: SubPolicy::RoundRobin,
                pass,
                vtime: pass,
                used: 0,
            },
        );
        Ok(())
    }

    /// Forgets SMACH `id` (its SCPUs and children should be gone first;
    /// any left are forgotten with it).
    pub fn remove_smach(&mut self, id: u64) {
        let children: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.parent == Some(id))
            .map(|(&c, _)| c)
            .collect();
        for child in children {
            self.remove_smach(child);
        }
        self.leaves.retain(|_, l| l.smach != id);
        self.nodes.remove(&id);
    }

    /// True if SMACH `id` is in the tree.
    #[must_use]
    pub fn contains_smach(&self, id: u64) -> bool {
        self.nodes.contains_key(&id)
    }

    /// Adds SCPU `tid` of SMACH `smach`, level with its siblings.
    ///
    /// # Errors
    /// [`ShareError::Unknown`] for a SMACH not in the tree.
    pub fn add_scpu(&mut self, tid: u64, smach: u64) -> Result<(), ShareError> {
        let pass = self.nodes.get(&smach).ok_or(ShareError::Unknown)?.vtime;
        self.leaves.insert(
            tid,
            Leaf {
                smach,
                pass,
                used: 0,
            },
        );
        Ok(())
    }

    /// Forgets SCPU `tid`.
    pub fn remove_scpu(&mut self, tid: u64) {
        self.leaves.remove(&tid);
    }

    /// True if SCPU `tid` is in the tree.
    #[must_use]
    pub fn contains_scpu(&self, tid: u64) -> bool {
        self.leaves.contains_key(&tid)
    }

    /// Sets SMACH `id`'s weight in its parent's division.
    ///
    /// # Errors
    /// [`ShareError::BadWeight`], [`ShareError::Unknown`].
    pub fn set_weight(&mut self, id: u64, weight: u32) -> Result<(), ShareError> {
        if weight == 0 || weight > MAX_WEIGHT {
            return Err(ShareError::BadWeight);
        }
        self.nodes.get_mut(&id).ok_or(ShareError::Unknown)?.weight = weight;
        Ok(())
    }

    /// Sets how SMACH `id` divides its share.
    ///
    /// # Errors
    /// [`ShareError::Unknown`].
    pub fn set_policy(&mut self, id: u64, policy: SubPolicy) -> Result<(), ShareError> {
        self.nodes.get_mut(&id).ok_or(ShareError::Unknown)?.policy = policy;
        Ok(())
    }

    /// SMACH `id`'s weight, policy and CPU time charged to its subtree.
    #[must_use]
    pub fn smach_info(&self, id: u64) -> Option<(u32, SubPolicy, u64)> {
        self.nodes.get(&id).map(|n| (n.weight, n.policy, n.used))
    }

    /// The SMACH SCPU `tid` belongs to, if it is in the tree.
    #[must_use]
    pub fn smach_of(&self, tid: u64) -> Option<u64> {
        self.leaves.get(&tid).map(|l| l.smach)
    }

    /// The SCPUs of SMACH `id`, in id order.
    #[must_use]
    pub fn scpus_of(&self, id: u64) -> Vec<u64> {
        self.leaves
            .iter()
            .filter(|(_, l)| l.smach == id)
            .map(|(&t, _)| t)
            .collect()
    }

    /// CPU time charged to SCPU `tid`.
    #[must_use]
    pub fn scpu_used(&self, tid: u64) -> Option<u64> {
        self.leaves.get(&tid).map(|l| l.used)
    }

    /// The root of the group SMACH `id` belongs to.
    #[must_use]
    pub fn root_of(&self, id: u64) -> Option<u64> {
        let mut at = id;
        // Depth is bounded by the node count (no cycles: a parent exists
        // before its child).
        for _ in 0..=self.nodes.len() {
            match self.nodes.get(&at)?.parent {
                Some(p) => at = p,
                None => return Some(at),
            }
        }
        None
    }

    /// Fault injection for the tests: with `on`, every weight counts as 1
    /// (a sub-scheduler that ignores weights; the share test must catch it).
    pub fn inject_ignore_weights(&mut self, on: bool) {
        self.ignore_weights = on;
    }

    /// The weight `id` has in its parent's division.
    fn effective_weight(&self, id: u64) -> u64 {
        let Some(node) = self.nodes.get(&id) else {
            return 1;
        };
        let weighted = node
            .parent
            .and_then(|p| self.nodes.get(&p))
            .is_some_and(|p| p.policy == SubPolicy::Weighted);
        if weighted && !self.ignore_weights {
            u64::from(node.weight.max(1))
        } else {
            1
        }
    }

    /// Books `used` units of CPU time (TSC ticks, say) to SCPU `tid`, its
    /// SMACH and every ancestor.
    pub fn charge(&mut self, tid: u64, used: u64) {
        let Some(leaf) = self.leaves.get_mut(&tid) else {
            return;
        };
        leaf.used = leaf.used.saturating_add(used);
        leaf.pass = leaf.pass.saturating_add(used.saturating_mul(SCALE));
        let mut at = Some(leaf.smach);
        for _ in 0..=self.nodes.len() {
            let Some(id) = at else {
                break;
            };
            let step = used
                .saturating_mul(SCALE)
                .checked_div(self.effective_weight(id))
                .unwrap_or(0);
            let Some(node) = self.nodes.get_mut(&id) else {
                break;
            };
            node.used = node.used.saturating_add(used);
            node.pass = node.pass.saturating_add(step);
            at = node.parent;
        }
    }

    /// True if SMACH `id`'s subtree has an SCPU for which `ready` holds.
    fn has_ready(&self, id: u64, ready: &impl Fn(u64) -> bool, depth: usize) -> bool {
        if depth > self.nodes.len() {
            return false;
        }
        self.leaves.iter().any(|(&t, l)| l.smach == id && ready(t))
            || self
                .nodes
                .iter()
                .filter(|(_, n)| n.parent == Some(id))
                .any(|(&c, _)| self.has_ready(c, ready, depth.saturating_add(1)))
    }

    /// The SCPU of `root`'s subtree that runs next, among those for which
    /// `ready` holds: at each level, the ready member with the smallest
    /// pass (ties: the lowest id, child SMACHs before own SCPUs).
    pub fn choose(&mut self, root: u64, ready: impl Fn(u64) -> bool) -> Option<u64> {
        let mut at = root;
        for _ in 0..=self.nodes.len() {
            let vtime = self.nodes.get(&at)?.vtime;
            let floor = vtime.saturating_sub(LAG);
            let mut members: Vec<(u64, Member)> = Vec::new();
            for (&c, n) in self.nodes.iter().filter(|(_, n)| n.parent == Some(at)) {
                if self.has_ready(c, &ready, 0) {
                    members.push((n.pass.max(floor), Member::Smach(c)));
                }
            }
            for (&t, l) in self.leaves.iter().filter(|(_, l)| l.smach == at) {
                if ready(t) {
                    members.push((l.pass.max(floor), Member::Scpu(t)));
                }
            }
            let &(pass, best) = members.iter().min()?;
            // The idle member catches up to the floor for good.
            match best {
                Member::Smach(c) => {
                    if let Some(n) = self.nodes.get_mut(&c) {
                        n.pass = pass;
                    }
                }
                Member::Scpu(t) => {
                    if let Some(l) = self.leaves.get_mut(&t) {
                        l.pass = pass;
                    }
                }
            }
            if let Some(n) = self.nodes.get_mut(&at) {
                n.vtime = n.vtime.max(pass);
            }
            match best {
                Member::Scpu(t) => return Some(t),
                Member::Smach(c) => at = c,
            }
        }
        None
    }

    /// SMACH `id`'s children, in id order.
    #[must_use]
    pub fn children(&self, id: u64) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.parent == Some(id))
            .map(|(&c, _)| c)
            .collect()
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#[path = "shares/tests.rs"]
mod tests;
