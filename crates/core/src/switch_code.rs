//! Each thread's switch code for the executable ready queue: what it
//! bakes in ([`Facts`], read off the kernel's objects by [`facts_for`]),
//! building it from the templates ([`build`]: the switch-out first, then
//! the switch-in that names it), the code every thread shares
//! ([`SharedCode`]: the synthesized yield, the unlinked-jump trap) and
//! reading a switch-out's patched jump back ([`SwitchCode::jump_target`]).
//! `ring.rs` links the code into the ring and keeps it current.

use crate::code_memory::{install_holes, Routine};
use crate::state::{Core, ThreadId};
use crate::synthesis::{config, EntryMode};
use sk_abi::SysError;
use sk_machine::fpu::SaveInstruction;
use sk_synth::templates::{
    SwitchInLstarFpFxrstorHoles, SwitchInLstarFpHoles, SwitchInLstarHoles,
    SwitchInSlotFpFxrstorHoles, SwitchInSlotFpHoles, SwitchInSlotHoles, SwitchOutFpFxsaveHoles,
    SwitchOutFpHoles, SwitchOutFpXsaveoptHoles, SwitchOutHoles,
};
use sk_synth::{HoleSet, HoleValues, Imm32, Imm64, Rel32Target, Template, SWITCH_HOLE_VALUES};

/// What a thread's switch code bakes in (a change means rebuilding it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) quantum_ticks: u64,
    pub(crate) cr3: u64,
    pub(crate) kernel_stack_top: u64,
    pub(crate) entry: u64,
    pub(crate) rsp_slot: u64,
    /// The thread's save area when it uses FP/SSE/AVX (the `_fp`
    /// variants), and the instruction its switch-out saves with
    /// (`fp::save_instruction_for`): set through [`fp_area_of`].
    pub(crate) fp_area: Option<(u64, SaveInstruction)>,
}

/// One thread's switch code.
pub(crate) struct SwitchCode {
    pub(crate) out: Routine,
    pub(crate) inn: Routine,
    pub(crate) facts: Facts,
    /// The hole values each was instantiated with (the switch-out's `next`
    /// as at build time: its jump is patched since), for `show`.
    pub(crate) out_values: HoleValues<SWITCH_HOLE_VALUES>,
    pub(crate) in_values: HoleValues<SWITCH_HOLE_VALUES>,
    /// The switch-out's `jmp`, found once: the ring retargets it at every
    /// block and wake.
    pub(crate) jump: sk_machine::code_arena::JumpSite,
}

impl SwitchCode {
    /// Byte offset of the switch-out's `jmp` displacement.
    pub(crate) fn jump_offset(&self) -> u64 {
        rel32_site(self.out.template)
    }

    /// Where the switch-out's jump currently goes (read back from code).
    pub(crate) fn jump_target(&self) -> Option<u64> {
        let offset = self.jump_offset();
        let mut bytes = [0u8; 64];
        let len = usize::try_from(self.out.block.len()).ok()?;
        let code = bytes.get_mut(..len)?;
        if !sk_machine::code_arena::read(&self.out.block, code) {
            return None;
        }
        let at = usize::try_from(offset).ok()?;
        let disp: [u8; 4] = code.get(at..at + 4)?.try_into().ok()?;
        let end = self.out.block.address() + offset + 4;
        Some(end.wrapping_add(i64::from(i32::from_le_bytes(disp)) as u64))
    }
}

pub(crate) fn rel32_site(template: &Template) -> u64 {
    template
        .holes
        .iter()
        .find(|h| h.name == "next")
        .and_then(|h| h.sites.first())
        .map_or(0, |&s| u64::from(s))
}

/// Code every thread shares, installed once at [`init`] and never
/// retired.
pub(crate) struct SharedCode {
    /// The synthesized yield (`yield_caller`): a thread suspended in a
    /// yield has its return address in it.
    pub(crate) yield_routine: Routine,
    /// The hole values it was made with, for `show`.
    pub(crate) yield_values: HoleValues,
    /// `ud2`: where a switch-out jumps before it is linked.
    pub(crate) unlinked: Routine,
}

