//! The exception fixup table: chosen kernel instructions may page-fault and
//! resume at a fixup address instead of crashing the kernel.
//!
//! Owns the `.extable` section format ([`FixupEntry`]), the lookup, and the
//! register convention at a fixup: `rax` = page-fault error code, `rdx` =
//! faulting address. In test builds only, an entry of kind
//! `FixupKind::CallProbe` covers `probe::call`'s `call` to a target that
//! may not be executable: the fault is then at the target, and the entry is
//! found through the return address on the stack; the trap handler honours
//! it only while that probe runs and at the exact RSP it recorded.
//! Linux's `_ASM_EXTABLE` is the model (arch/x86/mm/extable.c).

/// How a matching entry is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum FixupKind {
    /// The faulting instruction's address is `insn`.
    Instruction = 0,
    /// The fault is an instruction fetch whose return address is `insn`
    /// (test builds only; see `probe::call`).
    #[cfg(feature = "ktest")]
    CallProbe = 1,
}

/// One `.extable` entry: 24 bytes, written by assembly.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FixupEntry {
    /// Address of the instruction that may fault (or the probe's return address).
    pub insn: u64,
    /// Where execution resumes.
    pub fixup: u64,
    /// [`FixupKind`] as a number.
    pub kind: u64,
}

unsafe extern "C" {
    static __extable_start: FixupEntry;
    static __extable_end: FixupEntry;
}

fn static_table() -> &'static [FixupEntry] {
    let start = &raw const __extable_start;
    let end = &raw const __extable_end;
    let len = (end as usize - start as usize) / core::mem::size_of::<FixupEntry>();
    // SAFETY: the linker script places every `.extable` entry, each a
    // 24-byte FixupEntry emitted by `extable_entry!`-style assembly,
    // between the two symbols; the section is read-only for the kernel's life.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// The fixup address for a fault at `rip` of the given kind, if any.
pub fn find(rip: u64, kind: FixupKind) -> Option<u64> {
    static_table()
        .iter()
        .find(|e| e.insn == rip && e.kind == kind as u64)
        .map(|e| e.fixup)
        .or_else(|| crate::dynamic_extable::find(rip, kind))
}

/// Number of static entries (for the boot log and tests).
pub fn static_entries() -> usize {
    static_table().len()
}

/// `(return address, fixup)` of every static [`FixupKind::CallProbe`]
/// entry (test builds only: tests forge frames against them).
#[cfg(feature = "ktest")]
pub fn call_probe_sites() -> impl Iterator<Item = (u64, u64)> {
    static_table()
        .iter()
        .filter(|e| e.kind == FixupKind::CallProbe as u64)
        .map(|e| (e.insn, e.fixup))
}
