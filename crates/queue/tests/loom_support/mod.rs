//! What the loom tests share: an exploration counter and the kernel's two
//! sleep primitives as loom sees them.
//!
//! Every thread sleeps on its own [`Sleeper`], a token guarded by a loom
//! mutex and condition variable: a wake that comes before the sleep is kept
//! (as the kernel's sleep must keep it), and if a wake-up were lost, every
//! thread would end up waiting and loom reports a deadlock. (`loom`'s own
//! `park`/`unpark` would do, but an `unpark` reaching a thread blocked in
//! `join` trips an assertion inside loom 0.7, and the protocols do send
//! such stray wakes by design.) Several sleepers behind one waiting bit go
//! on a [`WaitList`] before they announce; a wake wakes everyone on it.

#![allow(dead_code)]

use loom::sync::{Arc, Condvar, Mutex};
use sk_queue::Wake;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `body` under loom in every interleaving (bounded by
/// `preemption_bound` unless `LOOM_MAX_PREEMPTIONS` is set) and prints
/// how many executions it explored.
pub(crate) fn explore(
    name: &str,
    preemption_bound: Option<usize>,
    body: impl Fn() + Sync + Send + 'static,
) {
    let executions = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&executions);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = preemption_bound;
    }
    let bound = builder.preemption_bound;
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        body();
    });
    println!(
        "loom: {name}: {} executions explored (preemption bound {bound:?})",
        executions.load(Ordering::Relaxed)
    );
}

/// One thread's sleep: a wake token.
#[derive(Default)]
pub(crate) struct Sleeper {
    token: Mutex<bool>,
    woken: Condvar,
}

impl Sleeper {
    /// A new sleeper, shareable with the threads that wake it.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Sleeps until the token is there (returns at once if it already
    /// is), and takes it.
    pub(crate) fn sleep(&self) {
        let mut token = self.token.lock().unwrap();
        while !*token {
            token = self.woken.wait(token).unwrap();
        }
        *token = false;
    }

    /// Leaves the token and wakes the sleeper if it sleeps.
    pub(crate) fn wake(&self) {
        *self.token.lock().unwrap() = true;
        self.woken.notify_one();
    }
}

/// Delivers a wake owed to one sleeper; `expected` is the only side this
/// operation may wake.
pub(crate) fn deliver(wake: Wake, expected: Wake, sleeper: &Sleeper) {
    if wake != Wake::Nobody {
        assert_eq!(wake, expected, "an operation woke the wrong side");
        sleeper.wake();
    }
}

/// The sleepers behind one waiting bit that stands for several threads.
#[derive(Default)]
pub(crate) struct WaitList(Mutex<Vec<Arc<Sleeper>>>);

impl WaitList {
    /// Puts `sleeper` on the list (before its thread announces).
    pub(crate) fn register(&self, sleeper: &Arc<Sleeper>) {
        let mut list = self.0.lock().unwrap();
        if !list.iter().any(|s| Arc::ptr_eq(s, sleeper)) {
            list.push(Arc::clone(sleeper));
        }
    }

    /// Takes `sleeper` off the list (its operation went through).
    pub(crate) fn deregister(&self, sleeper: &Arc<Sleeper>) {
        self.0.lock().unwrap().retain(|s| !Arc::ptr_eq(s, sleeper));
    }

    /// Wakes everyone on the list and empties it.
    pub(crate) fn wake_all(&self) {
        let sleepers: Vec<Arc<Sleeper>> = self.0.lock().unwrap().drain(..).collect();
        for sleeper in sleepers {
            sleeper.wake();
        }
    }
}
