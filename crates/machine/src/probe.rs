//! Probing kernel memory with recovery: reads, writes and calls that report
//! a page fault instead of crashing, built on the fixup table.
//!
//! Used by tests of the fixup mechanism and of page protections (read-only
//! text, NX data, guard pages) and as the model for the user-copy routines.
//! [`call`] exists in test builds only (feature `ktest`).
//!
//! The probes are `unsafe fn`: a fault is recovered, but an access that
//! does *not* fault really happens: a write changes kernel memory, a call
//! runs whatever code is there, and even a read of an arbitrary address can
//! touch a device register or memory a live `&mut` owns. The caller names
//! addresses whose access is harmless (see each `# Safety`).

use core::arch::asm;

/// A page fault recovered through the fixup table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    /// The CPU's page-fault error code (P, W, U, RSVD, I bits).
    pub error_code: u64,
    /// The faulting linear address (CR2).
    pub address: u64,
}

/// Error-code bit: the page was present (a protection violation).
pub const PF_PRESENT: u64 = 1;
/// Error-code bit: the access was a write.
pub const PF_WRITE: u64 = 1 << 1;
/// Error-code bit: the access came from user mode.
pub const PF_USER: u64 = 1 << 2;
/// Error-code bit: the access was an instruction fetch.
pub const PF_FETCH: u64 = 1 << 4;

const NO_FAULT: u64 = u64::MAX;

/// Reads one byte at `addr`, or reports the page fault.
///
/// # Safety
/// If `addr` is mapped, reading it must be harmless: it is not device
/// memory with read side effects, and no live `&mut` (or other exclusive
/// owner) covers the byte. Unmapped, guard, user (with SMAP) and
/// read-only addresses are always fine: they fault or are shared.
pub unsafe fn read_u8(addr: u64) -> Result<u8, PageFault> {
    let value: u64;
    let cr2: u64;
    let faulted: u64;
    // SAFETY: the only access is the `movzx` at label 2, covered by an
    // `.extable` entry: if it faults, the handler resumes at 3 with rax =
    // error code and rdx = CR2 (extable.rs), so no fault escapes; if it
    // does not, the read is harmless (this function's contract).
    unsafe {
        asm!(
            "2: movzx eax, byte ptr [{addr}]",
            "xor ecx, ecx",
            "jmp 4f",
            "3: mov ecx, 1",
            "4:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3b, 0",
            ".popsection",
            addr = in(reg) addr,
            out("rax") value,
            out("rcx") faulted,
            out("rdx") cr2,
            options(nostack, readonly),
        );
    }
    if faulted != 0 {
        Err(PageFault {
            error_code: value,
            address: cr2,
        })
    } else {
        Ok((value & 0xff) as u8)
    }
}

/// Writes one byte at `addr`, or reports the page fault.
///
/// # Safety
/// `addr` is unmapped, or not writable from ring 0 (read-only kernel
/// pages, user pages with SMAP on), or a byte the caller owns and no
/// reference covers (e.g. a frame it allocated, through the direct map or
/// a mapping it made): if the write succeeds, it must corrupt nothing.
pub unsafe fn write_u8(addr: u64, byte: u8) -> Result<(), PageFault> {
    let status: u64;
    let cr2: u64;
    // SAFETY: the only access is the store at label 2, covered by an
    // `.extable` entry (see `read_u8`); if it does not fault, it writes a
    // byte the caller owns (this function's contract).
    unsafe {
        asm!(
            "2: mov byte ptr [{addr}], {byte}",
            "mov rax, {none}",
            "xor edx, edx",
            "3:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3b, 0",
            ".popsection",
            addr = in(reg) addr,
            byte = in(reg_byte) byte,
            none = const NO_FAULT,
            out("rax") status,
            out("rdx") cr2,
            options(nostack),
        );
    }
    if status == NO_FAULT {
        Ok(())
    } else {
        Err(PageFault {
            error_code: status,
            address: cr2,
        })
    }
}

/// Calls the code at `addr` (which must be `ret` if it runs at all), or
/// reports the page fault (e.g. an NX data page). Test builds only: the
/// fixup rule it needs (`FixupKind::CallProbe`) resumes kernel code after
/// a ring-0 instruction-fetch fault, which only a test may ask for.
///
/// While the call runs, this CPU's per-CPU block says a probe is active
/// and holds the RSP the fetch fault must have (right after the `call`
/// pushed its return address); the fault handler applies the rule only
/// then (traps.rs), and interrupts are off so nothing else runs meanwhile.
///
/// # Safety
/// If the fetch at `addr` does not fault, the bytes there run in ring 0:
/// they must be a `ret` (or code that behaves as one: clobbers only what
/// the C ABI lets a callee clobber and returns). Addresses that cannot be
/// fetched (unmapped, NX, user pages with SMEP on) are fine.
#[cfg(feature = "ktest")]
pub unsafe fn call(addr: u64) -> Result<(), PageFault> {
    let (status, cr2) = crate::cpu::without_interrupts(|| {
        let status: u64;
        let cr2: u64;
        // SAFETY: the call either executes code that returns immediately
        // (the caller's contract: a `ret` or a non-executable page), or faults on
        // the fetch; then the CallProbe entry keyed by the return address
        // (label 2) resumes at 3 with the return address popped
        // (extable.rs), because the per-CPU probe state written just
        // before names this exact RSP. Both paths clear the state. GS is
        // the kernel's (ordinary kernel code); rsi is scratch (clobbered).
        unsafe {
            asm!(
                "mov rax, {none}",
                "xor edx, edx",
                "lea rsi, [rsp - 8]",
                "mov gs:[{probe_rsp}], rsi",
                "mov qword ptr gs:[{probe_active}], 1",
                "call rdi",
                "2:",
                "3:",
                "mov qword ptr gs:[{probe_active}], 0",
                ".pushsection .extable, \"a\"",
                ".balign 8",
                ".quad 2b, 3b, 1",
                ".popsection",
                in("rdi") addr,
                none = const NO_FAULT,
                probe_rsp = const crate::percpu::PROBE_RSP_OFFSET,
                probe_active = const crate::percpu::PROBE_ACTIVE_OFFSET,
                out("rax") status,
                out("rdx") cr2,
                clobber_abi("C"),
            );
        }
        (status, cr2)
    });
    if status == NO_FAULT {
        Ok(())
    } else {
        Err(PageFault {
            error_code: status,
            address: cr2,
        })
    }
}

/// Reads the 8 bytes at `addr`, or `None` if that faults (test builds:
/// the `CallProbe` rule reads a possibly made-up stack slot with it).
/// Crate-private: callers pass kernel stack addresses only.
#[cfg(feature = "ktest")]
pub(crate) fn read_u64_recovering(addr: u64) -> Option<u64> {
    let value: u64;
    let faulted: u64;
    // SAFETY: the only access is the `mov` at label 2, covered by an
    // `.extable` entry (a fault resumes at 3, clobbering only rax and rdx);
    // callers pass an address in the kernel stacks region, where only
    // kernel stacks are mapped: plain RAM that nothing owns exclusively
    // while the fault handler runs on this CPU (interrupts are off).
    unsafe {
        asm!(
            "2: mov rax, qword ptr [{addr}]",
            "xor ecx, ecx",
            "jmp 4f",
            "3: mov ecx, 1",
            "4:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3b, 0",
            ".popsection",
            addr = in(reg) addr,
            out("rax") value,
            out("rcx") faulted,
            out("rdx") _,
            options(nostack, readonly),
        );
    }
    (faulted == 0).then_some(value)
}
