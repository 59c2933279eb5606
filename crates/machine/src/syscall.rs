//! System-call entry through `syscall`/`sysretq` (the generic path's door),
//! and the entries that must never serve a call.
//!
//! Owns every ring-0 entry MSR (EFER.SCE, STAR, LSTAR, CSTAR, SFMASK,
//! SYSENTER_CS/ESP/EIP: all written at boot, none left at its reset
//! value), the 64-bit entry stub that switches to the kernel stack with
//! `swapgs`, [`SyscallFrame`], and the kill entry that `syscall` from
//! compatibility mode (CSTAR) and `sysenter` (SYSENTER_EIP) would reach:
//! it leaves the user's stack and GS before touching memory and calls the
//! kernel's [`set_compat_syscall_handler`] upcall, which kills the caller.
//! `sysenter` itself cannot enter: SYSENTER_CS = 0 makes it #GP on Intel
//! (on AMD it is #UD in long mode). The kernel's dispatcher is an upcall
//! ([`set_handler`]). Before `sysretq` the
//! return address is checked to be canonical and in the user half: on Intel
//! CPUs `sysret` to a non-canonical RIP faults in ring 0 with the user's RSP
//! (the "sysret hazard", CVE-2012-0217); such a return is diverted to the
//! kernel's `bad_return` handler instead.

use crate::gdt::{KERNEL_CS, SYSRET_BASE};
use crate::percpu::{SYSCALL_STACK_TOP_OFFSET, USER_RSP_OFFSET};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const IA32_SYSENTER_CS: u32 = 0x174;
const IA32_SYSENTER_ESP: u32 = 0x175;
const IA32_SYSENTER_EIP: u32 = 0x176;
const IA32_EFER: u32 = 0xC000_0080;
const IA32_STAR: u32 = 0xC000_0081;
const IA32_LSTAR: u32 = 0xC000_0082;
const IA32_CSTAR: u32 = 0xC000_0083;
const IA32_FMASK: u32 = 0xC000_0084;
const EFER_SCE: u64 = 1;

/// RFLAGS bits cleared on entry: IF (interrupts off in the kernel's call
/// path), TF (no single-step into the kernel unless asked), DF, AC, NT.
const SFMASK: u64 = (1 << 9) | (1 << 8) | (1 << 10) | (1 << 18) | (1 << 14);

/// User registers as saved by the entry stub. Layout shared with assembly.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct SyscallFrame {
    pub r9: u64,
    pub r8: u64,
    pub r10: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    /// Call word on entry, return value on exit.
    pub rax: u64,
    pub rbx: u64,
    pub rbp: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    /// User RIP (from rcx).
    pub rip: u64,
    /// User RFLAGS (from r11).
    pub rflags: u64,
    /// User RSP.
    pub rsp: u64,
    /// `rcx` on return: the entry saves the return RIP here. If a handler
    /// leaves it (or `r11`) different from `rip` (`rflags`), the return
    /// takes `iretq` and loads it, instead of `sysretq`, which cannot.
    pub rcx: u64,
    /// `r11` on return (see `rcx`).
    pub r11: u64,
}

fn no_handler(frame: &mut SyscallFrame) {
    frame.rax = u64::MAX;
}

static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Installs the kernel's system-call dispatcher. The handler may change
/// any field of the frame: the return address is checked to be a user
/// address (else the bad-return handler runs) and RFLAGS is reduced to
/// user flags before `sysretq`, so no handler can return to ring 0 or give
/// ring 3 more privilege.
pub fn set_handler(handler: fn(&mut SyscallFrame)) {
    HANDLER.store(handler as *const () as usize, Ordering::Release);
}

/// RFLAGS bits a user program can set itself (with `popfq` in ring 3): CF,
/// PF, AF, ZF, SF, TF, DF, OF, NT, AC, ID. Not IOPL (port I/O from ring 3),
/// VIF, VIP (`sysretq` leaves out RF and VM itself).
const USER_RFLAGS: u64 = (1 << 0)
    | (1 << 2)
    | (1 << 4)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 18)
    | (1 << 21);
/// RFLAGS bits every return to user mode sets: IF and the reserved bit 1.
const USER_RFLAGS_SET: u64 = (1 << 9) | (1 << 1);

