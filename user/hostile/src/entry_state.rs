//! Kernel entries with hostile user state: `syscall` with TF, AC, DF or NT
//! set in RFLAGS (`syscall-flags`, `syscall-flags-tf`, `mov-ss-syscall-tf`,
//! `tf-popf`), with a hostile RSP (`syscall-rsp`), a spin with AC set
//! (`ac-spin`), and a single-stepped call counted by the kernel
//! (`traced-call`). The kernel must serve the call without trusting any of
//! it, or kill the program alone.
//!
//! Owns the RFLAGS bits these modes set ([`TF`], [`DF`], [`NT`], [`AC`])
//! and the RSP values of `syscall-rsp` ([`rsp_value`]).

use core::arch::asm;

use sk_user::abi::{Call, CallWord, Handle, QuerySelector, SmachReconfigure};
use sk_user::{println, Smach};

use crate::NULL_WORD;

/// RFLAGS.TF: a single-step trap after each instruction.
pub(crate) const TF: u64 = 1 << 8;
/// RFLAGS.DF: string instructions count down.
pub(crate) const DF: u64 = 1 << 10;
/// RFLAGS.NT: nested task (for `iret`).
pub(crate) const NT: u64 = 1 << 14;
/// RFLAGS.AC: alignment check (and, in ring 0 with SMAP, user access).
pub(crate) const AC: u64 = 1 << 18;

/// Arms the kernel's instruction counter, makes a null call with TF set
/// (`pushfq; or; popfq; syscall`), reads the count. `None` if the kernel
/// refused a step.
pub(crate) fn traced_call(generic: bool) -> Option<(u64, u64)> {
    if let Err(e) = Smach::this().reconfigure(SmachReconfigure::TraceNextCall) {
        println!("hostile: TraceNextCall refused: {e}");
        return None;
    }
    let word = NULL_WORD | if generic { CallWord::FORCE_GENERIC } else { 0 };
    let rax: u64;
    // SAFETY: TF is set only for the `syscall`; the kernel counts the call
    // and clears TF on the way back (a #DB otherwise kills us). The call is
    // the null call; its clobbers are declared.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {tf}",
            "popfq",
            "syscall",
            tf = const TF,
            inlateout("rax") word => rax,
            out("rcx") _, out("r11") _,
            out("rdi") _, out("rsi") _, out("rdx") _, out("r8") _, out("r9") _, out("r10") _,
        );
    }
    let query = CallWord::new(Handle::SELF, Call::Query).get();
    // SAFETY: `query(self, LastTrace)` with no buffer writes no memory.
    let count = unsafe { sk_user::raw::syscall3(query, u64::from(QuerySelector::LastTrace), 0, 0) };
    if count < 0 {
        println!("hostile: LastTrace refused: {count}");
        return None;
    }
    Some((rax, count as u64))
}

pub(crate) fn tf_popf() {
    // SAFETY: sets TF, then runs `nop`s: each is single-stepped (#DB). TF
    // is cleared again before Rust code runs, if we get that far.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {tf}",
            "popfq",
            "nop",
            "nop",
            "pushfq",
            "and qword ptr [rsp], {not_tf}",
            "popfq",
            tf = const TF,
            not_tf = const !TF,
        );
    }
}

pub(crate) fn mov_ss_syscall_tf() {
    // SAFETY: `mov ss` with the user data selector (no change) holds off
    // the single-step trap of the TF just set until after `syscall`: it
    // arrives on the kernel's first instruction. The call is the null call;
    // its clobbers are declared. TF is cleared before Rust code runs.
    unsafe {
        asm!(
            "mov r8d, 0x23",
            "pushfq",
            "or qword ptr [rsp], {tf}",
            "popfq",
            "mov ss, r8w",
            "syscall",
            "nop",
            "pushfq",
            "and qword ptr [rsp], {not_tf}",
            "popfq",
            tf = const TF,
            not_tf = const !TF,
            inlateout("rax") NULL_WORD => _,
            out("rcx") _, out("r11") _, out("r8") _,
            out("rdi") _, out("rsi") _, out("rdx") _, out("r9") _, out("r10") _,
        );
    }
}

/// A null call with AC, DF and NT (and TF if `tf`) set; returns rax and
/// RFLAGS before and right after the call.
pub(crate) fn syscall_with_flags(tf: bool, generic: bool) -> (u64, u64, u64) {
    let set = AC | DF | NT | if tf { TF } else { 0 };
    let word = NULL_WORD | if generic { CallWord::FORCE_GENERIC } else { 0 };
    let (rax, before, after): (u64, u64, u64);
    // SAFETY: the flags are set only across the `syscall`; DF, AC, NT and
    // TF are cleared before Rust code runs again (AC and NT have no effect
    // in ring 3 here: CR0.AM is off and nothing executes `iret`). The call
    // is the null call; its clobbers are declared.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {set}",
            "mov {before}, qword ptr [rsp]",
            "popfq",
            "syscall",
            "pushfq",
            "pop {after}",
            "pushfq",
            "and qword ptr [rsp], {clear}",
            "popfq",
            "cld",
            set = in(reg) set,
            clear = in(reg) !(AC | DF | NT | TF),
            before = out(reg) before,
            after = out(reg) after,
            inlateout("rax") word => rax,
            out("rcx") _, out("r11") _,
            out("rdi") _, out("rsi") _, out("rdx") _, out("r8") _, out("r9") _, out("r10") _,
        );
    }
    (rax, before, after)
}

/// RSP values for `syscall-rsp`.
pub(crate) fn rsp_value(kind: u64) -> Option<u64> {
    Some(match kind {
        0 => 0,
        1 => 0x8000_0000_0000_0000,
        2 => 0xffff_ffff_8000_0000,
        3 => 0xffff_8000_0010_0000,
        // unaligned, in the user half (the kernel must not use it anyway)
        4 => 0x0000_7fff_fffe_fff3,
        5 => 0xffff_ffff_ffff_fff8,
        _ => return None,
    })
}

pub(crate) fn syscall_with_rsp(rsp: u64, generic: bool) -> u64 {
    let word = NULL_WORD | if generic { CallWord::FORCE_GENERIC } else { 0 };
    let rax: u64;
    // SAFETY: rsp is parked in r12 across the `syscall` and restored right
    // after; between, only the `syscall` runs (interrupts from ring 3
    // switch to the kernel stack and never use the user rsp).
    unsafe {
        asm!(
            "mov r12, rsp",
            "mov rsp, {rsp}",
            "syscall",
            "mov rsp, r12",
            rsp = in(reg) rsp,
            inlateout("rax") word => rax,
            out("r12") _,
            out("rcx") _, out("r11") _,
            out("rdi") _, out("rsi") _, out("rdx") _, out("r8") _, out("r9") _, out("r10") _,
        );
    }
    rax
}

pub(crate) fn ac_spin() -> ! {
    // SAFETY: AC has no effect in ring 3 here (CR0.AM is off); the loop
    // never returns and touches no memory.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {ac}",
            "popfq",
            "2:",
            "pause",
            "jmp 2b",
            ac = const AC,
            options(noreturn),
        );
    }
}
