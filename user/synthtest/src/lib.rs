//! The pure parts of `synthtest`: its start argument, random generator,
//! the operations of the differential test and how they are drawn, and the
//! byte patterns it checks. No system calls here, so all of it is tested on
//! the host (`cargo test -p sk-user-synthtest`); `main.rs` and its modules
//! issue what [`OpGen`] draws, on two SIOs at once.
//!
//! # The differential test
//!
//! For each [`DiffKind`], two SIOs of that kind: A through normal calls
//! (the synthesized routines) and B with `FORCE_GENERIC` on every call.
//! Each [`Op`] is applied to both and the results must be identical:
//!
//! - [`Op::Read`]: lengths 0, 1, 2–64 or 0–4096; 5% into a bad buffer
//!   ([`Buf`]: null, kernel half, non-canonical, straddling the end of the
//!   mapped arena, unmapped past it).
//! - [`Op::Write`]: the same lengths from [`SOURCE`] (the tty: rarely, 1–3
//!   bytes of `.`; mostly 0 bytes), 5% from a bad buffer.
//! - [`Op::Seek`]: Set, Current or End to a target near the data (files:
//!   up to [`SEEK_SLACK`] past the end; `/dev/mem`: near its start, its end,
//!   or anywhere), 5% to a negative position, 3% an overflowing one.
//! - [`Op::Truncate`] (files): another open with `TRUNCATE`, on both; also
//!   forced whenever a file passes [`FILE_LIMIT`], to keep files small.
//! - [`Op::Reopen`]: close both and open both again, with flags drawn from
//!   the kind's choices (files: also read-only, write-only, append).
//! - [`Op::Share`]: once per run, at [`OpGen::share_at`]: a second SCPU
//!   uses both handles once.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

use sk_abi::{OpenFlags, Whence, PAGE_SIZE};

pub mod tty_script;

/// Operations per kind when the start argument does not say.
pub const DEFAULT_OPS: u64 = 100_000;

/// The seed when the start argument does not say.
pub const DEFAULT_SEED: u64 = 0x0057_17e5;

/// Largest read or write, in bytes.
pub const MAX_IO: usize = 4096;

/// Bytes of [`SOURCE`].
pub const SOURCE_LEN: usize = 16384;

/// A file larger than this is truncated by the next operation.
pub const FILE_LIMIT: u64 = 64 * 1024;

/// How far past a file's end a seek may go.
pub const SEEK_SLACK: u64 = 4096;

/// Size of the `/dev/mem` window.
pub const MEM_SIZE: u64 = 16 << 20;

/// Operations between full checks (file contents, info of every kind).
pub const CHECK_EVERY: u64 = 10_000;

/// Where `main` maps its arena, the one mapped region bad buffers touch:
/// nothing else of the program lies within 4 GiB of it.
pub const ARENA_ADDR: u64 = 0x0000_5000_0000_0000;

/// The arena's length; the bytes after it stay unmapped.
pub const ARENA_LEN: u64 = 2 * PAGE_SIZE;

/// A kernel-half address (where the kernel is linked).
pub const KERNEL_ADDR: u64 = 0xffff_ffff_8000_0000;

/// A non-canonical address.
pub const NON_CANONICAL: u64 = 0x1234_5678_9abc_def0;

/// What writes write: [`SOURCE_LEN`] pseudo-random bytes (SplitMix64 of
/// their index), fixed at build time.
pub static SOURCE: [u8; SOURCE_LEN] = source();

/// Builds [`SOURCE`].
const fn source() -> [u8; SOURCE_LEN] {
    let mut bytes = [0_u8; SOURCE_LEN];
    let mut index = 0;
    while index < SOURCE_LEN {
        let [byte, ..] = mix(index as u64).to_le_bytes();
        bytes[index] = byte;
        index += 1;
    }
    bytes
}

