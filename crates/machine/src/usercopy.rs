//! Copying to and from user memory: the only way the kernel touches it.
//!
//! Owns the range check (user half, no wrap-around) and the copy loops,
//! each a `rep movsb`/`rep stosb` covered by an `.extable` entry so a fault
//! on an unmapped or protected user page returns [`UserFault`] instead of
//! crashing the kernel. With SMAP on, the copies open the user window with
//! `stac` and close it with `clac`; any other kernel access to user memory
//! faults (Intel SDM vol. 3A §4.6).

use crate::layout::USER_END;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A user-memory access that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFault {
    /// The range leaves the user half or wraps around.
    OutOfRange,
    /// A page in the range is unmapped or lacks the access right.
    PageFault {
        /// The faulting address.
        address: u64,
    },
}

static SMAP: AtomicBool = AtomicBool::new(false);

/// Turns SMEP, SMAP and UMIP on where the CPU has them. Returns which.
pub(crate) fn enable_protections() -> (bool, bool, bool) {
    use x86_64::registers::control::{Cr4, Cr4Flags};
    let f = crate::cpu::features();
    let mut flags = Cr4Flags::empty();
    if f.smep {
        flags |= Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION;
    }
    if f.smap {
        flags |= Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION;
    }
    if f.umip {
        flags |= Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION;
    }
    // SAFETY: each bit is set only if CPUID reports the feature; the kernel
    // touches user memory only through this module (which uses stac/clac).
    unsafe { Cr4::update(|c| c.insert(flags)) };
    SMAP.store(f.smap, Ordering::Relaxed);
    (f.smep, f.smap, f.umip)
}

/// True if SMAP is on (so generated code must use stac/clac).
pub fn smap_enabled() -> bool {
    SMAP.load(Ordering::Relaxed)
}

/// Checks that `addr..addr+len` lies in the user half without wrapping.
pub fn check_range(addr: u64, len: u64) -> Result<(), UserFault> {
    match addr.checked_add(len) {
        Some(end) if end <= USER_END => Ok(()),
        _ => Err(UserFault::OutOfRange),
    }
}

/// Runs `rep movsb` from `src` to `dst` for `len` bytes with the user
/// window open; on a fault returns the faulting address and how many bytes
/// were left (`rep movsb` stops exactly at the faulting byte).
fn movsb(dst: u64, src: u64, len: u64) -> Option<(u64, u64)> {
    let smap = smap_enabled();
    let faulted: u64;
    let cr2: u64;
    let left: u64;
    // SAFETY: the caller checked that the user side of the copy lies in the
    // user half and the kernel side is a live buffer of `len` bytes (a
    // byte slice, or the bytes of an `AtomicU64` slice: `word_bytes`
    // checked they lie inside it; bytes of atomics written with plain
    // stores are unpublished ring bytes nobody reads concurrently); the
    // `rep movsb` at label 2 is covered by an `.extable` entry, so a fault
    // on a user page resumes at 3 with rdx = CR2 (extable.rs). `stac`/`clac`
    // run only when SMAP is on (they are #UD otherwise).
    unsafe {
        core::arch::asm!(
            "test {smap:l}, {smap:l}",
            "jz 5f",
            "stac",
            "5:",
            "2: rep movsb",
            "xor eax, eax",
            "jmp 4f",
            "3: mov eax, 1",
            "4:",
            "test {smap:l}, {smap:l}",
            "jz 6f",
            "clac",
            "6:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3b, 0",
            ".popsection",
            smap = in(reg) u64::from(smap),
            inout("rdi") dst => _,
            inout("rsi") src => _,
            inout("rcx") len => left,
            out("rax") faulted,
            out("rdx") cr2,
            options(nostack),
        );
    }
    (faulted != 0).then_some((cr2, left))
}

/// Copies `dst.len()` bytes from user address `src` into `dst`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), UserFault> {
    check_range(src, dst.len() as u64)?;
    match movsb(dst.as_mut_ptr() as u64, src, dst.len() as u64) {
        None => Ok(()),
        Some((address, _)) => Err(UserFault::PageFault { address }),
    }
}

