//! The executable ready queue's policy: which jumps to patch.
//!
//! In the synthesized scheduler (Synthesis §2.3, Executable Data
//! Structures) every runnable SCPU owns two pieces of code: a *switch-out*
//! that saves its state and ends in a direct `jmp` to the next SCPU's
//! *switch-in*. The jumps form one cycle: the ready queue *is* the code,
//! and a context switch is entering the running SCPU's switch-out. This
//! module decides, for each change of the run set, which jumps to point
//! where ([`Patch`]); the kernel performs the patches (one aligned 4-byte
//! store each) and never traverses a data structure to switch.
//!
//! The rules, plainly:
//! - The *members* form one cycle in round-robin order (the *round*). The
//!   ring is never empty: when no SCPU is runnable the idle thread is the only
//!   member (its jump points at itself); it leaves as soon as another
//!   SCPU is inserted (the idle state is explicit).
//! - The *current* thread (the one running, whose switch-out the CPU will
//!   enter next) is a member, or *detached*: it was removed (it blocked,
//!   exited, was suspended) but still runs until it switches out. A
//!   detached current's jump must still land on a member: the ring keeps
//!   it pointing at the member that runs next, and patches it when that
//!   member leaves.
//! - Insert puts an SCPU at the tail of the round: just before the
//!   current thread, or, when that one is detached, just before the member
//!   it jumps to (so it runs after every SCPU already waiting, as the
//!   generic FIFO queue would run it). Two patches: its own jump first, then its predecessor's
//!   (the new code is complete before anything can reach it).
//! - Remove patches one jump: the predecessor's, to the successor (plus the
//!   detached current's if it pointed at the removed one).
//! - A *closed segment* (`ring/closure.rs`, a nested group's sub-ring)
//!   keeps its members' places in the round, but its last member jumps
//!   back to its first; the operations keep it closed. A member's jump is
//!   [`Ring::jump_of`]; each operation patches exactly the jumps it changed
//!   (`watch`, then `changed`).
//!
//! Each operation is O(log n) in the bookkeeping map (a walk of a segment
//! for the closing ones) and O(1) in patches (at most [`MAX_PATCHES`]).
//! The kernel must apply the patches of one operation in order, with no
//! switch in between (one CPU: interrupts off).

use crate::VecMap;
use alloc::collections::TryReserveError;
use core::fmt::Debug;

mod closure;

/// Make the jump at the end of `from`'s switch-out point at `to`'s
/// switch-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patch<T> {
    /// Whose switch-out jump changes.
    pub from: T,
    /// Whose switch-in it now enters.
    pub to: T,
}

/// Most patches one operation asks for.
pub const MAX_PATCHES: usize = 3;

/// The patches of one operation, to apply in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patches<T> {
    items: [Option<Patch<T>>; MAX_PATCHES],
}

impl<T: Copy> Patches<T> {
    const fn none() -> Self {
        Self {
            items: [None; MAX_PATCHES],
        }
    }

    fn push(&mut self, from: T, to: T) {
        if let Some(slot) = self.items.iter_mut().find(|s| s.is_none()) {
            *slot = Some(Patch { from, to });
        } else {
            // MAX_PATCHES bounds every operation below (tested); losing a
            // patch would break the ring, so make it loud in tests.
            debug_assert!(false, "more than MAX_PATCHES patches");
        }
    }

    /// One patch (the kernel re-links a rebuilt switch-out this way).
    pub fn one(from: T, to: T) -> Self {
        let mut p = Self::none();
        p.push(from, to);
        p
    }

    /// The patches, in the order they must be applied.
    pub fn iter(&self) -> impl Iterator<Item = Patch<T>> + '_ {
        self.items.iter().filter_map(|p| *p)
    }

    /// Number of patches.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True if nothing needs patching.
    pub fn is_empty(&self) -> bool {
        self.items.iter().all(Option::is_none)
    }
}

#[derive(Clone, Copy, Debug)]
struct Links<T> {
    prev: T,
    next: T,
}

/// The ring: members in round-robin order, the idle thread, the current
/// thread and, when that one is detached, where its jump points.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    links: VecMap<T, Links<T>>,
    idle: T,
    current: T,
    /// `Some(target)` while the current thread is not a member: the member
    /// its switch-out jumps to.
    detached_target: Option<T>,
    /// Closed segments, by last member: its first. A closed segment's
    /// last member jumps back to its first instead of its successor (a
    /// nested group's sub-ring; `ring/closure.rs`).
    closures: VecMap<T, T>,
}