/// The RFLAGS a return to user mode may load, whatever a handler left in
/// the frame: `sysretq` loads most of r11 (IOPL included) into RFLAGS.
pub(crate) fn user_rflags(rflags: u64) -> u64 {
    (rflags & USER_RFLAGS) | USER_RFLAGS_SET
}

/// Returns nonzero if the return must be `iretq` (`rcx`/`r11` asked for).
extern "C" fn dispatch(frame: &mut SyscallFrame) -> u64 {
    let raw = HANDLER.load(Ordering::Acquire);
    let handler: fn(&mut SyscallFrame) = if raw == 0 {
        no_handler
    } else {
        // SAFETY: HANDLER only ever holds 0 or a `fn(&mut SyscallFrame)`
        // stored by `set_handler`.
        unsafe { core::mem::transmute::<usize, fn(&mut SyscallFrame)>(raw) }
    };
    handler(frame);
    if frame.rip >= crate::layout::USER_END {
        bad_return(frame);
    }
    // Whatever the handler wrote, user mode gets user flags only (a safe
    // handler must not be able to hand ring 3 IOPL 3).
    frame.rflags = user_rflags(frame.rflags);
    u64::from(frame.rcx != frame.rip || frame.r11 != frame.rflags)
}

static BAD_RETURN: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler for a system call whose return address is not a
/// user address; it must not return to that address (e.g. it terminates
/// the thread and switches away).
pub fn set_bad_return_handler(handler: fn(&mut SyscallFrame)) {
    BAD_RETURN.store(handler as *const () as usize, Ordering::Release);
}

fn bad_return(frame: &mut SyscallFrame) {
    let raw = BAD_RETURN.load(Ordering::Acquire);
    if raw != 0 {
        // SAFETY: BAD_RETURN only holds 0 or a fn stored by the setter.
        let handler = unsafe { core::mem::transmute::<usize, fn(&mut SyscallFrame)>(raw) };
        handler(frame);
    }
    if frame.rip >= crate::layout::USER_END {
        crate::println!("syscall: refusing sysret to {:#x}", frame.rip);
        crate::qemu::exit(crate::qemu::ExitCode::Failure);
    }
}

/// The generic entry: LSTAR points here unless a thread has its own stub.
/// Private: only its address is exported ([`syscall_entry_address`]).
#[unsafe(naked)]
extern "C" fn syscall_entry() {
    core::arch::naked_asm!(
        "swapgs",
        "mov gs:[{user_rsp}], rsp",
        "mov rsp, gs:[{stack_top}]",
        "push r11",
        "push rcx",
        "push qword ptr gs:[{user_rsp}]",
        "push r11",
        "push rcx",
        "push r15", "push r14", "push r13", "push r12", "push rbp", "push rbx",
        "push rax", "push rdi", "push rsi", "push rdx", "push r10", "push r8", "push r9",
        "mov rdi, rsp",
        "cld",
        "call {dispatch}",
        "test rax, rax",
        "jnz 2f",
        "pop r9", "pop r8", "pop r10", "pop rdx", "pop rsi", "pop rdi", "pop rax",
        "pop rbx", "pop rbp", "pop r12", "pop r13", "pop r14", "pop r15",
        "pop rcx",
        "pop r11",
        "pop rsp",
        "swapgs",
        "sysretq",
        // Every register from the frame (rip checked and rflags reduced by
        // `dispatch`): an iretq frame below the saved rip, rflags, rsp,
        // rcx, r11; the stack is abandoned (the next entry starts at its
        // top again).
        "2:",
        "pop r9", "pop r8", "pop r10", "pop rdx", "pop rsi", "pop rdi", "pop rax",
        "pop rbx", "pop rbp", "pop r12", "pop r13", "pop r14", "pop r15",
        "push {user_ss}",
        "push qword ptr [rsp + 24]", // rsp
        "push qword ptr [rsp + 24]", // rflags
        "push {user_cs}",
        "push qword ptr [rsp + 32]", // rip
        "mov rcx, [rsp + 64]",
        "mov r11, [rsp + 72]",
        "swapgs",
        "iretq",
        user_rsp = const USER_RSP_OFFSET,
        stack_top = const SYSCALL_STACK_TOP_OFFSET,
        dispatch = sym dispatch,
        user_cs = const crate::gdt::USER_CS as i32,
        user_ss = const crate::gdt::USER_DS as i32,
    );
}

