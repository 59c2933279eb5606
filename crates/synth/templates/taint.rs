//! Build-time check: no template leaves a kernel value in a register when it
//! hands control back toward user mode.
//!
//! Owns [`check`], [`Template`], [`Hole`], [`HoleUse`], [`Violation`].
//! `build.rs` runs it on every template and fails the build on a
//! violation; `tests/taint.rs` runs it on deliberately leaky templates
//! (both include this file through `#[path]`).
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
//! What it does not check: values stored to user memory (copying kernel
//! data to the user is what `/dev/mem` and file reads are for); implicit
//! flows through the flags; the Rust code behind the slow path (the
//! `regcheck` user program checks that end to end).

use std::collections::BTreeSet;
use std::fmt;

use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic,
    OpAccess, OpKind, Register,
};

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

/// Register names by number (iced's `Register::number` for 64-bit GPRs).
const NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];
const RAX: usize = 0;
const RCX: usize = 1;
const RDX: usize = 2;
const RSP: usize = 4;
const RSI: usize = 6;
const RDI: usize = 7;
const R9: usize = 9;
const R11: usize = 11;

/// First address of the kernel half.
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// Where a kernel value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    /// The kernel stack pointer a routine is entered with.
    EntryStack,
    /// The instruction at this offset.
    At(u32),
    /// What the callee of the `call` at this offset may leave.
    Callee(u32),
}

/// Clean, or a kernel value from somewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Taint {
    Clean,
    Kernel(Origin),
}

impl Taint {
    fn join(self, other: Self) -> Self {
        match (self, other) {
            (Taint::Clean, x) | (x, Taint::Clean) => x,
            (Taint::Kernel(a), Taint::Kernel(b)) => Taint::Kernel(a.min(b)),
        }
    }
}

/// The abstract machine state before an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    regs: [Taint; 16],
    /// What the template pushed and has not popped, bottom first.
    stack: Vec<Taint>,
    /// Slots popped from below where the stack was at entry (a routine's
    /// return address), not pushed back yet.
    below: usize,
}

impl State {
    fn push(&mut self, value: Taint) {
        if self.stack.is_empty() && self.below > 0 {
            self.below -= 1;
        } else {
            self.stack.push(value);
        }
    }

    /// The popped slot's taint; `None` below the entry stack.
    fn pop(&mut self) -> Option<Taint> {
        let value = self.stack.pop();
        if value.is_none() {
            self.below += 1;
        }
        value
    }

    fn new_stack(&mut self) {
        self.stack.clear();
        self.below = 0;
    }

    /// Joins `other` in; `Err` if the stack depths differ.
    fn join(&mut self, other: &State) -> Result<bool, ()> {
        if self.stack.len() != other.stack.len() || self.below != other.below {
            return Err(());
        }
        let before = self.clone();
        for (mine, theirs) in self.regs.iter_mut().zip(other.regs) {
            *mine = mine.join(theirs);
        }
        for (mine, theirs) in self.stack.iter_mut().zip(&other.stack) {
            *mine = mine.join(*theirs);
        }
        Ok(*self != before)
    }
}

/// What control does after an instruction.
enum Flow {
    /// Falls through (and, for a conditional branch or a fault point,
    /// may also go to these offsets).
    Next,
    /// Continues only at these offsets.
    Jump(u32),
    /// Conditional: the target offset and the fall-through.
    Branch(u32),
    /// Leaves for a routine's caller (ret, indirect or outward jump).
    RoutineExit { continues: bool },
    /// Back to user mode.
    UserExit,
    /// Stops (ud2, int3, hlt).
    Stop,
}

/// The instructions of a template, decoded once.
struct Decoded {
    instructions: Vec<Instruction>,
    /// Instruction index by start offset.
    index_of: std::collections::BTreeMap<u32, usize>,
    /// Offsets of instructions carrying an `Imm64` hole, with its name.
    address_holes: std::collections::BTreeMap<u32, String>,
    /// Offsets of instructions carrying an `Imm32` hole.
    constant_holes: BTreeSet<u32>,
    /// Fault point access offset -> fixup offset(s).
    fixups: Vec<(u32, u32)>,
}

