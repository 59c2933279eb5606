//! A SMACH record: state, handles, SCPUs, waiters, memory; its lifecycle
//! and `reconfigure` policy.
//!
//! Owns [`Smach`], [`Teardown`] and [`SmachAction`]. The kernel owns the
//! table of SMACHs and performs what these methods decide (closing objects,
//! stopping SCPUs, waking waiters, freeing the address space).

use crate::{HandleTable, Object};
use alloc::string::String;
use alloc::vec::Vec;
use sk_abi::{ExitStatus, SmachInfo, SmachReconfigure, SmachState, SubPolicy, SysError};
use sk_smem::Regions;

/// Most SMACHs alive at once, kernel-wide (bounds what a program that
/// creates machines in a loop can take).
pub const MAX_SMACHS: usize = 512;

/// Most live children one SMACH may have.
pub const MAX_CHILDREN: usize = 64;

/// Deepest nesting: a root SMACH is at depth 0, its children at 1; no
/// SMACH is created below depth `MAX_DEPTH`. Teardown and the budget and
/// tree walks go once per level, so the depth is bounded.
pub const MAX_DEPTH: usize = 8;

/// Whether a SMACH whose parent is at `parent_depth` may be created.
pub const fn may_nest_below(parent_depth: usize) -> bool {
    parent_depth < MAX_DEPTH
}

/// The priority a child's SCPU gets when `requested` is asked for it:
/// never above its parent SMACH's `parent_priority` (None: a root, not
/// capped), so a child cannot raise itself over the machine that made it.
/// Values above `MAX_PRIORITY` pass through for the caller's `BadValue`.
#[must_use]
pub fn capped_priority(requested: u32, parent_priority: Option<u32>) -> u32 {
    match parent_priority {
        Some(cap) if requested <= sk_abi::MAX_PRIORITY => requested.min(cap),
        _ => requested,
    }
}

/// A synthetic machine. `R`: SIO routine state; `A`: address space.
#[derive(Debug)]
pub struct Smach<R, A> {
    id: u64,
    name: String,
    parent: Option<u64>,
    state: SmachState,
    exit_status: ExitStatus,
    priority: u32,
    released: bool,
    /// Memory budget in frames (None: the kernel's memory is the limit).
    budget: Option<u64>,
    /// Its weight in its parent's division of CPU.
    weight: u32,
    /// How it divides its own CPU share.
    sub_policy: SubPolicy,
    /// It (or its parent) chose `sub_policy`: its subtree is sub-scheduled.
    chose_sub_policy: bool,
    /// Its root directory's node (`sk_fs::NodeId::to_bits`; None: the
    /// file system's root): every path it names is confined to it
    /// (`sk_fs::confine`).
    root: Option<u64>,
    /// Its handles.
    pub handles: HandleTable<Object<R>>,
    /// Its SCPUs, by id.
    pub threads: Vec<u64>,
    /// SCPUs waiting for it to exit.
    pub waiters: Vec<u64>,
    /// Its user ranges and mapped bytes.
    pub regions: Regions,
    /// Its address space (None once torn down).
    pub aspace: Option<A>,
}

/// What exiting left for the kernel to free and wake.
#[derive(Debug)]
pub struct Teardown<R, A> {
    /// Objects that were in the handle table.
    pub objects: Vec<(sk_abi::Handle, Object<R>)>,
    /// SCPUs to stop.
    pub threads: Vec<u64>,
    /// SCPUs to wake.
    pub waiters: Vec<u64>,
    /// The address space to destroy.
    pub aspace: Option<A>,
}

/// What a `reconfigure` on a SMACH handle asks the kernel to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmachAction {
    /// Set every SCPU of the target to this priority (the SMACH's own is
    /// set already).
    SetPriority(u32),
    /// Count the caller's next call's kernel instructions.
    TraceNextCall,
    /// Block until the target exits, then return its status.
    Wait,
    /// Suspend every SCPU of the target.
    Suspend,
    /// Resume every SCPU of the target.
    Resume,
    /// The calling SCPU yields (`SleepCaller { ns: 0 }` too) or sleeps.
    YieldOrSleepCaller {
        /// Nanoseconds; 0 is a yield.
        ns: u64,
    },
    /// Check the new budget against the parent's and the target's use
    /// (`crate::budget`), then [`Smach::set_budget`].
    SetBudget(u64),
    /// The target's weight was set: the scheduler's tree follows.
    SetWeight(u32),
    /// The target's sub-scheduling policy was set: the tree follows.
    SetSubPolicy(SubPolicy),
    /// The caller's directory SIO at this handle becomes the target's
    /// root: the kernel checks it ([`Smach::set_root`]).
    SetRoot(sk_abi::Handle),
}