/// The lazy-FPU hook: the save area of a thread whose switch code must
/// save and restore vector state (it took its first `#NM`, `fp.rs`, which
/// then calls [`refresh`]) and the save instruction for it, or None: its
/// switch-in sets CR0.TS.
pub(crate) fn fp_area_of(core: &Core, id: ThreadId) -> Option<(u64, SaveInstruction)> {
    let area = core.threads.get(&id)?.fp.area()?;
    Some((
        area.address(),
        crate::fp::save_instruction_for(area.restored()),
    ))
}

/// Test builds ([`crate::fp::Injection::NoTs`]): an area in the initial
/// state, made once and never saved into, that the switch-in of a thread
/// without an area loads instead of setting CR0.TS.
pub(crate) fn scratch_area() -> Option<u64> {
    static SCRATCH: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
    let at = SCRATCH.load(core::sync::atomic::Ordering::Relaxed);
    if at != 0 {
        return Some(at);
    }
    let area =
        alloc::boxed::Box::leak(alloc::boxed::Box::new(sk_machine::fpu::FpArea::new().ok()?));
    SCRATCH.store(area.address(), core::sync::atomic::Ordering::Relaxed);
    Some(area.address())
}

pub(crate) fn facts_for(core: &Core, id: ThreadId) -> Option<Facts> {
    let t = core.threads.get(&id)?;
    let quantum_ticks = sk_sched::quantum_ticks(
        t.scpu.quantum_us(),
        t.scpu.priority(),
        sk_machine::apic::timer_hz(),
    );
    let cr3 = t
        .scpu
        .smach()
        .and_then(|s| core.smachs.get(&s))
        .and_then(|s| s.aspace.as_ref())
        .map_or_else(sk_machine::address_space::kernel_root, |a| a.0.root());
    let generic = sk_machine::syscall::syscall_entry_address();
    let entry = if config().enabled {
        t.synth.as_ref().map_or(generic, |s| s.stub.block.address())
    } else {
        generic
    };
    Some(Facts {
        quantum_ticks,
        cr3,
        kernel_stack_top: t.context.stack_top(),
        entry,
        rsp_slot: t.context.rsp_slot(),
        fp_area: fp_area_of(core, id),
    })
}

/// Installs a routine from `holes`; returns it with the values it baked in
/// (kept with capacity `N`; a set that does not fit is kept empty, for
/// `show` only: the switch templates fit, a host test checks).
pub(crate) fn installed<H: HoleSet, const N: usize>(
    holes: &H,
) -> Result<(Routine, HoleValues<N>), sk_synth::policy::InstallError> {
    let values = holes
        .values()
        .resized::<N>()
        .unwrap_or_else(|| HoleValues::from_array([]));
    install_holes(holes).map(|r| (r, values))
}

pub(crate) fn imm(v: u64) -> Imm64 {
    Imm64(v)
}

