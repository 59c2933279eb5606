//! Faults the in-kernel tests inject so each safety net (the leak check,
//! the code cache's release, the revoke's replug) can be seen to catch
//! them, and the code cache's counts the leak check reads.

/// Bytes each generic write leaks (the leak check's self-check; 0: none).
pub(crate) static LEAK_PER_WRITE: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0);

/// Makes every generic write leak `bytes` of kernel heap from now on (0
/// stops it): a fault injected so the kernel's leak check can be seen to
/// fail. For in-kernel tests only.
pub fn inject_leak_per_write(bytes: usize) {
    LEAK_PER_WRITE.store(bytes, core::sync::atomic::Ordering::SeqCst);
}

/// Retires every idle routine of the code cache (cached, no user): the
/// leak check's baseline and check both start from none. For in-kernel
/// tests only.
pub fn flush_code_cache() {
    crate::code_memory::flush_idle_routines();
}

/// The code cache's (routines with users, idle routines). For in-kernel
/// tests only.
pub fn code_cache_counts() -> (usize, usize) {
    crate::code_memory::cache_counts()
}

/// While `on`, a retired SIO routine's cache hold is dropped without
/// releasing it (its user count never comes down): a fault injected so
/// the leak check can be seen to catch it. For in-kernel tests only.
pub fn inject_lost_cache_release(on: bool) {
    crate::code_memory::INJECT_LOST_RELEASE.store(on, core::sync::atomic::Ordering::SeqCst);
}

/// Leaks what [`inject_leak_per_write`] asked for.
pub(crate) fn leak_if_injected() {
    let n = LEAK_PER_WRITE.load(core::sync::atomic::Ordering::Relaxed);
    if n > 0 {
        core::mem::forget(alloc::vec![0u8; n]);
    }
}

/// Set: a revoke marks holders revoked (the generic path refuses them) but
/// leaves their slots as they were (the replug removed): a fault injected
/// so the revocation race test can be seen to fail.
pub(crate) static SKIP_REVOKE_REPLUG: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Turns the revoke's replug of holders' slots off (`true`) or back on.
/// For in-kernel tests only.
pub fn inject_skip_revoke_replug(on: bool) {
    SKIP_REVOKE_REPLUG.store(on, core::sync::atomic::Ordering::SeqCst);
}

/// Set: every reservation a revoke makes fails, as with the heap full
/// (`share::revoke_holders`): a fault injected so a revoke under a full
/// heap can be seen to still replug every holder.
pub(crate) static FAIL_REVOKE_RESERVE: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Makes the revoke's reservations fail (`true`) or work again. For
/// in-kernel tests only.
pub fn inject_revoke_reserve_failure(on: bool) {
    FAIL_REVOKE_RESERVE.store(on, core::sync::atomic::Ordering::SeqCst);
}

/// Set: a new view is left out of the views' dependency index (so no
/// event on its base replans it): a fault injected so the invalidation
/// test can be seen to fail with the index wrong.
pub(crate) static SKIP_VIEW_INDEX: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Leaves new views out of the dependency index (`true`) or not. For
/// in-kernel tests only.
pub fn inject_unindexed_views(on: bool) {
    SKIP_VIEW_INDEX.store(on, core::sync::atomic::Ordering::SeqCst);
}

/// Set: the Linux personality resolves names as if no SMACH had a root
/// (`linux_dirs`): a fault injected so the root's confinement test can be
/// seen to catch a Linux program reaching outside its root.
pub(crate) static UNCONFINED_LINUX_NAMES: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Turns the Linux names' confinement off (`true`) or back on. For
/// in-kernel tests only.
pub fn inject_unconfined_linux_names(on: bool) {
    UNCONFINED_LINUX_NAMES.store(on, core::sync::atomic::Ordering::SeqCst);
}
