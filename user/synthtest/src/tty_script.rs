//! The tty output differential's script: which writes it makes, in which
//! console mode, and the bytes each must put on the wire.
//!
//! Owns [`TtyOp`], [`TtyScript`] (the seeded sequence), [`TEXT`] (what
//! good writes write: letters, digits, blanks and many newlines, so the
//! cooked mode's `ONLCR` has work), [`arena_byte`] (what the arena holds,
//! so a write straddling its end has known bytes before the fault), and
//! [`TtyOp::sent`] (the bytes a write hands to the line discipline, before
//! output processing). `synthtest` part 8 runs one script on a normal
//! `/dev/tty` handle (A: the synthesized `tty_write_cooked`/`tty_write`)
//! and again on a `FORCE_GENERIC` one (B: line discipline, then UART);
//! the host (`xtask`'s tty output check) regenerates the script from the
//! seed printed in the begin marker, runs [`TtyOp::sent`] through the line
//! discipline (`sk_tty`, the rule itself) and compares the serial port's
//! bytes of both runs with that, byte for byte.
//!
//! The alphabet has no `[` and no `:`, so no run of it looks like a test
//! driver's line (`test [..`, `ktest: ..`, `kernel panic: ..`).

use core::fmt;

use sk_abi::SysError;

use crate::{mix, SplitMix64, ARENA_LEN};

/// The runs of one script, in order, by label: the console through its
/// synthesized routine and the generic path, then a pipe whose reader is
/// the console (`program | tty`) the same two ways. The program makes
/// them; the host checks that each one ran.
pub const RUNS: [(char, &str); 4] = [
    ('A', "/dev/tty, synthesized"),
    ('B', "/dev/tty, generic"),
    ('C', "pipe | tty, synthesized"),
    ('D', "pipe | tty, generic"),
];

/// Bytes of [`TEXT`].
pub const TEXT_LEN: usize = 4096;

/// The longest write the script makes (past the routine's 64-byte limit,
/// so A's call goes to the generic path from inside the routine).
pub const LONGEST: usize = 200;

/// What good writes write, fixed at build time.
pub static TEXT: [u8; TEXT_LEN] = text();

/// Bytes of [`ALPHABET`].
const ALPHABET_LEN: u8 = 48;

/// The alphabet: one newline in eight draws, some tabs and carriage
/// returns, the rest letters, digits and spaces.
const ALPHABET: &[u8; ALPHABET_LEN as usize] =
    b"\n\n\n\n\n\n\tabcdefghijklmnopqrstuvwxyz0123456789  \r.-";

const fn text() -> [u8; TEXT_LEN] {
    let mut bytes = [0_u8; TEXT_LEN];
    let mut index = 0;
    while index < TEXT_LEN {
        let [random, ..] = mix(index as u64 ^ 0x7e57).to_le_bytes();
        bytes[index] = ALPHABET[(random % ALPHABET_LEN) as usize];
        index += 1;
    }
    bytes
}

/// Byte `offset` of the arena: [`TEXT`] repeated.
#[must_use]
pub fn arena_byte(offset: u64) -> u8 {
    let at = usize::try_from(offset % TEXT_LEN as u64).unwrap_or(0);
    TEXT.get(at).copied().unwrap_or(b'.')
}

/// One step of the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtyOp {
    /// `write` of `len` bytes of [`TEXT`] from `src`.
    Write {
        /// Offset in [`TEXT`] (`src + len <= TEXT_LEN`).
        src: usize,
        /// Bytes.
        len: usize,
    },
    /// `write` of `len` bytes whose first `inside` are the arena's last:
    /// the rest is unmapped, so the call faults after `inside` bytes.
    Straddle {
        /// Mapped bytes (`0..len`).
        inside: usize,
        /// Bytes asked for (at most 64: one piece on either path).
        len: usize,
    },
    /// `write` of `len` bytes from a kernel-half address: nothing goes out.
    Kernel {
        /// Bytes asked for.
        len: usize,
    },
    /// The console's mode: raw (`true`) or cooked.
    Mode {
        /// Raw.
        raw: bool,
    },
}

impl TtyOp {
    /// What the call must return.
    pub const fn result(self) -> Result<usize, SysError> {
        match self {
            Self::Write { len, .. } => Ok(len),
            Self::Straddle { .. } | Self::Kernel { .. } => Err(SysError::BadAddress),
            Self::Mode { .. } => Ok(0),
        }
    }

    /// Hands the bytes the call passes to the line discipline to `out`
    /// (a straddling write's mapped prefix; nothing for a kernel address).
    pub fn sent(self, out: &mut impl FnMut(&[u8])) {
        match self {
            Self::Write { src, len } => {
                out(TEXT.get(src..src.saturating_add(len)).unwrap_or_default());
            }
            Self::Straddle { inside, .. } => {
                let start = ARENA_LEN.saturating_sub(inside as u64);
                for offset in start..ARENA_LEN {
                    out(&[arena_byte(offset)]);
                }
            }
            Self::Kernel { .. } | Self::Mode { .. } => {}
        }
    }
}

impl fmt::Display for TtyOp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Write { src, len } => write!(formatter, "write {len} bytes of TEXT at {src}"),
            Self::Straddle { inside, len } => {
                write!(
                    formatter,
                    "write {len} bytes, {inside} before the arena's end"
                )
            }
            Self::Kernel { len } => write!(formatter, "write {len} bytes from a kernel address"),
            Self::Mode { raw: true } => formatter.write_str("mode raw"),
            Self::Mode { raw: false } => formatter.write_str("mode cooked"),
        }
    }
}

/// The seeded sequence of [`TtyOp`]s; every run of one seed draws the same.
#[derive(Clone, Debug)]
pub struct TtyScript {
    rng: SplitMix64,
}

impl TtyScript {
    /// The script of `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed ^ 0x7777),
        }
    }

    /// A good write of `len` bytes from a random place in [`TEXT`].
    fn write(&mut self, len: usize) -> TtyOp {
        let src = self
            .rng
            .below_usize(TEXT_LEN.saturating_sub(len).saturating_add(1));
        TtyOp::Write { src, len }
    }

    /// The next step: mostly 1–8 byte writes (the routine's own path),
    /// some empty, some 9–64, a few longer than the routine takes, 2%
    /// straddling the arena's end, 0.5% from a kernel address, 0.5% a mode
    /// change (which replugs A's routine).
    pub fn next_op(&mut self) -> TtyOp {
        let roll = self.rng.below(1000);
        match roll {
            0..=49 => self.write(0),
            50..=799 => {
                let len = self.rng.below_usize(8).saturating_add(1);
                self.write(len)
            }
            800..=939 => {
                let len = self.rng.below_usize(56).saturating_add(9);
                self.write(len)
            }
            940..=969 => {
                let len = self.rng.below_usize(LONGEST - 64).saturating_add(65);
                self.write(len)
            }
            970..=989 => {
                let len = self.rng.below_usize(64).saturating_add(1);
                let inside = self.rng.below_usize(len);
                TtyOp::Straddle { inside, len }
            }
            990..=994 => TtyOp::Kernel {
                len: self.rng.below_usize(16).saturating_add(1),
            },
            _ => TtyOp::Mode {
                raw: self.rng.percent(50),
            },
        }
    }
}
