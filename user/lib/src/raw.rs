//! The only `asm!` in `sk-user`: the `syscall` instruction and the TSC.
//!
//! Owns [`syscall0`] … [`syscall6`] (the native ABI's register convention:
//! call word in `rax`, arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`,
//! result in `rax`; `rcx`, `r11` and all six argument registers clobbered,
//! used or not; `rbx`, `rbp`, `r12`–`r15`, `rsp` preserved) and [`rdtsc`] /
//! [`rdtscp`]. Everything else in the crate is safe code over these.
//!
//! Every wrapper declares all six argument registers as outputs it
//! discards (`inlateout(..) arg => _` for those it passes, `lateout(..) _`
//! for the rest), so the compiler keeps nothing in them across the call:
//! the kernel's synthesized routines may use them as scratch without
//! saving them (the same set the SysV C ABI already treats as
//! caller-saved).
//!
//! The syscalls are `unsafe`: a call may write through a pointer argument,
//! start a thread at an address, or unmap memory, and the kernel can only
//! check that such arguments are user addresses, not that Rust code is done
//! with the memory. Each typed wrapper states why its use is sound.
//!
//! Every wrapper ORs the process-wide generic-mode bits
//! ([`set_generic_mode`](crate::set_generic_mode): 0, or
//! [`CallWord::FORCE_GENERIC`](sk_abi::CallWord::FORCE_GENERIC)) into the
//! call word. To force one call down the generic path, pass
//! `word | CallWord::FORCE_GENERIC`.
//!
//! Options used on every `syscall`: no `nomem`/`readonly` (the kernel reads
//! and writes user memory the compiler must not cache across the call), no
//! `preserves_flags` (RFLAGS come back from `r11`, which the ABI calls
//! clobbered), `nostack` (`syscall` pushes nothing on the user stack and the
//! kernel runs on its own stack, so the red zone is safe).

use core::arch::asm;

use crate::route;

/// `syscall` with no arguments; returns `rax`.
///
/// # Safety
/// The call named by `word` must not break Rust's memory rules with these
/// (zero) arguments: see the call's documentation in `sk_abi`.
#[inline(always)]
pub unsafe fn syscall0(word: u64) -> i64 {
    let word = word | route::process_bits();
    let result: i64;
    // SAFETY: the instruction follows the ABI register convention; the
    // clobbers (rcx, r11, the six argument registers) are declared; the
    // caller vouches for the call's effects.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") word => result,
            lateout("rdi") _, lateout("rsi") _, lateout("rdx") _,
            lateout("r10") _, lateout("r8") _, lateout("r9") _,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// `syscall` with one argument (`rdi`); returns `rax`.
///
/// # Safety
/// As for [`syscall0`]: any pointer among the arguments must be valid for
/// what the call does with it.
#[inline(always)]
pub unsafe fn syscall1(word: u64, arg0: u64) -> i64 {
    let word = word | route::process_bits();
    let result: i64;
    // SAFETY: as in `syscall0`; the caller vouches for the pointer arguments.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") word => result,
            inlateout("rdi") arg0 => _,
            lateout("rsi") _, lateout("rdx") _,
            lateout("r10") _, lateout("r8") _, lateout("r9") _,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// `syscall` with two arguments (`rdi`, `rsi`); returns `rax`.
///
/// # Safety
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall2(word: u64, arg0: u64, arg1: u64) -> i64 {
    let word = word | route::process_bits();
    let result: i64;
    // SAFETY: as in `syscall0`; the caller vouches for the pointer arguments.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") word => result,
            inlateout("rdi") arg0 => _, inlateout("rsi") arg1 => _,
            lateout("rdx") _,
            lateout("r10") _, lateout("r8") _, lateout("r9") _,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// `syscall` with three arguments (`rdi`, `rsi`, `rdx`); returns `rax`.
///
/// # Safety
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall3(word: u64, arg0: u64, arg1: u64, arg2: u64) -> i64 {
    let word = word | route::process_bits();
    let result: i64;
    // SAFETY: as in `syscall0`; the caller vouches for the pointer arguments.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") word => result,
            inlateout("rdi") arg0 => _, inlateout("rsi") arg1 => _,
            inlateout("rdx") arg2 => _,
            lateout("r10") _, lateout("r8") _, lateout("r9") _,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// `syscall` with six arguments (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`);
/// returns `rax`. No call uses more than three today; this is the full
/// convention, for calls added later.
///
/// # Safety
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall6(word: u64, args: [u64; 6]) -> i64 {
    let [arg0, arg1, arg2, arg3, arg4, arg5] = args;
    let word = word | route::process_bits();
    let result: i64;
    // SAFETY: as in `syscall0`; the caller vouches for the pointer arguments.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") word => result,
            inlateout("rdi") arg0 => _, inlateout("rsi") arg1 => _,
            inlateout("rdx") arg2 => _, inlateout("r10") arg3 => _,
            inlateout("r8") arg4 => _, inlateout("r9") arg5 => _,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// Reads the time-stamp counter after all earlier instructions have
/// executed (`lfence; rdtsc`): use at the start of a timed region.
#[inline(always)]
#[must_use]
pub fn rdtsc() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: `lfence` and `rdtsc` read the TSC into edx:eax and touch no
    // memory; CR4.TSD is clear (the kernel lets user mode read the TSC, as
    // ARCHITECTURE.md §8's measurements need).
    unsafe {
        asm!(
            "lfence",
            "rdtsc",
            out("eax") low, out("edx") high,
            options(nomem, nostack, preserves_flags),
        );
    }
    (u64::from(high) << 32) | u64::from(low)
}

/// Reads the time-stamp counter once all earlier instructions have
/// completed, before any later one starts (`rdtscp; lfence`): use at the end
/// of a timed region.
#[inline(always)]
#[must_use]
pub fn rdtscp() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: as in `rdtsc`; `rdtscp` also writes IA32_TSC_AUX to ecx,
    // declared clobbered.
    unsafe {
        asm!(
            "rdtscp",
            "lfence",
            out("eax") low, out("edx") high, out("ecx") _,
            options(nomem, nostack, preserves_flags),
        );
    }
    (u64::from(high) << 32) | u64::from(low)
}
