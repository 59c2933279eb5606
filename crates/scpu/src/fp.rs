//! Lazy FP/SSE/AVX state: which SCPU owns a save area, and when the
//! scheduler saves, restores or traps.
//!
//! Owns [`FpState`] (one thread's: no area until its first FP instruction,
//! then an area it keeps until it ends), the [`FpUnit`] seam (the
//! mechanism: save, restore, CR0.TS; `sk-machine`'s `fpu` in the kernel, a
//! model in the tests) and the three events of the protocol:
//!
//! - [`switch_out`]: the thread leaving the CPU saves its registers into
//!   its area if it has one; a thread without an area saves nothing.
//! - [`switch_in`]: the thread taking the CPU restores its area (which
//!   clears TS) if it has one; otherwise TS is set, so its first FP
//!   instruction traps before it can read what the registers still hold
//!   (the last FP thread's values, saved already at that thread's switch
//!   out).
//! - [`first_use`]: the `#NM` of a thread without an area: allocate one
//!   in the initial state, restore it, mark the thread as using FP.
//!
//! "Lazy until first use, eager after": a thread that once used FP has
//! its state saved and restored at every switch. This is the Synthesis
//! model in Rust form: its switch code was resynthesized with the FP
//! save/restore instructions once the thread used FP. Because the state
//! of the previous FP thread is always saved at *its* switch out, the
//! `#NM` handler never has a previous owner to save, which is where the
//! thesis records its bug (a lazy handler that loaded the new owner's
//! state without first saving the old owner's, docs/caveats.md).
//! [`describe_fault`] words the console message for a user FP fault.

/// The FP mechanism the policy drives (`sk-machine`'s `fpu` module in the
/// kernel; a model CPU in the tests).
pub trait FpUnit {
    /// A thread's save area.
    type Area;
    /// Saves the live registers into `area` (TS unchanged).
    fn save(&mut self, area: &mut Self::Area);
    /// Loads `area` into the registers and clears TS.
    fn restore(&mut self, area: &mut Self::Area);
    /// Sets TS: the next FP instruction traps.
    fn set_ts(&mut self);
}

/// One thread's FP ownership.
#[derive(Debug)]
pub struct FpState<A> {
    area: Option<A>,
    traps: u32,
}

impl<A> Default for FpState<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> FpState<A> {
    /// A thread that has not used FP: no area, nothing saved at switches.
    pub const fn new() -> Self {
        Self {
            area: None,
            traps: 0,
        }
    }

    /// True once the thread executed an FP instruction.
    pub fn uses_fp(&self) -> bool {
        self.area.is_some()
    }

    /// Its save area, if it uses FP.
    pub fn area(&self) -> Option<&A> {
        self.area.as_ref()
    }

    /// `#NM` traps this thread took (1 for a thread that uses FP, 0
    /// otherwise, under a correct scheduler).
    pub fn traps(&self) -> u32 {
        self.traps
    }
}

/// The thread leaving the CPU: saves its registers if it uses FP.
/// Returns true if it saved.
pub fn switch_out<U: FpUnit>(unit: &mut U, state: &mut FpState<U::Area>) -> bool {
    match state.area.as_mut() {
        Some(area) => {
            unit.save(area);
            true
        }
        None => false,
    }
}

/// The thread taking the CPU (`None`: a thread with no FP state, a dead
/// one or a kernel thread): restores its area, or sets TS so that its
/// first FP instruction traps. Returns true if it restored.
pub fn switch_in<U: FpUnit>(unit: &mut U, state: Option<&mut FpState<U::Area>>) -> bool {
    match state.and_then(|s| s.area.as_mut()) {
        Some(area) => {
            unit.restore(area);
            true
        }
        None => {
            unit.set_ts();
            false
        }
    }
}

/// What [`first_use`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstUse {
    /// The thread got a new area in the initial state.
    Allocated,
    /// The thread had an area already (TS was set while it ran: a
    /// scheduler bug); its own state was restored again.
    Repeated,
}

/// Why [`first_use`] could not give the thread FP state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpError {
    /// No memory for a save area: the program must die.
    NoMemory,
}

impl core::fmt::Display for FpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoMemory => f.write_str("no memory for its FP/SSE/AVX save area"),
        }
    }
}

impl core::error::Error for FpError {}

/// The `#NM` of the running thread: gives it an area from `allocate` (in
/// the initial state) and loads it, which clears TS; the instruction then
/// runs again. Nothing is saved here: the registers hold either nothing
/// of value or the state of a thread that saved it at its switch out.
///
/// # Errors
/// [`FpError::NoMemory`] if `allocate` fails (the kernel kills the
/// program; nothing changed).
pub fn first_use<U: FpUnit>(
    unit: &mut U,
    state: &mut FpState<U::Area>,
    allocate: impl FnOnce() -> Option<U::Area>,
) -> Result<FirstUse, FpError> {
    state.traps = state.traps.saturating_add(1);
    if let Some(area) = state.area.as_mut() {
        unit.restore(area);
        return Ok(FirstUse::Repeated);
    }
    let mut area = allocate().ok_or(FpError::NoMemory)?;
    unit.restore(&mut area);
    state.area = Some(area);
    Ok(FirstUse::Allocated)
}

