//! The executable ready queue's policy against a model: random insert,
//! remove, block, wake, switch and resynthesis sequences, with the jumps
//! kept in a table exactly as the kernel patches code. After every
//! operation: the jumps form one cycle through exactly the runnable SCPUs
//! (the idle thread alone when none is), the running thread's jump lands
//! in it, and nothing removed is reachable; after every single patch,
//! nothing but old or new members is reachable (no CPU can run removed
//! code halfway through an operation either). Round robin: a woken SCPU
//! runs after every SCPU already waiting, and each member runs once per
//! round.

use proptest::prelude::*;
use sk_sched::{Patch, Ring, MAX_PATCHES};
use std::collections::{BTreeMap, BTreeSet};

const IDLE: u32 = 0;
const BOOT: u32 = 1;

#[derive(Clone, Debug)]
enum Op {
    Insert(u32),
    Remove(u32),
    /// The running thread switches out (timer or yield).
    Switch,
    /// The running thread leaves the ring and switches out.
    Block,
    /// A thread's switch-in is rebuilt: every jump into it is re-patched.
    Resynth(u32),
    /// The second joins (or moves) right after the first (0: the running
    /// thread), as a nested group's SCPUs stay together in the round.
    InsertAfter(u32, u32),
    /// The members from the n-th in the round to the m-th after it form a
    /// closed segment (a nested group's sub-ring); with the flag, a
    /// detached running thread is aimed into it.
    Close(usize, usize, bool),
    /// The closed segment holding the n-th member in the round opens.
    Open(usize),
    /// A detached running thread's jump is aimed at the n-th member.
    Aim(usize),
    /// The code switches this many times with no kernel look (the
    /// synthesized yield), then the kernel catches up (`advanced`).
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u32..12).prop_map(Op::Insert),
        2 => (1u32..12).prop_map(Op::Remove),
        3 => Just(Op::Switch),
        1 => Just(Op::Block),
        1 => (0u32..12).prop_map(Op::Resynth),
        2 => (0u32..12, 1u32..12).prop_map(|(a, b)| Op::InsertAfter(a, b)),
        3 => (0usize..12, 0usize..4, any::<bool>()).prop_map(|(a, b, c)| Op::Close(a, b, c)),
        1 => (0usize..12).prop_map(Op::Open),
        2 => (1u64..40).prop_map(Op::Advance),
        1 => (0usize..12).prop_map(Op::Aim),
    ]
}

/// The kernel's view: the jump at the end of each thread's switch-out.
struct Model {
    ring: Ring<u32>,
    jumps: BTreeMap<u32, u32>,
    runnable: BTreeSet<u32>,
    /// Switches seen since the last change of membership, per thread.
    runs: BTreeMap<u32, u32>,
}

impl Model {
    fn new() -> Self {
        let ring = Ring::new(IDLE, BOOT);
        let mut m = Self {
            ring,
            jumps: BTreeMap::new(),
            runnable: BTreeSet::new(),
            runs: BTreeMap::new(),
        };
        let initial: Vec<Patch<u32>> = m.ring.initial_patches().iter().collect();
        m.apply(&initial, &BTreeSet::new());
        m.check().unwrap();
        m
    }

    fn members(&self) -> BTreeSet<u32> {
        if self.runnable.is_empty() {
            [IDLE].into()
        } else {
            self.runnable.clone()
        }
    }

    /// Applies patches one by one; after each, everything reachable from
    /// the running thread is an old or a new member (or the running
    /// thread itself).
    fn apply(&mut self, patches: &[Patch<u32>], old_members: &BTreeSet<u32>) {
        assert!(patches.len() <= MAX_PATCHES);
        let new_members = self.members();
        for p in patches {
            self.jumps.insert(p.from, p.to);
            for t in self.reachable() {
                assert!(
                    t == self.ring.current() || old_members.contains(&t) || new_members.contains(&t),
                    "after patch {p:?}: {t} is reachable but was never a member (old {old_members:?}, new {new_members:?})"
                );
            }
        }
    }