impl<R, A> Smach<R, A> {
    /// A running SMACH with an empty handle table.
    pub fn new(id: u64, name: String, parent: Option<u64>, aspace: A) -> Self {
        Self {
            id,
            name,
            parent,
            state: SmachState::Running,
            exit_status: ExitStatus::SUCCESS,
            priority: sk_abi::DEFAULT_PRIORITY,
            released: false,
            budget: None,
            root: None,
            weight: 1,
            sub_policy: SubPolicy::RoundRobin,
            chose_sub_policy: false,
            handles: HandleTable::new(),
            threads: Vec::new(),
            waiters: Vec::new(),
            regions: Regions::new(),
            aspace: Some(aspace),
        }
    }

    /// Its id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The program it runs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its parent SMACH (None: started by the kernel).
    pub fn parent(&self) -> Option<u64> {
        self.parent
    }

    /// Its state.
    pub fn state(&self) -> SmachState {
        self.state
    }

    /// Its exit status (meaningful once exited).
    pub fn exit_status(&self) -> ExitStatus {
        self.exit_status
    }

    /// Gives it a new parent (None: a root): a fork whose parent exited,
    /// as [`crate::orphans::orphan_fate`] decided.
    pub fn adopt(&mut self, parent: Option<u64>) {
        self.parent = parent;
    }

    /// True once its parent let go of it (the record goes when it exits).
    pub fn is_released(&self) -> bool {
        self.released
    }

    /// Marks it released by its parent.
    pub fn release(&mut self) {
        self.released = true;
    }

    /// Registers `thread` as waiting for the exit.
    ///
    /// # Errors
    /// [`SysError::NoMemory`].
    pub fn add_waiter(&mut self, thread: u64) -> Result<(), SysError> {
        if !self.waiters.contains(&thread) {
            self.waiters
                .try_reserve(1)
                .map_err(|_| SysError::NoMemory)?;
            self.waiters.push(thread);
        }
        Ok(())
    }

    /// Adds an SCPU.
    ///
    /// # Errors
    /// [`SysError::NoMemory`] if the list cannot grow or the SMACH has
    /// `limit` SCPUs already.
    pub fn add_thread(&mut self, thread: u64, limit: usize) -> Result<(), SysError> {
        if self.threads.len() >= limit {
            return Err(SysError::NoMemory);
        }
        self.threads
            .try_reserve(1)
            .map_err(|_| SysError::NoMemory)?;
        self.threads.push(thread);
        Ok(())
    }

    /// Ends the SMACH with `status`: everything it holds is handed back
    /// for the kernel to free; None if it had exited already (exit happens
    /// once; the first status stands).
    pub fn exit(&mut self, status: ExitStatus) -> Option<Teardown<R, A>> {
        if self.state == SmachState::Exited {
            return None;
        }
        self.state = SmachState::Exited;
        self.exit_status = status;
        self.regions.clear();
        Some(Teardown {
            objects: self.handles.drain().collect(),
            threads: core::mem::take(&mut self.threads),
            waiters: core::mem::take(&mut self.waiters),
            aspace: self.aspace.take(),
        })
    }

    /// True if the record can be forgotten once exited: nobody holds a
    /// handle to it (released, or its parent is gone).
    pub fn is_orphan(&self, parent_alive: bool) -> bool {
        self.released || (self.parent.is_some() && !parent_alive)
    }

