//! Splicing: a lower layer's code fragment copied into an upper layer's.
//!
//! Owns [`Branch`], [`SpliceError`], [`spliced_offset`] and [`splice_bytes`]:
//! the byte-level half of Collapsing Layers (Synthesis §2.2). An upper
//! fragment (e.g. the tty line discipline's output loop) has splice sites,
//! instruction boundaries where the lower layer's operation (e.g. the UART's
//! "put one byte") belongs; [`splice_bytes`] copies the upper bytes with one
//! copy of the lower fragment inserted at every site and re-aims every
//! relative branch of the upper fragment whose distance changed (a branch
//! to a site lands on the inserted copy). The lower fragment is
//! position-independent (its own branches stay inside it) and falls
//! through at its end.
//!
//! Pure offset arithmetic on byte slices, no crate types: `build.rs`
//! includes this same file (through `#[path]`) to compute the collapsed
//! routine's layout at build time, and [`crate::instantiate_collapsed`]
//! runs it at instantiation, so the two cannot disagree.

/// An internal relative branch of an upper fragment (its target inside the
/// fragment), found at build time by decoding the fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Branch {
    /// Byte offset of the displacement (it ends the instruction).
    pub displacement: u32,
    /// Width of the displacement: 1 (`rel8`) or 4 (`rel32`).
    pub width: u8,
    /// Byte offset of the target, in the upper fragment.
    pub target: u32,
}

/// Why a splice failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpliceError {
    /// `out` is shorter than the collapsed code.
    OutputTooSmall {
        /// Bytes the collapsed code needs.
        needed: usize,
    },
    /// A re-aimed branch no longer fits its displacement (a `rel8` pushed
    /// past ±127 by inserted code), or a branch or site lies outside the
    /// upper fragment.
    BranchOutOfRange {
        /// Offset of the displacement in the upper fragment.
        displacement: u32,
    },
}

/// Where upper-fragment offset `offset` lands after one `lower_len`-byte
/// copy is inserted at each of `sites` (sorted): shifted by every copy
/// inserted strictly before it, so an offset equal to a site is the start
/// of that site's copy.
pub fn spliced_offset(sites: &[u32], lower_len: u32, offset: u32) -> u32 {
    let before = sites.iter().filter(|&&site| site < offset).count();
    let before = u32::try_from(before).unwrap_or(u32::MAX);
    offset.saturating_add(lower_len.saturating_mul(before))
}

/// Size of the collapsed code.
pub fn spliced_size(upper_len: usize, sites: usize, lower_len: usize) -> usize {
    upper_len + sites * lower_len
}

/// Writes `upper` with `lower` inserted at each of `sites` (sorted,
/// instruction boundaries of `upper`) to the start of `out`, and re-aims
/// each of `branches`. Returns the size written. Hole constants are copied
/// as they are; the caller patches them (at [`spliced_offset`] of an upper
/// site, at a copy's start plus the lower site).
///
/// # Errors
///
/// [`SpliceError::OutputTooSmall`], [`SpliceError::BranchOutOfRange`]. On
/// error `out` holds unspecified bytes.
pub fn splice_bytes(
    upper: &[u8],
    sites: &[u32],
    branches: &[Branch],
    lower: &[u8],
    out: &mut [u8],
) -> Result<usize, SpliceError> {
    let needed = spliced_size(upper.len(), sites.len(), lower.len());
    let out = out
        .get_mut(..needed)
        .ok_or(SpliceError::OutputTooSmall { needed })?;
    let lower_len =
        u32::try_from(lower.len()).map_err(|_| SpliceError::OutputTooSmall { needed })?;
    let mut from = 0usize;
    let mut to = 0usize;
    for &displacement in sites {
        let site = displacement as usize;
        let piece = upper
            .get(from..site)
            .ok_or(SpliceError::BranchOutOfRange { displacement })?;
        out[to..to + piece.len()].copy_from_slice(piece);
        to += piece.len();
        out[to..to + lower.len()].copy_from_slice(lower);
        to += lower.len();
        from = site;
    }
    let rest = &upper[from..];
    out[to..to + rest.len()].copy_from_slice(rest);
    for branch in branches {
        let out_of_range = SpliceError::BranchOutOfRange {
            displacement: branch.displacement,
        };
        if branch.target as usize > upper.len() {
            return Err(out_of_range);
        }
        let width = u32::from(branch.width);
        let next = spliced_offset(sites, lower_len, branch.displacement + width);
        let target = spliced_offset(sites, lower_len, branch.target);
        let delta = i64::from(target) - i64::from(next);
        let at = spliced_offset(sites, lower_len, branch.displacement) as usize;
        match branch.width {
            1 => {
                let rel = i8::try_from(delta).map_err(|_| out_of_range)?;
                *out.get_mut(at).ok_or(out_of_range)? = rel.to_le_bytes()[0];
            }
            4 => {
                let rel = i32::try_from(delta).map_err(|_| out_of_range)?;
                out.get_mut(at..at + 4)
                    .ok_or(out_of_range)?
                    .copy_from_slice(&rel.to_le_bytes());
            }
            _ => return Err(out_of_range),
        }
    }
    Ok(needed)
}