/// Why an operation was refused (a kernel bug: the ring is unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The id is the idle thread (managed by the ring itself).
    Idle,
    /// `switched_to` named a thread the current one does not jump to.
    NotNext,
    /// `insert_after` a non-member, or after itself.
    Membership,
}

impl<T: Copy + Ord + Debug> Ring<T> {
    /// A ring whose only member is `idle`, running `current` (a detached
    /// thread, typically the boot thread, whose jump points at `idle`):
    /// the kernel inserts `current` next if it stays runnable.
    pub fn new(idle: T, current: T) -> Self {
        let mut links = VecMap::new();
        links.insert(
            idle,
            Links {
                prev: idle,
                next: idle,
            },
        );
        Self {
            links,
            idle,
            current,
            detached_target: if current == idle { None } else { Some(idle) },
            closures: VecMap::new(),
        }
    }

    /// The patches that set up [`Ring::new`]'s jumps: the idle thread's to
    /// itself, then the current thread's to idle.
    pub fn initial_patches(&self) -> Patches<T> {
        let mut p = Patches::none();
        p.push(self.idle, self.idle);
        if let Some(target) = self.detached_target {
            p.push(self.current, target);
        }
        p
    }

    /// Makes room for `members` members in all, so that inserting up to
    /// that many never allocates (the kernel makes room for every thread
    /// it builds switch code for: a block or a wake then touches no heap).
    ///
    /// # Errors
    /// The allocator's, when memory is short.
    pub fn reserve_members(&mut self, members: usize) -> Result<(), TryReserveError> {
        self.links
            .try_reserve(members.saturating_sub(self.links.len()))
    }

    /// Heap bytes of the bookkeeping (room kept, used or not).
    pub fn capacity_bytes(&self) -> usize {
        self.links
            .capacity_bytes()
            .saturating_add(self.closures.capacity_bytes())
    }

    /// The idle thread.
    pub fn idle(&self) -> T {
        self.idle
    }

    /// The running thread.
    pub fn current(&self) -> T {
        self.current
    }

    /// True if `id` is in the cycle.
    pub fn is_member(&self, id: T) -> bool {
        self.links.contains_key(&id)
    }

    /// Members, idle included when it is one.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Never true: the idle thread fills an empty ring.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// True if only the idle thread is a member (nothing runnable).
    pub fn is_idle(&self) -> bool {
        self.links.len() == 1 && self.links.contains_key(&self.idle)
    }

    /// Where `id`'s switch-out jumps, as far as the ring maintains it: its
    /// successor for a member, the next member for a detached current,
    /// `None` for anyone else (their jumps are stale and unreachable).
    pub fn jump_of(&self, id: T) -> Option<T> {
        if let Some(l) = self.links.get(&id) {
            if self.closures.is_empty() {
                return Some(l.next);
            }
            return Some(self.closures.get(&id).copied().unwrap_or(l.next));
        }
        if id == self.current {
            return self.detached_target;
        }
        None
    }

    /// The thread the current one switches to when it next switches out.
    pub fn next_to_run(&self) -> T {
        self.jump_of(self.current).unwrap_or(self.idle)
    }

