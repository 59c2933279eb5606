//! Lazy synthesis: a slot gets its routine once the object's calls show
//! the routine pays, and the break-even accounting that says so.
//!
//! Owns [`RoutineKind`] (one row of the cost table: an SIO kind and op),
//! [`RoutineCosts`] (what making a routine costs and what each call on it
//! saves, in kernel instructions), [`LazyMode`] and [`Lazy`] (the boot
//! option `synth.lazy=off|auto|K` and its cost table), [`Usage`] (per SIO:
//! generic calls so far, the call count at which it is replanned, what its
//! synthesis cost) and [`gate`], which turns [`plan()`](super::plan())'s
//! choice into the lazy one.
//!
//! The rule: a slot [`plan()`](super::plan()) gives a routine keeps the
//! generic path until the SIO has made `K` calls of that op on the generic
//! path, `K` = [`Lazy::threshold`] of the routine's kind; then the kernel
//! replans and the routine is installed (the `K`-th call itself ran
//! generic; the next one runs the routine). `K` = 0 is eager synthesis (at
//! open, as with `synth.lazy=off`). In `auto` mode `K` is the break-even
//! point [`RoutineCosts::break_even`]: ⌈synthesis cost / per-call saving⌉,
//! from the boot-time table [`DEFAULT_COSTS`] (the bench's figures, see
//! there). Once a slot has had its routine, laziness never takes it away:
//! later replans follow `plan()` alone (new facts, new code, same rules).
//! Tested on the host by `tests/policy_lazy.rs` (properties: never before
//! `K`, always at `K`, sticky once synthesized, `K` monotone in the costs).

use super::{Op, RoutineSpec, SioPlan, SlotPlan};

/// The routine a slot gets, without its hole values: one row of the cost
/// table (an SIO kind and op).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoutineKind {
    /// `/dev/null` write.
    DevNullWrite,
    /// `/dev/zero` read.
    DevZeroRead,
    /// `/dev/mem` read.
    DevMemRead,
    /// Raw-mode tty write.
    TtyWrite,
    /// Cooked-mode tty write.
    TtyWriteCooked,
    /// A prefix view's write (the chain folded into the cooked tty's).
    TtyWritePrefixed,
    /// RAM-file read.
    RamFileRead,
    /// RAM-file write (and its fallback trampoline).
    RamFileWrite,
    /// Semaphore P (`read`).
    SemaphoreP,
    /// Semaphore V (`write`).
    SemaphoreV,
    /// Pipe read end.
    PipeRead,
    /// Pipe write end.
    PipeWrite,
    /// Port receive end.
    PortReceive,
    /// Port send end.
    PortSend,
}

impl RoutineKind {
    /// How many kinds there are.
    pub const COUNT: usize = 14;

    /// Every kind, in table order.
    pub const ALL: [Self; Self::COUNT] = [
        Self::DevNullWrite,
        Self::DevZeroRead,
        Self::DevMemRead,
        Self::TtyWrite,
        Self::TtyWriteCooked,
        Self::TtyWritePrefixed,
        Self::RamFileRead,
        Self::RamFileWrite,
        Self::SemaphoreP,
        Self::SemaphoreV,
        Self::PipeRead,
        Self::PipeWrite,
        Self::PortReceive,
        Self::PortSend,
    ];

