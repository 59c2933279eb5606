//! Lazy FP/SSE/AVX state in the kernel: `sk-scpu`'s policy over
//! `sk-machine`'s mechanism.
//!
//! Owns the `#NM` hook (a user thread's first FP instruction: give it a
//! save area in the initial state, or kill the program if the heap has no
//! room), the switch step the scheduler calls ([`on_switch`]), the wording
//! of user FP faults (`#MF`, `#XM`, AVX/AVX-512 `#UD`) and the counters
//! the kernel tests read ([`FpStats`]). Under the executable ready queue
//! (`ring.rs`) the same policy is in each thread's switch code: the `#NM`
//! hook resynthesizes the thread's switch-out and switch-in with the
//! boot's save instruction (`xsaveopt64`, `xsave64` or `fxsave64`, as
//! [`save_instruction_for`] says) and `clts` + `xrstor64`/`fxrstor64` of
//! its area (`ring::refresh`), and a switch-in without an area sets
//! CR0.TS; [`on_switch`] is the generic scheduler's. The switch counters
//! cover both (the ring's code counts in the per-CPU block). A thread's area lives in its
//! [`crate::thread::Thread`] and is freed with it, whichever way it ends.

use crate::state::{self, Core, ThreadId};
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use sk_machine::fpu::{self, FpArea, SaveInstruction};
use sk_machine::traps::{self, TrapFrame};
use sk_scpu::fp::{FirstUse, FpUnit, SaveKind, SaveSupport};

/// A thread's FP state as the kernel holds it.
pub(crate) type FpState = sk_scpu::fp::FpState<FpArea>;

/// The save instruction for this boot: `sk-scpu`'s policy
/// ([`sk_scpu::fp::choose_save`]) over what CPUID reports, FXSAVE if
/// `force_fxsave` (the `fp.fxsave` boot option). The kernel passes it to
/// `sk_machine::init_cpu`, which performs it.
pub fn choose_save_instruction(force_fxsave: bool) -> SaveInstruction {
    let cpu = fpu::save_support();
    let support = SaveSupport {
        xsave: cpu.xsave,
        xsaveopt: cpu.xsaveopt,
    };
    machine_instruction(sk_scpu::fp::choose_save(support, force_fxsave))
}

fn machine_instruction(kind: SaveKind) -> SaveInstruction {
    match kind {
        SaveKind::Xsaveopt => SaveInstruction::Xsaveopt,
        SaveKind::Xsave => SaveInstruction::Xsave,
        SaveKind::Fxsave => SaveInstruction::Fxsave,
    }
}

fn policy_kind(instruction: SaveInstruction) -> SaveKind {
    match instruction {
        SaveInstruction::Xsaveopt => SaveKind::Xsaveopt,
        SaveInstruction::Xsave => SaveKind::Xsave,
        SaveInstruction::Fxsave => SaveKind::Fxsave,
    }
}

/// The instruction one save into an area uses (both schedulers: the
/// generic one's [`fpu::save`], the ring's switch-out template): the
/// boot's, with `sk_scpu::fp::save_for`'s rule (`xsaveopt64` only into an
/// area restored since it was made).
pub(crate) fn save_instruction_for(area_restored: bool) -> SaveInstruction {
    let chosen = policy_kind(fpu::config().save_instruction);
    machine_instruction(sk_scpu::fp::save_for(chosen, area_restored))
}

/// `sk-machine`'s FP unit behind `sk-scpu`'s seam.
struct MachineFpu;

impl FpUnit for MachineFpu {
    type Area = FpArea;
    fn save(&mut self, area: &mut FpArea) {
        let instruction = save_instruction_for(area.restored());
        fpu::save(area, instruction);
    }
    fn restore(&mut self, area: &mut FpArea) {
        fpu::restore(area);
    }
    fn set_ts(&mut self) {
        if injected() != Injection::NoTs {
            fpu::set_ts();
        }
    }
}

