//! The auxiliary vector a Linux program finds above its environment.
//!
//! Owns the `AT_*` type numbers ([`at`]) and [`ProgramAux`], what the
//! loader knows about the program that goes into the vector. The strings
//! and bytes some entries point at (`AT_RANDOM`, `AT_PLATFORM`,
//! `AT_EXECFN`) are placed by [`crate::initial_stack`].

/// Auxiliary vector entry types (`<linux/auxvec.h>`, `<asm/auxvec.h>`).
pub mod at {
    /// End of the vector.
    pub const NULL: u64 = 0;
    /// Address of the program headers in memory.
    pub const PHDR: u64 = 3;
    /// Size of one program header.
    pub const PHENT: u64 = 4;
    /// Number of program headers.
    pub const PHNUM: u64 = 5;
    /// The page size.
    pub const PAGESZ: u64 = 6;
    /// Base address of the interpreter (0: none, a static program).
    pub const BASE: u64 = 7;
    /// Flags (always 0).
    pub const FLAGS: u64 = 8;
    /// The program's entry point.
    pub const ENTRY: u64 = 9;
    /// Real user id.
    pub const UID: u64 = 11;
    /// Effective user id.
    pub const EUID: u64 = 12;
    /// Real group id.
    pub const GID: u64 = 13;
    /// Effective group id.
    pub const EGID: u64 = 14;
    /// Address of the platform string (`"x86_64"`).
    pub const PLATFORM: u64 = 15;
    /// CPUID.1:EDX, the classic feature bits.
    pub const HWCAP: u64 = 16;
    /// Clock ticks per second of `times()`.
    pub const CLKTCK: u64 = 17;
    /// 1 if the program runs with more privilege than its caller.
    pub const SECURE: u64 = 23;
    /// Address of 16 random bytes (libc's stack-protector and pointer-guard seed).
    pub const RANDOM: u64 = 25;
    /// More feature bits (0 here).
    pub const HWCAP2: u64 = 26;
    /// Address of the path the program was executed as.
    pub const EXECFN: u64 = 31;
}

/// What the loader knows about a program, for its auxiliary vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramAux {
    /// Where the program headers are mapped (`AT_PHDR`).
    pub phdr: u64,
    /// Size of one program header (`AT_PHENT`, 56 for ELF64).
    pub phent: u64,
    /// How many there are (`AT_PHNUM`).
    pub phnum: u64,
    /// The entry point (`AT_ENTRY`).
    pub entry: u64,
    /// CPUID.1:EDX (`AT_HWCAP`).
    pub hwcap: u64,
    /// User and group ids (`AT_UID`, `AT_EUID`, `AT_GID`, `AT_EGID`).
    pub uid: u64,
    /// See `uid`.
    pub gid: u64,
}

/// `AT_PAGESZ`.
pub const PAGE_SIZE: u64 = 4096;

/// `AT_CLKTCK`: Linux's `USER_HZ` on x86-64.
pub const CLOCK_TICKS: u64 = 100;

impl ProgramAux {
    /// The vector's entries, `AT_NULL` last, given where the 16 random
    /// bytes, the platform string and the executed path were placed.
    #[must_use]
    pub fn entries(&self, random: u64, platform: u64, execfn: u64) -> [(u64, u64); 19] {
        [
            (at::PHDR, self.phdr),
            (at::PHENT, self.phent),
            (at::PHNUM, self.phnum),
            (at::PAGESZ, PAGE_SIZE),
            (at::BASE, 0),
            (at::FLAGS, 0),
            (at::ENTRY, self.entry),
            (at::UID, self.uid),
            (at::EUID, self.uid),
            (at::GID, self.gid),
            (at::EGID, self.gid),
            (at::PLATFORM, platform),
            (at::HWCAP, self.hwcap),
            (at::CLKTCK, CLOCK_TICKS),
            (at::SECURE, 0),
            (at::RANDOM, random),
            (at::HWCAP2, 0),
            (at::EXECFN, execfn),
            (at::NULL, 0),
        ]
    }
}
