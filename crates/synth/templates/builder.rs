//! Build-time template assembler: iced-x86's `CodeAssembler` plus holes and fault points.
//!
//! Owns [`TemplateAsm`], [`HoleRef`], [`TemplateSource`]. Template source files
//! call the ordinary `CodeAssembler` methods (compile-time-checked operands)
//! through `Deref`, and the hole methods here for instructions whose constant
//! is filled at instantiation. Each hole method emits an instruction with an
//! explicit `Code` so the encoding (and so the constant's width) can never be
//! shrunk by the assembler; `build.rs` then reads each hole's byte offset from
//! the block encoder's `ConstantOffsets`. Only `build.rs` compiles this file.

use core::ops::{Deref, DerefMut};
use iced_x86::code_asm::{AsmRegister32, AsmRegister64, CodeAssembler, CodeLabel};
use iced_x86::{Code, IcedError, Instruction, Register};

/// What every emitting call returns.
pub type AsmResult = Result<(), IcedError>;

/// How a hole's constant is encoded (mirrors `sk_synth::HoleKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 8-byte immediate (`mov r64, imm64`).
    Imm64,
    /// 4-byte immediate, sign-extended by the CPU where 64-bit.
    Imm32,
    /// 4-byte branch displacement to an absolute target.
    Rel32,
}

impl Kind {
    /// Name of the `sk_synth::HoleKind` variant.
    pub fn variant(self) -> &'static str {
        match self {
            Self::Imm64 => "Imm64",
            Self::Imm32 => "Imm32",
            Self::Rel32 => "Rel32",
        }
    }
}

/// A declared hole (one field of the typed holes struct).
#[derive(Debug)]
pub struct HoleDecl {
    /// Field name (snake case).
    pub name: &'static str,
    /// Encoding.
    pub kind: Kind,
    /// What fills it (becomes the field's doc).
    pub doc: &'static str,
}

/// Handle of a declared hole, passed to the hole-emitting methods.
#[derive(Clone, Copy, Debug)]
pub struct HoleRef(usize);

/// One instruction carrying a hole: (hole, index of the instruction).
#[derive(Clone, Copy, Debug)]
pub struct Site {
    /// Which hole.
    pub hole: usize,
    /// Index in the assembler's instruction list.
    pub instruction: usize,
}

/// Rel32 holes are assembled against this far-away target so the block
/// encoder must keep the 4-byte form (templates assemble at address 0).
pub const REL32_PLACEHOLDER: u64 = 0x4000_0000;

/// A `CodeAssembler` that also records holes and fault points.
pub struct TemplateAsm {
    asm: CodeAssembler,
    /// Declared holes, in declaration order.
    pub holes: Vec<HoleDecl>,
    /// Instructions carrying holes.
    pub sites: Vec<Site>,
    /// User accesses: (instruction index, fixup label).
    pub fault_points: Vec<(usize, CodeLabel)>,
    /// Splice points of an upper-layer fragment: the index of the
    /// instruction before which a lower layer's fragment is copied when the
    /// two are collapsed (`templates/collapse.rs`).
    pub splice_points: Vec<usize>,
    /// Assemble branches as emitted (no shortening to `rel8`): set with
    /// `set_prefer_short_branch(false)` in an upper fragment.
    pub keep_near_branches: bool,
}

impl Deref for TemplateAsm {
    type Target = CodeAssembler;
    fn deref(&self) -> &CodeAssembler {
        &self.asm
    }
}

impl DerefMut for TemplateAsm {
    fn deref_mut(&mut self) -> &mut CodeAssembler {
        &mut self.asm
    }
}

impl TemplateAsm {
    /// A 64-bit assembler with no holes yet.
    pub fn new() -> Result<Self, IcedError> {
        Ok(Self {
            asm: CodeAssembler::new(64)?,
            holes: Vec::new(),
            sites: Vec::new(),
            fault_points: Vec::new(),
            splice_points: Vec::new(),
            keep_near_branches: false,
        })
    }

    /// Declares a hole; emit it (possibly at several sites) with the methods below.
    pub fn hole(&mut self, name: &'static str, kind: Kind, doc: &'static str) -> HoleRef {
        assert!(
            self.holes.iter().all(|h| h.name != name),
            "hole {name} declared twice"
        );
        self.holes.push(HoleDecl { name, kind, doc });
        HoleRef(self.holes.len() - 1)
    }

    fn emit(&mut self, hole: HoleRef, kind: Kind, instruction: Instruction) -> AsmResult {
        let decl = &self.holes[hole.0];
        assert_eq!(decl.kind, kind, "hole {} used as {kind:?}", decl.name);
        let index = self.asm.instructions().len();
        self.asm.add_instruction(instruction)?;
        self.sites.push(Site {
            hole: hole.0,
            instruction: index,
        });
        Ok(())
    }

    /// `mov dst, imm64` with the immediate as an `Imm64` hole.
    pub fn mov_imm64(&mut self, dst: AsmRegister64, hole: HoleRef) -> AsmResult {
        let instruction = Instruction::with2(Code::Mov_r64_imm64, Register::from(dst), 0u64)?;
        self.emit(hole, Kind::Imm64, instruction)
    }