/// SplitMix64's output function.
const fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Byte `offset` of `/dev/mem` (the ABI's definition).
pub use sk_abi::dev_mem_byte as mem_byte;

/// FNV-1a of `bytes`: how a second SCPU reports what it read.
#[must_use]
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Which part of the test a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Everything (argument 0).
    All,
    /// The differential test of every kind (1).
    Differential,
    /// The invalidation cases (2).
    Invalidation,
    /// The differential test of one kind (3 + its index in
    /// [`DiffKind::ALL`]: 3 `/dev/null` … 7 `/dev/tty`).
    One(DiffKind),
    /// The tty output differential (8; not part of [`Part::All`]: the
    /// serial port's bytes are compared by the host, see [`tty_script`]).
    TtyOutput,
}

/// Run parameters, from the start argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// What to run.
    pub part: Part,
    /// Operations per differential kind.
    pub ops: u64,
    /// PRNG seed.
    pub seed: u64,
    /// Operations between full checks (file contents): [`CHECK_EVERY`],
    /// or 1 to find the first operation after which files differ.
    pub check_every: u64,
}

/// Start-argument bit: compare file contents after every operation.
pub const CHECK_ALWAYS: u64 = 0x80;

impl Plan {
    /// Decodes the start argument: bits 0–6 the [`Part`], bit 7
    /// [`CHECK_ALWAYS`], bits 8–31 the seed (0: [`DEFAULT_SEED`]), bits
    /// 32–63 the operations per kind (0: [`DEFAULT_OPS`]). `None` for an
    /// unknown part.
    #[must_use]
    pub fn from_arg(arg: u64) -> Option<Self> {
        let part = match arg & 0x7f {
            0 => Part::All,
            1 => Part::Differential,
            2 => Part::Invalidation,
            8 => Part::TtyOutput,
            number => {
                let index = usize::try_from(number.checked_sub(3)?).ok()?;
                Part::One(*DiffKind::ALL.get(index)?)
            }
        };
        let seed = match (arg >> 8) & 0xff_ffff {
            0 => DEFAULT_SEED,
            seed => seed,
        };
        let ops = match arg >> 32 {
            0 => DEFAULT_OPS,
            ops => ops,
        };
        let check_every = if arg & CHECK_ALWAYS == 0 {
            CHECK_EVERY
        } else {
            1
        };
        Some(Self {
            part,
            ops,
            seed,
            check_every,
        })
    }

    /// Whether the differential test of `kind` runs.
    #[must_use]
    pub fn runs_differential(&self, kind: DiffKind) -> bool {
        match self.part {
            Part::All | Part::Differential => true,
            Part::Invalidation | Part::TtyOutput => false,
            Part::One(one) => one == kind,
        }
    }

    /// Whether the invalidation cases run.
    #[must_use]
    pub fn runs_invalidation(&self) -> bool {
        matches!(self.part, Part::All | Part::Invalidation)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): every seed gives a full-period
/// sequence.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let value = mix(self.state);
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        value
    }

    /// A number in `0..bound`; 0 for a bound of 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64().checked_rem(bound).unwrap_or(0)
    }

    /// A `usize` in `0..bound`; 0 for a bound of 0.
    pub fn below_usize(&mut self, bound: usize) -> usize {
        let bound = u64::try_from(bound).unwrap_or(u64::MAX);
        usize::try_from(self.below(bound)).unwrap_or(0)
    }

    /// True with probability `percent / 100`.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The SIO kinds the differential test covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiffKind {
    /// `/dev/null`.
    Null,
    /// `/dev/zero`.
    Zero,
    /// `/dev/mem`.
    Mem,
    /// RAM files `/tmp/diffA` (A) and `/tmp/diffB` (B).
    File,
    /// `/dev/tty` in raw mode, writes only (a read would wait for input).
    Tty,
}

const READ_WRITE: OpenFlags = OpenFlags::READ.union(OpenFlags::WRITE);
const FILE_FLAGS: OpenFlags = READ_WRITE.union(OpenFlags::CREATE);