fn offset_of(instruction: &Instruction) -> u32 {
    u32::try_from(instruction.ip()).expect("template offsets fit u32")
}

fn decode(template: &Template<'_>) -> Decoded {
    let mut decoder = Decoder::with_ip(64, template.bytes, 0, DecoderOptions::NONE);
    let instructions: Vec<Instruction> = decoder.iter().collect();
    let index_of = instructions
        .iter()
        .enumerate()
        .map(|(index, instruction)| (offset_of(instruction), index))
        .collect();
    let containing = |offset: u32| -> u32 {
        instructions
            .iter()
            .find(|i| (i.ip()..i.next_ip()).contains(&u64::from(offset)))
            .map(offset_of)
            .unwrap_or_else(|| panic!("{}: hole at {offset} outside the code", template.name))
    };
    let mut address_holes = std::collections::BTreeMap::new();
    let mut constant_holes = BTreeSet::new();
    for hole in template.holes {
        match hole.kind {
            HoleUse::Address => {
                address_holes.insert(containing(hole.offset), hole.name.to_owned());
            }
            HoleUse::Constant => {
                constant_holes.insert(containing(hole.offset));
            }
            HoleUse::Target => {}
        }
    }
    Decoded {
        instructions,
        index_of,
        address_holes,
        constant_holes,
        fixups: template.fault_points.to_vec(),
    }
}

/// Index of a 64-bit general register, or `None` for any other register.
fn gpr(register: Register) -> Option<usize> {
    let full = register.full_register();
    full.is_gpr64().then(|| full.number())
}

/// Whether the analysis models the instruction's register effects by the
/// generic propagation rule (reads flow into writes).
fn is_modelled(mnemonic: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        mnemonic,
        M::Mov
            | M::Movzx
            | M::Movsx
            | M::Movsxd
            | M::Lea
            | M::Add
            | M::Adc
            | M::Sub
            | M::Sbb
            | M::And
            | M::Or
            | M::Xor
            | M::Not
            | M::Neg
            | M::Inc
            | M::Dec
            | M::Shl
            | M::Shr
            | M::Sar
            | M::Rol
            | M::Ror
            | M::Imul
            | M::Mul
            | M::Cmp
            | M::Test
            | M::Bt
            | M::Xchg
            | M::Bswap
            | M::Cmova
            | M::Cmovae
            | M::Cmovb
            | M::Cmovbe
            | M::Cmove
            | M::Cmovne
            | M::Cmovg
            | M::Cmovge
            | M::Cmovl
            | M::Cmovle
            | M::Seta
            | M::Setae
            | M::Setb
            | M::Setbe
            | M::Sete
            | M::Setne
            | M::Nop
            | M::Stac
            | M::Clac
            | M::Cld
            | M::Lfence
            | M::Out
            | M::Pause
    )
}

/// The analysis of one template.
struct Analysis<'a> {
    template: &'a Template<'a>,
    code: Decoded,
    factory: InstructionInfoFactory,
    violations: Vec<Violation>,
    reported: BTreeSet<(u32, String)>,
}