    /// Its row in a cost table.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The routine's template name (the tty's cooked write is spliced from
    /// two templates: its collapsed name).
    pub const fn name(self) -> &'static str {
        match self {
            Self::DevNullWrite => "dev_null_write",
            Self::DevZeroRead => "dev_zero_read",
            Self::DevMemRead => "dev_mem_read",
            Self::TtyWrite => "tty_write",
            Self::TtyWriteCooked => "tty_write_cooked",
            Self::TtyWritePrefixed => "tty_write_prefixed",
            Self::RamFileRead => "ram_file_read",
            Self::RamFileWrite => "ram_file_write",
            Self::SemaphoreP => "semaphore_p",
            Self::SemaphoreV => "semaphore_v",
            Self::PipeRead => "pipe_read",
            Self::PipeWrite => "pipe_write",
            Self::PortReceive => "port_receive",
            Self::PortSend => "port_send",
        }
    }

    /// The kind named `name` ([`name`](Self::name)).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl RoutineSpec {
    /// The kind of routine this is (its row in the cost table).
    pub const fn kind(&self) -> RoutineKind {
        match self {
            Self::DevNullWrite(_) => RoutineKind::DevNullWrite,
            Self::DevZeroRead(_) => RoutineKind::DevZeroRead,
            Self::DevMemRead(_) => RoutineKind::DevMemRead,
            Self::TtyWrite(_) => RoutineKind::TtyWrite,
            Self::TtyWriteCooked(_) => RoutineKind::TtyWriteCooked,
            Self::TtyWritePrefixed(_) => RoutineKind::TtyWritePrefixed,
            Self::RamFileRead { .. } => RoutineKind::RamFileRead,
            Self::RamFileWrite { .. } => RoutineKind::RamFileWrite,
            Self::SemaphoreP(_) => RoutineKind::SemaphoreP,
            Self::SemaphoreV(_) => RoutineKind::SemaphoreV,
            Self::PipeRead(_) => RoutineKind::PipeRead,
            Self::PipeWrite(_) => RoutineKind::PipeWrite,
            Self::PortReceive(_) => RoutineKind::PortReceive,
            Self::PortSend(_) => RoutineKind::PortSend,
        }
    }
}

/// What one routine costs to make and saves per call, in kernel
/// instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RoutineCosts {
    /// Making it: the extra kernel instructions synthesis adds to an
    /// object's life (plan, instantiate, install, retire).
    pub synthesis: u32,
    /// One call on the generic path.
    pub generic_call: u32,
    /// One call on the routine.
    pub synthesized_call: u32,
}

impl RoutineCosts {
    /// Kernel instructions one call on the routine saves (0 if none).
    pub const fn saving(&self) -> u32 {
        self.generic_call.saturating_sub(self.synthesized_call)
    }

    /// Calls after which the routine has paid for itself: ⌈synthesis /
    /// saving⌉, at least 1 (`None`: it never pays, no saving).
    pub const fn break_even(&self) -> Option<u32> {
        let saving = self.saving();
        if saving == 0 {
            return None;
        }
        let calls = self.synthesis.div_ceil(saving);
        Some(if calls == 0 { 1 } else { calls })
    }

    /// Whether `calls` calls on the routine have paid for its making.
    pub const fn paid_off(&self, calls: u64) -> bool {
        match self.break_even() {
            Some(k) => calls >= k as u64,
            None => false,
        }
    }
}

/// The boot-time cost table: one row per [`RoutineKind`], in its order.
///
/// Source: the break-even table of `cargo xtask bench` on branch s13-lazy
/// (commit 1a15438; `target/bench/results.md`, copied in the
/// README; TCG with `-icount shift=0`; every figure the kernel's
/// single-step count of kernel instructions): synthesis = what the first
/// `K` calls cost beyond `K` generic calls (the counting, the plan the
/// first call makes, the replan that instantiates and installs at the
/// `K`-th) + the extra cost of the close that retires the routine; generic
/// and synthesized: one call of 1 byte (semaphore: none; port: 64 bytes)
/// on each path. The raw tty (*est.*) takes the cooked write's row (the
/// bench writes the console cooked). `auto`'s `K` from this table: 3 to 7
/// calls (the break-even column of that table).
pub const DEFAULT_COSTS: [RoutineCosts; RoutineKind::COUNT] = {
    const fn c(synthesis: u32, generic_call: u32, synthesized_call: u32) -> RoutineCosts {
        RoutineCosts {
            synthesis,
            generic_call,
            synthesized_call,
        }
    }
    [
        c(2589, 486, 22),   // dev_null_write
        c(2895, 530, 24),   // dev_zero_read
        c(3062, 548, 31),   // dev_mem_read
        c(4490, 1220, 54),  // tty_write (est.: the cooked write's)
        c(4490, 1220, 54),  // tty_write_cooked
        c(4490, 1220, 54),  // tty_write_prefixed (est.: the cooked write's)
        c(3308, 632, 40),   // ram_file_read
        c(4051, 1351, 49),  // ram_file_write
        c(3173, 727, 23),   // semaphore_p
        c(3932, 609, 23),   // semaphore_v
        c(2486, 1018, 37),  // pipe_read
        c(2478, 1074, 40),  // pipe_write
        c(3885, 1218, 110), // port_receive
        c(3817, 1105, 109), // port_send
    ]
};