    /// Members in round-robin order, starting with the current thread's
    /// successor in the round (the member it jumps to, unless a closed
    /// segment turns its jump back) and ending with the current thread
    /// when it is a member.
    pub fn order(&self) -> impl Iterator<Item = T> + '_ {
        let start = match self.links.get(&self.current) {
            Some(l) => l.next,
            None => self.next_to_run(),
        };
        let mut at = Some(start);
        let mut left = self.links.len();
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left = left.saturating_sub(1);
            let here = at?;
            at = self.links.get(&here).map(|l| l.next);
            Some(here)
        })
    }

    /// Every jump that enters `id`'s switch-in (its predecessor's, and the
    /// detached current's): what to patch when `id`'s switch-in moves
    /// (resynthesized with a new quantum, say).
    pub fn jumps_into(&self, id: T) -> Patches<T> {
        let mut p = Patches::none();
        let prev = self.links.get(&id).map(|l| l.prev);
        let closing = self
            .closures
            .iter()
            .find(|&(_, &first)| first == id)
            .map(|(&last, _)| last);
        for from in [prev, Some(self.current), closing].into_iter().flatten() {
            if self.jump_of(from) == Some(id) && !p.iter().any(|q| q.from == from) {
                p.push(from, id);
            }
        }
        p
    }

    /// The jumps of `ids` (each once) before a change: [`Ring::changed`]
    /// makes the patches from them after it.
    fn watch(&self, ids: &[Option<T>]) -> [Option<(T, Option<T>)>; MAX_PATCHES] {
        let mut out = [None; MAX_PATCHES];
        for (i, (slot, id)) in out.iter_mut().zip(ids).enumerate() {
            if let Some(id) = *id {
                if !ids.iter().take(i).any(|&x| x == Some(id)) {
                    *slot = Some((id, self.jump_of(id)));
                }
            }
        }
        out
    }

    /// The patches for the watched jumps that changed, in watch order
    /// (the kernel applies them in that order: a new member's own jump is
    /// watched first, so it is complete before anything reaches it).
    fn changed(&self, watched: &[Option<(T, Option<T>)>; MAX_PATCHES], p: &mut Patches<T>) {
        for &(id, before) in watched.iter().flatten() {
            if let Some(now) = self.jump_of(id) {
                if Some(now) != before {
                    p.push(id, now);
                }
            }
        }
    }

    fn set_next(&mut self, id: T, next: T) {
        if let Some(l) = self.links.get_mut(&id) {
            l.next = next;
        }
    }

    fn set_prev(&mut self, id: T, prev: T) {
        if let Some(l) = self.links.get_mut(&id) {
            l.prev = prev;
        }
    }

    /// Makes `id` runnable: it joins at the tail of the round. Inserting a
    /// member does nothing. Right after a closed segment's last member it
    /// stays outside the segment (that jump still closes it).
    ///
    /// # Errors
    /// [`RingError::Idle`] for the idle thread.
    pub fn insert(&mut self, id: T) -> Result<Patches<T>, RingError> {
        if id == self.idle {
            return Err(RingError::Idle);
        }
        let mut p = Patches::none();
        if self.is_member(id) {
            return Ok(p);
        }
        if self.is_idle() {
            // Replace idle: `id` alone, jumping to itself.
            self.links.clear();
            self.closures.clear();
            self.links.insert(id, Links { prev: id, next: id });
            p.push(id, id);
            if self.current == id {
                self.detached_target = None;
            } else {
                // The current thread (idle, or a detached one) must now
                // reach `id`: it is the only member.
                self.detached_target = Some(id);
                p.push(self.current, id);
            }
            return Ok(p);
        }
        // The tail of the round: just before the current thread if it is a
        // member, else just before the member it jumps to (the round
        // starts there).
        let succ = if self.is_member(self.current) {
            self.current
        } else {
            self.next_to_run()
        };
        let pred = self.links.get(&succ).map_or(succ, |l| l.prev);
        self.link_between(pred, id, &mut p);
        Ok(p)
    }

    /// Links the non-member `id` between the member `pred` and its
    /// successor; the patches: its own jump first, then `pred`'s (unless
    /// `pred` closes a segment), then the current thread's if it is `id`.
    fn link_between(&mut self, pred: T, id: T, p: &mut Patches<T>) {
        // With segments closed, the patches are the watched jumps that
        // changed; with none (the common case, kept short) exactly two.
        let watched = (!self.closures.is_empty())
            .then(|| self.watch(&[Some(id), Some(pred), Some(self.current)]));
        let succ = self.links.get(&pred).map_or(pred, |l| l.next);
        self.links.insert(
            id,
            Links {
                prev: pred,
                next: succ,
            },
        );
        self.set_next(pred, id);
        self.set_prev(succ, id);
        if self.current == id {
            self.detached_target = None;
        }
        match watched {
            Some(watched) => self.changed(&watched, p),
            None => {
                p.push(id, succ);
                p.push(pred, id);
            }
        }
    }

    /// Makes `id` runnable right after the member `anchor` (a nested
    /// group's SCPUs stay next to each other in the round: `nest_ring.rs`),
    /// or moves it there if it is a member already (removed first: that
    /// operation's patches come first, then this one's). Moving the member
    /// after itself does nothing. After a closed segment's last member it
    /// stays outside the segment until the kernel closes it again.
    ///
    /// # Errors
    /// [`RingError::Idle`] for the idle thread (either argument);
    /// [`RingError::Membership`] unless `anchor` is a member other than
    /// `id` (the ring is unchanged).
    pub fn insert_after(&mut self, anchor: T, id: T) -> Result<[Patches<T>; 2], RingError> {
        if id == self.idle || anchor == self.idle {
            return Err(RingError::Idle);
        }
        if anchor == id || !self.is_member(anchor) {
            return Err(RingError::Membership);
        }
        let mut out = [Patches::none(); 2];
        if self.links.get(&anchor).map(|l| l.next) == Some(id) {
            return Ok(out);
        }
        if self.is_member(id) {
            // `anchor` stays a member: `id` is not the last one.
            out[0] = self.remove(id)?;
        }
        self.link_between(anchor, id, &mut out[1]);
        Ok(out)
    }

    /// Takes `id` out of the round (it blocked, was suspended, exited).
    /// Removing a non-member does nothing. If `id` is the current thread
    /// it stays current, detached, until the kernel switches away; its
    /// jump keeps its target if that stays a member (a sibling in a closed
    /// segment, say). A closed segment keeps its other members closed.
    ///
    /// # Errors
    /// [`RingError::Idle`] for the idle thread.
    pub fn remove(&mut self, id: T) -> Result<Patches<T>, RingError> {
        if id == self.idle {
            return Err(RingError::Idle);
        }
        let mut p = Patches::none();
        let Some(l) = self.links.get(&id).copied() else {
            return Ok(p);
        };
        if l.next == id {
            // The last runnable SCPU: idle fills the ring.
            self.links.clear();
            self.closures.clear();
            self.links.insert(
                self.idle,
                Links {
                    prev: self.idle,
                    next: self.idle,
                },
            );
            p.push(self.idle, self.idle);
            if self.current != self.idle {
                self.detached_target = Some(self.idle);
                p.push(self.current, self.idle);
            } else {
                self.detached_target = None;
            }
            return Ok(p);
        }
        // With segments closed: the segment `id` begins (and does not
        // end), whose last's jump moves; the patches are the watched jumps
        // that changed. With none (the common case, kept short): the
        // predecessor's, and the detached current's if it aimed at `id`.
        let closed = !self.closures.is_empty();
        let begun = if closed {
            self.closures
                .iter()
                .find(|&(&last, &first)| first == id && last != id)
                .map(|(&last, _)| last)
        } else {
            None
        };
        let watched = closed.then(|| self.watch(&[Some(l.prev), Some(self.current), begun]));
        // A removed current keeps its target if that stays a member (a
        // sibling in a closed segment, its successor otherwise).
        let target = if closed {
            self.jump_of(id).filter(|&t| t != id).unwrap_or(l.next)
        } else {
            l.next
        };
        self.links.remove(&id);
        self.set_next(l.prev, l.next);
        self.set_prev(l.next, l.prev);
        if closed {
            if let Some(first) = self.closures.remove(&id) {
                // `id` ended a segment: its predecessor ends it now.
                if first != id {
                    self.closures.insert(l.prev, first);
                }
            }
            if let Some(last) = begun {
                self.closures.insert(last, l.next);
            }
        }
        let retarget = self.current != id && self.detached_target == Some(id);
        if self.current == id {
            self.detached_target = Some(target);
        } else if retarget {
            self.detached_target = Some(l.next);
        }
        match watched {
            Some(watched) => self.changed(&watched, &mut p),
            None => {
                p.push(l.prev, l.next);
                if retarget {
                    p.push(self.current, l.next);
                }
            }
        }
        Ok(p)
    }

    /// The CPU switched to `id` (the kernel read it from the per-CPU slot
    /// the switch-in writes). `id` must be where the current thread
    /// jumped.
    ///
    /// # Errors
    /// [`RingError::NotNext`] otherwise (the ring is unchanged).
    pub fn switched_to(&mut self, id: T) -> Result<(), RingError> {
        if id == self.current {
            return Ok(());
        }
        if self.next_to_run() != id || !self.is_member(id) {
            return Err(RingError::NotNext);
        }
        self.current = id;
        self.detached_target = None;
        Ok(())
    }

    /// The code made `steps` switches since the last look (each switch-in
    /// counts itself) and `id` runs now: follows the jumps `steps` times
    /// from the current thread (the first from a detached current goes to
    /// its target; after that the cycle of members, walked at most once)
    /// and records where they lead. Switches the kernel did not see one
    /// by one (the synthesized yield jumps along the ring with no Rust
    /// code) are accounted exactly: membership only changes under the
    /// kernel lock, which looks first.
    ///
    /// # Errors
    /// [`RingError::NotNext`] if the walk does not end at `id` (the code
    /// and the policy disagree): the ring is then left at `id` if it is a
    /// member, else unchanged.
    pub fn advanced(&mut self, steps: u64, id: T) -> Result<(), RingError> {
        if steps == 0 {
            return if id == self.current {
                Ok(())
            } else {
                Err(RingError::NotNext)
            };
        }
        let first = self.next_to_run();
        let at = if self.closures.is_empty() {
            // One cycle of every member.
            let members = self.links.len().max(1) as u64;
            let mut at = first;
            for _ in 0..steps.saturating_sub(1).checked_rem(members).unwrap_or(0) {
                at = self.links.get(&at).map_or(at, |l| l.next);
            }
            at
        } else {
            self.walk(first, steps.saturating_sub(1))
        };
        let lands = at == id;
        if lands || self.is_member(id) {
            self.current = id;
            self.detached_target = None;
        }
        if lands {
            Ok(())
        } else {
            Err(RingError::NotNext)
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn advanced_follows_the_jumps_any_number_of_steps() {
        let mut r = Ring::new(0u32, 1);
        r.insert(1).unwrap();
        r.insert(2).unwrap();
        r.insert(3).unwrap();
        // 1 runs; the cycle is 1 -> 2 -> 3 -> 1.
        assert_eq!(r.advanced(0, 1), Ok(()));
        assert_eq!(r.advanced(0, 2), Err(RingError::NotNext));
        assert_eq!(r.advanced(1, 2), Ok(()));
        assert_eq!(r.current(), 2);
        // Two steps from 2: 3, then 1.
        assert_eq!(r.advanced(2, 1), Ok(()));
        // A whole number of rounds lands where it started.
        assert_eq!(r.advanced(3, 1), Ok(()));
        assert_eq!(r.advanced(3_000_001, 2), Ok(()));
        // A step count that does not lead to the named thread is caught
        // (the ring then follows the code: 2, a member, runs).
        assert_eq!(r.advanced(1, 2), Err(RingError::NotNext));
        assert_eq!(r.current(), 2);
        r.remove(3).unwrap();
        assert_eq!(r.advanced(1, 1), Ok(()));
        let mut r = Ring::new(0u32, 1);
        r.insert(1).unwrap();
        r.insert(2).unwrap();
        r.remove(1).unwrap();
        // 1 is detached, jumping to 2; the cycle is then 2 alone.
        assert_eq!(r.advanced(5, 2), Ok(()));
        assert!(!r.is_member(1));
    }

    #[test]
    fn a_new_ring_runs_idle_then_what_is_inserted() {
        let mut r = Ring::new(0u32, 1);
        let p: Vec<_> = r.initial_patches().iter().collect();
        assert_eq!(p, [Patch { from: 0, to: 0 }, Patch { from: 1, to: 0 }]);
        assert!(r.is_idle());
        let p: Vec<_> = r.insert(1).unwrap().iter().collect();
        assert_eq!(p, [Patch { from: 1, to: 1 }]);
        assert_eq!(r.next_to_run(), 1);
        let p: Vec<_> = r.insert(2).unwrap().iter().collect();
        // 2 at the tail: 1 -> 2 -> 1.
        assert_eq!(p, [Patch { from: 2, to: 1 }, Patch { from: 1, to: 2 }]);
        r.insert(3).unwrap();
        // Current 1 runs 2, 3, then 1 again.
        assert_eq!(r.order().collect::<Vec<_>>(), [2, 3, 1]);
        assert_eq!(r.insert(0), Err(RingError::Idle));
    }

    #[test]
    fn a_detached_current_follows_its_target() {
        let mut r = Ring::new(0u32, 1);
        r.insert(1).unwrap();
        r.insert(2).unwrap();
        // 1 blocks: detached, jumping to 2.
        let p: Vec<_> = r.remove(1).unwrap().iter().collect();
        assert_eq!(p, [Patch { from: 2, to: 2 }]);
        assert_eq!(r.next_to_run(), 2);
        // Before it switches out, it kills 2: the ring idles and 1 jumps
        // there.
        let p: Vec<_> = r.remove(2).unwrap().iter().collect();
        assert_eq!(p, [Patch { from: 0, to: 0 }, Patch { from: 1, to: 0 }]);
        assert_eq!(r.next_to_run(), 0);
        r.switched_to(0).unwrap();
        assert_eq!(r.switched_to(5), Err(RingError::NotNext));
        // Idle running, 1 woken: idle leaves and jumps to it.
        let p: Vec<_> = r.insert(1).unwrap().iter().collect();
        assert_eq!(p, [Patch { from: 1, to: 1 }, Patch { from: 0, to: 1 }]);
        assert!(!r.is_member(0));
        r.switched_to(1).unwrap();
        assert_eq!(r.order().collect::<Vec<_>>(), [1]);
    }
}