/// While on, `syscall` keeps RFLAGS.TF set on entry, so a caller that set
/// TF is single-stepped through the kernel (instruction counting).
pub fn keep_trap_flag_on_entry(on: bool) {
    let mask = if on { SFMASK & !(1 << 8) } else { SFMASK };
    // SAFETY: IA32_FMASK exists on every x86-64 CPU; both values clear IF,
    // DF, AC and NT as the entry paths require.
    unsafe { crate::cpu::wrmsr(IA32_FMASK, mask) };
}

/// Address of the generic `syscall` entry (LSTAR for threads without their
/// own stub).
pub fn syscall_entry_address() -> u64 {
    syscall_entry as *const () as u64
}

/// Enables `syscall` and writes every entry MSR: LSTAR at the generic
/// entry, CSTAR and SYSENTER_EIP at the kill entries, SYSENTER_CS = 0.
pub(crate) fn init() {
    // SAFETY: EFER, STAR, LSTAR, CSTAR, FMASK and the SYSENTER MSRs exist
    // on every x86-64 CPU; the selectors match gdt.rs; every entry address
    // is a kernel stub that follows its entry protocol.
    unsafe {
        let efer = crate::cpu::rdmsr(IA32_EFER);
        crate::cpu::wrmsr(IA32_EFER, efer | EFER_SCE);
        crate::cpu::wrmsr(
            IA32_STAR,
            (u64::from(SYSRET_BASE) << 48) | (u64::from(KERNEL_CS) << 32),
        );
        crate::cpu::wrmsr(IA32_LSTAR, syscall_entry as *const () as u64);
        crate::cpu::wrmsr(IA32_CSTAR, compat_syscall_entry as *const () as u64);
        crate::cpu::wrmsr(IA32_FMASK, SFMASK);
        // SYSENTER_CS = 0: `sysenter` raises #GP (Intel; AMD: #UD in long
        // mode) and never loads the other two; they still name the kill
        // entry and a non-canonical stack, in case it ever did.
        crate::cpu::wrmsr(IA32_SYSENTER_CS, 0);
        crate::cpu::wrmsr(IA32_SYSENTER_ESP, SYSENTER_ESP);
        crate::cpu::wrmsr(IA32_SYSENTER_EIP, sysenter_entry as *const () as u64);
    }
}

/// IA32_SYSENTER_ESP: non-canonical, so a stack access through it faults
/// (the kill entry never uses it anyway).
const SYSENTER_ESP: u64 = 0x8000_0000_0000_0000;

/// The ring-0 entry MSRs as the CPU holds them now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct EntryMsrs {
    pub efer: u64,
    pub star: u64,
    pub lstar: u64,
    pub cstar: u64,
    pub fmask: u64,
    pub sysenter_cs: u64,
    pub sysenter_esp: u64,
    pub sysenter_eip: u64,
}

/// Reads every ring-0 entry MSR (for tests and the boot log).
pub fn entry_msrs() -> EntryMsrs {
    // SAFETY: all eight MSRs exist on every x86-64 CPU; reading them has
    // no side effect.
    unsafe {
        use crate::cpu::rdmsr;
        EntryMsrs {
            efer: rdmsr(IA32_EFER),
            star: rdmsr(IA32_STAR),
            lstar: rdmsr(IA32_LSTAR),
            cstar: rdmsr(IA32_CSTAR),
            fmask: rdmsr(IA32_FMASK),
            sysenter_cs: rdmsr(IA32_SYSENTER_CS),
            sysenter_esp: rdmsr(IA32_SYSENTER_ESP),
            sysenter_eip: rdmsr(IA32_SYSENTER_EIP),
        }
    }
}

/// RFLAGS bits the entry mask must clear: IF, TF, DF, AC, NT.
pub const FMASK_REQUIRED: u64 = SFMASK;