/// When a slot's routine is made (`synth.lazy=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LazyMode {
    /// `off`: at open (eager synthesis).
    Off,
    /// `auto`: at the break-even point of its kind's costs.
    Auto,
    /// `K`: after `K` generic calls, whatever the kind.
    Fixed(u32),
}

impl LazyMode {
    /// Parses `off`, `auto` or a number (`synth.lazy=` value).
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "off" => Some(Self::Off),
            "auto" => Some(Self::Auto),
            _ => word.parse().ok().map(Self::Fixed),
        }
    }
}

/// The lazy-synthesis configuration every plan is gated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lazy {
    /// When routines are made.
    pub mode: LazyMode,
    /// The cost table `auto` computes thresholds from.
    pub costs: &'static [RoutineCosts; RoutineKind::COUNT],
}

impl Lazy {
    /// Eager synthesis (`synth.lazy=off`).
    pub const EAGER: Self = Self {
        mode: LazyMode::Off,
        costs: &DEFAULT_COSTS,
    };

    /// The default: `auto` with [`DEFAULT_COSTS`].
    pub const AUTO: Self = Self {
        mode: LazyMode::Auto,
        costs: &DEFAULT_COSTS,
    };

    /// `K` for `kind`: its routine is planned once the SIO has made this
    /// many generic calls of the op (0: at open). `u32::MAX` in `auto`
    /// for a routine that saves nothing.
    pub const fn threshold(&self, kind: RoutineKind) -> u32 {
        match self.mode {
            LazyMode::Off => 0,
            LazyMode::Fixed(k) => k,
            LazyMode::Auto => match self.costs[kind.index()].break_even() {
                Some(k) => k,
                None => u32::MAX,
            },
        }
    }

    /// The costs of `kind`.
    pub const fn costs(&self, kind: RoutineKind) -> RoutineCosts {
        self.costs[kind.index()]
    }

    /// Every kind's `K` is at least 1: a fresh SIO's plan is all generic
    /// until its first generic call, so the kernel may leave the plan to
    /// that call ([`Usage::due_at_first_call`]) and an open that is never
    /// used makes no plan at all.
    pub const fn defers_open(&self) -> bool {
        match self.mode {
            LazyMode::Off | LazyMode::Fixed(0) => false,
            // `threshold` is a break-even point (at least 1) or `u32::MAX`.
            LazyMode::Auto | LazyMode::Fixed(_) => true,
        }
    }
}

/// One op's lazy-synthesis record in an SIO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OpUsage {
    /// Calls of the op on the generic path so far (saturating).
    pub generic_calls: u32,
    /// The count of generic calls at which the kernel replans (the
    /// planned routine's `K`); `u32::MAX`: nothing pending.
    pub due_at: u32,
    /// The op's slot has had a routine (sticky: laziness no longer gates it).
    pub is_synthesized: bool,
    /// Generic calls made before the first routine was installed.
    pub synthesized_after: u32,
    /// TSC ticks the replans that installed code for this op took (under
    /// TCG with icount, kernel instructions).
    pub synthesis_ticks: u64,
}

/// An SIO's lazy-synthesis record: per op, generic calls and what making
/// its routine cost. Lives in the SIO (no heap); the kernel bumps the
/// count on the generic path ([`Usage::note_generic`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    ops: [OpUsage; 2],
}

impl Default for Usage {
    fn default() -> Self {
        Self::new()
    }
}

