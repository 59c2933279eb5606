//! One fuzzer (one per SCPU): its objects, its generator, and the one
//! place every system call goes through.
//!
//! Owns [`Fuzzer`], [`Obj`] and [`Expect`]. [`Fuzzer::sys`] makes a call
//! with every register set (arguments as given, every other register
//! random noise, AC/DF/NT set now and then), checks every register after
//! it ([`sk_user_sysfuzz::regs`]), checks the result against what the
//! caller expects, and counts it in its call x kind cell. The operations
//! (`sio.rs`, `objects.rs`, `bad_calls.rs` and their modules) draw calls
//! on the objects the fuzzer knows, and predict their results.

use sk_abi::{Call, CallWord, Kind, SysError, USER_END};
use sk_user::println;
use sk_user_sysfuzz::regs::{self, Captured, ARGS, KERNEL_HALF, NAMES, RAX};
use sk_user_sysfuzz::rng::SplitMix64;
use sk_user_sysfuzz::stats::{Cell, Stats};

use crate::capture::{self, Frame};
use crate::memory::{Arena, Zone, FILE_SLOTS};
use crate::shared::Shared;
use crate::sio::{FileSlot, Twin};

/// Most objects one fuzzer keeps open.
pub(crate) const MAX_OBJECTS: usize = 28;

/// Most twins (pairs of SIO handles) one fuzzer keeps open.
pub(crate) const MAX_TWINS: usize = 6;

/// Failures printed per fuzzer (all are counted).
const PRINTED_FAILURES: u64 = 12;

/// The handle every SMACH names itself by.
pub(crate) const SELF: u32 = 0;

/// The console.
pub(crate) const CONSOLE: u32 = 1;

/// A handle no table ever reaches (`MAX_HANDLES` is 1024).
pub(crate) const FAR_HANDLE: u32 = 4000;

/// The call word for `call` on `handle`.
pub(crate) const fn word(handle: u32, call: Call) -> u64 {
    ((handle as u64) << Call::BITS) | call.number() as u64
}

/// The same word, forced down the generic path.
pub(crate) const fn generic(word: u64) -> u64 {
    word | CallWord::FORCE_GENERIC
}

/// A debugging aid: with `SYSFUZZ_TRACE=tag:index:from:to` (hex tag,
/// decimal rest) in the environment of the build, every call of that
/// fuzzer in that range of its call count is printed.
fn trace_window() -> Option<(u64, u64, u64, u64)> {
    let spec = option_env!("SYSFUZZ_TRACE")?;
    let mut parts = spec.split(':');
    let tag = u64::from_str_radix(parts.next()?, 16).ok()?;
    let index = parts.next()?.parse().ok()?;
    let from = parts.next()?.parse().ok()?;
    let to = parts.next()?.parse().ok()?;
    Some((tag, index, from, to))
}

/// What a call must return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Exactly this.
    Is(Result<u64, SysError>),
    /// Any success.
    Ok,
    /// Success or this error.
    OkOr(SysError),
    /// This error.
    Err(SysError),
    /// Any error.
    AnyErr,
    /// Anything (only the registers are checked).
    Any,
}

impl Expect {
    /// Whether `got` is what was expected.
    pub(crate) fn accepts(self, got: Result<u64, SysError>) -> bool {
        match self {
            Self::Is(want) => got == want,
            Self::Ok => got.is_ok(),
            Self::OkOr(error) => got.is_ok() || got == Err(error),
            Self::Err(error) => got == Err(error),
            Self::AnyErr => got.is_err(),
            Self::Any => true,
        }
    }
}

/// An object a fuzzer made (or was given), by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Obj {
    /// One handle of a twin (the twin is in the fuzzer's twin list).
    TwinHalf,
    /// An SIO outside the twins (a directory, a stats file, a shared one).
    Sio,
    /// An SMEM region of its own.
    Smem(crate::objects::SmemObj),
    /// A thread that spins.
    Scpu(crate::objects::ScpuObj),
    /// A child SMACH.
    Smach(crate::objects::SmachObj),
    /// The fuzzer's own memory (never fuzzed destructively).
    Arena,
    /// A handle some `create` returned unexpectedly: closed at cleanup.
    Stray,
}

