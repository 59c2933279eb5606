//! Verification: an instance is its template with only hole operands changed.
//!
//! Owns [`verify_instance`] and [`VerifyError`]. Both byte streams are
//! decoded with iced-x86 at the instance's address and compared instruction
//! by instruction: same length, opcode (`Code`), operand kinds, registers and
//! memory shape; every byte outside the holes (and, with SMAP patched out,
//! the `stac`/`clac` sites) equal; every hole site exactly the immediate,
//! displacement or branch operand of its instruction, carrying the value
//! the instance records. Host tests fuzz hole values through this for every
//! template (STYLE §7).

use core::fmt;

use iced_x86::{Code, ConstantOffsets, Decoder, DecoderOptions, Instruction, OpKind};

use crate::{HoleKind, HoleValue, Instance, Smap, SMAP_NOP};

/// How an instance differs from its template beyond its holes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The instance has a different length.
    SizeMismatch {
        /// Template size.
        expected: usize,
        /// Instance size.
        found: usize,
    },
    /// Bytes at `offset` do not decode (in either stream).
    InvalidInstruction {
        /// Byte offset.
        offset: usize,
    },
    /// The instructions at `offset` differ in length, opcode or operands.
    InstructionMismatch {
        /// Byte offset.
        offset: usize,
    },
    /// A byte outside every hole differs.
    ByteMismatch {
        /// Byte offset.
        offset: usize,
    },
    /// A hole site is not the immediate/displacement/branch operand of its instruction.
    HoleMisplaced {
        /// Hole name.
        hole: &'static str,
        /// Byte offset of the site.
        offset: usize,
    },
    /// The instance encodes another value than it records for the hole.
    HoleValueMismatch {
        /// Hole name.
        hole: &'static str,
        /// Byte offset of the site.
        offset: usize,
    },
    /// A `stac`/`clac` site holds neither the instruction nor its NOP.
    SmapSiteMismatch {
        /// Byte offset.
        offset: usize,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SizeMismatch { expected, found } => {
                write!(f, "size {found}, template has {expected}")
            }
            Self::InvalidInstruction { offset } => write!(f, "invalid instruction at +{offset:#x}"),
            Self::InstructionMismatch { offset } => {
                write!(f, "instruction at +{offset:#x} differs from the template")
            }
            Self::ByteMismatch { offset } => {
                write!(f, "byte at +{offset:#x} differs outside any hole")
            }
            Self::HoleMisplaced { hole, offset } => {
                write!(f, "hole {hole} at +{offset:#x} is not an operand constant")
            }
            Self::HoleValueMismatch { hole, offset } => {
                write!(f, "hole {hole} at +{offset:#x} holds another value")
            }
            Self::SmapSiteMismatch { offset } => {
                write!(f, "stac/clac site at +{offset:#x} altered")
            }
        }
    }
}

impl core::error::Error for VerifyError {}

/// The byte-level half of [`verify_instance`], without decoding: `bytes`
/// has the template's length, every byte outside the hole sites (and, with
/// SMAP patched out, the `stac`/`clac` sites, which must hold the NOP)
/// equals the template's, and every hole site encodes the value `instance`
/// records (`Rel32` relative to the instance's address).
///
/// Enough, after one instance of the same template passed
/// [`verify_instance`] at any address: an x86 instruction's length, opcode
/// and operand shape depend only on its non-constant bytes (immediates,
/// displacements and branch offsets of a fixed width never change the
/// decoding), and those are the bytes this compares. The kernel's debug
/// builds decode each template's first instance and check the later ones
/// with this (the decode is most of a switch-code resynthesis).
///
/// # Errors
///
/// The first difference found, as a [`VerifyError`].
pub fn verify_bytes(instance: &Instance, bytes: &[u8]) -> Result<(), VerifyError> {
    let template = instance.template();
    if bytes.len() != template.bytes.len() {
        return Err(VerifyError::SizeMismatch {
            expected: template.bytes.len(),
            found: bytes.len(),
        });
    }
    let is_smap_patched = instance.smap() == Smap::Disabled;
    // Computed per byte, not in a table: the kernel verifies in debug
    // builds at every install, and an install with the heap full must not
    // need the heap.
    let covers = |sites: &[u32], width: usize, offset: usize| {
        sites
            .iter()
            .any(|&site| (site as usize..site as usize + width).contains(&offset))
    };
    let is_variable = |offset: usize| {
        template
            .holes
            .iter()
            .any(|hole| covers(hole.sites, hole.kind.width(), offset))
            || (is_smap_patched && covers(template.smap_sites, SMAP_NOP.len(), offset))
    };
    let differing = template
        .bytes
        .iter()
        .zip(bytes)
        .enumerate()
        .position(|(offset, (t, i))| t != i && !is_variable(offset));
    if let Some(offset) = differing {
        return Err(VerifyError::ByteMismatch { offset });
    }

    if is_smap_patched {
        for &site in template.smap_sites {
            let site = site as usize;
            if bytes.get(site..site + SMAP_NOP.len()) != Some(&SMAP_NOP[..]) {
                return Err(VerifyError::SmapSiteMismatch { offset: site });
            }
        }
    }
    let address = instance.address();
    for (name, kind, site, value) in hole_sites(instance) {
        let width = kind.width();
        let mut encoded = [0u8; 8];
        let Some(stored) = bytes.get(site..site + width) else {
            return Err(VerifyError::HoleMisplaced {
                hole: name,
                offset: site,
            });
        };
        encoded[..width].copy_from_slice(stored);
        let raw = u64::from_le_bytes(encoded);
        let matches = match value {
            HoleValue::Imm64(v) => raw == v,
            HoleValue::Imm32(v) | HoleValue::Disp32(v) => raw == u64::from(v as u32),
            HoleValue::Rel32(target) => {
                let rel = i64::from(i32::from_le_bytes([
                    encoded[0], encoded[1], encoded[2], encoded[3],
                ]));
                address
                    .wrapping_add(site as u64 + 4)
                    .wrapping_add(rel as u64)
                    == target
            }
        };
        if !matches {
            return Err(VerifyError::HoleValueMismatch {
                hole: name,
                offset: site,
            });
        }
    }
    Ok(())
}

