//! Pending signals, blocked masks, and which signal a thread handles next.
//!
//! Owns [`ThreadSignals`] (a thread's blocked mask, its own pending
//! signals, its alternate stack), [`ProcessSignals`] (the action table and
//! the process-wide pending set, shared by the threads) and [`Delivery`],
//! the decision taken on each return to user mode:
//!
//! - Order (Linux's `dequeue_signal`): a pending `SIGKILL` first; then the
//!   thread's own pending signals, then the process's; in each, the
//!   synchronous fault signals ([`SignalSet::SYNCHRONOUS`]) first, then the
//!   lowest number. Blocked signals stay pending.
//! - Effect (`get_signal`, `signal_delivered`): `SIG_IGN` and default-ignore
//!   signals are dropped; a handler runs with mask = old | `sa_mask` | the
//!   signal (unless `SA_NODEFER`), and `SA_RESETHAND` resets the action to
//!   `SIG_DFL`; otherwise the default action (terminate, core, stop).
//! - Generation (`prepare_signal`): a signal the target ignores and does
//!   not block is discarded at once; `SIGCONT` discards pending stop signals
//!   and a stop signal discards a pending `SIGCONT`; setting an action that
//!   ignores a signal discards it from every pending set.
//!
//! - Queueing (signal(7)): a standard signal is pending at most once (a
//!   second instance is merged, its `siginfo` lost); real-time signals
//!   queue, each instance with its `siginfo`, delivered in the order sent,
//!   up to [`RT_QUEUE_LIMIT`] per pending set (then the new one is dropped
//!   and [`PostOutcome::overflow`] says so: `sigqueue` fails with `EAGAIN`).

use crate::errno::Errno;
use crate::sigaltstack::AltStack;
use crate::siginfo::SigInfo;
use crate::signal_actions::{default_action, sa, ActionTable, DefaultAction, Handler, SigAction};
use crate::signal_set::{Signal, SignalSet};
use alloc::vec::Vec;

/// The most real-time signal instances one pending set holds (Linux's
/// limit is `RLIMIT_SIGPENDING` per user).
pub const RT_QUEUE_LIMIT: usize = 1024;

/// Signals pending on a thread or process, with the `siginfo` of each.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pending {
    /// Which signals have at least one instance pending.
    set: SignalSet,
    /// The one instance of each pending standard signal.
    info: [Option<SigInfo>; 64],
    /// The instances of real-time signals, in the order sent.
    realtime: Vec<SigInfo>,
}

impl Default for Pending {
    fn default() -> Self {
        Self {
            set: SignalSet::EMPTY,
            info: [None; 64],
            realtime: Vec::new(),
        }
    }
}

/// A real-time queue was full.
struct Overflow;

impl Pending {
    fn slot(signal: Signal) -> usize {
        usize::from(signal.number() - 1)
    }

    /// Adds `info`; `Ok(false)` if it was merged into a pending instance of
    /// the same standard signal.
    fn post(&mut self, info: SigInfo) -> Result<bool, Overflow> {
        if info.signal.is_realtime() {
            // A kernel heap that cannot grow is an overflow too (`EAGAIN`),
            // never an allocation failure.
            if self.realtime.len() >= RT_QUEUE_LIMIT || self.realtime.try_reserve(1).is_err() {
                return Err(Overflow);
            }
            self.realtime.push(info);
            self.set.insert(info.signal);
            return Ok(true);
        }
        if self.set.contains(info.signal) {
            return Ok(false);
        }
        self.set.insert(info.signal);
        if let Some(slot) = self.info.get_mut(Self::slot(info.signal)) {
            *slot = Some(info);
        }
        Ok(true)
    }

    /// Takes the oldest instance of `signal` (pending).
    fn take(&mut self, signal: Signal) -> SigInfo {
        if signal.is_realtime() {
            let at = self.realtime.iter().position(|i| i.signal == signal);
            let info = at.map(|at| self.realtime.remove(at));
            if !self.realtime.iter().any(|i| i.signal == signal) {
                self.set.remove(signal);
            }
            return info.unwrap_or_else(|| SigInfo::kernel(signal));
        }
        self.set.remove(signal);
        self.info
            .get_mut(Self::slot(signal))
            .and_then(Option::take)
            .unwrap_or_else(|| SigInfo::kernel(signal))
    }

    fn discard(&mut self, signals: SignalSet) {
        self.realtime.retain(|i| !signals.contains(i.signal));
        for signal in signals.intersection(self.set).iter() {
            self.set.remove(signal);
            if let Some(slot) = self.info.get_mut(Self::slot(signal)) {
                *slot = None;
            }
        }
    }

