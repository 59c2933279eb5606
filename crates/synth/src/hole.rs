//! Holes: the places in a template that instantiation fills, and their values.
//!
//! Owns [`HoleKind`], [`Hole`], the typed value newtypes ([`Imm64`],
//! [`Imm32`], [`Rel32Target`], [`Disp32`]), the untyped [`HoleValue`], the
//! fixed-capacity [`HoleValues`] and the [`HoleSet`] trait that each
//! generated `…Holes` struct implements. Neighbours: [`crate::Template`]
//! lists holes; [`crate::instantiate()`] patches them.
//!
//! A missing hole does not compile:
//!
//! ```compile_fail
//! use sk_synth::templates::ErrorStubHoles;
//! let holes = ErrorStubHoles {}; // error[E0063]: missing field `result`
//! ```
//!
//! Nor does a wrongly typed one:
//!
//! ```compile_fail
//! use sk_synth::{templates::ErrorStubHoles, Imm64};
//! let holes = ErrorStubHoles { result: Imm64(1) }; // expected `Imm32`
//! ```
//!
//! while the complete, well-typed set does:
//!
//! ```
//! use sk_synth::{templates::ErrorStubHoles, Imm32};
//! let holes = ErrorStubHoles { result: Imm32(-9) };
//! # let _ = holes;
//! ```

use crate::Template;

/// Most holes one template may have (`build.rs` enforces it).
pub const MAX_HOLES: usize = 20;

/// Hole values a thread's switch code keeps for `show` (its switch-in and
/// switch-out templates have at most this many holes: `tests/instantiate.rs`
/// checks every `switch_*` template). Smaller than [`MAX_HOLES`]: every
/// thread's record carries two sets, and copies them when it moves.
pub const SWITCH_HOLE_VALUES: usize = 8;

/// How a hole's constant is encoded in the instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HoleKind {
    /// An 8-byte immediate (`mov r64, imm64`): an address or a 64-bit constant.
    Imm64,
    /// A 4-byte immediate; the CPU sign- or zero-extends it per instruction.
    Imm32,
    /// A 4-byte branch displacement; filled from an absolute target and the
    /// instance's final address. The displacement ends its instruction.
    Rel32,
    /// A 4-byte memory displacement (absolute or base-relative), sign-extended.
    Disp32,
}

impl HoleKind {
    /// Bytes the constant occupies.
    pub const fn width(self) -> usize {
        match self {
            Self::Imm64 => 8,
            Self::Imm32 | Self::Rel32 | Self::Disp32 => 4,
        }
    }
}

/// A named hole and every byte offset (site) where its constant sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hole {
    /// Name, as the field of the typed holes struct.
    pub name: &'static str,
    /// Encoding.
    pub kind: HoleKind,
    /// Byte offsets of the constant inside the template (one per use).
    pub sites: &'static [u32],
}

/// Value of an [`HoleKind::Imm64`] hole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Imm64(pub u64);

/// Value of an [`HoleKind::Imm32`] hole (its bits; error results are negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Imm32(pub i32);

/// Value of an [`HoleKind::Rel32`] hole: the **absolute** branch target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rel32Target(pub u64);

/// Value of an [`HoleKind::Disp32`] hole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Disp32(pub i32);

/// An untyped hole value, tagged with its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HoleValue {
    /// See [`Imm64`].
    Imm64(u64),
    /// See [`Imm32`].
    Imm32(i32),
    /// See [`Rel32Target`].
    Rel32(u64),
    /// See [`Disp32`].
    Disp32(i32),
}

impl HoleValue {
    /// The kind of hole this value fills.
    pub const fn kind(self) -> HoleKind {
        match self {
            Self::Imm64(_) => HoleKind::Imm64,
            Self::Imm32(_) => HoleKind::Imm32,
            Self::Rel32(_) => HoleKind::Rel32,
            Self::Disp32(_) => HoleKind::Disp32,
        }
    }

    /// The value as the 64-bit number the code sees (sign-extended for the
    /// 32-bit kinds; the absolute target for `Rel32`).
    pub const fn as_u64(self) -> u64 {
        match self {
            Self::Imm64(value) | Self::Rel32(value) => value,
            Self::Imm32(value) | Self::Disp32(value) => value as i64 as u64,
        }
    }
}

impl From<Imm64> for HoleValue {
    fn from(value: Imm64) -> Self {
        Self::Imm64(value.0)
    }
}

impl From<Imm32> for HoleValue {
    fn from(value: Imm32) -> Self {
        Self::Imm32(value.0)
    }
}

impl From<Rel32Target> for HoleValue {
    fn from(value: Rel32Target) -> Self {
        Self::Rel32(value.0)
    }
}

impl From<Disp32> for HoleValue {
    fn from(value: Disp32) -> Self {
        Self::Disp32(value.0)
    }
}

/// Up to `N` ([`MAX_HOLES`] unless said) values in a template's hole
/// order, without allocating. A record kept per thread may take a smaller
/// `N` (its templates' hole count): `N` slots are copied with it, used or
/// not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HoleValues<const N: usize = MAX_HOLES> {
    values: [HoleValue; N],
    len: usize,
}

impl<const N: usize> HoleValues<N> {
    /// From an array of at most `N` values (checked at compile time).
    pub const fn from_array<const M: usize>(values: [HoleValue; M]) -> Self {
        const { assert!(M <= N, "too many holes") };
        let mut all = [HoleValue::Imm64(0); N];
        let mut i = 0;
        while i < M {
            all[i] = values[i];
            i += 1;
        }
        Self {
            values: all,
            len: M,
        }
    }

    /// From a slice; `None` if it holds more than `N` values.
    pub fn from_slice(values: &[HoleValue]) -> Option<Self> {
        let mut all = [HoleValue::Imm64(0); N];
        all.get_mut(..values.len())?.copy_from_slice(values);
        Some(Self {
            values: all,
            len: values.len(),
        })
    }

    /// The values, in the template's hole order.
    pub fn as_slice(&self) -> &[HoleValue] {
        self.values.get(..self.len).unwrap_or(&[])
    }

    /// The same values with capacity `M` (`None` if they do not fit).
    pub fn resized<const M: usize>(&self) -> Option<HoleValues<M>> {
        HoleValues::<M>::from_slice(self.as_slice())
    }
}

/// A typed set of hole values for one template. Implemented by the
/// generated `…Holes` structs; the struct names its template, so a template
/// can only be instantiated with its own holes.
pub trait HoleSet {
    /// The template these holes fill.
    const TEMPLATE: &'static Template;
    /// The values in the template's hole order.
    fn values(&self) -> HoleValues;

    /// Calls `f` with the values in the template's hole order, as a slice
    /// of exactly the template's hole count on the stack (no
    /// [`HoleValues`] padded to [`MAX_HOLES`]): instantiation's hot path.
    /// The generated sets implement it; the default goes through
    /// [`values`](Self::values).
    fn with_values<R>(&self, f: impl FnOnce(&[HoleValue]) -> R) -> R {
        f(self.values().as_slice())
    }

    /// Writes the instance at `final_address` to the start of `out`: the
    /// bytes [`crate::instantiate_bytes`] writes. The generated sets
    /// implement it with their patch list unrolled; the default is the
    /// generic writer.
    ///
    /// # Errors
    /// As [`crate::instantiate()`].
    fn write_bytes(
        &self,
        final_address: u64,
        smap: crate::Smap,
        out: &mut [u8],
    ) -> Result<(), crate::SynthError> {
        self.with_values(|values| {
            crate::instantiate::write_instance(Self::TEMPLATE, values, final_address, smap, out)
        })
    }
}