impl DiffKind {
    /// Every kind, in the order they run.
    pub const ALL: [Self; 5] = [Self::Null, Self::Zero, Self::Mem, Self::File, Self::Tty];

    /// Its name in output lines.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Null => "/dev/null",
            Self::Zero => "/dev/zero",
            Self::Mem => "/dev/mem",
            Self::File => "RAM file",
            Self::Tty => "/dev/tty (raw, then cooked)",
        }
    }

    /// The paths of A and B.
    #[must_use]
    pub const fn paths(self) -> (&'static str, &'static str) {
        match self {
            Self::Null => ("/dev/null", "/dev/null"),
            Self::Zero => ("/dev/zero", "/dev/zero"),
            Self::Mem => ("/dev/mem", "/dev/mem"),
            Self::File => ("/tmp/diffA", "/tmp/diffB"),
            Self::Tty => ("/dev/tty", "/dev/tty"),
        }
    }

    /// The flags of the first open (files start empty).
    #[must_use]
    pub const fn first_flags(self) -> OpenFlags {
        match self {
            Self::Null | Self::Zero => READ_WRITE,
            Self::Mem => OpenFlags::READ,
            Self::File => FILE_FLAGS.union(OpenFlags::TRUNCATE),
            Self::Tty => OpenFlags::WRITE,
        }
    }

    /// The flags a reopen draws from.
    #[must_use]
    pub const fn reopen_flags(self) -> &'static [OpenFlags] {
        const FILE: [OpenFlags; 5] = [
            FILE_FLAGS,
            FILE_FLAGS,
            OpenFlags::READ,
            OpenFlags::WRITE.union(OpenFlags::CREATE),
            FILE_FLAGS.union(OpenFlags::APPEND),
        ];
        const DEVICE: [OpenFlags; 3] = [READ_WRITE, OpenFlags::READ, OpenFlags::WRITE];
        const MEM: [OpenFlags; 1] = [OpenFlags::READ];
        const TTY: [OpenFlags; 2] = [OpenFlags::WRITE, READ_WRITE];
        match self {
            Self::Null | Self::Zero => &DEVICE,
            Self::Mem => &MEM,
            Self::File => &FILE,
            Self::Tty => &TTY,
        }
    }

    /// Whether it has a position worth checking after every operation.
    #[must_use]
    pub const fn tracks_position(self) -> bool {
        matches!(self, Self::Mem | Self::File)
    }

    /// The op the kernel synthesizes at open with [`DiffKind::first_flags`]
    /// (reported, not required: with `synth=off` nothing is).
    #[must_use]
    pub const fn synthesized_op(self) -> &'static str {
        match self {
            Self::Null | Self::Tty => "write",
            Self::Zero | Self::Mem | Self::File => "read",
        }
    }

    /// A number to mix into the seed, so kinds draw different sequences.
    const fn salt(self) -> u64 {
        match self {
            Self::Null => 1,
            Self::Zero => 2,
            Self::Mem => 3,
            Self::File => 4,
            Self::Tty => 5,
        }
    }
}

/// Where a read's or write's buffer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buf {
    /// A live buffer of the program.
    Good,
    /// Address 0.
    Null,
    /// [`KERNEL_ADDR`].
    Kernel,
    /// [`NON_CANONICAL`].
    NonCanonical,
    /// Ends `len - inside` bytes past the arena's end: its first `inside`
    /// bytes are mapped, the rest not.
    Straddle {
        /// Bytes inside the arena (`1..len`).
        inside: u64,
    },
    /// Starts `pages_past` pages after the arena's end (unmapped).
    Unmapped {
        /// Whole pages past the end.
        pages_past: u64,
    },
}