/// Address of the compatibility-mode `syscall` entry (IA32_CSTAR).
pub fn compat_entry_address() -> u64 {
    compat_syscall_entry as *const () as u64
}

/// Address of the `sysenter` entry (IA32_SYSENTER_EIP).
pub fn sysenter_entry_address() -> u64 {
    sysenter_entry as *const () as u64
}

static COMPAT_HANDLER: AtomicUsize = AtomicUsize::new(0);
static COMPAT_ENTRIES: AtomicU64 = AtomicU64::new(0);
static SYSENTER_ENTRIES: AtomicU64 = AtomicU64::new(0);

/// Installs the upcall for a `syscall` from compatibility mode (or a
/// `sysenter` that got in): it must end the calling thread's program and
/// never return (there is no 32-bit ABI; returning to the caller is not
/// possible from this entry).
pub fn set_compat_syscall_handler(handler: fn() -> !) {
    COMPAT_HANDLER.store(handler as *const () as usize, Ordering::Release);
}

/// Entries through IA32_CSTAR and IA32_SYSENTER_EIP since boot.
pub fn kill_entries() -> (u64, u64) {
    (
        COMPAT_ENTRIES.load(Ordering::SeqCst),
        SYSENTER_ENTRIES.load(Ordering::SeqCst),
    )
}

extern "C" fn compat_dispatch(from_sysenter: u64) -> ! {
    if from_sysenter != 0 {
        SYSENTER_ENTRIES.fetch_add(1, Ordering::SeqCst);
    } else {
        COMPAT_ENTRIES.fetch_add(1, Ordering::SeqCst);
    }
    let raw = COMPAT_HANDLER.load(Ordering::Acquire);
    if raw != 0 {
        // SAFETY: COMPAT_HANDLER only holds 0 or a `fn() -> !` stored by
        // `set_compat_syscall_handler`.
        let handler = unsafe { core::mem::transmute::<usize, fn() -> !>(raw) };
        handler()
    }
    crate::println!("syscall: compatibility-mode entry and no handler to kill the caller");
    crate::qemu::exit(crate::qemu::ExitCode::Failure)
}

/// IA32_CSTAR: `syscall` from 32-bit (compatibility-mode) code. Entered in
/// ring 0 with the user's RSP and GS and RFLAGS masked by FMASK. Takes the
/// kernel GS and this thread's kernel stack before touching memory, as the
/// 64-bit entry does, clears every flag, and calls the kill upcall. Never
/// returns to the caller.
#[unsafe(naked)]
extern "C" fn compat_syscall_entry() {
    core::arch::naked_asm!(
        "swapgs",
        "mov rsp, gs:[{stack_top}]",
        "push 2",
        "popfq",
        "xor edi, edi",
        "call {dispatch}",
        "ud2",
        stack_top = const SYSCALL_STACK_TOP_OFFSET,
        dispatch = sym compat_dispatch,
    );
}

/// IA32_SYSENTER_EIP: unreachable while SYSENTER_CS = 0; if `sysenter`
/// ever entered (ring 0, user GS, RSP = SYSENTER_ESP, TF and AC as the
/// user left them), this leaves the user state exactly like
/// [`compat_syscall_entry`] and kills the caller.
#[unsafe(naked)]
extern "C" fn sysenter_entry() {
    core::arch::naked_asm!(
        "swapgs",
        "mov rsp, gs:[{stack_top}]",
        "push 2",
        "popfq",
        "mov edi, 1",
        "call {dispatch}",
        "ud2",
        stack_top = const SYSCALL_STACK_TOP_OFFSET,
        dispatch = sym compat_dispatch,
    );
}

/// Points LSTAR at `entry` (a thread's synthesized stub, or the generic
/// one). Crate-private: the kernel goes through
/// [`crate::synth_entry::set_entry_stub_lstar`].
///
/// # Safety
/// `entry` must be the start of code that follows the syscall entry protocol
/// (swap to a kernel stack before touching memory, return with sysretq),
/// and stay so while LSTAR names it.
pub(crate) unsafe fn set_lstar(entry: u64) {
    // SAFETY: the caller guarantees `entry` is a valid syscall entry.
    unsafe { crate::cpu::wrmsr(IA32_LSTAR, entry) };
}