impl Obj {
    /// The kind of the object.
    pub(crate) const fn kind(&self) -> Kind {
        match self {
            Self::TwinHalf | Self::Sio => Kind::Sio,
            Self::Smem(_) | Self::Arena => Kind::Smem,
            Self::Scpu(_) => Kind::Scpu,
            Self::Smach(_) => Kind::Smach,
            Self::Stray => Kind::Sio,
        }
    }
}

/// A fuzzer's objects, by handle.
#[derive(Clone, Debug)]
pub(crate) struct Objects {
    slots: [Option<(u32, Obj)>; MAX_OBJECTS],
}

impl Objects {
    const fn new() -> Self {
        Self {
            slots: [None; MAX_OBJECTS],
        }
    }

    /// The object at `handle`.
    pub(crate) fn get(&self, handle: u32) -> Option<Obj> {
        self.slots
            .iter()
            .flatten()
            .find(|(h, _)| *h == handle)
            .map(|&(_, obj)| obj)
    }

    /// The object at `handle`, to change.
    pub(crate) fn get_mut(&mut self, handle: u32) -> Option<&mut Obj> {
        self.slots
            .iter_mut()
            .flatten()
            .find(|(h, _)| *h == handle)
            .map(|(_, obj)| obj)
    }

    /// Adds `obj` at `handle`; false if full.
    pub(crate) fn insert(&mut self, handle: u32, obj: Obj) -> bool {
        match self.slots.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => {
                *slot = Some((handle, obj));
                true
            }
            None => false,
        }
    }

    /// Forgets `handle`.
    pub(crate) fn remove(&mut self, handle: u32) -> Option<Obj> {
        let slot = self
            .slots
            .iter_mut()
            .find(|slot| slot.is_some_and(|(h, _)| h == handle))?;
        slot.take().map(|(_, obj)| obj)
    }

    /// How many.
    pub(crate) fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Whether there is room for `n` more.
    pub(crate) fn has_room(&self, n: usize) -> bool {
        self.len() + n <= MAX_OBJECTS
    }

    /// The handles of objects `pick` says yes to.
    pub(crate) fn handles_where(&self, pick: impl Fn(&Obj) -> bool) -> ([u32; MAX_OBJECTS], usize) {
        let mut out = [0_u32; MAX_OBJECTS];
        let mut n = 0;
        for &(handle, obj) in self.slots.iter().flatten() {
            if pick(&obj) {
                if let Some(slot) = out.get_mut(n) {
                    *slot = handle;
                    n += 1;
                }
            }
        }
        (out, n)
    }

    /// Whether `handle` is one of ours.
    pub(crate) fn contains(&self, handle: u32) -> bool {
        self.get(handle).is_some()
    }
}

/// One fuzzer.
pub(crate) struct Fuzzer<'a> {
    pub(crate) rng: SplitMix64,
    frame: Frame,
    pub(crate) stats: Stats,
    /// Its name in messages: the SMACH's tag and the fuzzer's index.
    pub(crate) tag: u64,
    pub(crate) index: u64,
    /// The only SCPU of its SMACH making calls: handle numbers are
    /// predictable and closed handles stay closed.
    pub(crate) solo: bool,
    /// Memory is full: calls that allocate may fail with `NoMemory`.
    pub(crate) pressure: bool,
    pub(crate) arena: Arena,
    pub(crate) objects: Objects,
    pub(crate) twins: [Option<Twin>; MAX_TWINS],
    pub(crate) files: [FileSlot; FILE_SLOTS],
    /// SIOs the SCPUs of the SMACH share (the crowd phase).
    pub(crate) shared: Option<&'a Shared>,
    /// Whether this fuzzer owns the shared SIOs (opens and closes them).
    pub(crate) owns_shared: bool,
    /// Hostile entries started so far (each run draws them in turn).
    pub(crate) entries: u64,
    /// Spin threads' stacks are never touched; they share this top.
    pub(crate) spin_stack_top: u64,
    /// Calls since the last full check of file contents.
    pub(crate) since_full_check: u64,
}