impl Usage {
    /// No calls yet, nothing pending.
    pub const fn new() -> Self {
        let op = OpUsage {
            generic_calls: 0,
            due_at: u32::MAX,
            is_synthesized: false,
            synthesized_after: 0,
            synthesis_ticks: 0,
        };
        Self { ops: [op, op] }
    }

    /// A fresh SIO whose plan waits for its first generic call (of either
    /// op): see [`Lazy::defers_open`].
    pub const fn due_at_first_call() -> Self {
        let mut usage = Self::new();
        usage.ops[0].due_at = 1;
        usage.ops[1].due_at = 1;
        usage
    }

    /// `op`'s record.
    pub const fn op(&self, op: Op) -> &OpUsage {
        &self.ops[op as usize]
    }

    /// `op`'s record, to change.
    pub const fn op_mut(&mut self, op: Op) -> &mut OpUsage {
        &mut self.ops[op as usize]
    }

    /// One more generic call of `op`; true when it is time to replan (the
    /// count reached the pending routine's `K`).
    #[inline(always)]
    pub const fn note_generic(&mut self, op: Op) -> bool {
        let usage = &mut self.ops[op as usize];
        usage.generic_calls = usage.generic_calls.saturating_add(1);
        // `u32::MAX` means nothing pending, also when the count saturates.
        usage.due_at != u32::MAX && usage.generic_calls >= usage.due_at
    }

    /// Records what a replan did: `gated` ([`gate`] of `wanted`) went to
    /// the slots, `installed[op]` says whether the op's slot now holds
    /// code. A slot with its routine is synthesized for good; a routine
    /// that failed to install is due again at [`retry_at`]; a
    /// routine still held back is due at its `K`.
    pub fn note_plan(
        &mut self,
        wanted: &SioPlan,
        gated: &SioPlan,
        installed: [bool; 2],
        lazy: &Lazy,
    ) {
        for op in Op::ALL {
            let usage = &mut self.ops[op as usize];
            if let SlotPlan::Routine(_) = gated.slot(op) {
                if !installed[op as usize] {
                    // The install failed (the slot stayed generic, code
                    // memory is short): retry, backing off (at twice the
                    // calls so far), so a caller that keeps the arena
                    // full cannot make every generic call a replan.
                    usage.due_at = retry_at(usage.generic_calls);
                    continue;
                }
                if !usage.is_synthesized {
                    usage.is_synthesized = true;
                    usage.synthesized_after = usage.generic_calls;
                }
                usage.due_at = u32::MAX;
            } else if let SlotPlan::Routine(spec) = wanted.slot(op) {
                usage.due_at = lazy.threshold(spec.kind()).max(1);
            } else {
                usage.due_at = u32::MAX;
            }
        }
    }
}

/// When a routine whose install failed after `calls` generic calls is
/// tried again: at twice the calls (at least the next call; never the
/// "nothing pending" value).
pub const fn retry_at(calls: u32) -> u32 {
    let twice = calls.saturating_mul(2);
    let next = calls.saturating_add(1);
    let at = if twice > next { twice } else { next };
    if at == u32::MAX {
        u32::MAX - 1
    } else {
        at
    }
}

/// Whether `op`'s routine of `kind` may be made now: `K` reached, or the
/// slot already had one.
pub const fn is_ready(usage: &Usage, op: Op, kind: RoutineKind, lazy: &Lazy) -> bool {
    let u = usage.op(op);
    u.is_synthesized || u.generic_calls >= lazy.threshold(kind)
}

/// [`plan()`](super::plan())'s choice `wanted` made lazy: a slot whose
/// routine is not [`is_ready`] keeps the generic path. Everything else
/// (error stubs, generic, no slot) is unchanged.
pub fn gate(wanted: &SioPlan, usage: &Usage, lazy: &Lazy) -> SioPlan {
    let slot = |op: Op| match *wanted.slot(op) {
        SlotPlan::Routine(spec) if !is_ready(usage, op, spec.kind(), lazy) => SlotPlan::Generic,
        other => other,
    };
    SioPlan {
        read: slot(Op::Read),
        write: slot(Op::Write),
    }
}