impl Buf {
    /// The address of a bad buffer, given the end of the arena; `None` for
    /// [`Buf::Good`] (the caller's own buffer).
    #[must_use]
    pub fn bad_address(self, arena_end: u64) -> Option<u64> {
        match self {
            Self::Good => None,
            Self::Null => Some(0),
            Self::Kernel => Some(KERNEL_ADDR),
            Self::NonCanonical => Some(NON_CANONICAL),
            Self::Straddle { inside } => arena_end.checked_sub(inside.min(ARENA_LEN)),
            Self::Unmapped { pages_past } => {
                arena_end.checked_add(pages_past.checked_mul(PAGE_SIZE)?)
            }
        }
    }
}

impl fmt::Display for Buf {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Good => formatter.write_str("good buf"),
            Self::Null => formatter.write_str("null buf"),
            Self::Kernel => formatter.write_str("kernel buf"),
            Self::NonCanonical => formatter.write_str("non-canonical buf"),
            Self::Straddle { inside } => write!(formatter, "buf straddling arena end, {inside} in"),
            Self::Unmapped { pages_past } => {
                write!(formatter, "unmapped buf, {pages_past} pages past arena")
            }
        }
    }
}

/// One operation of the differential test, applied to A and B.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `read` of `len` bytes.
    Read {
        /// Bytes asked for.
        len: usize,
        /// Into where.
        buf: Buf,
    },
    /// `write` of `len` bytes from [`SOURCE`] at `src` (the tty: from dots).
    Write {
        /// Bytes to write.
        len: usize,
        /// Offset in [`SOURCE`] (`src + len <= SOURCE_LEN`).
        src: usize,
        /// From where ([`Buf::Good`]: [`SOURCE`]).
        buf: Buf,
    },
    /// Seek.
    Seek {
        /// Relative to what.
        whence: Whence,
        /// By how much.
        offset: i64,
    },
    /// Another open of each file with `WRITE | TRUNCATE`, closed at once.
    Truncate,
    /// Close both, open both again with `flags`.
    Reopen {
        /// The new open flags.
        flags: OpenFlags,
    },
    /// A second SCPU uses each handle once.
    Share,
}

impl fmt::Display for Op {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { len, buf } => write!(formatter, "read(len {len}, {buf})"),
            Self::Write { len, src, buf } => {
                write!(formatter, "write(len {len}, src {src}, {buf})")
            }
            Self::Seek { whence, offset } => write!(formatter, "seek({whence:?}, {offset})"),
            Self::Truncate => formatter.write_str("truncate"),
            Self::Reopen { flags } => write!(formatter, "reopen({:#x})", flags.bits()),
            Self::Share => formatter.write_str("share"),
        }
    }
}

/// Draws the operations of one kind's differential run (see the crate
/// docs for the mix).
#[derive(Clone, Debug)]
pub struct OpGen {
    rng: SplitMix64,
    kind: DiffKind,
}