impl<'a> Fuzzer<'a> {
    /// True in a child fuzzer's SMACH (tag: mode << 24 | seed), whose
    /// SCPUs' priorities the kernel caps at its parent's.
    pub(crate) fn in_child(&self) -> bool {
        self.tag >> 24 == sk_user_sysfuzz::plan::Mode::Child.number()
    }

    /// Fuzzer `index` of the SMACH tagged `tag`, seeded with `seed`, its
    /// zone already mapped (the handles of its regions in `arena_handles`).
    pub(crate) fn new(
        tag: u64,
        index: u64,
        seed: u64,
        arena_handles: &[u32],
        spin_stack_top: u64,
    ) -> Self {
        let mut objects = Objects::new();
        for &handle in arena_handles {
            objects.insert(handle, Obj::Arena);
        }
        let mut fuzzer = Self {
            rng: SplitMix64::new(seed),
            frame: Frame::new(),
            stats: Stats::new(),
            tag,
            index,
            solo: true,
            pressure: false,
            arena: Arena::new(Zone::new(index)),
            objects,
            twins: [None; MAX_TWINS],
            files: core::array::from_fn(FileSlot::new),
            shared: None,
            owns_shared: false,
            entries: 0,
            spin_stack_top,
            since_full_check: 0,
        };
        fuzzer.stats.instances = 1;
        let mut rng = fuzzer.rng.fork(99);
        for byte in fuzzer.arena.source().iter_mut() {
            *byte = rng.byte();
        }
        fuzzer
    }

    /// Records a failed check and says what failed (the first few).
    pub(crate) fn fail(&mut self, what: &str, detail: core::fmt::Arguments<'_>) {
        self.stats.failures += 1;
        if self.stats.failures <= PRINTED_FAILURES {
            println!(
                "sysfuzz[{:x}.{}]: FAIL {what}: {detail} (call {})",
                self.tag, self.index, self.stats.total
            );
        }
    }

    /// Random noise for a register: mostly a user-half value, sometimes a
    /// kernel-half one (the kernel must not care either way).
    fn noise(&mut self) -> u64 {
        let value = self.rng.next_u64();
        if value & 0xf == 0 {
            value | KERNEL_HALF
        } else {
            value & 0x0000_7fff_ffff_ffff
        }
    }

    /// Makes one call (see the module docs): `word` in `rax`, `args` in the
    /// first argument registers (the rest noise), `buffers` the call's own
    /// buffers (`[start, end]`), counted in `cell`, checked against
    /// `expect`. Returns the result.
    ///
    /// # Safety
    /// As for [`capture::syscall`]: whatever the kernel may do with these
    /// arguments must not touch memory Rust uses (see `memory.rs` for what
    /// the fuzzer lets the kernel write).
    pub(crate) unsafe fn sys_raw(
        &mut self,
        word: u64,
        args: &[u64],
        buffers: [(u64, u64); 2],
        cell: Cell,
        what: &str,
        expect: Expect,
    ) -> Result<u64, SysError> {
        let mut before = [0_u64; 16];
        for register in before.iter_mut() {
            *register = self.noise();
        }
        before[RAX] = word;
        for (&register, &value) in ARGS.iter().zip(args) {
            before[register] = value;
        }
        self.frame.before = before;
        self.frame.set_flags = if self.rng.below(16) == 0 {
            [regs::AC, regs::DF, regs::NT, regs::AC | regs::DF | regs::NT][self.rng.index(4)]
        } else {
            0
        };
        // SAFETY: forwarded from the caller.
        unsafe { capture::syscall(&mut self.frame) };
        let captured = Captured {
            before,
            after: self.frame.after,
            flags: self.frame.flags,
            flags_after: self.frame.flags_after,
            rsp: self.frame.rsp,
            return_address: self.frame.return_address,
        };
        let rax = captured.after[RAX] as i64;
        self.stats.record(cell, rax);
        if let Err(broken) = regs::check(&captured, &buffers) {
            let name = NAMES.get(broken.register).copied().unwrap_or("rflags");
            self.fail(
                "registers",
                format_args!(
                    "{what} (word {word:#x}): {name} = {:#x}, want {:#x} ({:?})",
                    broken.value, broken.want, broken.rule
                ),
            );
        }
        let got = SysError::decode_return(rax);
        if let Some((tag, index, from, to)) = trace_window() {
            if tag == self.tag && index == self.index && (from..to).contains(&self.stats.total) {
                println!(
                    "trace {:x}.{} #{}: {what}: word {word:#x} args {args:x?} -> {got:?}",
                    self.tag, self.index, self.stats.total
                );
            }
        }
        let is_out_of_memory = matches!(got, Err(SysError::NoMemory | SysError::NoSpace));
        if is_out_of_memory {
            self.stats.no_memory += 1;
        }
        let excused = self.pressure && is_out_of_memory;
        if !expect.accepts(got) && !excused {
            self.fail(
                "result",
                format_args!(
                    "{what} (word {word:#x}, args {args:x?}): got {got:?}, want {expect:?}"
                ),
            );
        }
        got
    }