pub(crate) fn build(core: &Core, id: ThreadId, unlinked: u64) -> Result<SwitchCode, SysError> {
    let f = facts_for(core, id).ok_or(SysError::BadHandle)?;
    let nomem = |_| SysError::NoMemory;
    let injected = crate::fp::injected();
    // The switch-out first (the switch-in names it); until the policy
    // links it, its jump goes to `unlinked` (`ud2`).
    let next = Rel32Target(unlinked);
    // Test builds may skip the save (fp::Injection::NoSave): the plain
    // switch-out, so the FP register test must fail.
    let save = f
        .fp_area
        .filter(|_| injected != crate::fp::Injection::NoSave);
    let (out, out_values) = match save {
        None => installed(&SwitchOutHoles {
            rsp_slot: imm(f.rsp_slot),
            next,
        }),
        Some((area, SaveInstruction::Xsave)) => installed(&SwitchOutFpHoles {
            fp_area: imm(area),
            rsp_slot: imm(f.rsp_slot),
            next,
        }),
        Some((area, SaveInstruction::Xsaveopt)) => installed(&SwitchOutFpXsaveoptHoles {
            fp_area: imm(area),
            rsp_slot: imm(f.rsp_slot),
            next,
        }),
        Some((area, SaveInstruction::Fxsave)) => installed(&SwitchOutFpFxsaveHoles {
            fp_area: imm(area),
            rsp_slot: imm(f.rsp_slot),
            next,
        }),
    }
    .map_err(nomem)?;
    let own_out = imm(out.block.address());
    let quantum = Imm32(i32::try_from(f.quantum_ticks).unwrap_or(i32::MAX));
    let slot_mode = config().enabled && config().entry == EntryMode::PerCpuSlot;
    // The restore: the area's (any save instruction of the boot's family
    // is restored by its XRSTOR/FXRSTOR); the NoTs injection gives a
    // thread without an area the scratch one (TS cleared, no trap).
    let restore_area = match f.fp_area {
        Some((area, _)) => Some(area),
        None if injected == crate::fp::Injection::NoTs => scratch_area(),
        None => None,
    };
    let fxrstor = sk_machine::fpu::config().save_instruction == SaveInstruction::Fxsave;
    let (inn, in_values) = match (slot_mode, restore_area, fxrstor) {
        (false, None, _) => installed(&SwitchInLstarHoles {
            thread_id: imm(id),
            quantum_ticks: quantum,
            cr3: imm(f.cr3),
            kernel_stack_top: imm(f.kernel_stack_top),
            entry_stub: imm(f.entry),
            rsp_slot: imm(f.rsp_slot),
            switch_out: own_out,
        }),
        (true, None, _) => installed(&SwitchInSlotHoles {
            thread_id: imm(id),
            quantum_ticks: quantum,
            cr3: imm(f.cr3),
            kernel_stack_top: imm(f.kernel_stack_top),
            entry_stub: imm(f.entry),
            rsp_slot: imm(f.rsp_slot),
            switch_out: own_out,
        }),
        (false, Some(area), false) => installed(&SwitchInLstarFpHoles {
            thread_id: imm(id),
            quantum_ticks: quantum,
            cr3: imm(f.cr3),
            kernel_stack_top: imm(f.kernel_stack_top),
            entry_stub: imm(f.entry),
            fp_area: imm(area),
            rsp_slot: imm(f.rsp_slot),
            switch_out: own_out,
        }),
        (true, Some(area), false) => installed(&SwitchInSlotFpHoles {
            thread_id: imm(id),
            quantum_ticks: quantum,
            cr3: imm(f.cr3),
            kernel_stack_top: imm(f.kernel_stack_top),
            entry_stub: imm(f.entry),
            fp_area: imm(area),
            rsp_slot: imm(f.rsp_slot),
            switch_out: own_out,
        }),
        (false, Some(area), true) => installed(&SwitchInLstarFpFxrstorHoles {
            thread_id: imm(id),
            quantum_ticks: quantum,
            cr3: imm(f.cr3),
            kernel_stack_top: imm(f.kernel_stack_top),
            entry_stub: imm(f.entry),
            fp_area: imm(area),
            rsp_slot: imm(f.rsp_slot),
            switch_out: own_out,
        }),
        (true, Some(area), true) => installed(&SwitchInSlotFpFxrstorHoles {
            thread_id: imm(id),
            quantum_ticks: quantum,
            cr3: imm(f.cr3),
            kernel_stack_top: imm(f.kernel_stack_top),
            entry_stub: imm(f.entry),
            fp_area: imm(area),
            rsp_slot: imm(f.rsp_slot),
            switch_out: own_out,
        }),
    }
    .map_err(nomem)?;
    let jump = sk_machine::code_arena::JumpSite::of(&out.block, rel32_site(out.template)).map_err(
        |e| {
            log::error!("switch code for thread {id}: its jump cannot be patched: {e:?}");
            SysError::NoMemory
        },
    )?;
    Ok(SwitchCode {
        out,
        inn,
        facts: f,
        out_values,
        in_values,
        jump,
    })
}
