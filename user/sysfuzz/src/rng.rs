//! The fuzzer's random numbers: SplitMix64, and seeds derived from seeds.
//!
//! Owns [`SplitMix64`]. Every SCPU and every child SMACH gets its own
//! generator, forked from its parent's seed with [`derive_seed`], so what
//! each one draws depends only on the run's seed and its own position in
//! the run.

/// SplitMix64 (Steele, Lea, Flood 2014): one add and a mix per number;
/// every seed, 0 included, gives a full-period sequence.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

/// The SplitMix64 output function: a good 64-bit mixer.
#[must_use]
pub const fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seed for child number `index` of a generator seeded with `seed`
/// (different `index`, unrelated sequences).
#[must_use]
pub const fn derive_seed(seed: u64, index: u64) -> u64 {
    mix(seed ^ mix(index.wrapping_add(0x5eed)))
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// A number in `0..bound` (0 if `bound` is 0). The modulo bias is
    /// irrelevant here.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64().checked_rem(bound).unwrap_or(0)
    }

    /// A number in `0..bound` as a `u32` (0 if `bound` is 0).
    pub fn below_u32(&mut self, bound: u32) -> u32 {
        u32::try_from(self.below(u64::from(bound))).unwrap_or(0)
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        let [byte, ..] = self.next_u64().to_le_bytes();
        byte
    }

    /// A number in `low..=high` (`low` if `high < low`).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        let span = high.saturating_sub(low).saturating_add(1);
        low.saturating_add(self.below(span))
    }

    /// An index below `len` (0 if `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    /// One of `choices` (0 if empty).
    pub fn pick(&mut self, choices: &[u64]) -> u64 {
        choices.get(self.index(choices.len())).copied().unwrap_or(0)
    }

    /// One of `choices` as a `u32` (0 if empty).
    pub fn pick_u32(&mut self, choices: &[u32]) -> u32 {
        choices.get(self.index(choices.len())).copied().unwrap_or(0)
    }

    /// True with probability `percent / 100`.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A new generator for child `index` (does not advance this one).
    #[must_use]
    pub const fn fork(&self, index: u64) -> Self {
        Self::new(derive_seed(self.state, index))
    }
}
