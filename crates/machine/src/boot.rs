//! PVH entry: the 32-bit trampoline that QEMU's `-kernel` jumps to.
//!
//! Owns the PVH ELF note, the boot page tables (identity map of the first
//! GiB plus the same GiB at `KERNEL_VMA`, 2 MiB pages), the switch to long
//! mode and the jump to [`start64`] in the higher half. The entry state is
//! described in the Xen PVH ABI and in `PLATFORM.md`: 32-bit protected mode,
//! paging off, `ebx` = physical address of `hvm_start_info`.
//!
//! The TSC is read by the very first instruction so the kernel can report
//! boot time from its first instruction to the banner.

use crate::boot_info::BootInfo;

core::arch::global_asm!(
    r#"
    .section .note.pvh, "a", @note
    .balign 4
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .balign 4
    .quad pvh_start32
    .balign 4

    .section .boot.bss, "aw", @nobits
    .balign 4096
boot_pml4:       .skip 4096
boot_pdpt_low:   .skip 4096
boot_pdpt_high:  .skip 4096
boot_pd:         .skip 4096
boot_stack32:    .skip 1024
boot_stack32_top:

    .section .boot.data, "aw"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .boot.text, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    rdtsc
    mov %eax, %esi
    mov %edx, %edi
    mov $boot_stack32_top, %esp

    /* Zero the four boot page-table pages. */
    push %edi
    mov $boot_pml4, %edi
    xor %eax, %eax
    mov $4096, %ecx
    rep stosl
    pop %edi

    mov $boot_pdpt_low, %eax
    or $3, %eax
    mov %eax, boot_pml4
    mov $boot_pdpt_high, %eax
    or $3, %eax
    mov %eax, boot_pml4 + 511 * 8
    mov $boot_pd, %eax
    or $3, %eax
    mov %eax, boot_pdpt_low
    mov %eax, boot_pdpt_high + 510 * 8

    /* 512 x 2 MiB pages: physical 0..1 GiB. */
    mov $boot_pd, %edx
    xor %ecx, %ecx
1:
    mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, (%edx, %ecx, 8)
    movl $0, 4(%edx, %ecx, 8)
    inc %ecx
    cmp $512, %ecx
    jne 1b

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(1 << 5), %eax
    mov %eax, %cr4
    mov $0xC0000080, %ecx
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16)), %eax
    mov %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $boot_long_mode

    .code64
boot_long_mode:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov %esi, %esi
    mov %edi, %edi
    shl $32, %rdi
    or %rdi, %rsi
    mov %ebx, %edi
    movabs $boot_stack_top, %rsp
    xor %ebp, %ebp
    movabs $sk_machine_start64, %rax
    call *%rax
2:
    hlt
    jmp 2b

    .section .bss.boot_stack, "aw", @nobits
    .balign 4096
    .global boot_stack_bottom
boot_stack_bottom:
    .skip 65536
    .global boot_stack_top
boot_stack_top:
    .text
"#,
    options(att_syntax)
);

unsafe extern "Rust" {
    /// The kernel's main function, defined with [`crate::entry_point!`].
    fn sk_kernel_main(boot: &'static BootInfo) -> !;
}

// SAFETY: both symbols are labels of the assembly above (the boot stack's
// ends in `.bss.boot_stack`); only their addresses are taken, never read.
unsafe extern "C" {
    /// Lowest byte of the boot stack (the assembly above).
    static boot_stack_bottom: u8;
    /// One past the boot stack's highest byte.
    static boot_stack_top: u8;
}

/// The boot stack's ends: `(bottom, top)`, top one past its highest byte.
pub(crate) fn boot_stack() -> (u64, u64) {
    (
        (&raw const boot_stack_bottom) as u64,
        (&raw const boot_stack_top) as u64,
    )
}

/// True if `addr` lies in the boot stack (its top included: an empty
/// stack's pointer).
pub(crate) fn in_boot_stack(addr: u64) -> bool {
    let bottom = (&raw const boot_stack_bottom) as u64;
    let top = (&raw const boot_stack_top) as u64;
    (bottom..=top).contains(&addr)
}

/// First Rust code: runs on the boot stack in the higher half, with the boot
/// page tables (first GiB identity-mapped and at `KERNEL_VMA`).
#[unsafe(no_mangle)]
extern "C" fn sk_machine_start64(start_info_phys: u64, entry_tsc: u64) -> ! {
    crate::serial::init();
    let boot = crate::boot_info::read(start_info_phys, entry_tsc);
    // SAFETY: `sk_kernel_main` is defined exactly once by the kernel binary
    // through `entry_point!`, which checks its signature; the boot info is
    // 'static (copied into machine-owned statics).
    unsafe { sk_kernel_main(boot) }
}

/// Defines the kernel's entry function, called once after the trampoline.
///
/// The path must name a `fn(&'static BootInfo) -> !`.
#[macro_export]
macro_rules! entry_point {
    ($path:path) => {
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        fn sk_kernel_main(boot: &'static $crate::boot_info::BootInfo) -> ! {
            let main: fn(&'static $crate::boot_info::BootInfo) -> ! = $path;
            main(boot)
        }
    };
}
