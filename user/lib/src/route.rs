//! Which kernel path a call takes: the caller's routine table (a
//! synthesized routine where the kernel made one) or the generic path.
//!
//! Owns the process-wide switch [`set_generic_mode`] / [`generic_mode`],
//! which [`crate::raw`] ORs into every call word, and the per-object
//! `Route` that [`Sio::generic`](crate::Sio::generic) and
//! [`Sio::open_generic`](crate::Sio::open_generic) set. Both work by setting
//! [`CallWord::FORCE_GENERIC`] (bit 63 of `rax`); the kernel clears the bit
//! before decoding, so it never changes which call is made, only how.
//! Results must be the same on both paths (the generic path is the spec):
//! this is how a program compares them, and how a raw caller forces one
//! call (`word | CallWord::FORCE_GENERIC`).

use core::sync::atomic::{AtomicU64, Ordering};

use sk_abi::CallWord;

/// Bits every call word gets: 0, or [`CallWord::FORCE_GENERIC`] while the
/// process-wide generic mode is on.
static PROCESS_BITS: AtomicU64 = AtomicU64::new(0);

/// Sends every later call of this program, from every thread, down the
/// kernel's generic path (`true`), or lets calls take the synthesized
/// routines again (`false`).
///
/// Set it before starting threads: it is a relaxed flag, read by every
/// call (one load and one OR next to a `syscall`).
pub fn set_generic_mode(is_on: bool) {
    let bits = if is_on { CallWord::FORCE_GENERIC } else { 0 };
    PROCESS_BITS.store(bits, Ordering::Relaxed);
}

/// Whether [`set_generic_mode`] is on.
#[must_use]
pub fn generic_mode() -> bool {
    process_bits() != 0
}

/// What [`crate::raw`] ORs into every call word.
#[inline(always)]
pub(crate) fn process_bits() -> u64 {
    PROCESS_BITS.load(Ordering::Relaxed)
}

/// The path one object's calls take (on top of the process-wide mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    /// The calling thread's routine table: a synthesized routine if the
    /// kernel made one for this object and thread, else the generic path.
    #[default]
    Table,
    /// Always the generic path ([`CallWord::FORCE_GENERIC`]).
    Generic,
}

impl Route {
    /// The bits to OR into a call word.
    pub(crate) const fn bits(self) -> u64 {
        match self {
            Self::Table => 0,
            Self::Generic => CallWord::FORCE_GENERIC,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_sets_and_clears_bit_63() {
        assert!(!generic_mode());
        set_generic_mode(true);
        assert_eq!(process_bits(), 1 << 63);
        assert!(generic_mode());
        set_generic_mode(false);
        assert_eq!(process_bits(), 0);
        assert!(!generic_mode());
    }

    #[test]
    fn routes_map_to_the_force_bit() {
        assert_eq!(Route::default(), Route::Table);
        assert_eq!(Route::Table.bits(), 0);
        assert_eq!(Route::Generic.bits(), CallWord::FORCE_GENERIC);
        // The bit never reaches the handle or call fields.
        let word = sk_abi::CallWord::new(sk_abi::Handle::new(u32::MAX), sk_abi::Call::Read);
        assert_eq!(
            (word.get() | Route::Generic.bits()) & !(1 << 63),
            word.get()
        );
    }
}
