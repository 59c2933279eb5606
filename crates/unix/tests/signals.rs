//! Signal state against a model written from signal(7), sigaction(2) and
//! rt_sigprocmask(2): random sequences of `rt_sigaction`, `rt_sigprocmask`,
//! `kill`, `tgkill`, forced faults and deliveries, compared step by step.

use proptest::prelude::*;
use sk_unix::siginfo::{SigInfo, SigInfoFields};
use sk_unix::signal_actions::{how, sa, Handler, SigAction};
use sk_unix::signal_set::{Signal, SignalSet};
use sk_unix::signal_state::{Delivery, ProcessSignals, ThreadSignals};
use sk_unix::Errno;

/// What the model says a delivery does: (signal, kind, mask after).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Handler(u64),
    Term,
    Core,
    Stop,
}

#[derive(Clone, Copy, Default)]
struct ModelAction {
    /// 0 default, 1 ignore, else handler.
    handler: u64,
    flags: u64,
    mask: u64,
}

/// The model: plain arrays, indices are signal numbers.
struct Model {
    actions: [ModelAction; 65],
    blocked: [bool; 65],
    /// The sender ids of the pending instances of each signal.
    thread_pending: [Vec<i32>; 65],
    process_pending: [Vec<i32>; 65],
}

const KILL: usize = 9;
const STOP: usize = 19;
const CONT: usize = 18;

fn default_kind(n: usize) -> Option<Kind> {
    // signal(7)'s table, by name.
    match n {
        3 | 4 | 5 | 6 | 7 | 8 | 11 | 24 | 25 | 31 => Some(Kind::Core),
        17 | 18 | 23 | 28 => None, // CHLD CONT URG WINCH: ignored at delivery
        19..=22 => Some(Kind::Stop),
        _ => Some(Kind::Term),
    }
}

impl Model {
    fn new() -> Self {
        Self {
            actions: [ModelAction::default(); 65],
            blocked: [false; 65],
            thread_pending: std::array::from_fn(|_| Vec::new()),
            process_pending: std::array::from_fn(|_| Vec::new()),
        }
    }

    fn ignores(&self, n: usize) -> bool {
        let a = self.actions[n];
        a.handler == 1 || (a.handler == 0 && default_kind(n).is_none())
    }

    fn sigaction(&mut self, signum: u64, new: Option<ModelAction>) -> Result<u64, Errno> {
        if !(1..=64).contains(&signum) {
            return Err(Errno::EINVAL);
        }
        let n = usize::try_from(signum).unwrap();
        let old = self.actions[n].handler;
        if let Some(mut new) = new {
            if n == KILL || n == STOP {
                return Err(Errno::EINVAL);
            }
            new.mask &= !((1 << 8) | (1 << 18));
            new.flags &= sa::KNOWN;
            self.actions[n] = new;
            if self.ignores(n) {
                self.thread_pending[n].clear();
                self.process_pending[n].clear();
            }
        }
        Ok(old)
    }

    fn procmask(&mut self, h: u64, set: u64) -> Result<(), Errno> {
        for n in 1..=64 {
            let bit = set >> (n - 1) & 1 == 1;
            let new = match h {
                0 => self.blocked[n] || bit,
                1 => self.blocked[n] && !bit,
                2 => bit,
                _ => return Err(Errno::EINVAL),
            };
            self.blocked[n] = new && n != KILL && n != STOP;
        }
        Ok(())
    }

    fn prepare(&mut self, n: usize) {
        if n == CONT {
            for s in 19..=22 {
                self.thread_pending[s].clear();
                self.process_pending[s].clear();
            }
        }
        if (19..=22).contains(&n) {
            self.thread_pending[CONT].clear();
            self.process_pending[CONT].clear();
        }
    }

    /// Standard signals pend once; real-time ones queue (signal(7)).
    fn post(&mut self, n: usize, thread: bool, sender: i32) -> bool {
        self.prepare(n);
        if !self.blocked[n] && self.ignores(n) {
            return false;
        }
        let pending = if thread {
            &mut self.thread_pending
        } else {
            &mut self.process_pending
        };
        if n < 32 && !pending[n].is_empty() {
            return false;
        }
        pending[n].push(sender);
        true
    }

