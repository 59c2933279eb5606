//! The synthesizer's error type.
//!
//! Owns [`SynthError`]: every way instantiation can refuse a request.
//! Verification has its own [`crate::VerifyError`], installation
//! [`crate::policy::InstallError`].

use core::fmt;

use crate::HoleKind;

/// Why the synthesizer refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthError {
    /// The output buffer is smaller than the template.
    OutputTooSmall {
        /// Template size.
        needed: usize,
        /// Buffer size.
        available: usize,
    },
    /// `final_address + size` wraps around.
    AddressOverflow {
        /// The requested final address.
        address: u64,
    },
    /// The number of hole values differs from the template's holes.
    HoleCount {
        /// Template name.
        template: &'static str,
        /// Holes the template has.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A value of the wrong kind for a hole.
    HoleKind {
        /// Hole name.
        hole: &'static str,
        /// The hole's kind.
        expected: HoleKind,
        /// The value's kind.
        found: HoleKind,
    },
    /// A `Rel32` target is more than ±2 GiB from the branch.
    Rel32OutOfRange {
        /// Hole name.
        hole: &'static str,
        /// The absolute target.
        target: u64,
        /// Address of the instruction after the branch.
        next_instruction: u64,
    },
    /// Splicing a lower fragment into an upper one failed (a re-aimed
    /// branch out of range, a fragment inconsistent with its collapse table).
    SpliceFailed {
        /// The collapsed routine.
        template: &'static str,
        /// Offset in the upper fragment where it failed.
        offset: u32,
    },
}

impl fmt::Display for SynthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutputTooSmall { needed, available } => {
                write!(
                    f,
                    "output buffer too small: need {needed} bytes, have {available}"
                )
            }
            Self::AddressOverflow { address } => {
                write!(f, "code at {address:#x} would wrap the address space")
            }
            Self::HoleCount {
                template,
                expected,
                found,
            } => {
                write!(
                    f,
                    "template {template} has {expected} holes, got {found} values"
                )
            }
            Self::HoleKind {
                hole,
                expected,
                found,
            } => {
                write!(f, "hole {hole} is {expected:?}, got a {found:?} value")
            }
            Self::Rel32OutOfRange {
                hole,
                target,
                next_instruction,
            } => {
                write!(
                    f,
                    "hole {hole}: target {target:#x} out of rel32 range of {next_instruction:#x}"
                )
            }
            Self::SpliceFailed { template, offset } => {
                write!(f, "{template}: splice failed at upper offset {offset:#x}")
            }
        }
    }
}

impl core::error::Error for SynthError {}
