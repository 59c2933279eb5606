//! General-purpose registers, as templates declare what they read and clobber.
//!
//! Owns [`Reg`]. Used by [`crate::Template`]; filled in by the generated
//! template tables (`build.rs` checks the clobber lists against the code).

/// A 64-bit general-purpose register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)] // the names are the documentation
pub enum Reg {
    Rax,
    Rcx,
    Rdx,
    Rbx,
    Rsp,
    Rbp,
    Rsi,
    Rdi,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
}

impl Reg {
    /// Whether routines must preserve it (`rbx`, `rbp`, `r12`–`r15`; `rsp`
    /// is preserved by balance, not listed here).
    pub const fn is_callee_saved(self) -> bool {
        matches!(
            self,
            Self::Rbx | Self::Rbp | Self::R12 | Self::R13 | Self::R14 | Self::R15
        )
    }

    /// Lower-case assembler name (`"rax"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rax => "rax",
            Self::Rcx => "rcx",
            Self::Rdx => "rdx",
            Self::Rbx => "rbx",
            Self::Rsp => "rsp",
            Self::Rbp => "rbp",
            Self::Rsi => "rsi",
            Self::Rdi => "rdi",
            Self::R8 => "r8",
            Self::R9 => "r9",
            Self::R10 => "r10",
            Self::R11 => "r11",
            Self::R12 => "r12",
            Self::R13 => "r13",
            Self::R14 => "r14",
            Self::R15 => "r15",
        }
    }
}
