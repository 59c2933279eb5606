//! Collapsed routines: an upper layer's fragment with a lower layer's
//! spliced in, instantiated by copying both.
//!
//! Owns [`Collapsed`] (one generated const per collapsed routine, see
//! `templates/collapse.rs`) and [`instantiate_collapsed`]. Instantiation
//! copies the upper fragment's bytes with one copy of the lower fragment at
//! every splice site ([`crate::splice::splice_bytes`], which re-aims the
//! upper's branches), patches the upper's holes at their moved sites and
//! the lower's holes in every copy, and patches out `stac`/`clac` if asked.
//! The result is verified like any instance against the routine's layout
//! template (the same splice done at build time on the unpatched bytes):
//! [`crate::verify_instance`] then proves the spliced code is the layout
//! with only the holes changed.

use crate::instantiate::patch;
use crate::splice::{splice_bytes, spliced_offset, Branch, SpliceError};
use crate::{HoleValues, Instance, Smap, SynthError, Template, SMAP_NOP};

/// A collapsed routine: which fragments, where they meet, and its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collapsed {
    /// The upper layer's fragment (with splice sites).
    pub upper: &'static Template,
    /// The lower layer's fragment, copied in at every site.
    pub lower: &'static Template,
    /// Byte offsets in `upper` where a copy of `lower` goes (sorted).
    pub splice_sites: &'static [u32],
    /// The upper's internal relative branches, re-aimed by the splice.
    pub branches: &'static [Branch],
    /// The routine's layout: holes (the upper's, then the lower's),
    /// fault points and SMAP sites at their spliced offsets. Its holes
    /// struct is the typed hole set of the collapsed routine.
    pub layout: &'static Template,
}

/// Instantiates `collapsed` at `final_address` into the start of `out` by
/// splicing its fragments: `values` in the layout's hole order (the
/// upper's holes, then the lower's).
///
/// # Errors
///
/// As [`crate::instantiate_values`] on the layout, plus
/// [`SynthError::SpliceFailed`]. On error `out` holds unspecified bytes.
pub fn instantiate_collapsed(
    collapsed: &Collapsed,
    values: HoleValues,
    final_address: u64,
    smap: Smap,
    out: &mut [u8],
) -> Result<Instance, SynthError> {
    let layout = collapsed.layout;
    let given = values.as_slice();
    if given.len() != layout.holes.len() {
        return Err(SynthError::HoleCount {
            template: layout.name,
            expected: layout.holes.len(),
            found: given.len(),
        });
    }
    let available = out.len();
    final_address
        .checked_add(layout.bytes.len() as u64)
        .ok_or(SynthError::AddressOverflow {
            address: final_address,
        })?;
    let size = splice_bytes(
        collapsed.upper.bytes,
        collapsed.splice_sites,
        collapsed.branches,
        collapsed.lower.bytes,
        out,
    )
    .map_err(|error| match error {
        SpliceError::OutputTooSmall { needed } => SynthError::OutputTooSmall { needed, available },
        SpliceError::BranchOutOfRange { displacement } => SynthError::SpliceFailed {
            template: layout.name,
            offset: displacement,
        },
    })?;
    let splice_failed = SynthError::SpliceFailed {
        template: layout.name,
        offset: 0,
    };
    if size != layout.bytes.len() {
        return Err(splice_failed);
    }
    let out = &mut out[..size];
    let sites = collapsed.splice_sites;
    let lower_len = u32::try_from(collapsed.lower.bytes.len()).map_err(|_| splice_failed)?;
    let moved = |offset: u32| spliced_offset(sites, lower_len, offset);
    let upper_count = collapsed.upper.holes.len();
    let (upper_values, lower_values) = given.split_at(upper_count.min(given.len()));
    let fragments = [
        (collapsed.upper.holes, upper_values),
        (collapsed.lower.holes, lower_values),
    ];
    for (index, (holes, values)) in fragments.into_iter().enumerate() {
        if holes.len() != values.len() {
            return Err(splice_failed);
        }
        for (hole, value) in holes.iter().zip(values) {
            if hole.kind != value.kind() {
                return Err(SynthError::HoleKind {
                    hole: hole.name,
                    expected: hole.kind,
                    found: value.kind(),
                });
            }
            for &site in hole.sites {
                if index == 0 {
                    patch(out, moved(site), hole.name, *value, final_address)?;
                } else {
                    for &splice in sites {
                        patch(out, moved(splice) + site, hole.name, *value, final_address)?;
                    }
                }
            }
        }
    }
    if smap == Smap::Disabled {
        for &site in collapsed.upper.smap_sites {
            let site = moved(site) as usize;
            if let Some(bytes) = out.get_mut(site..site + SMAP_NOP.len()) {
                bytes.copy_from_slice(&SMAP_NOP);
            }
        }
    }
    Ok(Instance {
        template: layout,
        address: final_address,
        values,
        smap,
    })
}
