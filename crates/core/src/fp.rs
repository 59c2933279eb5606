//! Lazy FP/SSE/AVX state in the kernel: `sk-scpu`'s policy over
//! `sk-machine`'s mechanism.
//!
//! Owns the `#NM` hook (a user thread's first FP instruction: give it a
//! save area in the initial state, or kill the program if the heap has no
//! room), the switch step the scheduler calls ([`on_switch`]), the wording
//! of user FP faults (`#MF`, `#XM`, AVX/AVX-512 `#UD`) and the counters
//! the kernel tests read ([`FpStats`]). Under the executable ready queue
//! (`ring.rs`) the same policy is in each thread's switch code: the `#NM`
//! hook resynthesizes the thread's switch-out and switch-in with
//! `xsave64`/`clts`+`xrstor64` of its area (`ring::refresh`), and a
//! switch-in without an area sets CR0.TS; [`on_switch`] and its counters
//! are the generic scheduler's. A thread's area lives in its
//! [`crate::thread::Thread`] and is freed with it, whichever way it ends.

use crate::state::{self, Core, ThreadId};
use core::sync::atomic::{AtomicU64, Ordering};
use sk_machine::fpu::{self, FpArea};
use sk_machine::traps::{self, TrapFrame};
use sk_scpu::fp::{FirstUse, FpUnit};

/// A thread's FP state as the kernel holds it.
pub(crate) type FpState = sk_scpu::fp::FpState<FpArea>;

/// `sk-machine`'s FP unit behind `sk-scpu`'s seam.
struct MachineFpu;

impl FpUnit for MachineFpu {
    type Area = FpArea;
    fn save(&mut self, area: &mut FpArea) {
        fpu::save(area);
    }
    fn restore(&mut self, area: &mut FpArea) {
        fpu::restore(area);
    }
    fn set_ts(&mut self) {
        fpu::set_ts();
    }
}

static TRAPS: AtomicU64 = AtomicU64::new(0);
static FIRST_USES: AtomicU64 = AtomicU64::new(0);
static REPEATED: AtomicU64 = AtomicU64::new(0);
static NO_MEMORY: AtomicU64 = AtomicU64::new(0);
static SWITCH_SAVES: AtomicU64 = AtomicU64::new(0);
static SWITCH_RESTORES: AtomicU64 = AtomicU64::new(0);
/// Test builds: skip the save at switch out (proves the register test
/// can fail).
static INJECT_NO_SAVE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

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
    /// Saves at switch out and restores at switch in.
    pub switch_saves: u64,
    /// Restores at switch in.
    pub switch_restores: u64,
    /// Save areas alive now.
    pub areas_live: u64,
}

/// The counters now.
pub fn stats() -> FpStats {
    FpStats {
        traps: TRAPS.load(Ordering::Relaxed),
        first_uses: FIRST_USES.load(Ordering::Relaxed),
        repeated: REPEATED.load(Ordering::Relaxed),
        no_memory: NO_MEMORY.load(Ordering::Relaxed),
        switch_saves: SWITCH_SAVES.load(Ordering::Relaxed),
        switch_restores: SWITCH_RESTORES.load(Ordering::Relaxed),
        areas_live: fpu::areas_live(),
    }
}

/// Test builds: with `true`, switches stop saving FP state (a fault
/// injected to watch the register test fail).
pub fn inject_no_save(on: bool) {
    INJECT_NO_SAVE.store(on, Ordering::Relaxed);
}

/// True while the fault injection is on (the ring builds switch-outs
/// without the save then).
pub(crate) fn no_save_injected() -> bool {
    INJECT_NO_SAVE.load(Ordering::Relaxed)
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
        if !INJECT_NO_SAVE.load(Ordering::Relaxed) && sk_scpu::fp::switch_out(&mut unit, &mut t.fp)
        {
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
    TRAPS.fetch_add(1, Ordering::Relaxed);
    let outcome = state::with(|core| {
        let current = core.current;
        let thread = core.threads.get_mut(&current)?;
        let allocate = || {
            crate::memory::admit(fpu::config().area_bytes as u64).ok()?;
            FpArea::new().ok()
        };
        let outcome = sk_scpu::fp::first_use(&mut MachineFpu, &mut thread.fp, allocate);
        // The executable ready queue: the thread's switch code is
        // resynthesized with the save (`xsave64`) and restore (`clts`,
        // `xrstor64`) of its new area and re-linked, before it can
        // switch out (the Synthesis model; no-op on the generic scheduler).
        crate::ring::refresh(core, current);
        Some(outcome)
    });
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
