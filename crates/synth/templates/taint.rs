//! Build-time check: no template leaves a kernel value in a register when it
//! hands control back toward user mode.
//!
//! Owns [`check`], [`Template`], [`Hole`], [`HoleUse`], [`Violation`].
//! `build.rs` runs it on every template and fails the build on a
//! violation; `tests/taint.rs` runs it on deliberately leaky templates
//! (both include this file through `#[path]`). The analysis is in four
//! parts: `taint/state.rs` (the abstract state: a taint per register and
//! per pushed stack slot), `taint/decode.rs` (the template decoded once,
//! holes and fault points by instruction), `taint/transfer.rs` (what one
//! instruction does, by the rules below) and `taint/fixpoint.rs` (the
//! worklist over the control-flow graph and the checks at every exit).
//!
//! **What it computes.** A conservative forward taint analysis over the
//! template's control-flow graph (a fixpoint over the decoded instructions,
//! joining states where paths meet). Each general register, and each
//! 8-byte slot the template pushed on the stack, is *clean* or *kernel*
//! (with the offset of the instruction the taint came from, for the
//! message). Rules:
//!
//! - **kernel**: an `Imm64` hole's value (every one is an address: window,
//!   cell, table, stack, code); any value loaded from memory other than
//!   through a declared fault point (kernel memory: cells, windows, file
//!   data, the stack); a non-hole immediate in the kernel half; `pop` from
//!   below what the template itself pushed (the return address); the
//!   result of any instruction the analysis does not model (`rdmsr`,
//!   `cpuid`, ...: every register it writes); an address computed from
//!   `rip` (the template's own, kernel, address); a read of a control,
//!   debug or test register. A call to code inside the template is refused
//!   (that code would be checked under the wrong contract).
//! - **clean**: the registers at entry (user values; the entry stub's `rsp`
//!   is the user's, a routine's `rsp` is the kernel stack: kernel); `xor
//!   r, r` and `sub r, r`; `mov r, imm` with a non-hole or an `Imm32`-hole
//!   immediate (error codes, lengths, ports: never addresses); a load at a
//!   declared fault point (user memory); `in` (device status bytes).
//! - **propagation**: an instruction the analysis models (moves, `lea`,
//!   arithmetic, logic, shifts, `cmov`, `xchg`, ...) gives every register it
//!   writes the join of every register it reads (address registers of a
//!   memory operand included) and of the loaded value; an 8- or 16-bit write
//!   keeps the rest of the old value, so joins the old taint too. `push`
//!   and `pop` move taint through the abstract stack. `rep movs`/`rep
//!   stos` advance each pointer by the count: `rdi` (and `rsi`) join `rcx`.
//! - **fault points**: an extra edge from the access to its fixup, with the
//!   state before or after the access, and the trap handler's writes (`rax`
//!   = error code, `rdx` = the faulting user address: clean).
//! - **calls** (the entry stub's `call` of a routine or of the slow path):
//!   the callee obeys the routine contract this check enforces, so after it
//!   `rax` is the result, `rcx`, `r11` and `r9` are kernel (a routine may
//!   leave anything there, see below), every other register keeps its
//!   taint, and the stack is as before.
//!
//! **Exits and what must be clean there.**
//!
//! - `sysretq` (the entry stub back to user mode): every register but
//!   `rax` (the result). `rcx`, `r11` and `rsp` become the user's `rip`,
//!   `rflags` and stack: they must be clean too, so the stub must pop the
//!   values it pushed on entry.
//! - `ret`, an indirect `jmp`, a branch out of the template (a `Rel32`
//!   hole): a routine returning to the entry stub, or tail-jumping to a
//!   routine that will. Every register but `rax` (the result), `rcx` and
//!   `r11` (the stub restores them from its stack), `r9` (the stub zeroes
//!   it after the call) and `rsp` (the stub restores it); the stack must
//!   be back to what it was at entry. Those exemptions are sound only
//!   because the stub's own check (above) verifies that it restores and
//!   zeroes them.
//!
//! - **stackless routines** (`templates/leaf.rs`): entered with `r9`
//!   kernel (the table address) and `rsp` the user's; at a `sysretq`
//!   every register but `rax` clean, as above; an indirect `jmp` (the tail
//!   jump to the leaf door) may leave only `rax` and `r9` (the door's
//!   address) kernel. At every exit `rcx` and `r11` must still hold the
//!   values they had at entry: the check follows each register's
//!   *identity* (`mov r, rcx` copies it, any other write loses it), so a
//!   `rep` count in `rcx` is fine only if the user `rip` is moved back.
//!   `build.rs` also refuses any use of `rsp` (push, pop, call, ret, a
//!   stack operand) in a stackless template.
//!
//! What it does not check: values stored to user memory (copying kernel
//! data to the user is what `/dev/mem` and file reads are for); implicit
//! flows through the flags; the Rust code behind the slow path (the
//! `regcheck` user program checks that end to end).

mod decode;
mod fixpoint;
mod state;
mod transfer;

use std::collections::BTreeSet;
use std::fmt;

use iced_x86::InstructionInfoFactory;

use decode::decode;
use fixpoint::Analysis;

/// How a hole's value is used, for taint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoleUse {
    /// `Imm64`: an address (kernel).
    Address,
    /// `Imm32`: a small constant, error code, length or port (clean).
    Constant,
    /// `Rel32`: a branch target outside the template (an exit).
    Target,
}

/// One hole site: the byte offset of its constant in the template.
#[derive(Clone, Copy, Debug)]
pub struct Hole<'a> {
    /// The hole's name, for messages.
    pub name: &'a str,
    /// How its value is used.
    pub kind: HoleUse,
    /// Byte offset of the constant.
    pub offset: u32,
}

/// A template as the check sees it.
#[derive(Clone, Copy, Debug)]
pub struct Template<'a> {
    /// Name, for messages.
    pub name: &'a str,
    /// Assembled at address 0.
    pub bytes: &'a [u8],
    /// Every hole site.
    pub holes: &'a [Hole<'a>],
    /// `(access, fixup)` byte offsets of the user accesses.
    pub fault_points: &'a [(u32, u32)],
    /// A stackless routine (`templates/leaf.rs`): entered by the entry
    /// stub's `jmp` with `r9` = the table address (kernel) on the user's
    /// stack; must leave `rcx` and `r11` as found at every exit.
    pub stackless: bool,
}

/// A register (or the stack) holding a kernel value at an exit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Template name.
    pub template: String,
    /// Offset of the exit instruction (or of the instruction at fault).
    pub exit: u32,
    /// The exit instruction, disassembled.
    pub exit_text: String,
    /// The register (`"rsi"`), or what else is wrong.
    pub register: String,
    /// Where the kernel value came from.
    pub origin: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template `{}`: exit `{}` at +{:#x} leaves a kernel value in {} ({})",
            self.template, self.exit_text, self.exit, self.register, self.origin
        )
    }
}

/// Every violation in `template` (empty if it leaks nothing), in the order
/// found.
pub fn check(template: &Template<'_>) -> Vec<Violation> {
    let mut analysis = Analysis {
        template,
        code: decode(template),
        factory: InstructionInfoFactory::new(),
        violations: Vec::new(),
        reported: BTreeSet::new(),
    };
    analysis.run();
    analysis.violations
}
