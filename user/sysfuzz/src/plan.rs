//! The start argument: which part of the fuzzer a program instance plays,
//! its seed and its call budget.
//!
//! Owns [`Mode`] and [`Plan`]. Layout of the 64-bit argument:
//!
//! | bits | field |
//! |---|---|
//! | 0..24 | seed |
//! | 24..31 | [`Mode`] |
//! | 31 | reserved: must be 0 (a set bit makes [`Plan::from_arg`] refuse the argument) |
//! | 32..64 | calls (0: the mode's default) |
//!
//! So `sysfuzz 1` is the main fuzzer with seed 1 and the default budget,
//! and `(n << 32) | seed` keeps the meaning the earlier fuzzer gave it (n
//! calls from the main fuzzer).

/// Mask of the seed field.
pub const SEED_MASK: u64 = 0x00ff_ffff;

/// The main fuzzer's default budget: calls made in all, over every SCPU and
/// SMACH of the run.
pub const DEFAULT_CALLS: u64 = 1_000_000;

/// What one `sysfuzz` instance does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The top of a run: fuzzes alone, then with worker SCPUs, child
    /// SMACHs, victims and hostile entries, then under memory pressure;
    /// prints the table; exit status 0 only if every check passed.
    Main,
    /// A child fuzzer: alone, then with a worker SCPU; writes its
    /// statistics to `/tmp/sysfuzz-stats-<seed>`; status 0 or 1.
    Child,
    /// A victim: opens objects, starts a grandchild and waits for it, then
    /// makes long calls forever, until its parent kills it.
    Victim,
    /// Exits at once with the status in the seed's low byte (a cheap child
    /// for SMACH create, wait and kill).
    Echo,
}

impl Mode {
    /// The number in the start argument.
    #[must_use]
    pub const fn number(self) -> u64 {
        match self {
            Self::Main => 0,
            Self::Child => 1,
            Self::Victim => 2,
            Self::Echo => 3,
        }
    }

    /// The mode with this number.
    #[must_use]
    pub const fn from_number(number: u64) -> Option<Self> {
        match number {
            0 => Some(Self::Main),
            1 => Some(Self::Child),
            2 => Some(Self::Victim),
            3 => Some(Self::Echo),
            _ => None,
        }
    }
}

/// A decoded start argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// What to do.
    pub mode: Mode,
    /// The seed (24 bits).
    pub seed: u64,
    /// The call budget (see [`Mode`]); never 0 after [`Plan::from_arg`].
    pub calls: u64,
}

/// The reserved bit of the start argument (bit 31; it was a "strict" bit
/// while the fuzzer excused kernel bugs it knew: refused now rather than
/// silently ignored).
pub const RESERVED_BIT: u64 = 1 << 31;

impl Plan {
    /// Decodes a start argument; `None` for an unknown mode or the
    /// reserved bit set.
    #[must_use]
    pub const fn from_arg(arg: u64) -> Option<Self> {
        if arg & RESERVED_BIT != 0 {
            return None;
        }
        let Some(mode) = Mode::from_number((arg >> 24) & 0x7f) else {
            return None;
        };
        let calls = match arg >> 32 {
            0 => DEFAULT_CALLS,
            calls => calls,
        };
        Some(Self {
            mode,
            seed: arg & SEED_MASK,
            calls,
        })
    }

    /// The start argument for this plan (the seed cut to 24 bits, the
    /// calls to 32).
    #[must_use]
    pub const fn to_arg(self) -> u64 {
        let calls = if self.calls > 0xffff_ffff {
            0xffff_ffff
        } else {
            self.calls
        };
        (calls << 32) | (self.mode.number() << 24) | (self.seed & SEED_MASK)
    }
}
