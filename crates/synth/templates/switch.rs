//! Template sources: the executable ready queue's per-thread switch code
//! (Synthesis §2.3, Executable Data Structures; docs/executable-scheduler.md).
//!
//! Every thread in the ring owns a *switch-out* and a *switch-in*. The
//! switch-out saves what the thread uses and ends in `jmp rel32` to the
//! next thread's switch-in: the ready queue is these jumps, patched one
//! aligned 4-byte store at a time (`code_arena::patch_rel32`). The
//! switch-in makes the thread current with its facts as immediates and
//! returns into it. A suspended thread's kernel stack always holds the
//! frame `sk_machine::context::switch` leaves (`rbp`, `rbx`, `r12`–`r15`
//! pushed in that order, then the return address), so new threads (whose
//! first frame `Context::new` builds) and threads suspended by the generic
//! switch resume alike.
//!
//! Not routines: they run in ring 0 with the kernel's GS, interrupts off,
//! entered by `call` from kernel Rust code (timer hook, yield, block) and
//! returning (`ret`) into kernel Rust code on another stack; nothing they
//! leave in a register reaches user mode. So they are exempt from the
//! routine rules of `build.rs` (no callee-saved writes, the taint check):
//! see `SWITCH_TEMPLATES` there.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use iced_x86::code_asm::{
    cr0, cr3, eax, ecx, edx, qword_ptr, r12, r13, r14, r15, rax, rbp, rbx, rcx, rdx, rsp,
};
use iced_x86::{Code, IcedError, Instruction, Register};

/// Per-CPU block offsets the switch-in writes (`sk_machine::percpu`;
/// sk-core asserts they agree).
pub const PERCPU_SYSCALL_STACK_TOP: i32 = 16;
/// The per-CPU scratch slot of the `syscall` entries (the native generic
/// entry's user RSP; the Linux entry stub's call number).
pub const PERCPU_USER_RSP: i32 = 24;
/// The per-CPU entry-stub slot (entry=slot mode).
pub const PERCPU_ENTRY_STUB: i32 = 32;
/// The per-CPU current thread id.
pub const PERCPU_CURRENT_THREAD: i32 = 56;
/// The per-CPU quantum countdown, in timer ticks.
pub const PERCPU_TICKS_LEFT: i32 = 64;
/// The per-CPU copy of `IA32_LSTAR` (skips redundant `wrmsr`).
pub const PERCPU_LSTAR: i32 = 72;
/// The per-CPU slot holding the running thread's switch-out (the
/// synthesized yield calls through it).
pub const PERCPU_SWITCH_OUT: i32 = 80;
/// The per-CPU count of switch-ins (how far the ring moved since the
/// kernel last looked: `ring::sync`).
pub const PERCPU_SWITCH_COUNT: i32 = 88;
/// The per-CPU address of this CPU's TSS.RSP0 field.
pub const PERCPU_TSS_RSP0_FIELD: i32 = 96;
/// The per-CPU count of FP saves made by `_fp` switch-outs.
pub const PERCPU_FP_SAVES: i32 = 104;
/// The per-CPU count of FP restores made by `_fp` switch-ins.
pub const PERCPU_FP_RESTORES: i32 = 112;
/// `IA32_LSTAR`.
const MSR_LSTAR: u32 = 0xC000_0082;
/// CR0.TS: the next FP/SSE/AVX instruction raises `#NM`.
const CR0_TS: u32 = 1 << 3;

fn save_callee_saved(a: &mut TemplateAsm) -> Result<(), IcedError> {
    a.push(rbp)?;
    a.push(rbx)?;
    a.push(r12)?;
    a.push(r13)?;
    a.push(r14)?;
    a.push(r15)
}

/// How an FP thread's switch-out saves its state (the kernel's
/// `sk_scpu::fp::save_for` picks the variant).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Save {
    /// `xsave64` (`switch_out_fp`).
    Xsave,
    /// `xsaveopt64` (`switch_out_fp_xsaveopt`).
    Xsaveopt,
    /// `fxsave64` (`switch_out_fp_fxsave`).
    Fxsave,
}