impl Analysis<'_> {
    fn text(&self, offset: u32) -> String {
        self.code.index_of.get(&offset).map_or_else(
            || "?".to_owned(),
            |&i| self.code.instructions[i].to_string(),
        )
    }

    fn origin_text(&self, origin: Origin) -> String {
        match origin {
            Origin::EntryStack => "the kernel stack pointer the routine is entered with".to_owned(),
            Origin::At(offset) => match self.code.address_holes.get(&offset) {
                Some(hole) => format!(
                    "set by `{}` at +{offset:#x}, hole `{hole}`",
                    self.text(offset)
                ),
                None => format!("set by `{}` at +{offset:#x}", self.text(offset)),
            },
            Origin::Callee(offset) => format!(
                "left by the callee of `{}` at +{offset:#x}",
                self.text(offset)
            ),
        }
    }

    fn report(&mut self, exit: u32, register: &str, origin: String) {
        if self.reported.insert((exit, register.to_owned())) {
            self.violations.push(Violation {
                template: self.template.name.to_owned(),
                exit,
                exit_text: self.text(exit),
                register: register.to_owned(),
                origin,
            });
        }
    }

    /// Checks the state at an exit: every register not in `exempt` clean.
    fn check_exit(&mut self, exit: u32, state: &State, exempt: &[usize], balanced: bool) {
        for (number, taint) in state.regs.iter().enumerate() {
            if let Taint::Kernel(origin) = *taint {
                if !exempt.contains(&number) {
                    let origin = self.origin_text(origin);
                    self.report(exit, NAMES[number], origin);
                }
            }
        }
        if balanced && (!state.stack.is_empty() || state.below != 0) {
            self.report(
                exit,
                "the stack",
                format!(
                    "{} slot(s) pushed and not popped, {} popped from below the entry stack",
                    state.stack.len(),
                    state.below
                ),
            );
        }
    }

    /// The state after `instruction` (at `offset`) and where control goes.
    fn step(&mut self, instruction: &Instruction, state: &State) -> (State, Flow) {
        let offset = offset_of(instruction);
        let mut next = state.clone();
        let here = Taint::Kernel(Origin::At(offset));
        let end = u64::try_from(self.template.bytes.len()).expect("small");
        let inside = |target: u64| (target < end).then(|| u32::try_from(target).expect("small"));
        let code = instruction.code();
        let mnemonic = instruction.mnemonic();

        if code == Code::Sysretq {
            return (next, Flow::UserExit);
        }
        match instruction.flow_control() {
            FlowControl::Return => return (next, Flow::RoutineExit { continues: false }),
            FlowControl::IndirectBranch => return (next, Flow::RoutineExit { continues: false }),
            FlowControl::UnconditionalBranch => {
                return match inside(instruction.near_branch_target()) {
                    Some(target) => (next, Flow::Jump(target)),
                    None => (next, Flow::RoutineExit { continues: false }),
                };
            }
            FlowControl::ConditionalBranch => {
                return match inside(instruction.near_branch_target()) {
                    Some(target) => (next, Flow::Branch(target)),
                    None => (next, Flow::RoutineExit { continues: true }),
                };
            }
            FlowControl::Call | FlowControl::IndirectCall => {
                let is_direct = instruction.flow_control() == FlowControl::Call;
                if is_direct && inside(instruction.near_branch_target()).is_some() {
                    // Code reached only by a call inside the template would
                    // be analysed under the wrong contract: refuse it.
                    self.report(
                        offset,
                        "the call",
                        "a call to code inside the template is not modelled".to_owned(),
                    );
                    return (next, Flow::Stop);
                }
                // The callee follows the routine contract (module docs).
                let left = Taint::Kernel(Origin::Callee(offset));
                next.regs[RAX] = left;
                next.regs[RCX] = left;
                next.regs[R11] = left;
                next.regs[R9] = left;
                return (next, Flow::Next);
            }
            FlowControl::Interrupt | FlowControl::Exception | FlowControl::XbeginXabortXend => {
                return (next, Flow::Stop);
            }
            FlowControl::Next => {}
        }

        // Stack instructions.
        match code {
            Code::Push_r64 | Code::Push_rm64 | Code::Pushq_imm32 | Code::Pushq_imm8 => {
                let value = match instruction.op0_kind() {
                    OpKind::Register => {
                        gpr(instruction.op0_register()).map_or(Taint::Clean, |r| state.regs[r])
                    }
                    OpKind::Memory => here,
                    _ => Taint::Clean,
                };
                next.push(value);
                return (next, Flow::Next);
            }
            Code::Pushfq => {
                next.push(Taint::Clean);
                return (next, Flow::Next);
            }
            Code::Pop_r64 | Code::Pop_rm64 | Code::Popfq => {
                let value = next.pop().unwrap_or(here);
                if code != Code::Popfq && instruction.op0_kind() == OpKind::Register {
                    if let Some(r) = gpr(instruction.op0_register()) {
                        next.regs[r] = value;
                        if r == RSP {
                            // Now on another stack, whose contents we do not know.
                            next.new_stack();
                        }
                    }
                }
                return (next, Flow::Next);
            }
            _ => {}
        }

        // Zero idioms.
        let same_register = instruction.op_count() == 2
            && instruction.op0_kind() == OpKind::Register
            && instruction.op1_kind() == OpKind::Register
            && instruction.op0_register() == instruction.op1_register();
        if matches!(mnemonic, Mnemonic::Xor | Mnemonic::Sub) && same_register {
            if let Some(r) = gpr(instruction.op0_register()) {
                next.regs[r] = Taint::Clean;
            }
            return (next, Flow::Next);
        }

        // String copies and fills: each pointer advances by the count.
        if matches!(
            mnemonic,
            Mnemonic::Movsb | Mnemonic::Movsw | Mnemonic::Movsd | Mnemonic::Movsq
        ) || matches!(
            mnemonic,
            Mnemonic::Stosb | Mnemonic::Stosw | Mnemonic::Stosd | Mnemonic::Stosq
        ) {
            let count = if instruction.has_rep_prefix() {
                state.regs[RCX]
            } else {
                Taint::Clean
            };
            next.regs[RDI] = state.regs[RDI].join(count);
            if matches!(
                mnemonic,
                Mnemonic::Movsb | Mnemonic::Movsw | Mnemonic::Movsd | Mnemonic::Movsq
            ) {
                next.regs[RSI] = state.regs[RSI].join(count);
            }
            return (next, Flow::Next);
        }

        // Port input: a device byte, not an address.
        if mnemonic == Mnemonic::In {
            return (next, Flow::Next);
        }

        let info = self.factory.info(instruction).clone();
        let writes: Vec<(usize, usize, OpAccess)> = info
            .used_registers()
            .iter()
            .filter(|used| {
                matches!(
                    used.access(),
                    OpAccess::Write
                        | OpAccess::CondWrite
                        | OpAccess::ReadWrite
                        | OpAccess::ReadCondWrite
                )
            })
            .filter_map(|used| {
                gpr(used.register()).map(|r| (r, used.register().size(), used.access()))
            })
            .collect();

        if !is_modelled(mnemonic) {
            for (r, _, _) in writes {
                next.regs[r] = here;
            }
            return (next, Flow::Next);
        }

        // What the written registers are computed from.
        let mut source = Taint::Clean;
        for used in info.used_registers() {
            let reads = matches!(
                used.access(),
                OpAccess::Read | OpAccess::CondRead | OpAccess::ReadWrite | OpAccess::ReadCondWrite
            );
            if reads {
                if let Some(r) = gpr(used.register()) {
                    source = source.join(state.regs[r]);
                }
            }
        }
        let loads = info.used_memory().iter().any(|memory| {
            matches!(
                memory.access(),
                OpAccess::Read | OpAccess::CondRead | OpAccess::ReadWrite | OpAccess::ReadCondWrite
            )
        });
        let is_user_access = self.code.fixups.iter().any(|&(access, _)| access == offset);
        if loads && !is_user_access {
            source = source.join(here);
        }
        // An address computed from the instruction pointer is in the kernel's
        // code; an absolute one may be anywhere.
        let has_memory_operand = (0..instruction.op_count())
            .any(|operand| instruction.op_kind(operand) == OpKind::Memory);
        if has_memory_operand {
            let base = instruction.memory_base();
            let is_rip_relative = matches!(base, Register::RIP | Register::EIP);
            let is_absolute = base == Register::None
                && instruction.memory_index() == Register::None
                && instruction.memory_displacement64() >= KERNEL_HALF;
            if is_rip_relative || is_absolute {
                source = source.join(here);
            }
        }
        // Control, debug and test registers hold kernel state.
        let reads_system_register = info.used_registers().iter().any(|used| {
            let register = used.register();
            used.access() != OpAccess::Write
                && (register.is_cr() || register.is_dr() || register.is_tr())
        });
        if reads_system_register {
            source = source.join(here);
        }
        if self.code.address_holes.contains_key(&offset) {
            source = source.join(here);
        } else if !self.code.constant_holes.contains(&offset) {
            for operand in 0..instruction.op_count() {
                let is_immediate = matches!(
                    instruction.op_kind(operand),
                    OpKind::Immediate64 | OpKind::Immediate32to64 | OpKind::Immediate8to64
                );
                if is_immediate && instruction.immediate(operand) >= KERNEL_HALF {
                    source = source.join(here);
                }
            }
        }
        for (r, size, access) in writes {
            if r == RSP {
                // A new stack (the entry stub's switch): nothing of ours on it.
                next.new_stack();
            }
            let keeps_old =
                size < 4 || matches!(access, OpAccess::CondWrite | OpAccess::ReadCondWrite);
            next.regs[r] = if keeps_old {
                source.join(state.regs[r])
            } else {
                source
            };
        }
        (next, Flow::Next)
    }

    fn run(&mut self) {
        let count = self.code.instructions.len();
        let mut states: Vec<Option<State>> = vec![None; count];
        if count == 0 {
            return;
        }
        let is_user_entry = self
            .code
            .instructions
            .iter()
            .any(|i| i.code() == Code::Sysretq);
        let mut entry = State {
            regs: [Taint::Clean; 16],
            stack: Vec::new(),
            below: 0,
        };
        if !is_user_entry {
            entry.regs[RSP] = Taint::Kernel(Origin::EntryStack);
        }
        states[0] = Some(entry);
        let mut work: BTreeSet<usize> = BTreeSet::from([0]);
        while let Some(index) = work.pop_first() {
            let Some(state) = states[index].clone() else {
                continue;
            };
            let instruction = self.code.instructions[index];
            let offset = offset_of(&instruction);
            let (after, flow) = self.step(&instruction, &state);
            let mut successors: Vec<(usize, State)> = Vec::new();
            let next_index = (index + 1 < count).then_some(index + 1);
            let at = |target: u32, code: &Decoded| -> usize {
                *code.index_of.get(&target).unwrap_or_else(|| {
                    panic!("branch to +{target:#x}, not an instruction boundary")
                })
            };
            match flow {
                Flow::Next => {
                    if let Some(n) = next_index {
                        successors.push((n, after.clone()));
                    }
                }
                Flow::Jump(target) => successors.push((at(target, &self.code), after.clone())),
                Flow::Branch(target) => {
                    successors.push((at(target, &self.code), after.clone()));
                    if let Some(n) = next_index {
                        successors.push((n, after.clone()));
                    }
                }
                Flow::RoutineExit { continues } => {
                    self.check_exit(offset, &after, &[RAX, RCX, R11, R9, RSP], true);
                    if continues {
                        if let Some(n) = next_index {
                            successors.push((n, after.clone()));
                        }
                    }
                }
                Flow::UserExit => self.check_exit(offset, &after, &[RAX], false),
                Flow::Stop => {}
            }
            // A fault at a user access resumes at its fixup: the state before
            // or after the access, with the trap handler's rax and rdx.
            let fixups: Vec<u32> = self
                .code
                .fixups
                .iter()
                .filter(|&&(access, _)| access == offset)
                .map(|&(_, fixup)| fixup)
                .collect();
            for fixup in fixups {
                let mut faulted = state.clone();
                // Same stack depth by construction (a fault point is one
                // data access, never a push or pop).
                let _ = faulted.join(&after);
                faulted.regs[RAX] = Taint::Clean;
                faulted.regs[RDX] = Taint::Clean;
                successors.push((at(fixup, &self.code), faulted));
            }
            for (target, incoming) in successors {
                match &mut states[target] {
                    slot @ None => {
                        *slot = Some(incoming);
                        work.insert(target);
                    }
                    Some(existing) => match existing.join(&incoming) {
                        Ok(true) => {
                            work.insert(target);
                        }
                        Ok(false) => {}
                        Err(()) => {
                            let target_offset = offset_of(&self.code.instructions[target]);
                            self.report(
                                target_offset,
                                "the stack",
                                "paths meet here with different stack depths".to_owned(),
                            );
                        }
                    },
                }
            }
        }
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
