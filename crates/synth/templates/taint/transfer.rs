//! The transfer function of the taint check: what one instruction does to
//! the abstract state, and where control goes after it (the rules in the
//! module docs of `taint.rs`, instruction by instruction).
//!
//! Owns [`Flow`] and [`Analysis::step`], and which instructions the
//! generic propagation rule models ([`is_modelled`]).

use iced_x86::{Code, FlowControl, Instruction, Mnemonic, OpAccess, OpKind, Register};

use super::decode::offset_of;
use super::fixpoint::Analysis;
use super::state::{Origin, State, Taint, R11, R9, RAX, RCX, RDI, RSI, RSP};

/// First address of the kernel half.
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// What control does after an instruction.
pub(super) enum Flow {
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

impl Analysis<'_> {
    /// The state after `instruction` (at `offset`) and where control goes.
    pub(super) fn step(&mut self, instruction: &Instruction, state: &State) -> (State, Flow) {
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
}
