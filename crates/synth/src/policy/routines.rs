//! An SIO's synthesized routines, and reconciling its slots with the plan.
//!
//! Owns [`SioRoutines`] and [`Installed`]. The SIO owns its routines
//! (`owner-holds-code`): this struct remembers, per op, which slot the SIO
//! holds, what the slot points at, and for code the spec it was made from
//! and the mechanism's blocks. [`SioRoutines::replan`] compares that with
//! [`plan()`] and does the fewest [`Mechanism`] actions that make them
//! agree. Neighbours: [`super::plan()`] decides, the kernel's
//! [`Mechanism`] acts.
//!
//! Contract with the kernel: every slot of a new table holds
//! [`initial_slot`](super::initial_slot), a read or write slot is only
//! changed through the `SioRoutines` of the SIO open on that handle, and
//! [`SioRoutines::close`] leaves its slots generic. So a fresh
//! `SioRoutines` may assume its slots are generic.

use super::lazy::Lazy;
use super::{
    plan, Env, InstallError, Mechanism, Op, RoutineSpec, SioFacts, SioPlan, Slot, SlotPlan,
    SlotTarget, Usage,
};

/// A routine installed for one slot: the spec it was made from, its entry,
/// and the mechanism's blocks (the routine and its helper, if any).
#[derive(Debug)]
pub struct Installed<B> {
    spec: RoutineSpec,
    entry: u64,
    routine: B,
    helper: Option<B>,
}

impl<B> Installed<B> {
    /// The spec it was made from.
    pub const fn spec(&self) -> &RoutineSpec {
        &self.spec
    }

    /// The address the slot points at.
    pub const fn entry(&self) -> u64 {
        self.entry
    }

    /// The routine's block.
    pub const fn block(&self) -> &B {
        &self.routine
    }

    /// The helper's block (the RAM-file write's fallback trampoline).
    pub const fn helper(&self) -> Option<&B> {
        self.helper.as_ref()
    }
}

/// What this SIO has stored in a slot it holds.
#[derive(Debug)]
enum Stored<B> {
    Generic,
    ErrorStub(i32),
    Code(Installed<B>),
}

impl<B> Stored<B> {
    const fn target(&self) -> SlotTarget {
        match self {
            Self::Generic => SlotTarget::Generic,
            Self::ErrorStub(result) => SlotTarget::ErrorStub(*result),
            Self::Code(installed) => SlotTarget::Code(installed.entry),
        }
    }

    /// Retires the blocks, routine first (it may jump to the helper).
    fn retire<M: Mechanism<Block = B>>(self, mech: &mut M) {
        if let Self::Code(installed) = self {
            mech.retire(installed.routine);
            if let Some(helper) = installed.helper {
                mech.retire(helper);
            }
        }
    }
}

/// A slot this SIO holds and what it stored there.
#[derive(Debug)]
struct Held<B> {
    slot: Slot,
    stored: Stored<B>,
}

/// The routines of one SIO: what it stored in its read and write slots.
///
/// `B` is the [`Mechanism::Block`] of the mechanism every method is called
/// with. Dropping it without [`close`](Self::close) leaks its blocks (never
/// frees code a slot points at).
#[derive(Debug)]
pub struct SioRoutines<B> {
    read: Option<Held<B>>,
    write: Option<Held<B>>,
    /// Lazy synthesis: generic calls per op, when to replan, what the
    /// routines cost (`lazy.rs`).
    pub usage: Usage,
}

impl<B> Default for SioRoutines<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B> SioRoutines<B> {
    /// Holds no slot (its slots, if any, are generic).
    pub const fn new() -> Self {
        Self {
            read: None,
            write: None,
            usage: Usage::new(),
        }
    }

    /// Brings the slots in line with [`plan()`] of `facts`: for each op,
    /// leaves a slot it should no longer hold (owner or handle changed, or
    /// no slot now) generic; installs code whose spec differs from the
    /// installed one, stores it, retires the old; stores generic or an
    /// error stub. Does nothing for a slot already as planned.
    ///
    /// # Errors
    ///
    /// The first [`InstallError`]: that slot was left on the generic path
    /// (never stale code), the others were still reconciled, and the next
    /// replan tries again.
    pub fn replan<M: Mechanism<Block = B>>(
        &mut self,
        facts: &SioFacts,
        env: &Env,
        mech: &mut M,
    ) -> Result<(), InstallError> {
        self.apply(&plan(facts, env), facts.owner, facts.handle, mech)
    }

