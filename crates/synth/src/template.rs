//! Templates: machine code plus the description instantiation and review need.
//!
//! Owns [`Template`] and [`FaultPoint`]. The consts are generated at build
//! time from `templates/*.rs` (see [`crate::templates`]); tests may also build
//! one by hand. Neighbours: [`crate::hole`] (what gets filled),
//! [`crate::instantiate()`] (copy + patch), [`crate::verify`] (proof the
//! instance is the template with only holes changed).

use crate::{Hole, InvariantKind, Reg};

/// A template: bytes assembled once on the host, with holes, fault points,
/// SMAP sites, the invariants it bakes in and its register contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    /// Snake-case name (`dev_mem_read`).
    pub name: &'static str,
    /// The code, with placeholder constants in the holes.
    pub bytes: &'static [u8],
    /// Holes in declaration order (the typed holes struct's field order).
    pub holes: &'static [Hole],
    /// Instructions that touch user memory and where each resumes on a fault.
    pub fault_points: &'static [FaultPoint],
    /// Offsets of the 3-byte `stac`/`clac` instructions (patched to NOPs
    /// when instantiated with [`crate::Smap::Disabled`]).
    pub smap_sites: &'static [u32],
    /// Kinds of fact the code assumes; the concrete values of a planned
    /// routine come from [`crate::policy::RoutineSpec::invariants`].
    pub invariants: &'static [InvariantKind],
    /// Registers read as inputs.
    pub reads: &'static [Reg],
    /// Registers the code may change (besides the flags).
    pub clobbers: &'static [Reg],
    /// Number of instructions in the template (static count, all paths).
    pub instruction_count: usize,
}

/// A user-memory access inside a template and its fixup (byte offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultPoint {
    /// Offset of the instruction that may fault on a user address.
    pub access: u32,
    /// Offset of the fixup: `clac`, then return `-(BadAddress)`.
    pub fixup: u32,
}

impl Template {
    /// Size in bytes.
    pub const fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The hole called `name`.
    pub fn hole(&self, name: &str) -> Option<&'static Hole> {
        self.holes.iter().find(|hole| hole.name == name)
    }

    /// The hole whose constant starts at byte `offset`, if any.
    pub fn hole_at(&self, offset: u32) -> Option<&'static Hole> {
        self.holes.iter().find(|hole| hole.sites.contains(&offset))
    }
}
