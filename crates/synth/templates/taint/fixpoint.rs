//! The fixpoint of the taint check: a worklist over the template's
//! control-flow graph that joins states where paths meet, follows fault
//! points to their fixups, checks every exit, and words each violation.
//!
//! Owns [`Analysis`] (the analysis of one template) and its exit rules;
//! `transfer.rs` adds the per-instruction step.

use std::collections::BTreeSet;

use iced_x86::{Code, InstructionInfoFactory};

use super::decode::{offset_of, Decoded};
use super::state::{Origin, State, Taint, NAMES, R11, R9, RAX, RCX, RDX, RSP};
use super::transfer::Flow;
use super::{Template, Violation};
use iced_x86::{Instruction, OpAccess, Register};

/// The analysis of one template.
pub(super) struct Analysis<'a> {
    pub(super) template: &'a Template<'a>,
    pub(super) code: Decoded,
    pub(super) factory: InstructionInfoFactory,
    pub(super) violations: Vec<Violation>,
    pub(super) reported: BTreeSet<(u32, String)>,
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
            Origin::EntryTable => {
                "the table address a stackless routine is entered with in r9".to_owned()
            }
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

    pub(super) fn report(&mut self, exit: u32, register: &str, origin: String) {
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

    /// A stackless routine's exit: `rcx` and `r11` must be the entry's.
    fn check_same(&mut self, exit: u32, state: &State) {
        if state.same[RCX] & 1 == 0 {
            self.report(
                exit,
                "rcx",
                "not the user rip the stackless routine was entered with".to_owned(),
            );
        }
        if state.same[R11] & 2 == 0 {
            self.report(
                exit,
                "r11",
                "not the user rflags the stackless routine was entered with".to_owned(),
            );
        }
    }

    /// Follows which registers still hold the entry `rcx` and `r11`: a
    /// register-to-register `mov` copies, any other write forgets.
    fn track_identity(&mut self, instruction: &Instruction, before: &State, after: &mut State) {
        let is_copy = instruction.mnemonic() == iced_x86::Mnemonic::Mov
            && instruction.op_count() == 2
            && instruction.op0_kind() == iced_x86::OpKind::Register
            && instruction.op1_kind() == iced_x86::OpKind::Register
            && instruction.op0_register().is_gpr64()
            && instruction.op1_register().is_gpr64();
        let info = self.factory.info(instruction);
        for used in info.used_registers() {
            let writes = matches!(
                used.access(),
                OpAccess::Write
                    | OpAccess::CondWrite
                    | OpAccess::ReadWrite
                    | OpAccess::ReadCondWrite
            );
            let register: Register = used.register().full_register();
            if writes && register.is_gpr64() {
                after.same[register.number()] = 0;
            }
        }
        if is_copy {
            let dst = instruction.op0_register().number();
            let src = instruction.op1_register().number();
            after.same[dst] = before.same[src];
        }
    }

    pub(super) fn run(&mut self) {
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
            same: [0; 16],
        };
        entry.same[RCX] = 1;
        entry.same[R11] = 2;
        let stackless = self.template.stackless;
        if stackless {
            entry.regs[R9] = Taint::Kernel(Origin::EntryTable);
        }
        // A stackless routine, like the stub, runs on the user's stack.
        if !is_user_entry && !stackless {
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
            let (mut after, flow) = self.step(&instruction, &state);
            self.track_identity(&instruction, &state, &mut after);
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
                Flow::RoutineExit { continues } if stackless => {
                    // The tail jump to the leaf door: only the call word
                    // and the door's address may be kernel-made.
                    self.check_exit(offset, &after, &[RAX, R9], true);
                    self.check_same(offset, &after);
                    if continues {
                        if let Some(n) = next_index {
                            successors.push((n, after.clone()));
                        }
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
                Flow::UserExit => {
                    self.check_exit(offset, &after, &[RAX], false);
                    if stackless {
                        self.check_same(offset, &after);
                    }
                }
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
                faulted.same[RAX] = 0;
                faulted.same[RDX] = 0;
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