    /// [`replan`](Self::replan), lazily: [`plan()`] of `facts` held back
    /// by [`lazy::gate`](super::lazy::gate) where this SIO's generic calls
    /// have not reached the routine's `K`
    /// ([`apply_lazily`](Self::apply_lazily)).
    ///
    /// # Errors
    ///
    /// As [`replan`](Self::replan).
    pub fn replan_lazily<M: Mechanism<Block = B>>(
        &mut self,
        facts: &SioFacts,
        env: &Env,
        lazy: &Lazy,
        mech: &mut M,
    ) -> Result<(), InstallError> {
        self.apply_lazily(&plan(facts, env), lazy, facts.owner, facts.handle, mech)
    }

    /// [`apply`](Self::apply) of `wanted` (a plan made elsewhere) gated by
    /// this SIO's [`Usage`], which then records what is pending (the `K`
    /// at which the kernel must replan) and what is synthesized for good.
    ///
    /// # Errors
    ///
    /// As [`replan`](Self::replan).
    pub fn apply_lazily<M: Mechanism<Block = B>>(
        &mut self,
        wanted: &SioPlan,
        lazy: &Lazy,
        owner: Option<u64>,
        handle: u32,
        mech: &mut M,
    ) -> Result<(), InstallError> {
        let gated = super::lazy::gate(wanted, &self.usage, lazy);
        let result = self.apply(&gated, owner, handle, mech);
        let installed = Op::ALL.map(|op| self.installed(op).is_some());
        self.usage.note_plan(wanted, &gated, installed, lazy);
        result
    }

