//! Build-time assembly of a template: bytes, hole sites, fault points and
//! SMAP sites, each offset read from iced-x86's block encoder and checked
//! (hole widths, `Rel32` ending its instruction, fixups on instruction
//! boundaries). Used by `build.rs` and by `tests/taint.rs`.

use std::collections::BTreeSet;

use super::builder::{Kind, TemplateSource};
use super::taint;
use iced_x86::{BlockEncoderOptions, Code, ConstantOffsets, Decoder, DecoderOptions};

/// Most holes any template may have (`sk_synth::MAX_HOLES`).
pub const MAX_HOLES: usize = 20;

/// One hole after assembly: its declaration index and byte offsets.
pub struct PlacedHole {
    /// Index into `TemplateAsm::holes`.
    pub declaration: usize,
    /// Byte offsets of the hole's constant, one per site.
    pub offsets: Vec<u32>,
}

/// A template after assembly, with every offset resolved.
pub struct Assembled {
    /// The source, holes and declarations included.
    pub source: TemplateSource,
    /// The machine code, assembled at address 0.
    pub bytes: Vec<u8>,
    /// Each declared hole with its sites.
    pub holes: Vec<PlacedHole>,
    /// `(access, fixup)` byte offsets.
    pub fault_points: Vec<(u32, u32)>,
    /// Byte offsets of `stac`/`clac`.
    pub smap_sites: Vec<u32>,
    /// Instructions in the template.
    pub instruction_count: usize,
    /// Byte offsets of the splice points (an upper-layer fragment's; empty
    /// for every other template).
    pub splice_sites: Vec<u32>,
}

/// Assembles `source` at address 0 and resolves every hole, fault point
/// and SMAP site, checking each (panics with the template's name).
pub fn assemble(mut source: TemplateSource) -> Assembled {
    let name = source.name;
    let mut options = BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS
        | BlockEncoderOptions::RETURN_CONSTANT_OFFSETS;
    if source.asm.keep_near_branches {
        options |= BlockEncoderOptions::DONT_FIX_BRANCHES;
    }
    let result = source
        .asm
        .assemble_options(0, options)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let bytes = result.inner.code_buffer.clone();
    let offsets = &result.inner.new_instruction_offsets;
    let constants = &result.inner.constant_offsets;
    let instruction_offset = |index: usize| -> u32 {
        let offset = offsets[index];
        assert_ne!(
            offset,
            u32::MAX,
            "{name}: instruction {index} was rewritten by the block encoder"
        );
        offset
    };
    let boundaries = decode_boundaries(name, &bytes);

    assert!(
        source.asm.holes.len() <= MAX_HOLES,
        "{name}: more than {MAX_HOLES} holes"
    );
    let mut holes: Vec<PlacedHole> = (0..source.asm.holes.len())
        .map(|declaration| PlacedHole {
            declaration,
            offsets: Vec::new(),
        })
        .collect();
    for site in &source.asm.sites {
        let kind = source.asm.holes[site.hole].kind;
        let start = instruction_offset(site.instruction);
        let offset = start + constant_offset(name, kind, &constants[site.instruction]);
        if kind == Kind::Rel32 {
            assert!(
                boundaries.contains(&(offset + 4)),
                "{name}: rel32 hole does not end its instruction"
            );
        }
        holes[site.hole].offsets.push(offset);
    }
    for hole in &holes {
        assert!(
            !hole.offsets.is_empty(),
            "{name}: hole {} is never used",
            source.asm.holes[hole.declaration].name
        );
    }

    let fault_points: Vec<(u32, u32)> = source
        .asm
        .fault_points
        .iter()
        .map(|(index, label)| {
            let fixup = result
                .label_ip(label)
                .unwrap_or_else(|e| panic!("{name}: fixup label: {e}"));
            let fixup = u32::try_from(fixup).expect("fixup offset fits u32");
            assert!(
                boundaries.contains(&fixup),
                "{name}: fixup off an instruction boundary"
            );
            (instruction_offset(*index), fixup)
        })
        .collect();

    let mut smap_sites = Vec::new();
    let mut instruction_count = 0;
    let mut decoder = Decoder::with_ip(64, &bytes, 0, DecoderOptions::NONE);
    for instruction in &mut decoder {
        assert!(
            !instruction.is_invalid(),
            "{name}: invalid instruction at {:#x}",
            instruction.ip()
        );
        instruction_count += 1;
        if matches!(instruction.code(), Code::Stac | Code::Clac) {
            assert_eq!(instruction.len(), 3);
            smap_sites.push(u32::try_from(instruction.ip()).expect("offset fits u32"));
        }
    }
    let splice_sites = source
        .asm
        .splice_points
        .iter()
        .map(|&index| {
            if index == offsets.len() {
                u32::try_from(bytes.len()).expect("size fits u32")
            } else {
                instruction_offset(index)
            }
        })
        .collect();
    Assembled {
        source,
        bytes,
        holes,
        fault_points,
        smap_sites,
        instruction_count,
        splice_sites,
    }
}

/// Byte offset of a hole's constant inside its instruction, checked against its kind.
fn constant_offset(name: &str, kind: Kind, constants: &ConstantOffsets) -> u32 {
    let (offset, size) = (constants.immediate_offset(), constants.immediate_size());
    let expected = match kind {
        Kind::Imm64 => 8,
        Kind::Imm32 | Kind::Rel32 => 4,
    };
    assert_eq!(
        size, expected,
        "{name}: {kind:?} hole encoded with a {size}-byte constant"
    );
    u32::try_from(offset).expect("small offset")
}

/// Offsets of every instruction boundary (including the end).
fn decode_boundaries(name: &str, bytes: &[u8]) -> BTreeSet<u32> {
    let mut boundaries = BTreeSet::new();
    let mut decoder = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
    for instruction in &mut decoder {
        assert!(!instruction.is_invalid(), "{name}: invalid instruction");
        boundaries.insert(u32::try_from(instruction.ip()).expect("offset fits u32"));
    }
    boundaries.insert(u32::try_from(bytes.len()).expect("size fits u32"));
    boundaries
}

impl Assembled {
    /// Runs the taint check ([`taint::check`]) on this template: the
    /// violations, empty if no exit leaves a kernel value in a register.
    pub fn taint_check(&self) -> Vec<taint::Violation> {
        self.taint_check_as(super::leaf::STACKLESS.contains(&self.source.name))
    }

    /// [`Self::taint_check`] under the stackless contract or the routine one.
    pub fn taint_check_as(&self, stackless: bool) -> Vec<taint::Violation> {
        let mut holes = Vec::new();
        for hole in &self.holes {
            let decl = &self.source.asm.holes[hole.declaration];
            let kind = match decl.kind {
                Kind::Imm64 => taint::HoleUse::Address,
                Kind::Imm32 => taint::HoleUse::Constant,
                Kind::Rel32 => taint::HoleUse::Target,
            };
            for &offset in &hole.offsets {
                holes.push(taint::Hole {
                    name: decl.name,
                    kind,
                    offset,
                });
            }
        }
        taint::check(&taint::Template {
            name: self.source.name,
            bytes: &self.bytes,
            holes: &holes,
            fault_points: &self.fault_points,
            stackless,
        })
    }
}
