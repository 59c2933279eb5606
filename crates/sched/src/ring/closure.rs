//! Closed segments of the ring: nested groups' sub-rings (Synthesis §3.1;
//! docs/nesting.md).
//!
//! The members from `first` to `last` (in round order) keep their places
//! in the round, but `last`'s jump leads back to `first`: once the CPU
//! enters the segment (through its predecessor's jump, as it enters any
//! member), every switch-out in it, the synthesized yield's included,
//! reaches only the segment. The group's SCPUs pass the CPU among
//! themselves inside its slot and never to the rest of the machine; only
//! the kernel lets it out ([`Ring::open`] at the end of the group's turn,
//! then a switch). Any number of disjoint segments may be closed (one per
//! group); the ring's operations keep them closed ([`Ring::remove`] of a
//! first or last member moves the closing jump) and leave anything
//! inserted next to one outside it until the kernel closes it again.

use super::{Patches, Ring, RingError, MAX_PATCHES};
use alloc::vec::Vec;
use core::fmt::Debug;

impl<T: Copy + Ord + Debug> Ring<T> {
    /// The closed segment `(first, last)` that holds `id`, if any.
    pub fn closure_of(&self, id: T) -> Option<(T, T)> {
        self.closures
            .iter()
            .map(|(&last, &first)| (first, last))
            .find(|&(first, last)| self.segment_holds(first, last, id))
    }

    /// True if the members from `first` to `last` are closed exactly so.
    pub fn is_closed(&self, first: T, last: T) -> bool {
        self.closures.get(&last) == Some(&first)
    }

    /// The closed segments, as `(first, last)`.
    pub fn closures(&self) -> impl Iterator<Item = (T, T)> + '_ {
        self.closures.iter().map(|(&last, &first)| (first, last))
    }

    /// Closes the members from `first` to `last` (round order) into a
    /// cycle: `last` jumps to `first`. Closed segments that overlap it are
    /// opened (a group's segment closed again after it grew or shrank).
    /// With `adopt_current`, a detached current thread whose jump leaves
    /// the segment is aimed at `first` (an SCPU of the group that blocked
    /// or exited passes the CPU to its siblings). A segment of every
    /// member needs no closing jump (its jumps already cycle).
    ///
    /// # Errors
    /// [`RingError::Idle`] for the idle thread; [`RingError::Membership`]
    /// if `first` or `last` is not a member, `last` does not follow
    /// `first` in the round, or more than `MAX_PATCHES - 2` closed segments
    /// overlap it (the kernel opens the stale ones first: none do).
    /// The ring is then unchanged.
    pub fn close(
        &mut self,
        first: T,
        last: T,
        adopt_current: bool,
    ) -> Result<Patches<T>, RingError> {
        if first == self.idle || last == self.idle {
            return Err(RingError::Idle);
        }
        if !self.is_member(first) || !self.is_member(last) || !self.segment_holds(first, last, last)
        {
            return Err(RingError::Membership);
        }
        // The closing jumps of the segments it overlaps (at most one).
        let mut ids = [None; MAX_PATCHES];
        ids[0] = Some(last);
        ids[1] = Some(self.current);
        let mut free = ids.iter_mut().skip(2);
        for (&l, &f) in self.closures.iter() {
            let overlaps = self.segment_holds(first, last, l)
                || self.segment_holds(first, last, f)
                || self.segment_holds(f, l, first);
            if overlaps {
                *free.next().ok_or(RingError::Membership)? = Some(l);
            }
        }
        let watched = self.watch(&ids);
        for l in ids.iter().skip(2).flatten() {
            self.closures.remove(l);
        }
        let whole = self.links.get(&last).map(|l| l.next) == Some(first);
        if !whole {
            self.closures.insert(last, first);
        }
        let current = self.current;
        if adopt_current && !self.is_member(current) {
            if let Some(t) = self.detached_target {
                if !self.segment_holds(first, last, t) {
                    self.detached_target = Some(first);
                }
            }
        }
        let mut p = Patches::none();
        self.changed(&watched, &mut p);
        Ok(p)
    }

    /// Aims a detached current thread's jump at the member `id` (a nested
    /// group's SCPU that blocked hands the CPU to the one its parent's
    /// policy chooses).
    ///
    /// # Errors
    /// [`RingError::Membership`] if the current thread is a member or `id`
    /// is not one; [`RingError::Idle`] for the idle thread.
    pub fn aim(&mut self, id: T) -> Result<Patches<T>, RingError> {
        if id == self.idle {
            return Err(RingError::Idle);
        }
        if self.is_member(self.current) || !self.is_member(id) {
            return Err(RingError::Membership);
        }
        let watched = self.watch(&[Some(self.current)]);
        self.detached_target = Some(id);
        let mut p = Patches::none();
        self.changed(&watched, &mut p);
        Ok(p)
    }

    /// Opens the closed segment that holds `id`, if any: its last member
    /// jumps to its successor again.
    pub fn open(&mut self, id: T) -> Patches<T> {
        let mut p = Patches::none();
        if let Some((_, last)) = self.closure_of(id) {
            let watched = self.watch(&[Some(last)]);
            self.closures.remove(&last);
            self.changed(&watched, &mut p);
        }
        p
    }

    /// True if `id` lies on the round from `first` to `last`.
    pub(super) fn segment_holds(&self, first: T, last: T, id: T) -> bool {
        let mut at = first;
        for _ in 0..self.links.len() {
            if at == id {
                return true;
            }
            if at == last {
                return false;
            }
            at = match self.links.get(&at) {
                Some(l) => l.next,
                None => return false,
            };
        }
        false
    }

    /// The member reached by following the jumps `steps` times from the
    /// member `from` (into a closed segment, then round its cycle).
    pub(super) fn walk(&self, from: T, steps: u64) -> T {
        let n = self.links.len().max(1) as u64;
        let step = |at: T| self.jump_of(at).unwrap_or(at);
        let mut at = from;
        // After n steps the walk is on its cycle.
        for _ in 0..steps.min(n) {
            at = step(at);
        }
        let left = steps.saturating_sub(n);
        if left == 0 {
            return at;
        }
        let mut period: u64 = 1;
        let mut x = step(at);
        while x != at && period < n {
            x = step(x);
            period = period.saturating_add(1);
        }
        for _ in 0..left.checked_rem(period).unwrap_or(0) {
            at = step(at);
        }
        at
    }

    /// The members the code runs through from the current thread's jump,
    /// in order, each once: into a closed segment, then round it (every
    /// member when nothing is closed).
    pub fn cycle(&self) -> Vec<T> {
        let mut out = Vec::new();
        let mut at = self.next_to_run();
        while !out.contains(&at) && out.len() <= self.links.len() {
            out.push(at);
            at = self.jump_of(at).unwrap_or(at);
        }
        out
    }
}