    /// The next signal to take outside `blocked`: synchronous ones first,
    /// then the lowest number.
    fn next(&self, blocked: SignalSet) -> Option<Signal> {
        let ready = self.set.difference(blocked.blockable());
        ready
            .intersection(SignalSet::SYNCHRONOUS)
            .lowest()
            .or_else(|| ready.lowest())
    }
}

/// One thread's signal state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadSignals {
    mask: SignalSet,
    pending: Pending,
    /// The alternate signal stack.
    pub altstack: AltStack,
}

impl ThreadSignals {
    /// A thread with nothing blocked, nothing pending, no alternate stack.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of a thread created by `clone`/`fork` from this one: same
    /// mask and alternate stack, nothing pending.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            mask: self.mask,
            pending: Pending::default(),
            altstack: self.altstack,
        }
    }

    /// What `execve` keeps: mask and pending; the alternate stack goes.
    pub fn exec(&mut self) {
        self.altstack.disarm();
    }

    /// The blocked mask.
    #[must_use]
    pub fn mask(&self) -> SignalSet {
        self.mask
    }

    /// Sets the blocked mask (`SIGKILL` and `SIGSTOP` are dropped): after
    /// `rt_sigprocmask`, after pushing a handler's frame, in `rt_sigreturn`.
    pub fn set_mask(&mut self, mask: SignalSet) {
        self.mask = mask.blockable();
    }

    /// `rt_sigprocmask(how, set)`: returns the old mask.
    ///
    /// # Errors
    /// `EINVAL` for a bad `how` (see [`crate::signal_actions::sigprocmask`]).
    pub fn sigprocmask(&mut self, how: u64, set: Option<SignalSet>) -> Result<SignalSet, Errno> {
        let old = self.mask;
        self.mask = crate::signal_actions::sigprocmask(old, how, set)?;
        Ok(old)
    }

    /// The signals pending on this thread alone.
    #[must_use]
    pub fn pending(&self) -> SignalSet {
        self.pending.set
    }

    /// Removes `signals` from this thread's pending set (see
    /// [`ActionChange::discard`] and [`PostOutcome::discard`]).
    pub fn discard(&mut self, signals: SignalSet) {
        self.pending.discard(signals);
    }
}

/// The signal state the threads of a process share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessSignals {
    actions: ActionTable,
    shared: Pending,
}

/// What [`ProcessSignals::sigaction`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionChange {
    /// The previous action (for `oldact`).
    pub old: SigAction,
    /// Signals the kernel must also remove from every thread's pending set
    /// ([`ThreadSignals::discard`]); the process-wide set is done already.
    pub discard: SignalSet,
}

/// What posting a signal did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostOutcome {
    /// The instance is now pending (false: ignored, merged into a pending
    /// standard signal, or dropped on overflow).
    pub queued: bool,
    /// Signals the kernel must remove from every thread's pending set.
    pub discard: SignalSet,
    /// `SIGCONT` was posted: a stopped process resumes, even if the signal
    /// itself is ignored or blocked.
    pub resume: bool,
    /// A real-time signal was dropped: its queue holds [`RT_QUEUE_LIMIT`]
    /// instances (`sigqueue`, `kill`: `EAGAIN`).
    pub overflow: bool,
}

/// What to do with the signal chosen for delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Run the handler: push a frame saving the current mask
    /// ([`ThreadSignals::mask`]), then [`ThreadSignals::set_mask`] to
    /// `mask_after`. `action` is the action as it was (with `SA_RESETHAND`
    /// the table already holds `SIG_DFL`).
    Handler {
        /// The signal instance.
        info: SigInfo,
        /// Its action (handler address, flags, restorer).
        action: SigAction,
        /// The mask while the handler runs.
        mask_after: SignalSet,
    },
    /// End the process killed by `info.signal` (with a core flag in the
    /// wait status if `core`).
    Terminate {
        /// The signal instance.
        info: SigInfo,
        /// The default action was "Core".
        core: bool,
    },
    /// Stop the process (`SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU` at
    /// `SIG_DFL`).
    Stop {
        /// The signal instance.
        info: SigInfo,
    },
}