/// What the CPU offers for saving FP state (CPUID as the kernel read it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaveSupport {
    /// CPUID.1:ECX[26]: XSAVE/XRSTOR and XCR0.
    pub xsave: bool,
    /// CPUID.(EAX=0Dh,ECX=1):EAX[0]: XSAVEOPT.
    pub xsaveopt: bool,
}

/// How a thread's FP state is saved (the restore follows: `xrstor64`
/// for the XSAVE family, `fxrstor64` for FXSAVE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveKind {
    /// `xsaveopt64`: skips components in their initial state, and ones
    /// unmodified since the last `xrstor64` from the same address.
    Xsaveopt,
    /// `xsave64`: every enabled component not in its initial state.
    Xsave,
    /// `fxsave64`: x87 and SSE only (no XSAVE, or `fp.fxsave`).
    Fxsave,
}

impl SaveKind {
    /// True for the XSAVE family (restored with `xrstor64`, with XCR0's
    /// components; CR4.OSXSAVE on).
    pub fn is_xsave(self) -> bool {
        !matches!(self, Self::Fxsave)
    }
}

/// The kernel's save instruction for this boot (decided once, at boot):
/// the best the CPU has, `xsaveopt64` > `xsave64` > `fxsave64`; FXSAVE
/// when `force_fxsave` (the `fp.fxsave` boot option, which tests the
/// fallback on a CPU that has XSAVE). Both schedulers (the generic one's
/// Rust save, the ring's synthesized switch code) follow it.
pub fn choose_save(support: SaveSupport, force_fxsave: bool) -> SaveKind {
    match support {
        _ if force_fxsave => SaveKind::Fxsave,
        SaveSupport { xsave: false, .. } => SaveKind::Fxsave,
        SaveSupport {
            xsave: true,
            xsaveopt: true,
        } => SaveKind::Xsaveopt,
        SaveSupport {
            xsave: true,
            xsaveopt: false,
        } => SaveKind::Xsave,
    }
}

/// The instruction one save into an area uses: the boot's `chosen` one,
/// except that `xsaveopt64` needs an area that was *restored* (`xrstor64`)
/// since it was made: its modified optimisation skips components the CPU
/// believes the area still holds from the last `xrstor64` at that address
/// (SDM vol. 1 §13.6, §13.9). A fresh area (written by software, never
/// restored) gets a plain `xsave64`. The kernel restores an area before
/// the first save in practice (`first_use` restores it at allocation);
/// this rule makes the precondition explicit rather than assumed, and is
/// what both the generic save and the ring's template choice call.
pub fn save_for(chosen: SaveKind, area_restored: bool) -> SaveKind {
    match chosen {
        SaveKind::Xsaveopt if !area_restored => SaveKind::Xsave,
        other => other,
    }
}

/// MXCSR exception flags (bits 0-5) and masks (bits 7-12), by name.
const SIMD_EXCEPTIONS: [&str; 6] = [
    "invalid operation",
    "denormal operand",
    "divide by zero",
    "overflow",
    "underflow",
    "precision",
];

/// Writes the exceptions whose flag is set and whose mask is clear in a
/// status (`flags` bits 0-5) and control (`masks` bits 0-5) pair.
fn write_unmasked(f: &mut core::fmt::Formatter<'_>, flags: u32, masks: u32) -> core::fmt::Result {
    let mut first = true;
    for (bit, name) in SIMD_EXCEPTIONS.iter().enumerate() {
        if flags & (1 << bit) != 0 && masks & (1 << bit) == 0 {
            f.write_str(if first { "" } else { ", " })?;
            f.write_str(name)?;
            first = false;
        }
    }
    if first {
        f.write_str("none pending")?;
    }
    Ok(())
}

/// A user FP fault, worded for the console (see [`describe_fault`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpFault {
    /// `#MF`: an unmasked x87 exception, with the live status word
    /// (`None` if the state was not live) and control word.
    X87 {
        /// FSW at the fault.
        fsw: Option<u16>,
    },
    /// `#XM`: an unmasked SIMD exception, with the live MXCSR.
    Simd {
        /// MXCSR at the fault.
        mxcsr: Option<u32>,
    },
    /// `#UD` at an instruction with a VEX (`c4`/`c5`) or EVEX (`62`)
    /// prefix: AVX or AVX-512 whose state XCR0 does not enable.
    VectorExtension {
        /// True for EVEX (AVX-512).
        evex: bool,
        /// The XCR0 in force.
        xcr0: u64,
    },
    /// `#GP` at `ldmxcsr`/`vldmxcsr` (reserved MXCSR bits), `fxrstor` or
    /// `xrstor` (reserved MXCSR bits, a bad XSAVE header, misalignment).
    LoadState {
        /// The instruction's mnemonic.
        mnemonic: &'static str,
    },
}

