//! Tests of the generic P and V, alone and interleaved with the fast
//! paths' protocol on the cell (what the synthesized routines do).

use super::*;
use alloc::collections::BTreeSet;
use proptest::prelude::*;

/// The synthesized P: one compare-exchange, decrement when count > 0.
fn fast_p(s: &Semaphore) -> bool {
    let cell = s.cell();
    let mut old = cell.load(Ordering::Relaxed);
    loop {
        if SemaphoreWord::from_bits(old).count == 0 {
            return false;
        }
        match cell.compare_exchange(old, old - 1, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(now) => old = now,
        }
    }
}

/// The synthesized V: increment when the whole word is below u32::MAX.
fn fast_v(s: &Semaphore) -> bool {
    let cell = s.cell();
    let mut old = cell.load(Ordering::Relaxed);
    loop {
        // `lea ecx, [rax+1]; cmp rcx, rax; jbe slow`
        let new = u64::from(SemaphoreWord::from_bits(old).count.wrapping_add(1));
        if new <= old {
            return false;
        }
        match cell.compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(now) => old = now,
        }
    }
}

#[test]
fn p_waits_then_v_hands_over_in_fifo_order() {
    let mut s = Semaphore::new().unwrap();
    assert_eq!(s.p(1), Ok(POutcome::Wait));
    assert_eq!(s.p(2), Ok(POutcome::Wait));
    assert_eq!(s.p(1), Ok(POutcome::Wait), "asking again does not requeue");
    assert_eq!(
        s.word(),
        SemaphoreWord {
            count: 0,
            waiters: 2
        }
    );
    assert!(!fast_v(&s), "a waiter sends V to the generic path");
    assert_eq!(s.v(), Ok(Some(1)), "first come, first woken");
    assert_eq!(s.count(), 0, "the unit went to the waiter, not the count");
    assert!(!fast_p(&s), "no barging past a granted waiter");
    assert_eq!(s.p(1), Ok(POutcome::Acquired));
    assert_eq!(s.v(), Ok(Some(2)));
    assert_eq!(s.p(2), Ok(POutcome::Acquired));
    assert_eq!(s.v(), Ok(None));
    assert!(fast_p(&s));
    assert_eq!(s.word().bits(), 0);
}

#[test]
fn v_past_u32_max_fails_without_change() {
    let mut s = Semaphore::new().unwrap();
    s.cell().store(u64::from(u32::MAX - 1), Ordering::Relaxed);
    assert!(fast_v(&s));
    assert!(!fast_v(&s), "the fast V never wraps the count");
    assert_eq!(s.v(), Err(SysError::BadValue));
    assert_eq!(s.count(), u32::MAX);
}

#[test]
fn a_cancelled_grant_passes_on() {
    let mut s = Semaphore::new().unwrap();
    assert_eq!(s.p(1), Ok(POutcome::Wait));
    assert_eq!(s.p(2), Ok(POutcome::Wait));
    assert_eq!(s.p(3), Ok(POutcome::Wait));
    assert_eq!(s.cancel(2), None, "a queued waiter just leaves");
    assert_eq!(s.word().waiters, 2);
    assert_eq!(s.v(), Ok(Some(1)));
    assert_eq!(s.cancel(1), Some(3), "1 died holding a grant: 3 gets it");
    assert_eq!(s.p(3), Ok(POutcome::Acquired));
    assert_eq!(s.p(4), Ok(POutcome::Wait));
    assert_eq!(s.drain(), alloc::vec![4]);
    assert_eq!(s.word().bits(), 0);
    assert_eq!(s.cancel(9), None);
}

#[derive(Clone, Debug)]
enum Op {
    P(u64),
    V(u64),
    Kill(u64),
    FastOnly(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0_u64..12).prop_map(Op::P),
        4 => (0_u64..12).prop_map(Op::V),
        1 => (0_u64..12).prop_map(Op::Kill),
        1 => any::<bool>().prop_map(Op::FastOnly),
    ]
}

proptest! {
    /// Threads do P and V in random order, through the fast path when it
    /// applies (as the synthesized routines would) or the generic one;
    /// blocked threads are woken by V and retry; threads die at random.
    /// Checked after every step: units are conserved (V's = P's completed
    /// + count + grants outstanding), `count > 0` means nobody waits, the
    /// waiter half of the cell is the queue's length, a woken thread's
    /// retry always succeeds (no lost wake-up), wake order is FIFO.
    #[test]
    fn never_loses_a_unit_or_a_wake_up(ops in proptest::collection::vec(op(), 0..400)) {
        let mut s = Semaphore::new().unwrap();
        let mut blocked: alloc::vec::Vec<u64> = alloc::vec::Vec::new(); // FIFO order
        let mut dead: BTreeSet<u64> = BTreeSet::new();
        let mut woken: alloc::vec::Vec<u64> = alloc::vec::Vec::new();
        let (mut vs, mut ps) = (0_u64, 0_u64);
        let mut use_fast = true;
        for op in ops {
            match op {
                Op::FastOnly(fast) => use_fast = fast,
                Op::P(t) | Op::V(t) if dead.contains(&t) || blocked.contains(&t) => {}
                Op::P(t) => {
                    if use_fast && fast_p(&s) {
                        ps += 1;
                    } else {
                        match s.p(t).unwrap() {
                            POutcome::Acquired => ps += 1,
                            POutcome::Wait => blocked.push(t),
                        }
                    }
                }
                Op::V(_) => {
                    if !(use_fast && fast_v(&s)) {
                        if let Some(w) = s.v().unwrap() {
                            prop_assert_eq!(Some(&w), blocked.first(), "FIFO wake order");
                            blocked.remove(0);
                            woken.push(w);
                        }
                    }
                    vs += 1;
                }
                Op::Kill(t) => {
                    if dead.insert(t) {
                        blocked.retain(|&b| b != t);
                        if let Some(at) = woken.iter().position(|&w| w == t) {
                            // Died granted, before its retry: the unit moves on.
                            woken.remove(at);
                            if let Some(w) = s.cancel(t) {
                                prop_assert_eq!(Some(&w), blocked.first());
                                blocked.remove(0);
                                woken.push(w);
                            }
                        } else {
                            prop_assert_eq!(s.cancel(t), None);
                        }
                    }
                }
            }
            // Woken threads run their retry at some point: do it now for
            // the oldest one, which must get its unit.
            if let Some(w) = woken.first().copied() {
                prop_assert_eq!(s.p(w).unwrap(), POutcome::Acquired, "lost wake-up");
                woken.remove(0);
                ps += 1;
            }
            let word = s.word();
            prop_assert_eq!(word.waiters as usize, blocked.len());
            prop_assert!(word.count == 0 || word.waiters == 0, "a unit idles while {} wait", word.waiters);
            prop_assert_eq!(vs, ps + u64::from(word.count) + woken.len() as u64);
            prop_assert!(s.waiters().copied().eq(blocked.iter().copied()));
        }
    }
}
