//! A chain of prefix views folded into one routine: the prefixes of every
//! level as one string, the levels' line-state cells, the tty's ports.
//!
//! Owns [`LevelPrefix`], [`PrefixedChain`], [`fold`] and the holes of
//! `tty_write_prefixed` ([`prefixed_write`]). The rule a chain follows is
//! `sk_sio::splice` (before a line's first byte, every level at a line's
//! start writes its prefix, the tty's nearest first; after a `'\n'` every
//! level is at a line's start). When every level is in the same line
//! state, which a write through the chain leaves them in, that rule puts
//! out either nothing or every prefix in order: one string, folded here
//! once, baked into the routine as immediates. The routine checks that
//! the states agree on every call and sends the call generic when they do
//! not (`templates/tty_prefixed.rs`); `tests/prefix_chain.rs` runs it
//! against `splice` on random chains, states and input.
//!
//! What a fold depends on is all in [`PrefixedChain`], so the usual rule
//! replugs it: a revoked or closed level, a tty mode change, a level's
//! cell (a different chain) give another plan.

use super::{Env, RoutineSpec, ViewBase, ViewLevel};
use crate::templates::TtyWritePrefixedHoles;
use crate::{Imm32, Imm64};

/// Line-state cells the routine checks and stores: chains of at most this
/// many levels are folded (deeper ones stay generic).
pub const LINE_STATE_CELLS: usize = 4;

/// Most bytes of a folded prefix (`sk_sio::MAX_CHAIN_PREFIX_BYTES`: the
/// kernel refuses a longer chain).
pub const MAX_FOLDED_PREFIX: usize = 64;

/// Most prefix bytes one synthesized call may put out (the routine's
/// `max_newlines` comes from it): with the cooked tty's two bytes per
/// input byte, a call of `TTY_CHUNK_BYTES` puts out at most 128 + this
/// with interrupts masked.
pub const PREFIX_OUTPUT_BUDGET: u32 = 128;

/// One level's prefix (1 to 32 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LevelPrefix {
    /// Its bytes, the first `len` used.
    pub bytes: [u8; 32],
    /// How many.
    pub len: u8,
}

impl LevelPrefix {
    /// The prefix `bytes` (`None`: empty or longer than 32).
    #[must_use]
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|n| (1..=32).contains(n))?;
        let mut out = [0; 32];
        out.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Self { bytes: out, len })
    }

    /// Its bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// A chain of prefix views over the cooked tty, folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrefixedChain {
    /// Every level's prefix, the tty's nearest first.
    pub prefix: [u8; MAX_FOLDED_PREFIX],
    /// Bytes of `prefix` used (at least 1).
    pub len: u8,
    /// The levels' line-state cells, the view called first; a shorter
    /// chain repeats the first.
    pub cells: [u64; LINE_STATE_CELLS],
    /// Levels folded.
    pub depth: u32,
    /// The UART's transmit port.
    pub data_port: u16,
    /// Its line status port.
    pub status_port: u16,
}

impl PrefixedChain {
    /// The folded prefix.
    #[must_use]
    pub fn prefix_bytes(&self) -> &[u8] {
        self.prefix.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Most `'\n'` one synthesized call may carry: the prefix is put at
    /// most once per line, so `(newlines + 1) * len` stays within
    /// [`PREFIX_OUTPUT_BUDGET`] (at least one prefix: 0 newlines).
    #[must_use]
    pub fn max_newlines(&self) -> u32 {
        (PREFIX_OUTPUT_BUDGET / u32::from(self.len.max(1))).saturating_sub(1)
    }
}

/// Folds `levels` (the view called first, each with its prefix and cell)
/// over `base`: `Some` for a chain of 1 to [`LINE_STATE_CELLS`] prefix
/// levels, at most [`MAX_FOLDED_PREFIX`] bytes, over the tty in cooked
/// mode; `None` otherwise (a raw tty, a deeper chain, a level without a
/// prefix or a cell: the generic path).
#[must_use]
pub fn fold(base: &ViewBase, levels: &[ViewLevel]) -> Option<PrefixedChain> {
    let ViewBase::Tty {
        is_raw: false,
        data_port,
        status_port,
    } = *base
    else {
        return None;
    };
    if levels.is_empty() || levels.len() > LINE_STATE_CELLS {
        return None;
    }
    let first_cell = levels.first()?.line_state_cell;
    let mut chain = PrefixedChain {
        prefix: [0; MAX_FOLDED_PREFIX],
        len: 0,
        cells: [first_cell; LINE_STATE_CELLS],
        depth: u32::try_from(levels.len()).ok()?,
        data_port,
        status_port,
    };
    let mut used = 0usize;
    // The tty's nearest level first: the last of `levels`.
    for level in levels.iter().rev() {
        let prefix = level.prefix?;
        let bytes = prefix.as_bytes();
        let end = used.checked_add(bytes.len())?;
        chain.prefix.get_mut(used..end)?.copy_from_slice(bytes);
        used = end;
    }
    for (cell, level) in chain.cells.iter_mut().zip(levels) {
        if level.line_state_cell == 0 {
            return None;
        }
        *cell = level.line_state_cell;
    }
    chain.len = u8::try_from(used).ok().filter(|n| *n > 0)?;
    Some(chain)
}

/// `tty_write_prefixed` for `chain` in `env` (`None` if a value does not
/// fit its hole).
#[must_use]
pub fn prefixed_write(chain: &PrefixedChain, env: &Env) -> Option<RoutineSpec> {
    let word = |k: usize| -> Imm64 {
        let mut bytes = [0u8; 8];
        if let Some(part) = chain.prefix.get(8 * k..8 * k + 8) {
            bytes.copy_from_slice(part);
        }
        Imm64(u64::from_le_bytes(bytes))
    };
    let [c0, c1, c2, c3] = chain.cells.map(Imm64);
    Some(RoutineSpec::TtyWritePrefixed(TtyWritePrefixedHoles {
        bad_address: Imm32(env.bad_address),
        max_len: Imm32(i32::try_from(env.max_console_bytes).ok()?),
        max_newlines: Imm32(i32::try_from(chain.max_newlines()).ok()?),
        slow_path: Imm64(env.slow_path),
        prefix_len: Imm32(i32::from(chain.len)),
        prefix_0: word(0),
        prefix_1: word(1),
        prefix_2: word(2),
        prefix_3: word(3),
        prefix_4: word(4),
        prefix_5: word(5),
        prefix_6: word(6),
        prefix_7: word(7),
        line_state_0: c0,
        line_state_1: c1,
        line_state_2: c2,
        line_state_3: c3,
        data_port: Imm32(i32::from(chain.data_port)),
        line_status_port: Imm32(i32::from(chain.status_port)),
    }))
}