/// Like [`copy_from_user`], but on a fault also says how many bytes were
/// copied before it (the prefix of `dst` that is valid).
pub fn copy_from_user_partial(dst: &mut [u8], src: u64) -> Result<(), (usize, UserFault)> {
    check_range(src, dst.len() as u64).map_err(|e| (0, e))?;
    match movsb(dst.as_mut_ptr() as u64, src, dst.len() as u64) {
        None => Ok(()),
        Some((address, left)) => Err((
            dst.len().saturating_sub(left as usize),
            UserFault::PageFault { address },
        )),
    }
}

/// The address of bytes `offset..offset + len` of `words` (plain bytes in
/// order, little-endian words), if they lie inside it.
fn word_bytes(words: &[AtomicU64], offset: usize, len: usize) -> Option<u64> {
    let end = offset.checked_add(len)?;
    (end <= words.len().checked_mul(8)?).then(|| words.as_ptr() as u64 + offset as u64)
}

/// Copies `len` bytes from user address `src` into bytes
/// `offset..offset + len` of `words` (a byte ring's buffer: plain bytes in
/// order), without a bounce buffer. The bytes are written with ordinary
/// stores: the caller publishes them afterwards (a `Release` store of its
/// index), and nobody reads them before that.
///
/// # Errors
/// [`UserFault`] for a bad user range or a fault (some bytes may have been
/// written: they are not published); [`UserFault::OutOfRange`] if the
/// bytes do not lie inside `words`.
pub fn copy_from_user_to_words(
    words: &[AtomicU64],
    offset: usize,
    src: u64,
    len: usize,
) -> Result<(), UserFault> {
    check_range(src, len as u64)?;
    let dst = word_bytes(words, offset, len).ok_or(UserFault::OutOfRange)?;
    match movsb(dst, src, len as u64) {
        None => Ok(()),
        Some((address, _)) => Err(UserFault::PageFault { address }),
    }
}

/// Copies bytes `offset..offset + len` of `words` to user address `dst`.
///
/// # Errors
/// As [`copy_from_user_to_words`].
pub fn copy_words_to_user(
    dst: u64,
    words: &[AtomicU64],
    offset: usize,
    len: usize,
) -> Result<(), UserFault> {
    check_range(dst, len as u64)?;
    let src = word_bytes(words, offset, len).ok_or(UserFault::OutOfRange)?;
    match movsb(dst, src, len as u64) {
        None => Ok(()),
        Some((address, _)) => Err(UserFault::PageFault { address }),
    }
}

/// Copies `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), UserFault> {
    check_range(dst, src.len() as u64)?;
    match movsb(dst, src.as_ptr() as u64, src.len() as u64) {
        None => Ok(()),
        Some((address, _)) => Err(UserFault::PageFault { address }),
    }
}

/// Fills `len` user bytes at `dst` with `byte`.
pub fn fill_user(dst: u64, byte: u8, len: u64) -> Result<(), UserFault> {
    check_range(dst, len)?;
    let smap = smap_enabled();
    let faulted: u64;
    let cr2: u64;
    // SAFETY: as in `movsb`: the range is in the user half, the `rep stosb`
    // is covered by an `.extable` entry, stac/clac only with SMAP.
    unsafe {
        core::arch::asm!(
            "test {smap:l}, {smap:l}",
            "jz 5f",
            "stac",
            "5:",
            "2: rep stosb",
            "xor edx, edx",
            "mov r8d, 0",
            "jmp 4f",
            "3: mov r8d, 1",
            "4:",
            "test {smap:l}, {smap:l}",
            "jz 6f",
            "clac",
            "6:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3b, 0",
            ".popsection",
            smap = in(reg) u64::from(smap),
            inout("rdi") dst => _,
            inout("rcx") len => _,
            inout("rax") u64::from(byte) => _,
            out("r8") faulted,
            out("rdx") cr2,
            options(nostack),
        );
    }
    if faulted == 0 {
        Ok(())
    } else {
        Err(UserFault::PageFault { address: cr2 })
    }
}