    fn reachable(&self) -> Vec<u32> {
        let mut seen = Vec::new();
        let mut at = self.ring.current();
        while let Some(&next) = self.jumps.get(&at) {
            if seen.contains(&next) {
                break;
            }
            seen.push(next);
            at = next;
        }
        seen
    }

    fn check(&self) -> Result<(), String> {
        let members = self.members();
        let ring_members: BTreeSet<u32> = self.ring.order().collect();
        if ring_members != members {
            return Err(format!("ring holds {ring_members:?}, runnable {members:?}"));
        }
        let current = self.ring.current();
        let first = *self
            .jumps
            .get(&current)
            .ok_or(format!("current {current} has no jump"))?;
        if !members.contains(&first) {
            return Err(format!("current {current} jumps to non-member {first}"));
        }
        if first != self.ring.next_to_run() {
            return Err(format!(
                "code jumps to {first}, ring says {}",
                self.ring.next_to_run()
            ));
        }
        // Every member's jump is where the ring has it, and the members
        // form one round (closed segments keep their places in it).
        let round: Vec<u32> = self.ring.order().collect();
        let in_round: BTreeSet<u32> = round.iter().copied().collect();
        if in_round != members || round.len() != members.len() {
            return Err(format!("round {round:?} is not the members {members:?}"));
        }
        for &m in &members {
            if self.jumps.get(&m).copied() != self.ring.jump_of(m) {
                return Err(format!(
                    "{m} jumps to {:?}, the ring says {:?}",
                    self.jumps.get(&m),
                    self.ring.jump_of(m)
                ));
            }
        }
        // A closed segment's last jumps to its first; any other member to
        // its successor in the round.
        for (i, &m) in round.iter().enumerate() {
            let succ = round[(i + 1) % round.len()];
            let closing = self.ring.closures().find(|&(_, l)| l == m).map(|(f, _)| f);
            if self.jumps[&m] != closing.unwrap_or(succ) {
                return Err(format!("{m} jumps to {}, round {round:?}", self.jumps[&m]));
            }
        }
        // The code's walk from the running thread is the ring's cycle.
        let mut walked = Vec::new();
        let mut at = first;
        while !walked.contains(&at) {
            walked.push(at);
            at = *self.jumps.get(&at).ok_or(format!("{at} has no jump"))?;
        }
        if walked != self.ring.cycle() {
            return Err(format!(
                "code walks {walked:?}, the ring's cycle is {:?}",
                self.ring.cycle()
            ));
        }
        if self.ring.closures().next().is_none() && walked.len() != members.len() {
            return Err(format!(
                "nothing closed, the code walks {walked:?} of {members:?}"
            ));
        }
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), String> {
        let old = self.members();
        match *op {
            Op::Insert(id) => {
                let waiting: Vec<u32> = self.ring.order().collect();
                let was_member = self.ring.is_member(id);
                let patches: Vec<_> = self
                    .ring
                    .insert(id)
                    .map_err(|e| format!("{e:?}"))?
                    .iter()
                    .collect();
                self.runnable.insert(id);
                self.apply(&patches, &old);
                if !was_member && !self.ring.is_idle() {
                    // Round robin: it runs after everyone already waiting
                    // (idle aside, which leaves).
                    let order: Vec<u32> = self.ring.order().collect();
                    let before: Vec<u32> = waiting
                        .into_iter()
                        .filter(|&t| t != IDLE && t != self.ring.current())
                        .collect();
                    let pos = order.iter().position(|&t| t == id).unwrap();
                    for t in before {
                        let tp = order.iter().position(|&x| x == t).unwrap();
                        if tp > pos {
                            return Err(format!("woken {id} runs before waiting {t}: {order:?}"));
                        }
                    }
                }
                self.runs.clear();
            }
            Op::Remove(id) => {
                let patches: Vec<_> = self
                    .ring
                    .remove(id)
                    .map_err(|e| format!("{e:?}"))?
                    .iter()
                    .collect();
                self.runnable.remove(&id);
                self.apply(&patches, &old);
                if self.reachable().contains(&id) {
                    return Err(format!("removed {id} still reachable"));
                }
                self.runs.clear();
            }
            Op::Switch => {
                let next = self.jumps[&self.ring.current()];
                self.ring
                    .switched_to(next)
                    .map_err(|e| format!("switch to {next}: {e:?}"))?;
                *self.runs.entry(next).or_default() += 1;
                // Round robin: within a stable ring nobody runs twice
                // before everyone ran once.
                let (lo, hi) = (
                    self.runs.values().min().copied().unwrap_or(0),
                    self.runs.values().max().copied().unwrap_or(0),
                );
                if hi > lo + 1 && self.runs.len() == self.members().len() {
                    return Err(format!("unfair round: {:?}", self.runs));
                }
            }
            Op::Block => {
                let current = self.ring.current();
                if current != IDLE {
                    let patches: Vec<_> = self
                        .ring
                        .remove(current)
                        .map_err(|e| format!("{e:?}"))?
                        .iter()
                        .collect();
                    self.runnable.remove(&current);
                    self.apply(&patches, &old);
                }
                let next = self.jumps[&self.ring.current()];
                self.ring
                    .switched_to(next)
                    .map_err(|e| format!("switch to {next}: {e:?}"))?;
                if self.ring.is_member(current) && current != IDLE {
                    return Err(format!("blocked {current} is still a member"));
                }
                self.runs.clear();
            }
            Op::InsertAfter(anchor, id) => {
                let anchor = if anchor == IDLE {
                    self.ring.current()
                } else {
                    anchor
                };
                let valid = anchor != IDLE && anchor != id && self.ring.is_member(anchor);
                let before: Vec<u32> = self.ring.order().collect();
                let result = self.ring.insert_after(anchor, id);
                let Ok(ops) = result else {
                    if valid {
                        return Err(format!("insert {id} after {anchor} refused: {result:?}"));
                    }
                    return self.check();
                };
                if !valid {
                    return Err(format!("insert {id} after {anchor} accepted"));
                }
                // The removal's patches with the old members, then the
                // insertion's with the new.
                let removal: Vec<_> = ops[0].iter().collect();
                let was_runnable = self.runnable.remove(&id);
                self.apply(&removal, &old);
                let insertion: Vec<_> = ops[1].iter().collect();
                self.runnable.insert(id);
                let mut both = old.clone();
                if was_runnable {
                    both.insert(id);
                }
                self.apply(&insertion, &both);
                // `id` follows `anchor`; the others keep their order.
                let got: Vec<u32> = self.ring.order().collect();
                let at = got.iter().position(|&t| t == anchor).unwrap();
                if got[(at + 1) % got.len()] != id {
                    return Err(format!("after insert {id} after {anchor}: {got:?}"));
                }
                let rest = |v: &[u32]| -> Vec<u32> {
                    let mut r: Vec<u32> = v.iter().copied().filter(|&t| t != id).collect();
                    let start = r.iter().position(|&t| t == anchor).unwrap_or(0);
                    r.rotate_left(start);
                    r
                };
                if rest(&got) != rest(&before) {
                    return Err(format!(
                        "insert {id} after {anchor} reordered the others: {before:?} -> {got:?}"
                    ));
                }
                self.runs.clear();
            }
            Op::Close(at, len, adopt) => {
                if self.ring.is_idle() {
                    return self.check();
                }
                let round: Vec<u32> = self.ring.order().collect();
                let n = round.len();
                let f = round[at % n];
                let l = round[(at % n + len.min(n - 1)) % n];
                // The round's members from `a` to `b`.
                let span = |a: u32, b: u32| -> Vec<u32> {
                    let i = round.iter().position(|&t| t == a).unwrap();
                    let mut out = Vec::new();
                    for k in 0..n {
                        out.push(round[(i + k) % n]);
                        if round[(i + k) % n] == b {
                            break;
                        }
                    }
                    out
                };
                let segment = span(f, l);
                let overlapping = self
                    .ring
                    .closures()
                    .filter(|&(cf, cl)| {
                        segment.contains(&cf) || segment.contains(&cl) || span(cf, cl).contains(&f)
                    })
                    .count();
                let result = self.ring.close(f, l, adopt);
                if overlapping > MAX_PATCHES - 2 {
                    if result.is_ok() {
                        return Err(format!(
                            "close {f}..{l} over {overlapping} segments accepted"
                        ));
                    }
                    return self.check();
                }
                let patches: Vec<_> = result
                    .map_err(|e| format!("close {f}..{l}: {e:?}"))?
                    .iter()
                    .collect();
                self.apply(&patches, &old);
                if self.ring.closure_of(f).is_none() && self.ring.jump_of(l) != Some(f) {
                    return Err(format!("{f}..{l} is not closed"));
                }
                self.runs.clear();
            }
            Op::Open(at) => {
                let round: Vec<u32> = self.ring.order().collect();
                let m = round[at % round.len()];
                let patches: Vec<_> = self.ring.open(m).iter().collect();
                self.apply(&patches, &old);
                if self.ring.closure_of(m).is_some() {
                    return Err(format!("{m}'s segment is still closed"));
                }
                self.runs.clear();
            }
            Op::Aim(at) => {
                let round: Vec<u32> = self.ring.order().collect();
                let id = round[at % round.len()];
                let detached = !self.ring.is_member(self.ring.current());
                match self.ring.aim(id) {
                    Ok(p) => {
                        if !detached || id == IDLE {
                            return Err(format!("aim at {id} accepted for a member current"));
                        }
                        let patches: Vec<_> = p.iter().collect();
                        self.apply(&patches, &old);
                        if self.ring.next_to_run() != id {
                            return Err(format!(
                                "aimed at {id}, {} runs next",
                                self.ring.next_to_run()
                            ));
                        }
                    }
                    Err(e) => {
                        if detached && id != IDLE {
                            return Err(format!("aim at {id} refused: {e:?}"));
                        }
                    }
                }
            }
            Op::Advance(steps) => {
                let mut at = self.ring.current();
                for _ in 0..steps {
                    at = self.jumps[&at];
                }
                self.ring
                    .advanced(steps, at)
                    .map_err(|e| format!("{steps} switches lead to {at}: {e:?}"))?;
                self.runs.clear();
            }
            Op::Resynth(id) => {
                let patches: Vec<_> = self.ring.jumps_into(id).iter().collect();
                // Exactly the live jumps into `id`: the members' and the
                // running thread's.
                let mut live: BTreeSet<u32> = self.members();
                live.insert(self.ring.current());
                let expected: BTreeSet<u32> = live
                    .into_iter()
                    .filter(|f| self.jumps.get(f) == Some(&id))
                    .collect();
                let got: BTreeSet<u32> = patches.iter().map(|p| p.from).collect();
                if expected != got || patches.iter().any(|p| p.to != id) {
                    return Err(format!(
                        "jumps into {id}: expected from {expected:?}, got {patches:?}"
                    ));
                }
                self.apply(&patches, &old);
            }
        }
        self.check()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn jumps_always_form_one_cycle_of_the_runnable(ops in proptest::collection::vec(op(), 1..200)) {
        let mut m = Model::new();
        for (i, op) in ops.iter().enumerate() {
            if let Err(e) = m.step(op) {
                prop_assert!(false, "step {i} ({op:?}): {e}");
            }
        }
    }
}

#[test]
fn a_stable_ring_is_round_robin() {
    let mut m = Model::new();
    for id in 1..=5 {
        m.step(&Op::Insert(id)).unwrap();
    }
    let mut ran = Vec::new();
    for _ in 0..10 {
        m.step(&Op::Switch).unwrap();
        ran.push(m.ring.current());
    }
    assert_eq!(ran, [2, 3, 4, 5, 1, 2, 3, 4, 5, 1]);
}

#[test]
fn idle_runs_only_when_nothing_else_can() {
    let mut m = Model::new();
    m.step(&Op::Insert(BOOT)).unwrap();
    m.step(&Op::Block).unwrap();
    assert_eq!(m.ring.current(), IDLE);
    assert!(m.ring.is_idle());
    m.step(&Op::Switch).unwrap();
    assert_eq!(m.ring.current(), IDLE);
    m.step(&Op::Insert(3)).unwrap();
    assert!(!m.ring.is_member(IDLE));
    m.step(&Op::Switch).unwrap();
    assert_eq!(m.ring.current(), 3);
}
