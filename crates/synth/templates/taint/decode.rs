//! A template's instructions, decoded once, with its holes and fault
//! points keyed by the instruction that carries them.
//!
//! Owns [`Decoded`], [`decode`] and [`offset_of`]; the transfer function
//! and the fixpoint read it.

use std::collections::BTreeSet;

use iced_x86::{Decoder, DecoderOptions, Instruction};

use super::{HoleUse, Template};

/// The instructions of a template, decoded once.
pub(super) struct Decoded {
    pub(super) instructions: Vec<Instruction>,
    /// Instruction index by start offset.
    pub(super) index_of: std::collections::BTreeMap<u32, usize>,
    /// Offsets of instructions carrying an `Imm64` hole, with its name.
    pub(super) address_holes: std::collections::BTreeMap<u32, String>,
    /// Offsets of instructions carrying an `Imm32` hole.
    pub(super) constant_holes: BTreeSet<u32>,
    /// Fault point access offset -> fixup offset(s).
    pub(super) fixups: Vec<(u32, u32)>,
}

pub(super) fn offset_of(instruction: &Instruction) -> u32 {
    u32::try_from(instruction.ip()).expect("template offsets fit u32")
}

pub(super) fn decode(template: &Template<'_>) -> Decoded {
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
