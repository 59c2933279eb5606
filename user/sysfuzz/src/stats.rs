//! What a run counts: calls and successes per call x kind, calls on live
//! objects, failed checks; how counts travel between SMACHs; the verdict.
//!
//! Owns [`Stats`], [`Cell`] and [`Verdict`]. Every system call the fuzzer
//! makes is recorded in exactly one cell:
//!
//! - the row is the call number (0 `create` .. 6 `null`; 7 for call number
//!   7 and words that do not decode);
//! - the column is the kind of the object the call is about: for `create`
//!   the kind created (when the kind argument names one), for the other
//!   calls the kind of the object the handle names (when it names a live
//!   object of the caller's), [`NO_KIND`] otherwise.
//!
//! A call is **on a live object** when its handle names an object that is
//! open and of a kind the call makes sense for: `create` and `null` on the
//! caller's own SMACH (handle 0), `terminate`, `reconfigure` and `query`
//! on any live object, `read` and `write` on a live SIO. Bad arguments do
//! not change that (a read into a kernel address on a live file is a call
//! on a live object).
//!
//! Child SMACHs send their counts to the parent as a file of
//! little-endian words ([`Stats::to_words`], [`Stats::from_words`]).

use sk_abi::{Call, Kind};

/// Rows: the seven calls and "no call".
pub const ROWS: usize = 8;

/// Columns: the four kinds and "no live object".
pub const COLUMNS: usize = 5;

/// The column of calls that name no live object of the caller.
pub const NO_KIND: usize = 4;

/// The row of call number 7 and undecodable words.
pub const NO_CALL: usize = 7;

/// Words in [`Stats::to_words`].
pub const WORDS: usize = 2 * ROWS * COLUMNS + 8;

/// Where one call is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The row (call number, or [`NO_CALL`]).
    pub row: usize,
    /// The column (kind number, or [`NO_KIND`]).
    pub column: usize,
    /// Whether the call is on a live object (see the module docs).
    pub is_live: bool,
}

impl Cell {
    /// `call` about an object of `kind` (`None`: no live object), live or
    /// not as the caller knows.
    #[must_use]
    pub fn new(call: Call, kind: Option<Kind>, is_live: bool) -> Self {
        Self {
            row: usize::from(call.number()),
            column: kind.map_or(NO_KIND, kind_column),
            is_live,
        }
    }

    /// A call word that names no call (or does not decode).
    #[must_use]
    pub const fn garbage() -> Self {
        Self {
            row: NO_CALL,
            column: NO_KIND,
            is_live: false,
        }
    }
}

/// The column of `kind`.
#[must_use]
pub fn kind_column(kind: Kind) -> usize {
    usize::try_from(kind.number()).unwrap_or(NO_KIND)
}

/// Whether a success is possible in this cell: every call on every kind
/// but `read` and `write`, which only an SIO answers (on the other kinds
/// they fail with `WrongKind`), and the null call only on an SMACH.
#[must_use]
pub const fn is_applicable(row: usize, column: usize) -> bool {
    match row {
        0..=3 => column < NO_KIND,
        4 | 5 => column == 3,
        6 => column == 0,
        _ => false,
    }
}