static TRAPS: AtomicU64 = AtomicU64::new(0);
static FIRST_USES: AtomicU64 = AtomicU64::new(0);
static REPEATED: AtomicU64 = AtomicU64::new(0);
static NO_MEMORY: AtomicU64 = AtomicU64::new(0);
static SWITCH_SAVES: AtomicU64 = AtomicU64::new(0);
static SWITCH_RESTORES: AtomicU64 = AtomicU64::new(0);
static RESYNTHESES: AtomicU64 = AtomicU64::new(0);
static NM_TICKS: AtomicU64 = AtomicU64::new(0);
static NM_TICKS_MAX: AtomicU64 = AtomicU64::new(0);
static FIRST_USE_TICKS: AtomicU64 = AtomicU64::new(0);
static RESYNTHESIS_TICKS: AtomicU64 = AtomicU64::new(0);
/// Test builds: the fault injected into the lazy mechanism ([`Injection`]).
static INJECTION: AtomicU8 = AtomicU8::new(0);

/// A fault injected into the lazy FP mechanism, to watch the register
/// test (`/bin/fpstress`) fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injection {
    /// None: the mechanism as it is.
    None,
    /// Switch-outs skip the save (generic: `on_switch`; ring: FP threads
    /// get the plain `switch_out`).
    NoSave,
    /// A thread without an area runs with CR0.TS clear: its first FP
    /// instruction does not trap, it never gets an area. Generic: the
    /// switch-in skips setting TS (the thread sees the last FP thread's
    /// registers); ring: its switch-in is an `_fp` one loading a scratch
    /// area in the initial state (a switch-in that clears TS without the
    /// thread owning an area).
    NoTs,
}

/// What the lazy FP mechanism did since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FpStats {
    /// `#NM` traps from user mode.
    pub traps: u64,
    /// Threads given a save area (each one's first FP instruction).
    pub first_uses: u64,
    /// `#NM` of a thread that had an area already (a scheduler bug: must
    /// stay 0).
    pub repeated: u64,
    /// Programs killed because no area could be allocated.
    pub no_memory: u64,
    /// Saves at switch out: `fp::on_switch` (generic scheduler) plus the
    /// `_fp` switch-outs (the ring: they count in the per-CPU block).
    pub switch_saves: u64,
    /// Restores at switch in, counted the same two ways.
    pub switch_restores: u64,
    /// The ring: switch code rebuilt because the thread got an area
    /// (one per first use). `None` on the generic scheduler (no switch
    /// code: the count cannot apply).
    pub resyntheses: Option<u64>,
    /// TSC ticks spent in the `#NM` hook (all first uses), and the most
    /// one took.
    pub nm_ticks: u64,
    /// The most one `#NM` hook took.
    pub nm_ticks_max: u64,
    /// Of `nm_ticks`: allocating and restoring areas (`first_use`).
    pub first_use_ticks: u64,
    /// Of `nm_ticks`: rebuilding and re-linking switch code (ring).
    pub resynthesis_ticks: u64,
    /// Save areas alive now.
    pub areas_live: u64,
}

/// The counters now.
pub fn stats() -> FpStats {
    let (ring_saves, ring_restores) = sk_machine::percpu::fp_switch_counts();
    FpStats {
        traps: TRAPS.load(Ordering::Relaxed),
        first_uses: FIRST_USES.load(Ordering::Relaxed),
        repeated: REPEATED.load(Ordering::Relaxed),
        no_memory: NO_MEMORY.load(Ordering::Relaxed),
        switch_saves: SWITCH_SAVES.load(Ordering::Relaxed) + ring_saves,
        switch_restores: SWITCH_RESTORES.load(Ordering::Relaxed) + ring_restores,
        resyntheses: crate::ring::is_on().then(|| RESYNTHESES.load(Ordering::Relaxed)),
        nm_ticks: NM_TICKS.load(Ordering::Relaxed),
        nm_ticks_max: NM_TICKS_MAX.load(Ordering::Relaxed),
        first_use_ticks: FIRST_USE_TICKS.load(Ordering::Relaxed),
        resynthesis_ticks: RESYNTHESIS_TICKS.load(Ordering::Relaxed),
        areas_live: fpu::areas_live(),
    }
}

/// Counts one rebuild of a thread's switch code for its new area (ring).
pub(crate) fn count_resynthesis() {
    RESYNTHESES.fetch_add(1, Ordering::Relaxed);
}

/// Test builds: injects `fault` into the lazy mechanism (from the next
/// switch code built and the next switch on); [`Injection::None`] ends it.
pub fn inject(fault: Injection) {
    let v = match fault {
        Injection::None => 0,
        Injection::NoSave => 1,
        Injection::NoTs => 2,
    };
    INJECTION.store(v, Ordering::Relaxed);
}