    /// [`replan`](Self::replan) with a plan made elsewhere, for the slots
    /// of `handle` in `owner`'s table (`None`: no table, no slot).
    ///
    /// # Errors
    ///
    /// As [`replan`](Self::replan).
    pub fn apply<M: Mechanism<Block = B>>(
        &mut self,
        plan: &SioPlan,
        owner: Option<u64>,
        handle: u32,
        mech: &mut M,
    ) -> Result<(), InstallError> {
        let mut result = Ok(());
        for op in Op::ALL {
            let wanted = match plan.slot(op) {
                SlotPlan::NotInTable => None,
                _ => owner.map(|owner| Slot { owner, handle, op }),
            };
            let outcome = self.reconcile(op, wanted, plan.slot(op), mech);
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }

    /// Sends every slot it holds back to the generic path and retires all
    /// its code. For close (the handle may be reused right after).
    pub fn close<M: Mechanism<Block = B>>(mut self, mech: &mut M) {
        self.release(mech);
    }

    /// [`close`](Self::close) in place: every slot it held is generic
    /// again, its code retired, and it holds no slot after (dropping it
    /// then frees nothing). Saves moving the record (a few hundred bytes)
    /// out of its owner first.
    pub fn release<M: Mechanism<Block = B>>(&mut self, mech: &mut M) {
        for op in Op::ALL {
            let held = self.held_mut(op);
            // In place: nothing moves unless code is retired.
            if let Some(h) = held {
                switch(h.slot, &mut h.stored, Stored::Generic, mech);
                // Generic now: dropping it frees nothing.
                *held = None;
            }
        }
    }

    /// The routine installed for `op`, if any.
    pub fn installed(&self, op: Op) -> Option<&Installed<B>> {
        match self.held(op) {
            Some(Held {
                stored: Stored::Code(installed),
                ..
            }) => Some(installed),
            _ => None,
        }
    }

    /// The slot it holds for `op` and what it stored there.
    pub fn target(&self, op: Op) -> Option<(Slot, SlotTarget)> {
        self.held(op).map(|held| (held.slot, held.stored.target()))
    }

    const fn held(&self, op: Op) -> Option<&Held<B>> {
        match op {
            Op::Read => self.read.as_ref(),
            Op::Write => self.write.as_ref(),
        }
    }

    const fn held_mut(&mut self, op: Op) -> &mut Option<Held<B>> {
        match op {
            Op::Read => &mut self.read,
            Op::Write => &mut self.write,
        }
    }

    /// Makes `op`'s slot `wanted` (if any) hold what `planned` says.
    ///
    /// Works in place: a slot already as planned costs a comparison, and
    /// what it holds is moved only when code is retired (a `Held` is a
    /// few hundred bytes, and every move of one is a `memcpy` on the open
    /// and close paths).
    fn reconcile<M: Mechanism<Block = B>>(
        &mut self,
        op: Op,
        wanted: Option<Slot>,
        planned: &SlotPlan,
        mech: &mut M,
    ) -> Result<(), InstallError> {
        let held = self.held_mut(op);
        if let Some(old) = held.take_if(|held| Some(held.slot) != wanted) {
            leave(old, mech);
        }
        let Some(slot) = wanted else {
            return Ok(());
        };
        let spec = match *planned {
            SlotPlan::NotInTable | SlotPlan::Generic => {
                set(held, slot, Stored::Generic, mech);
                return Ok(());
            }
            SlotPlan::ErrorStub(value) => {
                set(held, slot, Stored::ErrorStub(value), mech);
                return Ok(());
            }
            // Borrowed: a spec is 80 bytes, copied once, into `Installed`.
            SlotPlan::Routine(ref spec) => spec,
        };
        if let Some(Held {
            stored: Stored::Code(installed),
            ..
        }) = held
        {
            if installed.spec == *spec {
                return Ok(());
            }
        }
        match install(spec, mech) {
            Ok(new) => {
                set(held, slot, Stored::Code(new), mech);
                Ok(())
            }
            Err(e) => {
                log::debug!("{slot:?}: {} not installed: {e}", spec.template().name);
                set(held, slot, Stored::Generic, mech);
                Err(e)
            }
        }
    }
}

/// Makes `held` (holding `slot`, or nothing: generic, see the module doc)
/// hold `new`: one store if the target changes, the old code retired.
/// Each caller passes one variant, so `new` is written in place, not
/// moved through temporaries.
#[inline(always)]
fn set<M: Mechanism>(
    held: &mut Option<Held<M::Block>>,
    slot: Slot,
    new: Stored<M::Block>,
    mech: &mut M,
) {
    match held {
        Some(held) => switch(slot, &mut held.stored, new, mech),
        None => {
            let target = new.target();
            if target != SlotTarget::Generic {
                log::debug!("replug {slot:?}: {target:?}");
                mech.store(slot, target);
            }
            *held = Some(Held { slot, stored: new });
        }
    }
}

/// Installs `spec`'s helper (if any), then its routine targeting the
/// helper. On failure nothing stays installed.
fn install<M: Mechanism>(
    spec: &RoutineSpec,
    mech: &mut M,
) -> Result<Installed<M::Block>, InstallError> {
    let helper = spec
        .helper()
        .map(|holes| mech.install(&holes))
        .transpose()?;
    let helper_entry = helper.as_ref().map_or(0, |(_, entry)| *entry);
    match mech.install(&spec.routine(helper_entry)) {
        Ok((routine, entry)) => Ok(Installed {
            spec: *spec,
            entry,
            routine,
            helper: helper.map(|(block, _)| block),
        }),
        Err(e) => {
            if let Some((block, _)) = helper {
                mech.retire(block);
            }
            Err(e)
        }
    }
}

/// Points `slot` from what `stored` holds to `new` (one store, none if
/// the target is the same), then retires the old code, if any; `stored`
/// holds `new` after. Moves the old value out only when it is code.
#[inline(always)]
fn switch<M: Mechanism>(
    slot: Slot,
    stored: &mut Stored<M::Block>,
    new: Stored<M::Block>,
    mech: &mut M,
) {
    let target = new.target();
    if stored.target() != target {
        log::debug!("replug {slot:?}: {target:?}");
        mech.store(slot, target);
    }
    if matches!(stored, Stored::Code(_)) {
        core::mem::replace(stored, new).retire(mech);
    } else {
        *stored = new;
    }
}

/// Leaves a slot this SIO no longer holds: generic again, code retired.
fn leave<M: Mechanism>(mut held: Held<M::Block>, mech: &mut M) {
    switch(held.slot, &mut held.stored, Stored::Generic, mech);
}
