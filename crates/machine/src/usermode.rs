//! Entering ring 3, and the accelerator probe: a ring-3 `syscall` round trip.
//!
//! Owns the first transition to user mode (`iretq` with user selectors) and
//! the probe program the xtask uses to decide whether an accelerator really
//! runs this kernel (PLATFORM.md: this machine's paravirtual KVM runs the
//! kernel but not a ring-3 `syscall`).

use crate::gdt::{USER_CS, USER_DS};
use crate::layout::PAGE_SIZE;
use crate::paging::{self, MapError};
use crate::stack::KernelStack;
use x86_64::structures::paging::{Mapper, Page, PageTableFlags as Flags, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

/// Call word the probe program uses for its first system call.
pub const PROBE_FIRST: u64 = 0x5052_4f42;
/// Call word of its second system call (made after a successful sysret).
pub const PROBE_SECOND: u64 = 0x5052_4f43;

/// Where the probe program is mapped.
pub const PROBE_ADDRESS: u64 = 0x40_0000;

/// Drops to ring 3 at `rip` with stack `rsp` and interrupts enabled.
/// The current CPU's kernel stack for traps and system calls must be set.
///
/// # Safety
/// `rip` and `rsp` must be mapped user addresses in the active address
/// space, and nothing on the current kernel stack may be needed again.
pub unsafe fn enter_user(rip: u64, rsp: u64) -> ! {
    // SAFETY: forwarded from the caller.
    unsafe { enter_user_with_arg(rip, rsp, 0) }
}

/// As [`enter_user`], with `rdi = arg` in user mode.
///
/// # Safety
/// As for [`enter_user`].
pub unsafe fn enter_user_with_arg(rip: u64, rsp: u64, arg: u64) -> ! {
    // SAFETY: builds an interrupt-return frame for ring 3 with the user
    // selectors from gdt.rs; swapgs installs the user GS (kernel GS is kept
    // in KERNEL_GS_BASE); the caller guarantees the addresses.
    unsafe {
        core::arch::asm!(
            "push {ss}",
            "push {rsp}",
            "push 0x202",
            "push {cs}",
            "push {rip}",
            "mov rdi, {arg}",
            "swapgs",
            "xor eax, eax", "xor ebx, ebx", "xor ecx, ecx", "xor edx, edx",
            "xor esi, esi", "xor ebp, ebp",
            "xor r8d, r8d", "xor r9d, r9d", "xor r10d, r10d", "xor r11d, r11d",
            "xor r12d, r12d", "xor r13d, r13d", "xor r14d, r14d", "xor r15d, r15d",
            "iretq",
            ss = const USER_DS as u64,
            cs = const USER_CS as u64,
            rsp = in(reg) rsp,
            rip = in(reg) rip,
            arg = in(reg) arg,
            options(noreturn)
        )
    }
}

/// Drops to ring 3 with every general register, `rip`, `rsp` and RFLAGS
/// (reduced to user flags, IF set) from `regs` (a forked Linux child: the
/// parent's registers at its call, `rax` its result).
///
/// # Safety
/// As for [`enter_user`]: `regs.rip` and `regs.rsp` are user addresses of
/// the active space, nothing on the current kernel stack is needed again.
// SAFETY: the contract above is the caller's; the body loads only checked
// user state (user selectors, reduced RFLAGS) before `iretq`.
pub unsafe fn enter_user_regs(regs: &crate::user_regs::UserRegisters) -> ! {
    // A fixed layout for the loads below (UserRegisters is not repr(C)).
    let r = [
        regs.r9, regs.r8, regs.r10, regs.rdx, regs.rsi, regs.rdi, regs.rax, regs.rbx, regs.rbp,
        regs.r12, regs.r13, regs.r14, regs.r15, regs.rip, regs.rcx, regs.rsp, regs.r11,
    ];
    let rflags = crate::syscall::user_rflags(regs.rflags);
    // SAFETY: an interrupt-return frame for ring 3 with the user selectors
    // from gdt.rs and user RFLAGS; swapgs installs the user GS; `r` (on
    // this kernel stack) stays readable until the last load, which
    // replaces the pointer register itself; the caller guarantees the
    // addresses.
    unsafe {
        core::arch::asm!(
            "push {ss}",
            "push qword ptr [rax + 15*8]",
            "push {rflags}",
            "push {cs}",
            "push qword ptr [rax + 13*8]",
            "swapgs",
            "mov r9, [rax + 0*8]",
            "mov r8, [rax + 1*8]",
            "mov r10, [rax + 2*8]",
            "mov rdx, [rax + 3*8]",
            "mov rsi, [rax + 4*8]",
            "mov rdi, [rax + 5*8]",
            "mov rbx, [rax + 7*8]",
            "mov rbp, [rax + 8*8]",
            "mov r12, [rax + 9*8]",
            "mov r13, [rax + 10*8]",
            "mov r14, [rax + 11*8]",
            "mov r15, [rax + 12*8]",
            "mov rcx, [rax + 14*8]",
            "mov r11, [rax + 16*8]",
            "mov rax, [rax + 6*8]",
            "iretq",
            ss = const USER_DS as u64,
            cs = const USER_CS as u64,
            rflags = in(reg) rflags,
            in("rax") r.as_ptr(),
            options(noreturn)
        )
    }
}

/// The probe program: two system calls, then spin.
const PROBE_CODE: [u8; 19] = [
    0xb8, 0x42, 0x4f, 0x52, 0x50, // mov eax, PROBE_FIRST
    0x0f, 0x05, // syscall
    0xb8, 0x43, 0x4f, 0x52, 0x50, // mov eax, PROBE_SECOND
    0x0f, 0x05, // syscall
    0xeb, 0xfe, // jmp $
    0x90, 0x90, 0x90,
];

/// Maps the probe program and enters it in ring 3, with traps and system
/// calls from ring 3 landing on `kernel_stack` (leaked: it serves for
/// good); returns only if mapping failed.
pub fn start_probe_program(kernel_stack: KernelStack) -> MapError {
    let (rip, rsp) = match map_probe_program() {
        Ok(entry) => entry,
        Err(e) => return e,
    };
    let top = kernel_stack.leak();
    crate::gdt::set_kernel_stack(top);
    crate::percpu::set_syscall_stack_top(top);
    // SAFETY: both addresses were just mapped as user pages of the active
    // (kernel) address space; the ring-3 entries land on the leaked stack,
    // which nothing else uses, not on the current one, whose frames are
    // abandoned (the caller never expects a return).
    unsafe { enter_user(rip, rsp) }
}

/// Maps the probe program at [`PROBE_ADDRESS`] (user, read+execute) and a
/// user stack page below it in the kernel's own address space.
fn map_probe_program() -> Result<(u64, u64), MapError> {
    let code = paging::frames()
        .allocate_frame()
        .ok_or(MapError::OutOfFrames)?;
    let stack = paging::frames()
        .allocate_frame()
        .ok_or(MapError::OutOfFrames)?;
    let code_view = crate::layout::phys_to_virt(code) as *mut u8;
    // SAFETY: the frame is fresh from the allocator and reached through
    // the direct map; the probe code fits in one page.
    unsafe {
        core::ptr::write_bytes(code_view, 0xcc, 4096);
        core::ptr::copy_nonoverlapping(PROBE_CODE.as_ptr(), code_view, PROBE_CODE.len());
    }
    map_user(PROBE_ADDRESS, code, Flags::PRESENT | Flags::USER_ACCESSIBLE)?;
    map_user(
        PROBE_ADDRESS - PAGE_SIZE,
        stack,
        Flags::PRESENT | Flags::USER_ACCESSIBLE | Flags::WRITABLE | Flags::NO_EXECUTE,
    )?;
    Ok((PROBE_ADDRESS, PROBE_ADDRESS))
}

fn map_user(virt: u64, phys: u64, flags: Flags) -> Result<(), MapError> {
    paging::with_active_mapper(|m, alloc| {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        let frame = PhysFrame::<Size4KiB>::containing_address(PhysAddr::new(phys));
        let parents = Flags::PRESENT | Flags::WRITABLE | Flags::USER_ACCESSIBLE;
        // SAFETY: maps a fresh frame at an unused user address of the
        // kernel's own tables (only used before any SMACH exists).
        let flush = unsafe { m.map_to_with_table_flags(page, frame, flags, parents, alloc) }
            .map_err(|_| MapError::AlreadyMapped)?;
        flush.flush();
        Ok(())
    })
}
