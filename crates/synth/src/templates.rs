//! The kernel's templates, assembled on the host at build time.
//!
//! Sources: `crates/synth/templates/*.rs` (one file per template, written
//! with iced-x86's `CodeAssembler`); `build.rs` assembles them, resolves
//! every hole offset, fault point and SMAP site, checks clobbers, and emits
//! one [`Template`] const plus one typed holes struct (implementing
//! [`HoleSet`]) per template into this module. Each const's doc lists its
//! holes, invariants, guards, clobbers, fault points, size and technique.
//!
//! Routine convention: entered by the entry stub's `call` with `rax` =
//! `(handle << 3) | op` and the user's arguments in `rdi`, `rsi`, `rdx`,
//! `r10`, `r8` (read/write: `rdi` = buffer, `rsi` = length); result in
//! `rax`, `>= 0` or `-(error code)`; may clobber `rax`, `rcx`, `rdx`, `rsi`,
//! `rdi`, `r8`–`r11`; preserves `rbx`, `rbp`, `r12`–`r15`, `rsp`. User
//! ranges must end at or below `0x0000_8000_0000_0000`.

use crate::splice::Branch;
use crate::{
    Collapsed, FaultPoint, Hole, HoleKind, HoleSet, HoleValue, HoleValues, Imm32, Imm64,
    InvariantKind, Reg, Rel32Target, Smap, SynthError, Template,
};

include!(concat!(env!("OUT_DIR"), "/templates.rs"));