    /// The policy of `reconfigure` on a handle naming this SMACH;
    /// `is_self` if the caller belongs to it; `trace_allowed` if the kernel
    /// was booted with instruction tracing enabled.
    ///
    /// # Errors
    /// [`SysError::Busy`] for waiting on, suspending or resuming oneself;
    /// [`SysError::NotSupported`] for tracing another SMACH;
    /// [`SysError::NotPermitted`] for tracing when the kernel does not allow
    /// it, and for yielding or sleeping through another SMACH's handle; [`SysError::BadValue`] for a priority above 7.
    pub fn reconfigure(
        &mut self,
        request: SmachReconfigure,
        is_self: bool,
        trace_allowed: bool,
    ) -> Result<SmachAction, SysError> {
        match request {
            SmachReconfigure::TraceNextCall if !is_self => Err(SysError::NotSupported),
            SmachReconfigure::TraceNextCall if !trace_allowed => Err(SysError::NotPermitted),
            SmachReconfigure::TraceNextCall => Ok(SmachAction::TraceNextCall),
            SmachReconfigure::YieldCaller | SmachReconfigure::SleepCaller { .. } if !is_self => {
                Err(SysError::NotPermitted)
            }
            SmachReconfigure::YieldCaller => Ok(SmachAction::YieldOrSleepCaller { ns: 0 }),
            SmachReconfigure::SleepCaller { ns } => Ok(SmachAction::YieldOrSleepCaller { ns }),
            SmachReconfigure::Wait if is_self => Err(SysError::Busy),
            SmachReconfigure::Wait => Ok(SmachAction::Wait),
            SmachReconfigure::Priority(p) if p <= sk_abi::MAX_PRIORITY => {
                self.priority = p;
                Ok(SmachAction::SetPriority(p))
            }
            SmachReconfigure::Priority(_) => Err(SysError::BadValue),
            SmachReconfigure::Suspend | SmachReconfigure::Resume if is_self => Err(SysError::Busy),
            SmachReconfigure::Suspend => {
                if self.state != SmachState::Exited {
                    self.state = SmachState::Suspended;
                }
                Ok(SmachAction::Suspend)
            }
            SmachReconfigure::Resume => {
                if self.state != SmachState::Exited {
                    self.state = SmachState::Running;
                }
                Ok(SmachAction::Resume)
            }
            // A machine's budget and weight are its parent's to set.
            SmachReconfigure::Budget { .. } | SmachReconfigure::Weight(_) if is_self => {
                Err(SysError::NotPermitted)
            }
            SmachReconfigure::Budget { frames } => Ok(SmachAction::SetBudget(frames)),
            SmachReconfigure::Weight(weight) => {
                self.weight = weight;
                Ok(SmachAction::SetWeight(weight))
            }
            // A machine's root is its parent's to set.
            SmachReconfigure::Root { .. } if is_self => Err(SysError::NotPermitted),
            SmachReconfigure::Root { directory } => Ok(SmachAction::SetRoot(directory)),
            SmachReconfigure::SubPolicy(policy) => {
                self.sub_policy = policy;
                self.chose_sub_policy = true;
                Ok(SmachAction::SetSubPolicy(policy))
            }
        }
    }

    /// What `query` reports.
    pub fn info(&self) -> SmachInfo {
        SmachInfo {
            state: self.state.number(),
            handle_count: u32::try_from(self.handles.count()).unwrap_or(u32::MAX),
            exit_status: self.exit_status.to_info(),
            memory_bytes: self.regions.mapped_bytes(),
            id: self.id,
        }
    }

    /// Its root directory's node bits (None: the file system's root).
    pub fn root(&self) -> Option<u64> {
        self.root
    }

    /// Sets its root directory (its parent's call, checked by the kernel;
    /// a child inherits its parent's at creation).
    pub fn set_root(&mut self, root: Option<u64>) {
        self.root = root;
    }

    /// Its priority (0..=7).
    pub fn priority(&self) -> u32 {
        self.priority
    }

    /// Its memory budget in frames (None: unlimited, a root's).
    pub fn budget(&self) -> Option<u64> {
        self.budget
    }

    /// Sets its memory budget (checked by the caller with
    /// [`crate::budget`]).
    pub fn set_budget(&mut self, frames: u64) {
        self.budget = Some(frames);
    }

    /// Frames it maps itself.
    pub fn mapped_frames(&self) -> u64 {
        self.regions.mapped_bytes().div_ceil(4096)
    }

    /// Its weight in its parent's division of CPU (1 to 1000).
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// How it divides its own CPU share.
    pub fn sub_policy(&self) -> SubPolicy {
        self.sub_policy
    }

    /// True once a sub-scheduling policy was chosen for it: from then on
    /// its subtree is scheduled as one SCPU of its parent's level, divided
    /// by the policy (docs/nesting.md).
    pub fn chose_sub_policy(&self) -> bool {
        self.chose_sub_policy
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_child_priority_never_exceeds_its_parents() {
        for cap in 0..=sk_abi::MAX_PRIORITY {
            for asked in 0..=sk_abi::MAX_PRIORITY {
                let got = super::capped_priority(asked, Some(cap));
                assert!(got <= cap && got <= asked);
                assert_eq!(got == asked, asked <= cap);
            }
        }
        assert_eq!(super::capped_priority(7, None), 7);
        assert_eq!(super::capped_priority(9, Some(3)), 9);
    }
}
