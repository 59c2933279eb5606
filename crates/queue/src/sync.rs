//! The atomics every queue uses, from `core` normally and from `loom` under
//! `--cfg loom`.
//!
//! Owns nothing but names: the queue code says `sync::AtomicU64`, and the
//! model-checking build swaps in loom's instrumented types (and its `Arc`,
//! `fence` and spin hint) so that the very same protocol code is explored
//! by `loom`. Without loom the types are `core`'s and `Arc` is `alloc`'s.

#[cfg(not(loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU64, AtomicU8, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, AtomicU8, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

/// What a thread does while it waits for another CPU to finish a step it
/// has already begun (only the multi-writer ring spins): a `pause` on the
/// machine, a yield to the model checker under loom (loom needs every spin
/// loop to yield, or it explores it forever).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(not(loom))]
    core::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}
