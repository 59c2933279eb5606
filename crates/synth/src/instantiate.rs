//! Instantiation: copy a template to its final place and patch its holes.
//!
//! Owns [`instantiate()`], [`instantiate_values`] and [`Smap`]. The hot work
//! is one `copy_from_slice` plus a few 4- or 8-byte stores: about the speed
//! of `memcpy`, no allocation. `Rel32` holes are computed from the final
//! address, so code can be built in a staging buffer (or on the host) and
//! copied into the arena unchanged (STYLE §8: fixups take the final address).

use crate::{HoleSet, HoleValue, HoleValues, Instance, SynthError, Template};

/// What to do with the template's `stac`/`clac` instructions.
///
/// `stac`/`clac` raise `#UD` on a CPU without SMAP and at CPL 3 (host
/// tests), so the kernel instantiates with [`Smap::Disabled`] when CPUID
/// lacks SMAP, and host tests always do. Each site becomes the 3-byte NOP
/// [`SMAP_NOP`]; without SMAP there is no AC check to open, so nothing is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Smap {
    /// Keep `stac`/`clac` (CPU has SMAP and CR4.SMAP is set).
    Enabled,
    /// Patch them to `nop dword ptr [rax]`.
    Disabled,
}

/// `nop dword ptr [rax]` (`0F 1F 00`), as long as `stac`/`clac`.
pub const SMAP_NOP: [u8; 3] = [0x0f, 0x1f, 0x00];

/// Instantiates the template that `holes` belongs to at `final_address`,
/// writing its bytes to the start of `out`.
///
/// # Errors
///
/// [`SynthError::OutputTooSmall`], [`SynthError::AddressOverflow`],
/// [`SynthError::Rel32OutOfRange`]. On error `out` holds unspecified bytes.
///
/// # Example
///
/// ```
/// use sk_synth::{instantiate, templates::ErrorStubHoles, Imm32, Smap};
/// let mut code = [0u8; 64];
/// let stub = instantiate(&ErrorStubHoles { result: Imm32(-9) }, 0x1000, Smap::Enabled, &mut code)?;
/// assert_eq!(&code[..stub.size()], &[0x48, 0xc7, 0xc0, 0xf7, 0xff, 0xff, 0xff, 0x45, 0x31, 0xc9, 0x48, 0x0f, 0x07]);
/// # Ok::<(), sk_synth::SynthError>(())
/// ```
pub fn instantiate<H: HoleSet>(
    holes: &H,
    final_address: u64,
    smap: Smap,
    out: &mut [u8],
) -> Result<Instance, SynthError> {
    instantiate_values(H::TEMPLATE, holes.values(), final_address, smap, out)
}

/// Untyped instantiation: hole values checked at run time (count and kinds).
/// For generic tooling (fuzzers, `xtask show`); kernel code uses [`instantiate()`].
///
/// # Errors
///
/// As [`instantiate()`], plus [`SynthError::HoleCount`] and [`SynthError::HoleKind`].
pub fn instantiate_values(
    template: &'static Template,
    values: HoleValues,
    final_address: u64,
    smap: Smap,
    out: &mut [u8],
) -> Result<Instance, SynthError> {
    write_instance(template, values.as_slice(), final_address, smap, out)?;
    Ok(Instance {
        template,
        address: final_address,
        values,
        smap,
    })
}

/// [`instantiate()`] without describing the result: writes the bytes only
/// (no [`Instance`], whose copy of the hole values is most of what a
/// description costs). The kernel's release builds install routines this
/// way; the bytes are the same as [`instantiate()`]'s (one shared writer).
///
/// # Errors
///
/// As [`instantiate()`].
pub fn instantiate_bytes<H: HoleSet>(
    holes: &H,
    final_address: u64,
    smap: Smap,
    out: &mut [u8],
) -> Result<(), SynthError> {
    holes.write_bytes(final_address, smap, out)
}