    /// [`Fuzzer::sys_raw`] for calls whose pointer arguments are all this
    /// fuzzer's own buffers, unmapped or non-user addresses (the checked
    /// ops only ever pass those).
    pub(crate) fn sys(
        &mut self,
        word: u64,
        args: &[u64],
        buffers: [(u64, u64); 2],
        cell: Cell,
        what: &str,
        expect: Expect,
    ) -> Result<u64, SysError> {
        // SAFETY: every caller passes only addresses of its zone (written
        // only through `BUF_A`, `BUF_B` and its own SMEMs, never a model),
        // its stack buffers for arguments and results, the program's
        // static paths, or unmapped and non-user addresses; no call
        // terminates or re-protects memory Rust uses (arenas are never
        // fuzzed destructively), and threads start only at `spin`.
        unsafe { self.sys_raw(word, args, buffers, cell, what, expect) }
    }

    /// The cell of `call` on `handle`, from what this fuzzer knows of it.
    pub(crate) fn cell_of(&self, handle: u32, call: Call) -> Cell {
        let kind = self.kind_of(handle);
        let is_live = match (call, kind) {
            (Call::Create | Call::Null, Some(Kind::Smach)) => handle == SELF,
            (Call::Read | Call::Write, Some(kind)) => kind == Kind::Sio,
            (_, Some(_)) => true,
            (_, None) => false,
        };
        Cell::new(call, kind, is_live)
    }

    /// The kind of the object at `handle`, if it is one this fuzzer knows
    /// to be open.
    pub(crate) fn kind_of(&self, handle: u32) -> Option<Kind> {
        match handle {
            SELF => Some(Kind::Smach),
            CONSOLE => Some(Kind::Sio),
            _ => self.objects.get(handle).map(|obj| obj.kind()).or_else(|| {
                self.shared
                    .filter(|shared| shared.is_published(handle))
                    .map(|_| Kind::Sio)
            }),
        }
    }

    /// The handle the next `create` of this SMACH must return when this
    /// fuzzer is alone: the lowest free one from 2 (`None` when not alone).
    pub(crate) fn next_handle(&self) -> Option<u32> {
        if !self.solo {
            return None;
        }
        (2..).find(|&handle| !self.objects.contains(handle))
    }

    /// Checks a handle a `create` returned: the predicted one when alone;
    /// never one this fuzzer already holds.
    pub(crate) fn check_new_handle(
        &mut self,
        what: &str,
        predicted: Option<u32>,
        got: u64,
    ) -> Option<u32> {
        let Ok(handle) = u32::try_from(got) else {
            self.fail(
                what,
                format_args!("handle {got:#x} does not fit in 32 bits"),
            );
            return None;
        };
        if handle < 2 || self.objects.contains(handle) {
            self.fail(what, format_args!("handle {handle} is already in use"));
            return None;
        }
        if predicted.is_some_and(|want| want != handle) {
            self.fail(
                what,
                format_args!("handle {handle}, want the lowest free one, {predicted:?}"),
            );
        }
        Some(handle)
    }