fn switch_out(save: Option<Save>) -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let fp_area = save.map(|s| {
        (
            s,
            a.hole(
                "fp_area",
                Kind::Imm64,
                if s == Save::Fxsave {
                    "The thread's FXSAVE area (16-byte aligned, 512 bytes)."
                } else {
                    "The thread's XSAVE area (64-byte aligned, large enough for XCR0's features)."
                },
            ),
        )
    });
    let rsp_slot = a.hole(
        "rsp_slot",
        Kind::Imm64,
        "Address of the thread's saved-RSP cell (its `Context`).",
    );
    let next = a.hole(
        "next",
        Kind::Rel32,
        "The next thread's switch-in: the ring's link, patched on insert/remove/block/wake.",
    );
    save_callee_saved(&mut a)?;
    if let Some((kind, area)) = fp_area {
        a.mov_imm64(rcx, area)?;
        match kind {
            Save::Xsave | Save::Xsaveopt => {
                // EDX:EAX = all ones (every XCR0 feature); the short
                // encodings keep the jump's rel32 4-byte aligned below 64.
                a.add_instruction(Instruction::with2(
                    Code::Or_rm32_imm8,
                    Register::EAX,
                    -1i32,
                )?)?;
                a.mov(edx, eax)?;
                if kind == Save::Xsave {
                    a.xsave64(qword_ptr(rcx))?;
                } else {
                    a.xsaveopt64(qword_ptr(rcx))?;
                }
            }
            Save::Fxsave => {
                a.fxsave64(qword_ptr(rcx))?;
                // Aligns the jump's rel32 (build.rs checks it).
                a.nop()?;
            }
        }
        a.inc(qword_ptr(PERCPU_FP_SAVES).gs())?;
    }
    a.mov_imm64(rax, rsp_slot)?;
    a.mov(qword_ptr(rax), rsp)?;
    a.branch_rel32(Code::Jmp_rel32_64, next)?;
    let (name, doc, clobbers): (_, _, &[&str]) = match save {
        Some(Save::Xsave) => (
            "switch_out_fp",
            "Switch-out of a thread that uses FP/SSE/AVX: as `switch_out`, and first `xsave64` \
             of every XCR0 feature (`edx:eax` = all ones) into `fp_area`, counted in the per-CPU \
             FP save count. CR0.TS must be clear (the thread used the FPU since its switch-in).\n\n\
             Technique: Executable Data Structures (Synthesis §2.3): the ready queue is code.",
            &["Rax", "Rcx", "Rdx"],
        ),
        Some(Save::Xsaveopt) => (
            "switch_out_fp_xsaveopt",
            "As `switch_out_fp` with `xsaveopt64`: components in their initial state, or not \
             modified since the last `xrstor64` from this same area (the thread's own switch-in \
             or first use), are not written. Only for an area restored since it was made \
             (`sk_scpu::fp::save_for`; docs/fp-state.md says why this is exact).\n\n\
             Technique: Executable Data Structures (Synthesis §2.3): the ready queue is code.",
            &["Rax", "Rcx", "Rdx"],
        ),
        Some(Save::Fxsave) => (
            "switch_out_fp_fxsave",
            "As `switch_out_fp` with `fxsave64` (x87 and SSE: a CPU without XSAVE, or the \
             `fp.fxsave` boot option).\n\n\
             Technique: Executable Data Structures (Synthesis §2.3): the ready queue is code.",
            &["Rax", "Rcx"],
        ),
        None => (
            "switch_out",
            "Switch-out: pushes `rbp`, `rbx`, `r12`–`r15` (the frame `context::switch` leaves), \
             stores `rsp` in the thread's saved-RSP cell and ends in `jmp rel32` to the next \
             thread's switch-in. Entered by `call` (the return address on the stack is where the \
             thread resumes), interrupts off, kernel GS. The `rel32` is 4-byte aligned and \
             inside the first 64 bytes (blocks are 64-byte aligned), so it never crosses a cache \
             line and is patched with one atomic store.\n\n\
             Technique: Executable Data Structures (Synthesis §2.3): the ready queue is code; \
             the scheduler only patches it.",
            &["Rax"],
        ),
    };
    Ok(TemplateSource {
        name,
        doc,
        invariants: &[],
        reads: &["Rsp", "Rbx", "Rbp", "R12", "R13", "R14", "R15"],
        clobbers,
        asm: a,
    })
}

/// How the switch-in points the CPU at the thread's `syscall` entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// `wrmsr IA32_LSTAR` unless the per-CPU copy already says so.
    Lstar,
    /// Store in the per-CPU entry slot (the fixed door jumps through it).
    Slot,
}

/// How an FP thread's switch-in loads its state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Restore {
    /// `xrstor64` (`_fp`).
    Xrstor,
    /// `fxrstor64` (`_fp_fxrstor`).
    Fxrstor,
}