impl OpGen {
    /// A generator for `kind`, seeded with `seed` and the kind.
    #[must_use]
    pub const fn new(kind: DiffKind, seed: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed ^ (kind.salt() << 40)),
            kind,
        }
    }

    /// The index of the one [`Op::Share`] in a run of `ops` operations:
    /// somewhere in its middle half.
    pub fn share_at(&mut self, ops: u64) -> u64 {
        ops / 4 + self.rng.below(ops / 2)
    }

    /// The next operation, given A's position and size now.
    pub fn next(&mut self, position: u64, size: u64) -> Op {
        if self.kind == DiffKind::Tty {
            return self.next_tty(position, size);
        }
        if self.kind == DiffKind::File && size > FILE_LIMIT {
            return Op::Truncate;
        }
        let writes = if self.kind == DiffKind::File {
            300
        } else {
            100
        };
        match self.rng.below(1000) {
            0..2 => self.reopen(),
            2..7 if self.kind == DiffKind::File => Op::Truncate,
            roll if roll < 157 => self.seek(position, size),
            roll if roll < 157 + writes => {
                let (len, buf) = self.buffer();
                let src = self.rng.below_usize(SOURCE_LEN - len + 1);
                Op::Write { len, src, buf }
            }
            _ => {
                let (len, buf) = self.buffer();
                Op::Read { len, buf }
            }
        }
    }

    /// The tty's mix: mostly empty writes, rarely 1–3 bytes.
    fn next_tty(&mut self, position: u64, size: u64) -> Op {
        match self.rng.below(1000) {
            0..2 => self.reopen(),
            2 => Op::Write {
                len: 1 + self.rng.below_usize(3),
                src: 0,
                buf: Buf::Good,
            },
            3..100 => self.seek(position, size),
            100..200 => {
                let len = self.rng.below_usize(4);
                let (len, buf) = self.bad_buffer(len);
                Op::Write { len, src: 0, buf }
            }
            _ => Op::Write {
                len: 0,
                src: 0,
                buf: Buf::Good,
            },
        }
    }

    fn reopen(&mut self) -> Op {
        let choices = self.kind.reopen_flags();
        let flags = choices
            .get(self.rng.below_usize(choices.len()))
            .copied()
            .unwrap_or(OpenFlags::READ);
        Op::Reopen { flags }
    }

    /// A length: 0, 1, 2–64, or 0–[`MAX_IO`].
    fn length(&mut self) -> usize {
        match self.rng.below(100) {
            0..10 => 0,
            10..30 => 1,
            30..60 => 2 + self.rng.below_usize(63),
            _ => self.rng.below_usize(MAX_IO + 1),
        }
    }

    /// A length and a buffer: 5% bad.
    fn buffer(&mut self) -> (usize, Buf) {
        let len = self.length();
        if self.rng.percent(5) {
            self.bad_buffer(len)
        } else {
            (len, Buf::Good)
        }
    }

    /// A bad buffer for `len` bytes (a straddling one gets at least 2).
    fn bad_buffer(&mut self, len: usize) -> (usize, Buf) {
        match self.rng.below(5) {
            0 => (len, Buf::Null),
            1 => (len, Buf::Kernel),
            2 => (len, Buf::NonCanonical),
            3 => {
                let len = len.max(2);
                let outside_max = u64::try_from(len - 1).unwrap_or(1);
                let inside = 1 + self.rng.below(outside_max);
                (len, Buf::Straddle { inside })
            }
            _ => {
                let pages_past = self.rng.below(16);
                (len, Buf::Unmapped { pages_past })
            }
        }
    }

    /// A seek to a target near the data, expressed from a random whence.
    fn seek(&mut self, position: u64, size: u64) -> Op {
        let roll = self.rng.below(100);
        if roll < 3 && position > 0 {
            // Past i64::MAX: refused.
            return Op::Seek {
                whence: Whence::Current,
                offset: i64::MAX,
            };
        }
        let target: i128 = if roll < 8 {
            -1 - i128::from(self.rng.below(64))
        } else {
            i128::from(self.target(size))
        };
        let (whence, base) = match self.rng.below(3) {
            0 => (Whence::Set, 0),
            1 => (Whence::Current, position),
            _ => (Whence::End, size),
        };
        let offset = i64::try_from(target - i128::from(base)).unwrap_or(i64::MIN);
        Op::Seek { whence, offset }
    }

    /// A non-negative seek target for this kind.
    fn target(&mut self, size: u64) -> u64 {
        match self.kind {
            DiffKind::Mem => match self.rng.below(10) {
                0..3 => self.rng.below(8192),
                3..6 => (MEM_SIZE + 64).saturating_sub(self.rng.below(8192)),
                _ => self.rng.below(MEM_SIZE + 1),
            },
            DiffKind::File => self.rng.below(size + SEEK_SLACK + 1),
            DiffKind::Null | DiffKind::Zero | DiffKind::Tty => self.rng.below(64),
        }
    }
}

#[cfg(test)]
mod tests;