    /// Tracks a handle a `create` returned where none was expected.
    pub(crate) fn stray(&mut self, result: Result<u64, SysError>) {
        if let Ok(Ok(handle)) = result.map(u32::try_from) {
            if !self.objects.insert(handle, Obj::Stray) {
                self.close_raw(handle);
            }
        }
    }

    /// Terminates `handle` without expectations (cleanup).
    pub(crate) fn close_raw(&mut self, handle: u32) {
        let cell = self.cell_of(handle, Call::Terminate);
        self.close_counted(handle, cell);
    }

    /// Terminates a handle of `kind` this fuzzer just made but has no room
    /// to keep, wanting 0.
    pub(crate) fn close_untracked(&mut self, handle: u32, kind: Kind) {
        let cell = Cell::new(Call::Terminate, Some(kind), true);
        self.close_counted(handle, cell);
    }

    /// `terminate(handle)`, counted in `cell`.
    fn close_counted(&mut self, handle: u32, cell: Cell) {
        let _ = self.sys(
            word(handle, Call::Terminate),
            &[0],
            [(0, 0); 2],
            cell,
            "cleanup terminate",
            Expect::Any,
        );
    }

    /// A user address that is not mapped: in the zone's hole, the null
    /// page, or just below the end of user space.
    pub(crate) fn unmapped_addr(&mut self) -> u64 {
        match self.rng.below(4) {
            0 => self.rng.below(4096),
            1 => USER_END - 4096 + self.rng.below(4000),
            _ => {
                let offset = self.rng.below(1 << 26);
                self.arena.zone().unmapped(offset)
            }
        }
    }

    /// An address the kernel's range check refuses for any length: kernel
    /// half or non-canonical.
    pub(crate) fn non_user_addr(&mut self) -> u64 {
        match self.rng.below(4) {
            0 => 0xffff_8000_0000_0000 + self.rng.below(1 << 30),
            1 => 0xffff_ffff_8000_0000 + self.rng.below(1 << 24),
            2 => USER_END + self.rng.below(1 << 40),
            _ => self.rng.next_u64() | (1 << 63),
        }
    }

    /// Runs until `budget` calls of this fuzzer are made.
    pub(crate) fn run(&mut self, budget: u64) {
        while self.stats.total < budget {
            self.step();
        }
    }

    /// One drawn operation (a few calls).
    pub(crate) fn step(&mut self) {
        let draw = self.rng.below(1000);
        match draw {
            0..=419 => self.twin_op(),
            420..=469 => self.open_twin_op(),
            470..=509 => self.close_twin_op(),
            510..=549 => self.sequence_op(),
            550..=639 => self.smem_op(),
            640..=674 => self.scpu_op(),
            675..=699 => self.smach_op(),
            700..=759 => self.self_op(),
            760..=829 => self.bad_args_op(),
            830..=859 => self.console_op(),
            860..=929 => {
                if self.shared.is_some() {
                    self.shared_op();
                } else {
                    self.twin_op();
                }
            }
            _ => self.garbage_op(),
        }
        self.since_full_check += 1;
        if self.since_full_check >= 400 {
            self.since_full_check = 0;
            self.full_check();
        }
    }

    /// Closes everything this fuzzer holds but its arena.
    pub(crate) fn cleanup(&mut self) {
        for index in 0..MAX_TWINS {
            if self.twins.get(index).copied().flatten().is_some() {
                self.close_twin(index);
            }
        }
        let (handles, n) = self.objects.handles_where(|obj| !matches!(obj, Obj::Arena));
        for &handle in handles.iter().take(n) {
            match self.objects.get(handle) {
                Some(Obj::Smach(child)) => self.end_child(handle, child),
                Some(Obj::Scpu(_)) | Some(Obj::Smem(_)) | Some(Obj::Sio) | Some(Obj::Stray) => {
                    self.close_raw(handle);
                    self.objects.remove(handle);
                }
                _ => {}
            }
        }
    }
}
