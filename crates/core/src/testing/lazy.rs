//! Lazy synthesis in tests: another `synth.lazy` mode for a while, and the
//! injected fault that makes the count never trigger synthesis (split from
//! `testing.rs`).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use sk_synth::policy::LazyMode;

/// The mode a test set (`NONE`: the boot option's).
static MODE: AtomicU64 = AtomicU64::new(NONE);
const NONE: u64 = u64::MAX;
const OFF: u64 = 1 << 32;
const AUTO: u64 = 2 << 32;

/// Set: a replan records nothing as pending, so the `K`-th generic call
/// never triggers synthesis (the injected fault).
static NEVER: AtomicBool = AtomicBool::new(false);

/// Plans from now on use `mode` (`None`: the boot option's again). SIOs
/// already open keep their counts and what they installed. For in-kernel
/// tests only.
pub fn set_lazy_mode(mode: Option<LazyMode>) {
    let word = match mode {
        None => NONE,
        Some(LazyMode::Off) => OFF,
        Some(LazyMode::Auto) => AUTO,
        Some(LazyMode::Fixed(k)) => u64::from(k),
    };
    MODE.store(word, Ordering::SeqCst);
}

/// The mode a test set, if any.
pub(crate) fn lazy_mode_override() -> Option<LazyMode> {
    match MODE.load(Ordering::Relaxed) {
        NONE => None,
        OFF => Some(LazyMode::Off),
        AUTO => Some(LazyMode::Auto),
        k => u32::try_from(k).ok().map(LazyMode::Fixed),
    }
}

/// The `K` the current mode gives routines of `kind` (what a test waits for).
pub fn lazy_threshold(kind: sk_synth::policy::RoutineKind) -> u32 {
    crate::synthesis::lazy().threshold(kind)
}

/// Injects (`true`) or removes the fault: the generic-call count never
/// triggers synthesis. For in-kernel tests only.
pub fn inject_lazy_never(on: bool) {
    NEVER.store(on, Ordering::SeqCst);
}

/// True while the fault is injected.
pub(crate) fn lazy_fault_never() -> bool {
    NEVER.load(Ordering::Relaxed)
}

/// Eager synthesis (as `synth.lazy=off`) while it lives, for the tests
/// whose subject is a routine as synthesized at open (its replug rules,
/// its registers, its instruction count), not when it is made; the mode
/// before comes back when it is dropped.
#[must_use]
pub struct EagerSynthesis(Option<LazyMode>);

impl EagerSynthesis {
    /// Plans are eager from now on.
    pub fn new() -> Self {
        let before = lazy_mode_override();
        set_lazy_mode(Some(LazyMode::Off));
        Self(before)
    }
}

impl Default for EagerSynthesis {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for EagerSynthesis {
    fn drop(&mut self) {
        set_lazy_mode(self.0);
    }
}