fn switch_in(entry: Entry, restore: Option<Restore>) -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let thread_id = a.hole("thread_id", Kind::Imm64, "The thread's id (kernel-wide).");
    let quantum = a.hole(
        "quantum_ticks",
        Kind::Imm32,
        "The thread's quantum in timer ticks (sk-sched's `quantum_ticks`).",
    );
    let root = a.hole(
        "cr3",
        Kind::Imm64,
        "Physical address of the thread's PML4 (its SMACH's, or the kernel's).",
    );
    let stack_top = a.hole(
        "kernel_stack_top",
        Kind::Imm64,
        "Top of the thread's kernel stack (0 for the boot thread, which never enters ring 3).",
    );
    let stub = a.hole(
        "entry_stub",
        Kind::Imm64,
        "The thread's `syscall` entry: its synthesized stub, or the generic entry.",
    );
    let fp_area = restore.map(|r| {
        (
            r,
            a.hole(
                "fp_area",
                Kind::Imm64,
                if r == Restore::Xrstor {
                    "The thread's XSAVE area (restored with `xrstor64`)."
                } else {
                    "The thread's FXSAVE area (restored with `fxrstor64`)."
                },
            ),
        )
    });
    let rsp_slot = a.hole(
        "rsp_slot",
        Kind::Imm64,
        "Address of the thread's saved-RSP cell (its `Context`).",
    );
    let own_out = a.hole(
        "switch_out",
        Kind::Imm64,
        "The thread's own switch-out, stored in the per-CPU slot the synthesized yield calls          through (rewritten by the kernel when a running thread's code is rebuilt).",
    );
    let mut same_space = a.create_label();
    a.mov_imm64(rax, thread_id)?;
    a.mov(qword_ptr(PERCPU_CURRENT_THREAD).gs(), rax)?;
    a.inc(qword_ptr(PERCPU_SWITCH_COUNT).gs())?;
    a.mov_imm64(rax, own_out)?;
    a.mov(qword_ptr(PERCPU_SWITCH_OUT).gs(), rax)?;
    a.mov_imm32_sign_extended(rax, quantum)?;
    a.mov(qword_ptr(PERCPU_TICKS_LEFT).gs(), rax)?;
    a.mov_imm64(rax, root)?;
    a.mov(rcx, cr3)?;
    a.cmp(rax, rcx)?;
    a.je(same_space)?;
    a.mov(cr3, rax)?;
    a.set_label(&mut same_space)?;
    a.mov_imm64(rax, stack_top)?;
    a.mov(rcx, qword_ptr(PERCPU_TSS_RSP0_FIELD).gs())?;
    a.mov(qword_ptr(rcx), rax)?;
    a.mov(qword_ptr(PERCPU_SYSCALL_STACK_TOP).gs(), rax)?;
    a.mov_imm64(rax, stub)?;
    match entry {
        Entry::Lstar => {
            let mut same_entry = a.create_label();
            a.cmp(qword_ptr(PERCPU_LSTAR).gs(), rax)?;
            a.je(same_entry)?;
            a.mov(qword_ptr(PERCPU_LSTAR).gs(), rax)?;
            a.mov(rdx, rax)?;
            a.shr(rdx, 32)?;
            a.mov(ecx, MSR_LSTAR)?;
            a.wrmsr()?;
            a.set_label(&mut same_entry)?;
        }
        Entry::Slot => {
            a.mov(qword_ptr(PERCPU_ENTRY_STUB).gs(), rax)?;
        }
    }
    if let Some((kind, area)) = fp_area {
        a.clts()?;
        a.mov_imm64(rcx, area)?;
        if kind == Restore::Xrstor {
            a.mov(eax, -1i32 as u32)?;
            a.mov(edx, -1i32 as u32)?;
            a.xrstor64(qword_ptr(rcx))?;
        } else {
            a.fxrstor64(qword_ptr(rcx))?;
        }
        a.inc(qword_ptr(PERCPU_FP_RESTORES).gs())?;
    } else {
        // A thread without an FP area runs with CR0.TS set (sk-scpu's
        // `fp::switch_in`): its first FP instruction traps (`#NM`) before
        // it can read the registers, which may still hold the state of
        // the last FP thread (saved at that thread's switch-out). CR0 is
        // written only if TS is clear (the write serializes the CPU).
        let mut ts_set = a.create_label();
        a.mov(rax, cr0)?;
        a.test(eax, CR0_TS)?;
        a.jne(ts_set)?;
        a.or(rax, CR0_TS as i32)?;
        a.mov(cr0, rax)?;
        a.set_label(&mut ts_set)?;
    }
    a.mov_imm64(rax, rsp_slot)?;
    a.mov(rsp, qword_ptr(rax))?;
    a.pop(r15)?;
    a.pop(r14)?;
    a.pop(r13)?;
    a.pop(r12)?;
    a.pop(rbx)?;
    a.pop(rbp)?;
    a.ret()?;
    let name = match (entry, restore) {
        (Entry::Lstar, None) => "switch_in_lstar",
        (Entry::Slot, None) => "switch_in_slot",
        (Entry::Lstar, Some(Restore::Xrstor)) => "switch_in_lstar_fp",
        (Entry::Slot, Some(Restore::Xrstor)) => "switch_in_slot_fp",
        (Entry::Lstar, Some(Restore::Fxrstor)) => "switch_in_lstar_fp_fxrstor",
        (Entry::Slot, Some(Restore::Fxrstor)) => "switch_in_slot_fp_fxrstor",
    };
    Ok(TemplateSource {
        name,
        doc: "Switch-in: makes the thread current with its facts as immediates and returns into \
              it. Stores its id in the per-CPU current slot (the kernel reads who runs from \
              there), counts the switch in the per-CPU switch count, stores its own switch-out \
              in the per-CPU slot the synthesized yield calls through, and its quantum in the per-CPU countdown the timer decrements; loads CR3 \
              only if it differs; points TSS.RSP0 and the per-CPU `syscall` stack at its kernel \
              stack; points the CPU at its `syscall` entry (`_lstar`: `wrmsr IA32_LSTAR` unless \
              the per-CPU copy already holds it; `_slot`: the per-CPU entry slot); `_fp`: `clts` \
              and `xrstor64` of its XSAVE area (`_fp_fxrstor`: `fxrstor64` of its FXSAVE area), \
              counted in the per-CPU FP restore count; otherwise CR0.TS is set (if clear) so that \
              the thread's first FP instruction traps. Then `rsp` = its saved RSP, pops `r15`–`r12`, \
              `rbx`, `rbp` and `ret`s to where it called its switch-out (or to `context_start` \
              for a new thread). Entered by `jmp` from a switch-out (or the exit path), \
              interrupts off, kernel GS.\n\n\
              Technique: Executable Data Structures and Factoring Invariants (Synthesis §2.3, \
              §2.1): what a generic switch looks up is baked in.",
        invariants: &["SingleOwner"],
        reads: &[],
        clobbers: &[
            "Rax", "Rcx", "Rdx", "Rsp", "Rbx", "Rbp", "R12", "R13", "R14", "R15",
        ],
        asm: a,
    })
}