impl core::fmt::Display for FpFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::X87 { fsw: Some(fsw) } => {
                write!(f, "unmasked x87 exception (FSW {fsw:#06x}: ")?;
                // FSW bits 0-5 are the flags; the masks are in FCW, which
                // a pending #MF implies were clear for the set flags.
                write_unmasked(f, u32::from(fsw) & 0x3f, 0)?;
                f.write_str(")")
            }
            Self::X87 { fsw: None } => f.write_str("unmasked x87 exception"),
            Self::Simd { mxcsr: Some(m) } => {
                write!(f, "unmasked SIMD exception (MXCSR {m:#x}: ")?;
                write_unmasked(f, m & 0x3f, (m >> 7) & 0x3f)?;
                f.write_str(")")
            }
            Self::Simd { mxcsr: None } => f.write_str("unmasked SIMD exception"),
            Self::VectorExtension { evex, xcr0 } => write!(
                f,
                "{} instruction, but XCR0 {xcr0:#x} does not enable its state",
                if evex { "AVX-512 (EVEX)" } else { "AVX (VEX)" }
            ),
            Self::LoadState { mnemonic } => write!(
                f,
                "{mnemonic} refused: {}",
                if mnemonic.ends_with("mxcsr") {
                    "reserved MXCSR bits set"
                } else {
                    "reserved MXCSR bits, a bad XSAVE header or a misaligned area"
                }
            ),
        }
    }
}

/// Whether the instruction bytes at a `#UD` start (after legacy and REX
/// prefixes) with a VEX or EVEX prefix: `Some(true)` for EVEX,
/// `Some(false)` for VEX, `None` otherwise. In 64-bit mode `c4`, `c5` and
/// `62` are always these prefixes (SDM vol. 2 §2.3, §2.7).
pub fn vector_prefix(bytes: &[u8]) -> Option<bool> {
    for &b in bytes {
        match b {
            // Legacy prefixes: operand/address size, segment, lock, rep.
            0x66 | 0x67 | 0x2e | 0x36 | 0x3e | 0x26 | 0x64 | 0x65 | 0xf0 | 0xf2 | 0xf3 => {}
            0x62 => return Some(true),
            0xc4 | 0xc5 => return Some(false),
            _ => return None,
        }
    }
    None
}

/// The FP-state loading instruction `bytes` start with, if any:
/// `0f ae /1` fxrstor, `/2` ldmxcsr, `/5` xrstor (after legacy and REX
/// prefixes), or VEX `vldmxcsr` (`c5 f8 ae /2`, `c4 e1 78 ae /2`).
pub fn state_load_mnemonic(bytes: &[u8]) -> Option<&'static str> {
    let start = bytes.iter().position(|b| {
        !matches!(
            b,
            0x66 | 0x67 | 0x2e | 0x36 | 0x3e | 0x26 | 0x64 | 0x65 | 0xf0 | 0xf2 | 0xf3 | 0x40
                ..=0x4f
        )
    })?;
    let rest = bytes.get(start..)?;
    let modrm = match rest {
        [0x0f, 0xae, m, ..] => *m,
        [0xc5, _, 0xae, m, ..] => return ((m >> 3) & 7 == 2).then_some("vldmxcsr"),
        [0xc4, _, _, 0xae, m, ..] => return ((m >> 3) & 7 == 2).then_some("vldmxcsr"),
        _ => return None,
    };
    // Register forms (mod = 3) of 0f ae are fences and fsgsbase.
    if modrm >> 6 == 3 {
        return None;
    }
    match (modrm >> 3) & 7 {
        1 => Some("fxrstor"),
        2 => Some("ldmxcsr"),
        5 => Some("xrstor"),
        _ => None,
    }
}

/// The console wording of a user fault that is FP's: `#MF` (16), `#XM`
/// (19), `#UD` (6) at a VEX/EVEX instruction, or `#GP` (13) at an
/// instruction loading FP state (`bytes` read at RIP). `None` for any
/// other fault (the generic message applies).
pub fn describe_fault(
    vector: u64,
    fsw: Option<u16>,
    mxcsr: Option<u32>,
    bytes: &[u8],
    xcr0: u64,
) -> Option<FpFault> {
    match vector {
        16 => Some(FpFault::X87 { fsw }),
        19 => Some(FpFault::Simd { mxcsr }),
        6 => vector_prefix(bytes).map(|evex| FpFault::VectorExtension { evex, xcr0 }),
        13 => state_load_mnemonic(bytes).map(|mnemonic| FpFault::LoadState { mnemonic }),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
