//! Template source: the synthesized yield (`reconfigure(YieldCaller)` on
//! the caller's own SMACH), entered through the table slot of
//! (`Handle::SELF`, `reconfigure`) when the executable ready queue runs.
//!
//! One block for every thread: it calls the running thread's switch-out
//! through the per-CPU slot every switch-in sets, so nothing in it is
//! per-thread and it is never retired (a thread suspended in a yield has
//! its return address in it). Every other reconfigure of the SMACH, and a
//! yield while a `TraceNextCall` count is armed (the generic path cancels
//! it at the switch, so no other thread runs under it), goes to the slow
//! path with `rax` intact.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::switch::PERCPU_SWITCH_OUT;
use iced_x86::code_asm::{eax, ecx, edi, edx, esi, qword_ptr, r10d, r11, r11d, r8d, rdi};
use iced_x86::IcedError;

/// `SmachSelector::YieldCaller` (sk-abi; `tests/templates.rs` checks they
/// agree).
pub const YIELD_CALLER_SELECTOR: i32 = 5;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let slow_path = a.hole(
        "slow_path",
        Kind::Imm64,
        "The stub's slow path (the generic decoder), entered with `rax` = the call word.",
    );
    let trace_armed = a.hole(
        "trace_armed",
        Kind::Imm64,
        "Address of the kernel's armed-trace word (the thread whose next call `TraceNextCall` \
         counts, 0 if none).",
    );
    let mut slow = a.create_label();
    a.cmp(rdi, YIELD_CALLER_SELECTOR)?;
    a.jne(slow)?;
    // A count armed by `TraceNextCall` (any thread's): the generic yield
    // cancels it at the switch, so no other thread runs while one is
    // armed.
    a.mov_imm64(r11, trace_armed)?;
    a.cmp(qword_ptr(r11), 0)?;
    a.jne(slow)?;
    // Routines run with the user's GS; the switch code with the kernel's
    // (it writes per-CPU fields). The user GS base is the same for every
    // thread (nothing lets a program set it: CR4.FSGSBASE is off and no
    // call sets it), so the one this thread gets back is its own.
    a.swapgs()?;
    a.call(qword_ptr(PERCPU_SWITCH_OUT).gs())?;
    a.swapgs()?;
    // Back on this thread (its switch-in restored rbx, rbp, r12-r15 and
    // returned here). The other caller-saved registers hold whatever the
    // thread that ran before left in them, and the switch-in's own values
    // (MSR halves, XRSTOR's mask): scrub every one the stub does not
    // restore.
    a.xor(eax, eax)?;
    a.xor(ecx, ecx)?;
    a.xor(edx, edx)?;
    a.xor(esi, esi)?;
    a.xor(edi, edi)?;
    a.xor(r8d, r8d)?;
    a.xor(r10d, r10d)?;
    a.xor(r11d, r11d)?;
    a.ret()?;
    a.set_label(&mut slow)?;
    a.mov_imm64(r11, slow_path)?;
    a.jmp(r11)?;
    Ok(TemplateSource {
        name: "yield_caller",
        doc: "Synthesized yield: `reconfigure(Handle::SELF, YieldCaller)`. If `rdi` is the \
              YieldCaller selector and no `TraceNextCall` count is armed, `swapgs` (routines run with the \
              user's GS), `call` the running thread's switch-out through the per-CPU slot its \
              switch-in set, `swapgs` back: the switch-out saves \
              `rbp`, `rbx`, `r12`–`r15` and jumps along the ring to the next thread's \
              switch-in; when this thread's turn comes again its switch-in returns here, and \
              the routine returns 0 with every caller-saved register the stub does not \
              restore zeroed (they hold the previous thread's values). Alone in the ring, the \
              switch-out's jump is to its own switch-in: a yield with nothing to yield to.\n\n\
              Guard: any other selector, or an armed count (a traced call, or a thread about \
              to make one): `rax` (the call word) intact, jump to the slow path. Interrupts stay masked from `syscall` to \
              `sysretq`. The kernel's record of who runs catches up at its next look (the \
              per-CPU switch count, `ring::sync`). No user access.\n\n\
              Technique: Executable Data Structures (Synthesis §2.3): a yield is a jump along \
              the ready queue's code; no scheduler runs.",
        invariants: &[],
        reads: &["Rdi"],
        clobbers: &["Rax", "Rcx", "Rdx", "Rsi", "Rdi", "R8", "R10", "R11"],
        asm: a,
    })
}