    /// force_sig_info_to_task: blocked or ignored means back to SIG_DFL
    /// (handler only) and unblocked; `always` is HANDLER_SIG_DFL.
    fn force(&mut self, n: usize, always: bool) -> bool {
        if always || self.blocked[n] || self.actions[n].handler == 1 {
            self.actions[n].handler = 0;
            self.blocked[n] = false;
        }
        self.post(n, true, -1)
    }

    /// The next signal to take: KILL; thread (faults first, then lowest);
    /// process (same).
    fn pick(&self) -> Option<(usize, bool)> {
        if !self.thread_pending[KILL].is_empty() {
            return Some((KILL, true));
        }
        if !self.process_pending[KILL].is_empty() {
            return Some((KILL, false));
        }
        for (pending, thread) in [(&self.thread_pending, true), (&self.process_pending, false)] {
            for n in [4, 5, 7, 8, 11, 31].into_iter().chain(1..=64) {
                if !pending[n].is_empty() && !self.blocked[n] {
                    return Some((n, thread));
                }
            }
        }
        None
    }

    fn deliver(&mut self) -> Option<(usize, i32, Kind, u64)> {
        loop {
            let (n, thread) = self.pick()?;
            let sender = if thread {
                self.thread_pending[n].remove(0)
            } else {
                self.process_pending[n].remove(0)
            };
            let a = self.actions[n];
            let kind = match a.handler {
                1 => continue,
                0 => match default_kind(n) {
                    None => continue,
                    Some(kind) => kind,
                },
                h => Kind::Handler(h),
            };
            let mut mask = 0u64;
            if let Kind::Handler(_) = kind {
                for s in 1..=64 {
                    if self.blocked[s] {
                        mask |= 1 << (s - 1);
                    }
                }
                mask |= a.mask;
                if a.flags & sa::NODEFER == 0 {
                    mask |= 1 << (n - 1);
                }
                mask &= !((1 << 8) | (1 << 18));
                if a.flags & sa::RESETHAND != 0 {
                    self.actions[n] = ModelAction::default();
                }
            }
            return Some((n, sender, kind, mask));
        }
    }

    fn blocked_bits(&self) -> u64 {
        (1..=64)
            .filter(|&n| self.blocked[n])
            .fold(0, |m, n| m | 1 << (n - 1))
    }
}

#[derive(Clone, Debug)]
enum Op {
    Action {
        signum: u64,
        handler: u64,
        flags: u64,
        mask: u64,
        query: bool,
    },
    Mask {
        how: u64,
        set: u64,
    },
    Kill(u8),
    Tgkill(u8),
    Force(u8, bool),
    Deliver,
    SetMaskAfter,
}

