//! Instances: what instantiation produced and where it lives.
//!
//! Owns [`Instance`] and [`FaultFixup`]. An instance is plain metadata
//! (`Copy`, no allocation): the template, final address, hole values and
//! SMAP choice; the bytes live wherever the caller put them. Neighbours:
//! made by [`crate::instantiate()`], checked by [`crate::verify_instance`],
//! printed by [`crate::disassemble`].

use crate::{HoleValue, HoleValues, InvariantKind, Smap, Template};

/// A template instantiated at a final address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    pub(crate) template: &'static Template,
    pub(crate) address: u64,
    pub(crate) values: HoleValues,
    pub(crate) smap: Smap,
}

/// An exception-table entry of an instance: absolute addresses of a user
/// access and of its fixup, for the kernel's page-fault handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultFixup {
    /// Address of the instruction that may fault.
    pub access: u64,
    /// Address to resume at.
    pub fixup: u64,
}

impl Instance {
    /// Describes the instance of `template` with `values` at `address`:
    /// what [`crate::instantiate_values`] returns, without writing any
    /// byte. For logging and checking bytes that
    /// [`crate::instantiate_bytes`] wrote (the kernel's debug builds and
    /// its replay log); [`crate::verify_instance`] then says whether the
    /// bytes are this instance.
    pub fn describe(
        template: &'static Template,
        values: HoleValues,
        address: u64,
        smap: Smap,
    ) -> Self {
        Self {
            template,
            address,
            values,
            smap,
        }
    }

    /// The template it was made from.
    pub fn template(&self) -> &'static Template {
        self.template
    }

    /// The template's name.
    pub fn name(&self) -> &'static str {
        self.template.name
    }

    /// Final address of the first byte.
    pub fn address(&self) -> u64 {
        self.address
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.template.bytes.len()
    }

    /// Whether `stac`/`clac` were kept.
    pub fn smap(&self) -> Smap {
        self.smap
    }

    /// The invariants baked into the code.
    pub fn invariants(&self) -> &'static [InvariantKind] {
        self.template.invariants
    }

    /// `(hole name, value)` in the template's hole order.
    pub fn hole_values(&self) -> impl Iterator<Item = (&'static str, HoleValue)> + '_ {
        self.template
            .holes
            .iter()
            .map(|hole| hole.name)
            .zip(self.values.as_slice().iter().copied())
    }

    /// The value of the hole called `name`.
    pub fn hole_value(&self, name: &str) -> Option<HoleValue> {
        self.hole_values()
            .find(|(hole, _)| *hole == name)
            .map(|(_, value)| value)
    }

    /// Fault points translated to absolute addresses.
    pub fn fault_fixups(&self) -> impl Iterator<Item = FaultFixup> + '_ {
        self.template.fault_points.iter().map(|point| FaultFixup {
            access: self.address + u64::from(point.access),
            fixup: self.address + u64::from(point.fixup),
        })
    }
}
