//! Hostile ways into the kernel, run as `/bin/hostile` children, and the
//! exit status each must end with (docs/ring0-entries.md).
//!
//! Owns [`Entry`], [`Want`] and [`draw`]. Every kind of entry `hostile`
//! knows is drawn in turn ([`KINDS`]), each with a random parameter (a
//! selector, a vector, an instruction, an RSP, the path): far `jmp`,
//! `call`, `retf`, `iretq` to any selector; `syscall` from compatibility
//! mode; `sysenter`; `int n`; `int1` (icebp); TF set with `popfq`; `mov ss`
//! before a `syscall` with TF; `syscall` with AC, DF and NT set (must
//! live), with TF too (dies after the call); `syscall` with a hostile RSP
//! (must live); privileged instructions; forged LDT descriptors; the
//! kernel's instruction counter (must live).

use crate::rng::SplitMix64;

/// `hostile`'s status when the kernel killed it.
pub const KILLED: i32 = 137;
/// `hostile`'s status when a "die" mode came back.
pub const SURVIVED: i32 = 3;

/// What a child's exit status must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Killed by the kernel (137).
    Killed,
    /// Came back (3): a far transfer through the one user code segment.
    Survived,
    /// Either: a far call, `retf` or `iretq` through the user code segment,
    /// which QEMU's TCG makes with supervisor stack accesses that SMAP
    /// refuses (see the `entries` kernel tests); or a UMIP instruction on a
    /// CPU that may lack UMIP.
    KilledOrSurvived,
    /// Lived and passed its own check (0).
    Zero,
}

impl Want {
    /// Whether `status` is what was wanted.
    #[must_use]
    pub const fn accepts(self, status: i32) -> bool {
        match self {
            Self::Killed => status == KILLED,
            Self::Survived => status == SURVIVED,
            Self::KilledOrSurvived => status == KILLED || status == SURVIVED,
            Self::Zero => status == 0,
        }
    }
}

/// One hostile child: its start argument and what must become of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `hostile`'s mode.
    pub mode: u64,
    /// Its parameter.
    pub param: u64,
    /// The exit status it must end with.
    pub want: Want,
}

impl Entry {
    /// `hostile`'s start argument.
    #[must_use]
    pub const fn arg(&self) -> u64 {
        (self.mode << 32) | self.param
    }
}

/// `hostile` modes drawn in turn (not 13, `ac-spin`: it spins with
/// `pause`, which QEMU's TCG emulates very slowly, until killed; the
/// `entries` kernel tests run it).
pub const KINDS: [u64; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16];

/// Privileged instructions `hostile` knows.
const PRIVILEGED: u64 = 45;

/// The ones UMIP makes fault (sgdt, sidt, sldt, str, smsw).
const UMIP: core::ops::RangeInclusive<u64> = 13..=17;

/// RSP kinds of `syscall-rsp`.
const RSP_KINDS: u64 = 6;

/// Selectors worth a far transfer: every GDT slot and RPL, TI = 1, past
/// the limit, far beyond (as the `entries` kernel tests sweep them).
fn selector(rng: &mut SplitMix64) -> u64 {
    if rng.percent(85) {
        rng.below(0x50)
    } else {
        rng.pick(&[0x50, 0x53, 0x100, 0x1000, 0xfff8, 0xfffb, 0xfffc, 0xffff])
    }
}

/// The user code segment (any RPL).
const fn is_user_code(selector: u64) -> bool {
    selector >= 0x28 && selector <= 0x2b
}

/// The `index`-th hostile child of a run: kind `KINDS[index % 16]`, a
/// random parameter.
pub fn draw(index: u64, rng: &mut SplitMix64) -> Entry {
    let mode = KINDS
        .get(usize::try_from(index % KINDS.len() as u64).unwrap_or(0))
        .copied()
        .unwrap_or(5);
    let (param, want) = match mode {
        0 => {
            let sel = selector(rng);
            let want = if is_user_code(sel) {
                Want::Survived
            } else {
                Want::Killed
            };
            (sel, want)
        }
        1..=3 => {
            let sel = selector(rng);
            let want = if is_user_code(sel) {
                Want::KilledOrSurvived
            } else {
                Want::Killed
            };
            (sel, want)
        }
        4 => {
            // A selector other than the user code segment (through which
            // the far jump stays in 64-bit mode), RSP kind 0..=2.
            let mut sel = selector(rng);
            if is_user_code(sel) {
                sel = 0x1b;
            }
            ((rng.below(3) << 16) | sel, Want::Killed)
        }
        6 => (rng.below(256), Want::Killed),
        10 | 16 => (rng.below(2), Want::Zero),
        12 => (rng.below(RSP_KINDS) | (rng.below(2) << 8), Want::Zero),
        11 => (rng.below(2), Want::Killed),
        14 => {
            let index = rng.below(PRIVILEGED);
            let want = if UMIP.contains(&index) {
                Want::KilledOrSurvived
            } else {
                Want::Killed
            };
            (index, want)
        }
        15 => (rng.below(2), Want::Killed),
        _ => (0, Want::Killed),
    };
    Entry { mode, param, want }
}