    /// `mov dst, imm32` (sign-extended to 64 bits) with an `Imm32` hole.
    pub fn mov_imm32_sign_extended(&mut self, dst: AsmRegister64, hole: HoleRef) -> AsmResult {
        let instruction = Instruction::with2(Code::Mov_rm64_imm32, Register::from(dst), 0i32)?;
        self.emit(hole, Kind::Imm32, instruction)
    }

    /// `mov dst32, imm32` (zero-extended) with an `Imm32` hole.
    pub fn mov_imm32(&mut self, dst: AsmRegister32, hole: HoleRef) -> AsmResult {
        let instruction = Instruction::with2(Code::Mov_r32_imm32, Register::from(dst), 0u32)?;
        self.emit(hole, Kind::Imm32, instruction)
    }

    /// `cmp lhs, imm32` (sign-extended) with an `Imm32` hole.
    pub fn cmp_imm32(&mut self, lhs: AsmRegister64, hole: HoleRef) -> AsmResult {
        let instruction = Instruction::with2(Code::Cmp_rm64_imm32, Register::from(lhs), 0i32)?;
        self.emit(hole, Kind::Imm32, instruction)
    }

    /// `and dst, imm32` (sign-extended) with an `Imm32` hole.
    pub fn and_imm32(&mut self, dst: AsmRegister64, hole: HoleRef) -> AsmResult {
        let instruction = Instruction::with2(Code::And_rm64_imm32, Register::from(dst), 0i32)?;
        self.emit(hole, Kind::Imm32, instruction)
    }

    /// `add dst, imm32` (sign-extended) with an `Imm32` hole.
    pub fn add_imm32(&mut self, dst: AsmRegister64, hole: HoleRef) -> AsmResult {
        let instruction = Instruction::with2(Code::Add_rm64_imm32, Register::from(dst), 0i32)?;
        self.emit(hole, Kind::Imm32, instruction)
    }

    /// `imul dst, src, imm32` (sign-extended) with an `Imm32` hole.
    pub fn imul_imm32(
        &mut self,
        dst: AsmRegister64,
        src: AsmRegister64,
        hole: HoleRef,
    ) -> AsmResult {
        let instruction = Instruction::with3(
            Code::Imul_r64_rm64_imm32,
            Register::from(dst),
            Register::from(src),
            0i32,
        )?;
        self.emit(hole, Kind::Imm32, instruction)
    }

    /// A near branch with a `Rel32` hole: `code` is a `*_rel32_64` branch
    /// (`Jmp_rel32_64`, `Ja_rel32_64`, `Call_rel32_64`, ...).
    pub fn branch_rel32(&mut self, code: Code, hole: HoleRef) -> AsmResult {
        let instruction = Instruction::with_branch(code, REL32_PLACEHOLDER)?;
        self.emit(hole, Kind::Rel32, instruction)
    }

    /// Binds `label` to the next instruction (shadows `CodeAssembler::set_label`
    /// so fault points recorded with a copy of the label see the binding).
    pub fn set_label(&mut self, label: &mut CodeLabel) -> AsmResult {
        self.asm.set_label(label)?;
        for (_, fixup) in &mut self.fault_points {
            if *fixup == *label {
                *fixup = *label;
            }
        }
        Ok(())
    }

    /// Marks the place where a lower layer's fragment goes (before the next
    /// instruction emitted). A label bound just before lands on the spliced
    /// code.
    pub fn splice_point(&mut self) {
        let index = self.asm.instructions().len();
        self.splice_points.push(index);
    }

    /// Emits one instruction that touches user memory; if it faults the
    /// kernel resumes at `fixup` (which must `clac` and return an error).
    pub fn user_access(
        &mut self,
        fixup: CodeLabel,
        emit: impl FnOnce(&mut CodeAssembler) -> AsmResult,
    ) -> AsmResult {
        let index = self.asm.instructions().len();
        emit(&mut self.asm)?;
        assert_eq!(
            self.asm.instructions().len(),
            index + 1,
            "a fault point is exactly one instruction"
        );
        self.fault_points.push((index, fixup));
        Ok(())
    }
}

/// A template as written in its source file, before assembly.
pub struct TemplateSource {
    /// Snake-case name (`dev_mem_read`): the const is its upper case, the
    /// holes struct its camel case + `Holes`.
    pub name: &'static str,
    /// Rustdoc for the const: what it does, guards, technique.
    pub doc: &'static str,
    /// `sk_synth::InvariantKind` variants the code bakes in.
    pub invariants: &'static [&'static str],
    /// Registers read as inputs (`sk_synth::Reg` variants).
    pub reads: &'static [&'static str],
    /// Registers the code may change (`sk_synth::Reg` variants); checked
    /// against what the instructions write.
    pub clobbers: &'static [&'static str],
    /// The code.
    pub asm: TemplateAsm,
}
