//! Linux signal numbers and the 64-bit signal set.
//!
//! Owns [`Signal`] (a checked number `1..=64`, with the x86-64 names from
//! signal(7)) and [`SignalSet`], laid out as Linux's `sigset_t` on x86-64:
//! one `u64`, bit `n - 1` for signal `n` (so the wire value of a set is
//! [`SignalSet::bits`]). `SIGKILL` and `SIGSTOP` can be neither caught,
//! blocked nor ignored ([`Signal::is_catchable`],
//! [`SignalSet::UNBLOCKABLE`]).

/// A Linux signal number, `1..=64` (`_NSIG` is 64 on x86-64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(u8);

#[allow(missing_docs)] // Each constant is Linux's name (signal(7)).
impl Signal {
    pub const SIGHUP: Self = Self(1);
    pub const SIGINT: Self = Self(2);
    pub const SIGQUIT: Self = Self(3);
    pub const SIGILL: Self = Self(4);
    pub const SIGTRAP: Self = Self(5);
    pub const SIGABRT: Self = Self(6);
    pub const SIGBUS: Self = Self(7);
    pub const SIGFPE: Self = Self(8);
    pub const SIGKILL: Self = Self(9);
    pub const SIGUSR1: Self = Self(10);
    pub const SIGSEGV: Self = Self(11);
    pub const SIGUSR2: Self = Self(12);
    pub const SIGPIPE: Self = Self(13);
    pub const SIGALRM: Self = Self(14);
    pub const SIGTERM: Self = Self(15);
    pub const SIGSTKFLT: Self = Self(16);
    pub const SIGCHLD: Self = Self(17);
    pub const SIGCONT: Self = Self(18);
    pub const SIGSTOP: Self = Self(19);
    pub const SIGTSTP: Self = Self(20);
    pub const SIGTTIN: Self = Self(21);
    pub const SIGTTOU: Self = Self(22);
    pub const SIGURG: Self = Self(23);
    pub const SIGXCPU: Self = Self(24);
    pub const SIGXFSZ: Self = Self(25);
    pub const SIGVTALRM: Self = Self(26);
    pub const SIGPROF: Self = Self(27);
    pub const SIGWINCH: Self = Self(28);
    pub const SIGIO: Self = Self(29);
    pub const SIGPWR: Self = Self(30);
    pub const SIGSYS: Self = Self(31);
    /// The kernel's first real-time signal (libc reserves 32 and 33 and
    /// reports 34 as its `SIGRTMIN`).
    pub const SIGRTMIN: Self = Self(32);
    pub const SIGRTMAX: Self = Self(64);
}

/// The highest signal number (`_NSIG`).
pub const NSIG: u8 = 64;

impl Signal {
    /// The signal numbered `number`, if it is in `1..=64`.
    #[must_use]
    pub fn new(number: u64) -> Option<Self> {
        u8::try_from(number)
            .ok()
            .filter(|n| (1..=NSIG).contains(n))
            .map(Self)
    }

    /// Its number, `1..=64`.
    #[must_use]
    pub fn number(self) -> u8 {
        self.0
    }

    /// Its bit in a [`SignalSet`]: `1 << (number - 1)`.
    #[must_use]
    pub fn bit(self) -> u64 {
        1u64 << (self.0 - 1)
    }

    /// False for `SIGKILL` and `SIGSTOP`, whose action cannot be changed
    /// and which cannot be blocked.
    #[must_use]
    pub fn is_catchable(self) -> bool {
        self != Self::SIGKILL && self != Self::SIGSTOP
    }

    /// True for the real-time signals `32..=64`.
    #[must_use]
    pub fn is_realtime(self) -> bool {
        self.0 >= Self::SIGRTMIN.0
    }

    /// Every signal, `1..=64`, in order.
    pub fn all() -> impl Iterator<Item = Self> {
        (1..=NSIG).map(Self)
    }
}

/// A set of signals, as Linux's x86-64 `sigset_t`: bit `n - 1` is signal `n`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SignalSet(u64);