/// Checks that `bytes` (the instance's code) is its template with only the
/// hole operands changed, each holding the value `instance` records.
///
/// # Errors
///
/// The first difference found, as a [`VerifyError`].
pub fn verify_instance(instance: &Instance, bytes: &[u8]) -> Result<(), VerifyError> {
    verify_bytes(instance, bytes)?;
    let template = instance.template();
    let is_smap_patched = instance.smap() == Smap::Disabled;
    let address = instance.address();
    let mut expected = Decoder::with_ip(64, template.bytes, address, DecoderOptions::NONE);
    let mut actual = Decoder::with_ip(64, bytes, address, DecoderOptions::NONE);
    let mut hole_sites_seen = 0;
    while expected.can_decode() {
        let offset = expected.position();
        let (t, i) = (expected.decode(), actual.decode());
        if t.is_invalid() || i.is_invalid() {
            return Err(VerifyError::InvalidInstruction { offset });
        }
        if is_smap_patched
            && u32::try_from(offset).is_ok_and(|offset| template.smap_sites.contains(&offset))
        {
            let is_nop = bytes.get(offset..offset + SMAP_NOP.len()) == Some(&SMAP_NOP[..]);
            if !matches!(t.code(), Code::Stac | Code::Clac) || !is_nop {
                return Err(VerifyError::SmapSiteMismatch { offset });
            }
            continue;
        }
        if !same_shape(&t, &i) {
            return Err(VerifyError::InstructionMismatch { offset });
        }
        let constants = actual.get_constant_offsets(&i);
        for (name, kind, site, value) in hole_sites(instance) {
            if !(offset..offset + i.len()).contains(&site) {
                continue;
            }
            hole_sites_seen += 1;
            check_hole(&i, &constants, offset, name, kind, site, value, bytes)?;
        }
    }
    let total_sites: usize = template.holes.iter().map(|hole| hole.sites.len()).sum();
    if hole_sites_seen != total_sites {
        return Err(VerifyError::InstructionMismatch {
            offset: bytes.len(),
        });
    }
    Ok(())
}

/// `(name, kind, byte offset, value)` for every hole site of the instance.
fn hole_sites(
    instance: &Instance,
) -> impl Iterator<Item = (&'static str, HoleKind, usize, HoleValue)> + '_ {
    instance
        .template()
        .holes
        .iter()
        .zip(instance.hole_values())
        .flat_map(|(hole, (_, value))| {
            hole.sites
                .iter()
                .map(move |&site| (hole.name, hole.kind, site as usize, value))
        })
}

/// Same opcode, length, operand kinds and registers, memory shape and prefixes.
fn same_shape(t: &Instruction, i: &Instruction) -> bool {
    let operands_match = (0..t.op_count())
        .all(|op| t.op_kind(op) == i.op_kind(op) && t.op_register(op) == i.op_register(op));
    t.code() == i.code()
        && t.len() == i.len()
        && t.op_count() == i.op_count()
        && operands_match
        && t.memory_base() == i.memory_base()
        && t.memory_index() == i.memory_index()
        && t.memory_index_scale() == i.memory_index_scale()
        && t.memory_displ_size() == i.memory_displ_size()
        && t.segment_prefix() == i.segment_prefix()
        && t.has_rep_prefix() == i.has_rep_prefix()
}

#[allow(clippy::too_many_arguments)]
fn check_hole(
    i: &Instruction,
    constants: &ConstantOffsets,
    offset: usize,
    hole: &'static str,
    kind: HoleKind,
    site: usize,
    value: HoleValue,
    bytes: &[u8],
) -> Result<(), VerifyError> {
    let within = site - offset;
    let misplaced = VerifyError::HoleMisplaced { hole, offset: site };
    let (constant_offset, constant_size) = match kind {
        HoleKind::Imm64 | HoleKind::Imm32 | HoleKind::Rel32 => {
            (constants.immediate_offset(), constants.immediate_size())
        }
        HoleKind::Disp32 => (
            constants.displacement_offset(),
            constants.displacement_size(),
        ),
    };
    if constant_offset != within || constant_size != kind.width() {
        return Err(misplaced);
    }
    let is_branch = (0..i.op_count()).any(|op| i.op_kind(op) == OpKind::NearBranch64);
    if (kind == HoleKind::Rel32) != is_branch {
        return Err(misplaced);
    }
    let matches = match value {
        HoleValue::Rel32(target) => i.near_branch_target() == target,
        HoleValue::Disp32(displacement) => {
            i.memory_displacement64() as i64 == i64::from(displacement)
        }
        HoleValue::Imm64(_) | HoleValue::Imm32(_) => {
            let mut encoded = [0; 8];
            encoded[..kind.width()].copy_from_slice(
                bytes
                    .get(site..site + kind.width())
                    .unwrap_or(&[0; 8][..kind.width()]),
            );
            let stored = u64::from_le_bytes(encoded);
            let expected = match value {
                HoleValue::Imm32(v) => u64::from(v as u32),
                _ => value.as_u64(),
            };
            stored == expected
        }
    };
    if matches {
        Ok(())
    } else {
        Err(VerifyError::HoleValueMismatch { hole, offset: site })
    }
}