/// Counts of one fuzzer (one SCPU), or of a whole run once merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Calls per cell.
    pub calls: [[u64; COLUMNS]; ROWS],
    /// Successes (`rax >= 0`) per cell.
    pub ok: [[u64; COLUMNS]; ROWS],
    /// Calls on live objects.
    pub live: u64,
    /// Calls in all.
    pub total: u64,
    /// Checks that failed (results, registers, differential, contents).
    pub failures: u64,
    /// Operations compared between the normal and the forced-generic path.
    pub twins: u64,
    /// Calls answered `NoMemory` (or `NoSpace`).
    pub no_memory: u64,
    /// Times a routines query showed a synthesized routine where one was
    /// expected (the normal twin really ran synthesized code).
    pub synthesized: u64,
    /// Fuzzer instances merged into these counts.
    pub instances: u64,
    /// Child SMACHs and SCPUs killed while they ran.
    pub kills: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// All zero.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            calls: [[0; COLUMNS]; ROWS],
            ok: [[0; COLUMNS]; ROWS],
            live: 0,
            total: 0,
            failures: 0,
            twins: 0,
            no_memory: 0,
            synthesized: 0,
            instances: 0,
            kills: 0,
        }
    }

    /// Records one call in `cell` with result `rax`.
    pub fn record(&mut self, cell: Cell, rax: i64) {
        self.total += 1;
        self.live += u64::from(cell.is_live);
        if let Some(count) = self
            .calls
            .get_mut(cell.row)
            .and_then(|r| r.get_mut(cell.column))
        {
            *count += 1;
        }
        if rax >= 0 {
            if let Some(count) = self
                .ok
                .get_mut(cell.row)
                .and_then(|r| r.get_mut(cell.column))
            {
                *count += 1;
            }
        }
    }

    /// Adds `other` into these counts.
    pub fn add(&mut self, other: &Self) {
        for (mine, theirs) in self
            .calls
            .iter_mut()
            .flatten()
            .zip(other.calls.iter().flatten())
        {
            *mine += theirs;
        }
        for (mine, theirs) in self.ok.iter_mut().flatten().zip(other.ok.iter().flatten()) {
            *mine += theirs;
        }
        self.live += other.live;
        self.total += other.total;
        self.failures += other.failures;
        self.twins += other.twins;
        self.no_memory += other.no_memory;
        self.synthesized += other.synthesized;
        self.instances += other.instances;
        self.kills += other.kills;
    }

    /// The counts as words (see the module docs).
    #[must_use]
    pub fn to_words(&self) -> [u64; WORDS] {
        let mut words = [0_u64; WORDS];
        let cells = self.calls.iter().flatten().chain(self.ok.iter().flatten());
        let tail = [
            self.live,
            self.total,
            self.failures,
            self.twins,
            self.no_memory,
            self.synthesized,
            self.instances,
            self.kills,
        ];
        let values = cells.chain(tail.iter());
        for (word, value) in words.iter_mut().zip(values) {
            *word = *value;
        }
        words
    }

    /// Counts from [`Stats::to_words`].
    #[must_use]
    pub fn from_words(words: &[u64; WORDS]) -> Self {
        let mut stats = Self::new();
        let mut values = words.iter().copied();
        for count in stats.calls.iter_mut().flatten() {
            *count = values.next().unwrap_or(0);
        }
        for count in stats.ok.iter_mut().flatten() {
            *count = values.next().unwrap_or(0);
        }
        for field in [
            &mut stats.live,
            &mut stats.total,
            &mut stats.failures,
            &mut stats.twins,
            &mut stats.no_memory,
            &mut stats.synthesized,
            &mut stats.instances,
            &mut stats.kills,
        ] {
            *field = values.next().unwrap_or(0);
        }
        stats
    }

    /// The live share in tenths of a percent (0 with no calls).
    #[must_use]
    pub fn live_permille(&self) -> u64 {
        (self.live * 1000).checked_div(self.total).unwrap_or(0)
    }

    /// The applicable cells (see [`is_applicable`]) without a success,
    /// as `(row, column)`.
    pub fn empty_cells(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..ROWS)
            .flat_map(|row| (0..COLUMNS).map(move |column| (row, column)))
            .filter(|&(row, column)| {
                is_applicable(row, column)
                    && self.ok.get(row).and_then(|r| r.get(column)).copied() == Some(0)
            })
    }

    /// What the run's counts say, against a budget of `planned` calls.
    #[must_use]
    pub fn verdict(&self, planned: u64) -> Verdict {
        Verdict {
            checks_failed: self.failures > 0,
            too_few_live: self.live_permille() < 800,
            empty_cells: self.empty_cells().count(),
            too_few_calls: self.total < planned,
        }
    }
}

/// Why a run fails (all false: it passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Some check failed.
    pub checks_failed: bool,
    /// Fewer than 80% of the calls were on live objects.
    pub too_few_live: bool,
    /// Applicable call x kind cells with no success.
    pub empty_cells: usize,
    /// Fewer calls than planned were made.
    pub too_few_calls: bool,
}

impl Verdict {
    /// Whether the run passes.
    #[must_use]
    pub const fn passes(&self) -> bool {
        !self.checks_failed && !self.too_few_live && self.empty_cells == 0 && !self.too_few_calls
    }
}

/// Short names of the rows, for the table.
pub const ROW_NAMES: [&str; ROWS] = [
    "create",
    "terminate",
    "reconfigure",
    "query",
    "read",
    "write",
    "null",
    "call 7",
];

/// Short names of the columns, for the table.
pub const COLUMN_NAMES: [&str; COLUMNS] = ["SMACH", "SCPU", "SMEM", "SIO", "no object"];