impl SignalSet {
    /// No signal.
    pub const EMPTY: Self = Self(0);
    /// Every signal.
    pub const FULL: Self = Self(u64::MAX);
    /// `SIGKILL` and `SIGSTOP`: never in a blocked mask or a handler mask.
    pub const UNBLOCKABLE: Self = Self((1 << 8) | (1 << 18));
    /// The stop signals (`SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`).
    pub const STOP: Self = Self((1 << 18) | (1 << 19) | (1 << 20) | (1 << 21));
    /// The synchronous signals a fault raises, delivered before other
    /// pending ones (Linux's `SYNCHRONOUS_MASK`: `SIGSEGV`, `SIGBUS`,
    /// `SIGILL`, `SIGTRAP`, `SIGFPE`, `SIGSYS`).
    pub const SYNCHRONOUS: Self =
        Self((1 << 10) | (1 << 6) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 30));

    /// The set whose wire value is `bits`.
    #[must_use]
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// Its wire value (what `rt_sigprocmask` reads and writes).
    #[must_use]
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The set holding just `signal`.
    #[must_use]
    pub fn of(signal: Signal) -> Self {
        Self(signal.bit())
    }

    /// True if `signal` is in the set.
    #[must_use]
    pub fn contains(self, signal: Signal) -> bool {
        self.0 & signal.bit() != 0
    }

    /// Adds `signal`.
    pub fn insert(&mut self, signal: Signal) {
        self.0 |= signal.bit();
    }

    /// Removes `signal`.
    pub fn remove(&mut self, signal: Signal) {
        self.0 &= !signal.bit();
    }

    /// The signals in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The signals in both sets.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The signals in `self` but not in `other`.
    #[must_use]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// True if the set holds no signal.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The lowest-numbered signal in the set.
    #[must_use]
    pub fn lowest(self) -> Option<Signal> {
        if self.0 == 0 {
            return None;
        }
        // trailing_zeros < 64 here, so the number is 1..=64.
        u8::try_from(self.0.trailing_zeros() + 1).ok().map(Signal)
    }

    /// The set as a mask may hold it: without `SIGKILL` and `SIGSTOP`.
    #[must_use]
    pub const fn blockable(self) -> Self {
        self.difference(Self::UNBLOCKABLE)
    }

    /// The signals in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = Signal> {
        Signal::all().filter(move |&s| self.contains(s))
    }
}

impl FromIterator<Signal> for SignalSet {
    fn from_iter<I: IntoIterator<Item = Signal>>(iter: I) -> Self {
        let mut set = Self::EMPTY;
        for signal in iter {
            set.insert(signal);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_bits_match_linux() {
        assert_eq!(Signal::new(0), None);
        assert_eq!(Signal::new(65), None);
        assert_eq!(Signal::new(1), Some(Signal::SIGHUP));
        assert_eq!(Signal::new(64), Some(Signal::SIGRTMAX));
        assert_eq!(Signal::SIGHUP.bit(), 1);
        assert_eq!(Signal::SIGRTMAX.bit(), 1 << 63);
        // glibc's sigset word: sigaddset(&s, SIGINT) sets bit 1.
        assert_eq!(SignalSet::of(Signal::SIGINT).bits(), 2);
        let unblockable: SignalSet = [Signal::SIGKILL, Signal::SIGSTOP].into_iter().collect();
        assert_eq!(unblockable, SignalSet::UNBLOCKABLE);
        let stops: SignalSet = [
            Signal::SIGSTOP,
            Signal::SIGTSTP,
            Signal::SIGTTIN,
            Signal::SIGTTOU,
        ]
        .into_iter()
        .collect();
        assert_eq!(stops, SignalSet::STOP);
        let sync: SignalSet = [
            Signal::SIGSEGV,
            Signal::SIGBUS,
            Signal::SIGILL,
            Signal::SIGTRAP,
            Signal::SIGFPE,
            Signal::SIGSYS,
        ]
        .into_iter()
        .collect();
        assert_eq!(sync, SignalSet::SYNCHRONOUS);
    }

    #[test]
    fn lowest_and_iter() {
        assert_eq!(SignalSet::EMPTY.lowest(), None);
        assert_eq!(SignalSet::FULL.lowest(), Some(Signal::SIGHUP));
        assert_eq!(
            SignalSet::from_bits(1 << 63).lowest(),
            Some(Signal::SIGRTMAX)
        );
        assert_eq!(SignalSet::FULL.iter().count(), 64);
        assert!(!SignalSet::FULL.blockable().contains(Signal::SIGKILL));
        assert!(!SignalSet::FULL.blockable().contains(Signal::SIGSTOP));
        assert!(SignalSet::FULL.blockable().contains(Signal::SIGTSTP));
    }
}