/// Where a switch-out jumps before the ring links it: `ud2`. Switch code
/// is built before it is linked (a switch-in names its own switch-out,
/// so the switch-out comes first), and an unlinked jump must fail loudly,
/// never run a thread.
fn unlinked() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    a.ud2()?;
    Ok(TemplateSource {
        name: "switch_unlinked",
        doc: "The target of a switch-out not yet linked into the ring: `ud2` (a kernel fault \
              if ever reached; the kernel links every switch-out before its thread can run).",
        invariants: &[],
        reads: &[],
        clobbers: &[],
        asm: a,
    })
}

pub fn sources() -> Result<Vec<TemplateSource>, IcedError> {
    Ok(vec![
        unlinked()?,
        switch_out(None)?,
        switch_out(Some(Save::Xsave))?,
        switch_out(Some(Save::Xsaveopt))?,
        switch_out(Some(Save::Fxsave))?,
        switch_in(Entry::Lstar, None)?,
        switch_in(Entry::Slot, None)?,
        switch_in(Entry::Lstar, Some(Restore::Xrstor))?,
        switch_in(Entry::Slot, Some(Restore::Xrstor))?,
        switch_in(Entry::Lstar, Some(Restore::Fxrstor))?,
        switch_in(Entry::Slot, Some(Restore::Fxrstor))?,
    ])
}

/// Names of the switch templates (exempt from the routine rules).
pub const NAMES: &[&str] = &[
    "switch_unlinked",
    "switch_out",
    "switch_out_fp",
    "switch_out_fp_xsaveopt",
    "switch_out_fp_fxsave",
    "switch_in_lstar",
    "switch_in_slot",
    "switch_in_lstar_fp",
    "switch_in_slot_fp",
    "switch_in_lstar_fp_fxrstor",
    "switch_in_slot_fp_fxrstor",
];