fn signal_number() -> impl Strategy<Value = u8> {
    prop_oneof![
        1..=64u8,
        32..=36u8,
        Just(9u8),
        Just(19),
        Just(18),
        Just(20),
        Just(17),
        Just(11),
        Just(2)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let flag_bits = prop::sample::subsequence(
        vec![
            sa::SIGINFO,
            sa::NODEFER,
            sa::RESETHAND,
            sa::RESTART,
            sa::ONSTACK,
            1 << 40,
        ],
        0..4,
    )
    .prop_map(|bits| bits.into_iter().fold(0, |a, b| a | b));
    prop_oneof![
        (
            0..=66u64,
            prop_oneof![Just(0u64), Just(1), Just(0x40_1000)],
            flag_bits,
            any::<u64>(),
            any::<bool>()
        )
            .prop_map(|(signum, handler, flags, mask, query)| Op::Action {
                signum,
                handler,
                flags,
                mask,
                query
            }),
        (0..=3u64, any::<u64>()).prop_map(|(how, set)| Op::Mask { how, set }),
        signal_number().prop_map(Op::Kill),
        signal_number().prop_map(Op::Tgkill),
        (
            prop_oneof![Just(11u8), Just(7), Just(8), Just(4)],
            any::<bool>()
        )
            .prop_map(|(n, always)| Op::Force(n, always)),
        Just(Op::Deliver),
        Just(Op::Deliver),
        Just(Op::SetMaskAfter),
    ]
}

fn sig(n: u8) -> Signal {
    Signal::new(u64::from(n)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn state_follows_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let mut model = Model::new();
        let mut process = ProcessSignals::new();
        let mut thread = ThreadSignals::new();
        let mut last_mask_after = None;
        for (step, op) in ops.into_iter().enumerate() {
            let id = i32::try_from(step).unwrap();
            match op {
                Op::Action { signum, handler, flags, mask, query } => {
                    let new = (!query).then_some(SigAction {
                        handler: Handler::from_raw(handler),
                        flags,
                        restorer: 0x40_2000,
                        mask: SignalSet::from_bits(mask),
                    });
                    let expected = model.sigaction(signum, new.map(|_| ModelAction { handler, flags, mask }));
                    let got = process.sigaction(signum, new);
                    prop_assert_eq!(got.map(|c| c.old.handler.raw()), expected);
                    if let Ok(change) = got {
                        thread.discard(change.discard);
                    }
                }
                Op::Mask { how: h, set } => {
                    let expected = model.procmask(h, set);
                    let got = thread.sigprocmask(h, Some(SignalSet::from_bits(set)));
                    prop_assert_eq!(got.map(|_| ()), expected);
                }
                Op::Kill(n) => {
                    let expected = model.post(usize::from(n), false, id);
                    let outcome = process.post_process(SigInfo::user(sig(n), id, 0), thread.mask());
                    thread.discard(outcome.discard);
                    prop_assert_eq!(outcome.queued, expected);
                    prop_assert_eq!(outcome.resume, n == 18);
                }
                Op::Tgkill(n) => {
                    let expected = model.post(usize::from(n), true, id);
                    let outcome = process.post_thread(&mut thread, SigInfo::user(sig(n), id, 0));
                    thread.discard(outcome.discard);
                    prop_assert_eq!(outcome.queued, expected);
                }
                Op::Force(n, always) => {
                    let expected = model.force(usize::from(n), always);
                    let info = SigInfo::fault(sig(n), 1, 0x1000);
                    let outcome = if always {
                        process.force_default(&mut thread, info)
                    } else {
                        process.force(&mut thread, info)
                    };
                    prop_assert_eq!(outcome.queued, expected);
                    prop_assert!(process.has_deliverable(&thread));
                }
                Op::Deliver => {
                    let expected = model.deliver();
                    let sender = |info: &SigInfo| match info.fields {
                        SigInfoFields::Sender { pid, .. } => pid,
                        _ => -1,
                    };
                    let got = process.next_delivery(&mut thread).map(|d| match d {
                        Delivery::Handler { info, action, mask_after } => {
                            last_mask_after = Some(mask_after);
                            (usize::from(info.signal.number()), sender(&info), Kind::Handler(action.handler.raw()), mask_after.bits())
                        }
                        Delivery::Terminate { info, core } => (
                            usize::from(info.signal.number()),
                            sender(&info),
                            if core { Kind::Core } else { Kind::Term },
                            0,
                        ),
                        Delivery::Stop { info } => (usize::from(info.signal.number()), sender(&info), Kind::Stop, 0),
                    });
                    prop_assert_eq!(got, expected);
                }
                Op::SetMaskAfter => {
                    // The handler's frame was pushed: its mask applies.
                    if let Some(mask) = last_mask_after.take() {
                        thread.set_mask(mask);
                        model.procmask(how::SIG_SETMASK, mask.bits()).unwrap();
                    }
                }
            }
            // Invariants after every step.
            prop_assert_eq!(thread.mask().bits(), model.blocked_bits());
            prop_assert!(!thread.mask().contains(Signal::SIGKILL));
            prop_assert!(!thread.mask().contains(Signal::SIGSTOP));
            for n in 1..=64u8 {
                prop_assert_eq!(thread.pending().contains(sig(n)), !model.thread_pending[usize::from(n)].is_empty());
                prop_assert_eq!(process.pending().contains(sig(n)), !model.process_pending[usize::from(n)].is_empty());
                let action = process.actions().get(sig(n));
                prop_assert_eq!(action.handler.raw(), model.actions[usize::from(n)].handler);
                prop_assert!(!action.mask.contains(Signal::SIGKILL));
            }
            prop_assert_eq!(
                process.has_deliverable(&thread),
                model.pick().is_some()
            );
        }
    }

    #[test]
    fn sigprocmask_is_set_algebra(current in any::<u64>(), set in any::<u64>(), h in 0..8u64) {
        let cur = SignalSet::from_bits(current).blockable();
        let got = sk_unix::signal_actions::sigprocmask(cur, h, Some(SignalSet::from_bits(set)));
        let unblockable = (1u64 << 8) | (1 << 18);
        let expected = match h {
            0 => Ok((cur.bits() | set) & !unblockable),
            1 => Ok(cur.bits() & !set),
            2 => Ok(set & !unblockable),
            _ => Err(Errno::EINVAL),
        };
        prop_assert_eq!(got.map(SignalSet::bits), expected);
        // Without a set, nothing changes and `how` is not checked.
        prop_assert_eq!(sk_unix::signal_actions::sigprocmask(cur, h, None), Ok(cur));
    }

    #[test]
    fn set_bits_are_linux_sigset_bits(n in 1..=64u64) {
        let s = Signal::new(n).unwrap();
        prop_assert_eq!(SignalSet::of(s).bits(), 1u64 << (n - 1));
        prop_assert_eq!(SignalSet::of(s).lowest(), Some(s));
        prop_assert_eq!(SignalSet::FULL.difference(SignalSet::of(s)).iter().count(), 63);
    }
}

#[test]
fn a_blocked_ignored_signal_stays_pending_until_unblocked() {
    let mut process = ProcessSignals::new();
    let mut thread = ThreadSignals::new();
    // SIGCHLD is ignored by default but blocked: it stays pending (the
    // handler may change before it is unblocked).
    thread
        .sigprocmask(how::SIG_BLOCK, Some(SignalSet::of(Signal::SIGCHLD)))
        .unwrap();
    let chld = SigInfo::kernel(Signal::SIGCHLD);
    assert!(process.post_thread(&mut thread, chld).queued);
    // Installing a handler then unblocking delivers it.
    let handler = SigAction {
        handler: Handler::Function(0x1234),
        flags: sa::RESTORER | sa::SIGINFO,
        restorer: 0x5678,
        mask: SignalSet::of(Signal::SIGUSR1),
    };
    process.sigaction(17, Some(handler)).unwrap();
    thread.set_mask(SignalSet::EMPTY);
    let Some(Delivery::Handler {
        action, mask_after, ..
    }) = process.next_delivery(&mut thread)
    else {
        panic!("expected the handler");
    };
    assert_eq!(action, handler);
    assert_eq!(
        mask_after,
        SignalSet::of(Signal::SIGUSR1).union(SignalSet::of(Signal::SIGCHLD))
    );
    // Ignoring it discards it everywhere.
    thread.set_mask(SignalSet::of(Signal::SIGCHLD));
    process.post_thread(&mut thread, chld);
    process.post_process(chld, thread.mask());
    let change = process
        .sigaction(
            17,
            Some(SigAction {
                handler: Handler::Ignore,
                ..SigAction::default()
            }),
        )
        .unwrap();
    thread.discard(change.discard);
    assert!(thread.pending().is_empty() && process.pending().is_empty());
}

#[test]
fn sigkill_comes_first_and_thread_signals_before_process_signals() {
    let mut process = ProcessSignals::new();
    let mut thread = ThreadSignals::new();
    let handler = SigAction {
        handler: Handler::Function(0x1000),
        flags: sa::RESTORER,
        ..SigAction::default()
    };
    for n in [2, 10, 12] {
        process.sigaction(n, Some(handler)).unwrap();
    }
    process.post_process(SigInfo::kernel(Signal::SIGINT), SignalSet::EMPTY);
    process.post_thread(&mut thread, SigInfo::kernel(Signal::SIGUSR2));
    process.post_process(SigInfo::kernel(Signal::SIGKILL), SignalSet::EMPTY);
    let order: Vec<u8> = std::iter::from_fn(|| {
        process.next_delivery(&mut thread).map(|d| match d {
            Delivery::Handler { info, .. }
            | Delivery::Terminate { info, .. }
            | Delivery::Stop { info } => info.signal.number(),
        })
    })
    .collect();
    assert_eq!(order, [9, 12, 2]);
}

#[test]
fn sigtimedwait_takes_from_the_set_and_sigchld_policy() {
    let mut process = ProcessSignals::new();
    let mut thread = ThreadSignals::new();
    let both = SignalSet::of(Signal::SIGUSR1).union(SignalSet::of(Signal::SIGUSR2));
    thread.set_mask(both);
    process.post_process(SigInfo::user(Signal::SIGUSR2, 7, 0), thread.mask());
    process.post_thread(&mut thread, SigInfo::user(Signal::SIGUSR1, 8, 0));
    process.post_thread(&mut thread, SigInfo::user(Signal::SIGINT, 9, 0));
    let taken = process.take_waited(&mut thread, both).unwrap();
    assert_eq!(
        (taken.signal, taken.fields),
        (Signal::SIGUSR1, SigInfo::user(Signal::SIGUSR1, 8, 0).fields)
    );
    assert_eq!(
        process.take_waited(&mut thread, both).unwrap().signal,
        Signal::SIGUSR2
    );
    assert_eq!(process.take_waited(&mut thread, both), None);
    assert!(thread.pending().contains(Signal::SIGINT));

    assert!(!process.reaps_children() && process.wants_child_stops());
    let nocld = SigAction {
        flags: sa::NOCLDWAIT | sa::NOCLDSTOP,
        ..SigAction::default()
    };
    process.sigaction(17, Some(nocld)).unwrap();
    assert!(process.reaps_children() && !process.wants_child_stops());
    let ignore = SigAction {
        handler: Handler::Ignore,
        ..SigAction::default()
    };
    process.sigaction(17, Some(ignore)).unwrap();
    assert!(process.reaps_children());
}

#[test]
fn realtime_signals_queue_in_order_up_to_the_limit() {
    use sk_unix::signal_state::RT_QUEUE_LIMIT;
    let mut process = ProcessSignals::new();
    let mut thread = ThreadSignals::new();
    thread.set_mask(SignalSet::FULL);
    let rt = Signal::new(40).unwrap();
    for pid in 0..RT_QUEUE_LIMIT {
        let pid = i32::try_from(pid).unwrap();
        let outcome = process.post_process(SigInfo::user(rt, pid, 0), thread.mask());
        assert!(outcome.queued && !outcome.overflow);
    }
    let full = process.post_process(SigInfo::user(rt, -5, 0), thread.mask());
    assert!(!full.queued && full.overflow);
    // A standard signal is merged, not an overflow.
    process.post_process(SigInfo::user(Signal::SIGUSR1, 1, 0), thread.mask());
    let again = process.post_process(SigInfo::user(Signal::SIGUSR1, 2, 0), thread.mask());
    assert!(!again.queued && !again.overflow);
    let set = SignalSet::of(rt);
    for pid in 0..3 {
        let info = process.take_waited(&mut thread, set).unwrap();
        assert_eq!(info, SigInfo::user(rt, pid, 0));
    }
    // Ignoring it discards every queued instance.
    let ignore = SigAction {
        handler: Handler::Ignore,
        ..SigAction::default()
    };
    process.sigaction(40, Some(ignore)).unwrap();
    assert!(!process.pending().contains(rt));
    assert_eq!(process.take_waited(&mut thread, set), None);
}