/// The one writer of an instance's bytes: copy the template, patch each
/// hole at its sites (the per-template patch list `build.rs` computed),
/// NOP the SMAP sites if asked. Checks the values' count and kinds.
pub(crate) fn write_instance(
    template: &'static Template,
    given: &[HoleValue],
    final_address: u64,
    smap: Smap,
    out: &mut [u8],
) -> Result<(), SynthError> {
    let size = template.bytes.len();
    if given.len() != template.holes.len() {
        return Err(SynthError::HoleCount {
            template: template.name,
            expected: template.holes.len(),
            found: given.len(),
        });
    }
    final_address
        .checked_add(size as u64)
        .ok_or(SynthError::AddressOverflow {
            address: final_address,
        })?;
    let available = out.len();
    let out = out.get_mut(..size).ok_or(SynthError::OutputTooSmall {
        needed: size,
        available,
    })?;
    out.copy_from_slice(template.bytes);
    for (hole, value) in template.holes.iter().zip(given) {
        if hole.kind != value.kind() {
            return Err(SynthError::HoleKind {
                hole: hole.name,
                expected: hole.kind,
                found: value.kind(),
            });
        }
        // The constant is encoded once per hole (a Rel32 once per site:
        // it counts from its own instruction's end) and stored with one
        // fixed-width write per site: the patch list `build.rs` computed.
        match *value {
            HoleValue::Imm64(v) => {
                let encoded = v.to_le_bytes();
                for &site in hole.sites {
                    put(out, site, &encoded);
                }
            }
            HoleValue::Imm32(v) | HoleValue::Disp32(v) => {
                let encoded = v.to_le_bytes();
                for &site in hole.sites {
                    put(out, site, &encoded);
                }
            }
            HoleValue::Rel32(target) => {
                for &site in hole.sites {
                    let rel = rel32(hole.name, site, target, final_address)?;
                    put(out, site, &rel.to_le_bytes());
                }
            }
        }
    }
    if smap == Smap::Disabled {
        disable_smap(template, out);
    }
    Ok(())
}

/// Turns every `stac`/`clac` of `template`'s instance in `out` into the
/// 3-byte NOP [`SMAP_NOP`].
pub(crate) fn disable_smap(template: &Template, out: &mut [u8]) {
    for &site in template.smap_sites {
        let site = site as usize;
        if let Some(bytes) = out.get_mut(site..site + SMAP_NOP.len()) {
            bytes.copy_from_slice(&SMAP_NOP);
        }
    }
}

/// Stores `N` bytes at `site` (offsets were checked at build time;
/// `get_mut` keeps a hand-made template from panicking).
#[inline(always)]
fn put<const N: usize>(out: &mut [u8], site: u32, encoded: &[u8; N]) {
    let site = site as usize;
    if let Some(bytes) = out.get_mut(site..site + N) {
        bytes.copy_from_slice(encoded);
    }
}

/// The displacement of a `Rel32` hole at `site` of an instance at
/// `final_address` that branches to `target`.
pub(crate) fn rel32(
    hole: &'static str,
    site: u32,
    target: u64,
    final_address: u64,
) -> Result<i32, SynthError> {
    // The rel32 ends its instruction: the branch is relative to the next one.
    let next_instruction = final_address + u64::from(site) + 4;
    let delta = target.wrapping_sub(next_instruction) as i64;
    i32::try_from(delta).map_err(|_| SynthError::Rel32OutOfRange {
        hole,
        target,
        next_instruction,
    })
}

/// Writes one hole's constant at `site` (for tools that patch one value;
/// instantiation itself goes through the same encoders).
pub(crate) fn patch(
    out: &mut [u8],
    site: u32,
    hole: &'static str,
    value: HoleValue,
    final_address: u64,
) -> Result<(), SynthError> {
    match value {
        HoleValue::Imm64(v) => put(out, site, &v.to_le_bytes()),
        HoleValue::Imm32(v) | HoleValue::Disp32(v) => put(out, site, &v.to_le_bytes()),
        HoleValue::Rel32(target) => {
            put(
                out,
                site,
                &rel32(hole, site, target, final_address)?.to_le_bytes(),
            );
        }
    }
    Ok(())
}