impl ProcessSignals {
    /// A process with every action `SIG_DFL` and nothing pending.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of a `fork` child: the same actions, nothing pending.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            actions: self.actions.clone(),
            shared: Pending::default(),
        }
    }

    /// What `execve` does to the actions (handled ones reset to `SIG_DFL`).
    pub fn exec(&mut self) {
        self.actions.reset_for_exec();
    }

    /// The action table.
    #[must_use]
    pub fn actions(&self) -> &ActionTable {
        &self.actions
    }

    /// The process-wide pending set.
    #[must_use]
    pub fn pending(&self) -> SignalSet {
        self.shared.set
    }

    /// `rt_sigpending` for `thread`: pending (its own or the process's)
    /// and blocked.
    #[must_use]
    pub fn sigpending(&self, thread: &ThreadSignals) -> SignalSet {
        thread
            .pending
            .set
            .union(self.shared.set)
            .intersection(thread.mask)
    }

    /// `rt_sigaction(signum, new)`. If the new action ignores the signal,
    /// it is discarded from the process's pending set here and
    /// [`ActionChange::discard`] names it for the threads' sets.
    ///
    /// # Errors
    /// As [`ActionTable::sigaction`]: `EINVAL`.
    pub fn sigaction(
        &mut self,
        signum: u64,
        new: Option<SigAction>,
    ) -> Result<ActionChange, Errno> {
        let old = self.actions.sigaction(signum, new)?;
        let mut discard = SignalSet::EMPTY;
        if let (Some(signal), Some(_)) = (Signal::new(signum), new) {
            if self.actions.get(signal).ignores(signal) {
                discard = SignalSet::of(signal);
                self.shared.discard(discard);
            }
        }
        Ok(ActionChange { old, discard })
    }

    /// The discards and resume `prepare_signal` does for `signal`, applied
    /// to the process-wide set.
    fn prepare(&mut self, signal: Signal) -> PostOutcome {
        let (discard, resume) = if signal == Signal::SIGCONT {
            (SignalSet::STOP, true)
        } else if SignalSet::STOP.contains(signal) {
            (SignalSet::of(Signal::SIGCONT), false)
        } else {
            (SignalSet::EMPTY, false)
        };
        self.shared.discard(discard);
        PostOutcome {
            queued: false,
            discard,
            resume,
            overflow: false,
        }
    }

    /// True if posting `signal` to a target blocking `blocked` would be
    /// pointless (ignored and not blocked; `SIGKILL` never is).
    fn ignored_at_generation(&self, signal: Signal, blocked: SignalSet) -> bool {
        !blocked.blockable().contains(signal) && self.actions.get(signal).ignores(signal)
    }

    /// Posts a process-directed signal (`kill`); `target_mask` is the mask
    /// of the thread it is aimed at (the kernel picks one that does not
    /// block it, or the main thread).
    pub fn post_process(&mut self, info: SigInfo, target_mask: SignalSet) -> PostOutcome {
        let mut outcome = self.prepare(info.signal);
        if !self.ignored_at_generation(info.signal, target_mask) {
            match self.shared.post(info) {
                Ok(queued) => outcome.queued = queued,
                Err(Overflow) => outcome.overflow = true,
            }
        }
        outcome
    }

    /// Posts a thread-directed signal (`tgkill`, a fault) to `thread`.
    pub fn post_thread(&mut self, thread: &mut ThreadSignals, info: SigInfo) -> PostOutcome {
        let mut outcome = self.prepare(info.signal);
        thread.pending.discard(outcome.discard);
        if !self.ignored_at_generation(info.signal, thread.mask) {
            match thread.pending.post(info) {
                Ok(queued) => outcome.queued = queued,
                Err(Overflow) => outcome.overflow = true,
            }
        }
        outcome
    }

    /// Posts a signal the thread cannot escape (a fault; Linux's
    /// `force_sig_info_to_task` with `HANDLER_CURRENT`): if it is blocked
    /// or ignored, its handler is reset to `SIG_DFL` (flags and mask kept)
    /// and it is unblocked, so a fault the program blocked or ignored kills
    /// it instead of looping.
    pub fn force(&mut self, thread: &mut ThreadSignals, info: SigInfo) -> PostOutcome {
        let signal = info.signal;
        let blocked = thread.mask.contains(signal);
        if blocked || self.actions.get(signal).handler == Handler::Ignore {
            self.reset_handler(signal);
            thread.mask.remove(signal);
        }
        self.post_thread(thread, info)
    }

    /// Posts `SIGSEGV` (or another fatal signal) with its handler reset to
    /// `SIG_DFL` whatever it was, unblocked: what the kernel does when a
    /// handler's frame cannot be pushed or `rt_sigreturn` finds a bad frame
    /// (Linux's `force_sigsegv`, `HANDLER_SIG_DFL`).
    pub fn force_default(&mut self, thread: &mut ThreadSignals, info: SigInfo) -> PostOutcome {
        self.reset_handler(info.signal);
        thread.mask.remove(info.signal);
        self.post_thread(thread, info)
    }

    /// Sets `signal`'s handler to `SIG_DFL`, keeping flags and mask.
    fn reset_handler(&mut self, signal: Signal) {
        let action = self.actions.get(signal);
        self.actions.put(
            signal,
            SigAction {
                handler: Handler::Default,
                ..action
            },
        );
    }

    /// True if `thread` has a pending signal it does not block (worth
    /// calling [`Self::next_delivery`] before returning to user mode, or
    /// waking it from an interruptible sleep).
    #[must_use]
    pub fn has_deliverable(&self, thread: &ThreadSignals) -> bool {
        !thread
            .pending
            .set
            .union(self.shared.set)
            .difference(thread.mask.blockable())
            .is_empty()
    }

    /// Dequeues `thread`'s next signal, dropping ignored ones, and decides
    /// what to do with it; `None` if nothing is deliverable.
    pub fn next_delivery(&mut self, thread: &mut ThreadSignals) -> Option<Delivery> {
        loop {
            let info = self.dequeue(thread)?;
            let signal = info.signal;
            let action = self.actions.get(signal);
            match action.handler {
                Handler::Ignore => {}
                Handler::Function(_) => {
                    if action.flags & sa::RESETHAND != 0 {
                        self.actions.put(signal, SigAction::default());
                    }
                    let mut mask_after = thread.mask.union(action.mask);
                    if action.flags & sa::NODEFER == 0 {
                        mask_after.insert(signal);
                    }
                    return Some(Delivery::Handler {
                        info,
                        action,
                        mask_after: mask_after.blockable(),
                    });
                }
                Handler::Default => match default_action(signal) {
                    DefaultAction::Ignore | DefaultAction::Continue => {}
                    DefaultAction::Terminate => {
                        return Some(Delivery::Terminate { info, core: false })
                    }
                    DefaultAction::Core => return Some(Delivery::Terminate { info, core: true }),
                    DefaultAction::Stop => return Some(Delivery::Stop { info }),
                },
            }
        }
    }

    /// `rt_sigtimedwait(set)`: takes the lowest pending signal of `set`
    /// (the thread's own first, fault signals first), without running its
    /// action. Call [`Self::next_delivery`] first so a pending `SIGKILL`
    /// still kills.
    pub fn take_waited(&mut self, thread: &mut ThreadSignals, set: SignalSet) -> Option<SigInfo> {
        let pick = |pending: &Pending| {
            let ready = pending.set.intersection(set);
            ready
                .intersection(SignalSet::SYNCHRONOUS)
                .lowest()
                .or_else(|| ready.lowest())
        };
        if let Some(signal) = pick(&thread.pending) {
            return Some(thread.pending.take(signal));
        }
        let signal = pick(&self.shared)?;
        Some(self.shared.take(signal))
    }

    /// True if children are reaped without `wait` (`SIGCHLD` at `SIG_IGN`,
    /// or `SA_NOCLDWAIT`): a dying child leaves no zombie.
    #[must_use]
    pub fn reaps_children(&self) -> bool {
        let action = self.actions.get(Signal::SIGCHLD);
        action.handler == Handler::Ignore || action.flags & sa::NOCLDWAIT != 0
    }

    /// False if `SIGCHLD` has `SA_NOCLDSTOP`: no `SIGCHLD` when a child
    /// stops or continues.
    #[must_use]
    pub fn wants_child_stops(&self) -> bool {
        self.actions.get(Signal::SIGCHLD).flags & sa::NOCLDSTOP == 0
    }

    /// Takes the next deliverable signal off `thread`'s or the process's
    /// pending set.
    fn dequeue(&mut self, thread: &mut ThreadSignals) -> Option<SigInfo> {
        let kill = Signal::SIGKILL;
        if thread.pending.set.contains(kill) {
            return Some(thread.pending.take(kill));
        }
        if self.shared.set.contains(kill) {
            return Some(self.shared.take(kill));
        }
        if let Some(signal) = thread.pending.next(thread.mask) {
            return Some(thread.pending.take(signal));
        }
        let signal = self.shared.next(thread.mask)?;
        Some(self.shared.take(signal))
    }
}