/// Test builds: with `true`, switches stop saving FP state
/// ([`Injection::NoSave`]).
pub fn inject_no_save(on: bool) {
    inject(if on {
        Injection::NoSave
    } else {
        Injection::None
    });
}

/// The fault injected now.
pub(crate) fn injected() -> Injection {
    match INJECTION.load(Ordering::Relaxed) {
        1 => Injection::NoSave,
        2 => Injection::NoTs,
        _ => Injection::None,
    }
}

pub(crate) fn install() {
    let mut hooks = traps::hooks();
    hooks.fp_unavailable = on_fp_unavailable;
    traps::set_hooks(hooks);
}

/// The FP part of a switch from `prev` to `next` (under the kernel lock,
/// before the context switch; the kernel never touches the FP registers
/// in between). `prev` is gone from the table if it died: nothing to save.
pub(crate) fn on_switch(core: &mut Core, prev: ThreadId, next: ThreadId) {
    let mut unit = MachineFpu;
    if let Some(t) = core.threads.get_mut(&prev) {
        if injected() != Injection::NoSave && sk_scpu::fp::switch_out(&mut unit, &mut t.fp) {
            SWITCH_SAVES.fetch_add(1, Ordering::Relaxed);
        }
    }
    let next_fp = core.threads.get_mut(&next).map(|t| &mut t.fp);
    if sk_scpu::fp::switch_in(&mut unit, next_fp) {
        SWITCH_RESTORES.fetch_add(1, Ordering::Relaxed);
    }
}

/// `#NM` from user mode: the running thread's first FP instruction.
fn on_fp_unavailable(_frame: &mut TrapFrame) {
    let start = sk_machine::cpu::rdtsc();
    TRAPS.fetch_add(1, Ordering::Relaxed);
    let mut allocated = start;
    let outcome = state::with(|core| {
        let current = core.current;
        let thread = core.threads.get_mut(&current)?;
        let allocate = || {
            crate::memory::admit(fpu::config().area_bytes as u64).ok()?;
            FpArea::new().ok()
        };
        let outcome = sk_scpu::fp::first_use(&mut MachineFpu, &mut thread.fp, allocate);
        allocated = sk_machine::cpu::rdtsc();
        // The executable ready queue: the thread's switch code is
        // resynthesized with the save and restore of its new area and
        // re-linked, before it can switch out (the Synthesis model; no-op
        // on the generic scheduler).
        crate::ring::refresh(core, current);
        Some(outcome)
    });
    let end = sk_machine::cpu::rdtsc();
    FIRST_USE_TICKS.fetch_add(allocated - start, Ordering::Relaxed);
    RESYNTHESIS_TICKS.fetch_add(end - allocated, Ordering::Relaxed);
    NM_TICKS.fetch_add(end - start, Ordering::Relaxed);
    NM_TICKS_MAX.fetch_max(end - start, Ordering::Relaxed);
    match outcome {
        Some(Ok(FirstUse::Allocated)) => {
            FIRST_USES.fetch_add(1, Ordering::Relaxed);
        }
        Some(Ok(FirstUse::Repeated)) => {
            REPEATED.fetch_add(1, Ordering::Relaxed);
        }
        Some(Err(e)) => {
            NO_MEMORY.fetch_add(1, Ordering::Relaxed);
            crate::smach::kill_current(
                sk_abi::ExitStatus::KILLED,
                format_args!("device not available (#NM): {e}"),
            )
        }
        None => crate::smach::kill_current(
            sk_abi::ExitStatus::KILLED,
            format_args!("device not available (#NM) in a thread the kernel does not know"),
        ),
    }
}

/// The FP cause of a user fault, for the kill message: `#MF`/`#XM` with
/// the live status, `#UD` at a VEX/EVEX instruction. `None` otherwise.
pub(crate) fn describe_fault(frame: &TrapFrame) -> Option<sk_scpu::fp::FpFault> {
    let status = fpu::live_status();
    let mut bytes = [0u8; 8];
    if matches!(frame.vector, 6 | 13) {
        // The instruction's first bytes; a fault partway leaves zeros.
        let _ = sk_machine::usercopy::copy_from_user_partial(&mut bytes, frame.rip);
    }
    sk_scpu::fp::describe_fault(
        frame.vector,
        status.map(|s| s.0),
        status.map(|s| s.1),
        &bytes,
        fpu::config().xcr0,
    )
}
