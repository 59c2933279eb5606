//! The register rules every call is held to (the ones `regcheck` checks,
//! for every call the fuzzer makes).
//!
//! Owns [`Captured`] (every general register before and after one
//! `syscall`, RFLAGS at and after it, `rsp` and the return address) and
//! [`check`]. The rules:
//!
//! - `rbx`, `rbp`, `r12`–`r15` and `rsp` are what they were;
//! - `rcx` is the address after the `syscall`, `r11` RFLAGS at it;
//! - after `sysretq`, AC, DF, NT and IF are as they were at the `syscall`;
//! - each of `rdi`, `rsi`, `rdx`, `r8`, `r9`, `r10` is its input, 0, or an
//!   address inside one of the call's own buffers (`[start, end]`);
//! - no register holds a value `>= 0xffff_8000_0000_0000` (a kernel-half
//!   address), except `rax` when it is an error code (`-4095..=-1`) and a
//!   register still holding its input.
//!
//! `rax`'s value is the caller's to check (it knows what the call must
//! return).

/// Register order in [`Regs`].
pub const RAX: usize = 0;
/// `rbx`.
pub const RBX: usize = 1;
/// `rcx`.
pub const RCX: usize = 2;
/// `rdx`.
pub const RDX: usize = 3;
/// `rsi`.
pub const RSI: usize = 4;
/// `rdi`.
pub const RDI: usize = 5;
/// `rbp`.
pub const RBP: usize = 6;
/// `rsp`.
pub const RSP: usize = 7;
/// `r8`.
pub const R8: usize = 8;
/// `r9`.
pub const R9: usize = 9;
/// `r10`.
pub const R10: usize = 10;
/// `r11`.
pub const R11: usize = 11;
/// `r12`.
pub const R12: usize = 12;
/// `r13`.
pub const R13: usize = 13;
/// `r14`.
pub const R14: usize = 14;
/// `r15`.
pub const R15: usize = 15;

/// Register names, by index.
pub const NAMES: [&str; 16] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

/// The argument registers, in ABI order (`rdi`, `rsi`, `rdx`, `r10`, `r8`,
/// `r9`).
pub const ARGS: [usize; 6] = [RDI, RSI, RDX, R10, R8, R9];

/// The 16 general registers.
pub type Regs = [u64; 16];

/// First address of the kernel half.
pub const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// RFLAGS.TF.
pub const TF: u64 = 1 << 8;
/// RFLAGS.IF.
pub const IF: u64 = 1 << 9;
/// RFLAGS.DF.
pub const DF: u64 = 1 << 10;
/// RFLAGS.NT.
pub const NT: u64 = 1 << 14;
/// RFLAGS.AC.
pub const AC: u64 = 1 << 18;

/// One captured call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Captured {
    /// Registers loaded before the `syscall` (`rsp` ignored).
    pub before: Regs,
    /// Registers right after it.
    pub after: Regs,
    /// RFLAGS at the `syscall`.
    pub flags: u64,
    /// RFLAGS right after it.
    pub flags_after: u64,
    /// `rsp` at the `syscall`.
    pub rsp: u64,
    /// Address of the instruction after the `syscall`.
    pub return_address: u64,
}

/// A broken rule: which register, its value, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The register (index into [`NAMES`]), or 16 for RFLAGS after the call.
    pub register: usize,
    /// Its value after the call.
    pub value: u64,
    /// The value the rule wanted (its input, the return address, ...).
    pub want: u64,
    /// Which rule.
    pub rule: Rule,
}

/// The rules of the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// A callee-saved register or `rsp` changed.
    NotPreserved,
    /// `rcx` is not the return address.
    ReturnAddress,
    /// `r11` is not RFLAGS at the `syscall`.
    SavedFlags,
    /// AC, DF, NT or IF differ after the return.
    FlagsAfter,
    /// An argument register is neither its input, 0, nor in a buffer.
    Argument,
    /// A kernel-half value.
    KernelValue,
}

/// Whether `rax` is an error code.
#[must_use]
pub const fn is_error_code(rax: u64) -> bool {
    let value = rax as i64;
    value >= -4095 && value < 0
}

/// Checks every rule of the module docs; `buffers` are the call's own
/// buffers as `[start, end]` pairs (`(0, 0)` for none). Returns the first
/// rule broken.
///
/// # Errors
/// The broken rule.
pub fn check(call: &Captured, buffers: &[(u64, u64)]) -> Result<(), Broken> {
    let before = &call.before;
    let after = &call.after;
    let broken = |register: usize, want: u64, rule: Rule| Broken {
        register,
        value: after.get(register).copied().unwrap_or(call.flags_after),
        want,
        rule,
    };
    for register in [RBX, RBP, R12, R13, R14, R15] {
        if after[register] != before[register] {
            return Err(broken(register, before[register], Rule::NotPreserved));
        }
    }
    if after[RSP] != call.rsp {
        return Err(broken(RSP, call.rsp, Rule::NotPreserved));
    }
    if after[RCX] != call.return_address {
        return Err(broken(RCX, call.return_address, Rule::ReturnAddress));
    }
    if after[R11] != call.flags {
        return Err(broken(R11, call.flags, Rule::SavedFlags));
    }
    let kept = AC | DF | NT | IF;
    if (call.flags_after ^ call.flags) & kept != 0 {
        return Err(broken(16, call.flags, Rule::FlagsAfter));
    }
    for register in [RDI, RSI, RDX, R8, R9, R10] {
        let value = after[register];
        let in_buffer = buffers
            .iter()
            .any(|&(start, end)| end > 0 && (start..=end).contains(&value));
        if value != before[register] && value != 0 && !in_buffer {
            return Err(broken(register, before[register], Rule::Argument));
        }
    }
    for (register, &value) in after.iter().enumerate() {
        let exempt = (register == RAX && is_error_code(value)) || value == before[register];
        if value >= KERNEL_HALF && !exempt {
            return Err(broken(register, before[register], Rule::KernelValue));
        }
    }
    Ok(())
}
