#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod collapse;
mod disasm;
mod error;
mod hole;
mod instance;
mod instantiate;
mod invariant;
pub mod policy;
mod registers;
pub mod replay;
pub mod splice;
mod template;
pub mod templates;
mod verify;

pub use collapse::{instantiate_collapsed, Collapsed};
pub use disasm::disassemble;
pub use error::SynthError;
pub use hole::{
    Disp32, Hole, HoleKind, HoleSet, HoleValue, HoleValues, Imm32, Imm64, Rel32Target, MAX_HOLES,
    SWITCH_HOLE_VALUES,
};
pub use instance::{FaultFixup, Instance};
pub use instantiate::{instantiate, instantiate_bytes, instantiate_values, Smap, SMAP_NOP};
pub use invariant::{DeviceKind, Invariant, InvariantKind, Invariants, MAX_INVARIANTS};
pub use registers::Reg;
pub use template::{FaultPoint, Template};
pub use verify::{verify_bytes, verify_instance, VerifyError};
