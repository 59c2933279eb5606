//! Far transfers through a chosen selector (`far-jmp`, `far-call`,
//! `retf`, `iretq`, `compat-syscall`, `ldt-forge`): each lands on code
//! that detects whether it runs in 64-bit or 32-bit compatibility mode and
//! comes back to 64-bit mode, so a segment the kernel should have refused
//! shows up as [`crate::COMPAT`] rather than as a silent success.
//!
//! Owns [`far_transfer`], [`compat_syscall`], [`ldt_forge`], the landing
//! code and the scratch stack below 4 GiB that 32-bit far calls need.

use core::arch::{asm, global_asm};

use sk_user::{println, Prot, Smem};

use crate::NULL_WORD;

/// The code a far transfer lands on; leaves rax = 1 if it ran in 32-bit
/// mode, 0 in 64-bit mode, and restores rsp from r12.
macro_rules! landing {
    () => {
        concat!(
            // xor eax, eax
            ".byte 0x31, 0xc0\n",
            // 64-bit: rex nop; 32-bit: inc eax; nop
            ".byte 0x40, 0x90\n",
            // test eax, eax; jz over the 7-byte far jump
            ".byte 0x85, 0xc0\n",
            ".byte 0x74, 0x07\n",
            // 32-bit: jmp far 0x2b:3f
            ".byte 0xea\n",
            ".long 3f\n",
            ".word 0x2b\n",
            "xor eax, eax\n",
            "jmp 4f\n",
            "3:\n",
            "mov eax, 1\n",
            "4:\n",
            "mov rsp, r12\n",
        )
    };
}

// A scratch stack below 4 GiB for 32-bit far calls (see `far_transfer`);
// `LOW_STACK_TOP` is its end.
global_asm!(
    ".pushsection .bss.hostile_low_stack, \"aw\", @nobits",
    ".balign 16",
    ".skip 256",
    ".global LOW_STACK_TOP",
    "LOW_STACK_TOP:",
    ".popsection",
);

// SAFETY: a label defined by the `global_asm!` above (the top of the
// low stack); only its address is taken, never its value.
unsafe extern "C" {
    static LOW_STACK_TOP: u8;
}

/// Far `jmp`/`call`/`retf`/`iretq` (by `kind` 0..3) to `selector:label`.
/// The label's code runs in 64-bit mode or in 32-bit compatibility mode,
/// whichever the segment says: it detects which (`inc eax` in 32-bit mode
/// is a REX prefix in 64-bit mode) and far-jumps back through 0x2b from
/// 32-bit mode. Returns true if it ran in 32-bit mode.
pub(crate) fn far_transfer(kind: u64, selector: u16) -> bool {
    let mut far = [0_u32; 2];
    let compat: u64;
    // SAFETY: rsp is saved in r12 (declared clobbered) and restored at the
    // landing label, whatever the transfer pushed; the far pointer is a
    // live local; if the transfer traps, the kernel kills the program and
    // nothing returns here. The landing code uses only rax and r12. The
    // user code (0x200000..) is below 4 GiB, so 32-bit offsets reach it.
    unsafe {
        asm!(
            "mov r12, rsp",
            "lea rax, [rip + 2f]",
            "mov dword ptr [rdi], eax",
            "mov word ptr [rdi + 4], si",
            "cmp rdx, 1",
            "je 21f",
            "cmp rdx, 2",
            "je 22f",
            "cmp rdx, 3",
            "je 23f",
            // jmp far dword [rdi] (m16:32)
            ".byte 0xff, 0x2f",
            "21:",
            // call far dword [rdi], on a stack below 4 GiB: QEMU (TCG)
            // pushes a 32-bit far call's return address at ESP, not RSP.
            "lea rsp, [rip + {low_stack_top}]",
            ".byte 0xff, 0x1f",
            "22:",
            "push rsi",
            "push rax",
            // retfq
            ".byte 0x48, 0xcb",
            "23:",
            "push 0x23",
            "push r12",
            "pushfq",
            "push rsi",
            "push rax",
            "iretq",
            "2:",
            landing!(),
            low_stack_top = sym LOW_STACK_TOP,
            in("rdi") far.as_mut_ptr(),
            in("rsi") u64::from(selector),
            in("rdx") kind,
            out("rax") compat,
            out("r12") _,
        );
    }
    compat != 0
}

/// Far jump through `selector` to code that executes `syscall` (in 32-bit
/// mode that enters the kernel at IA32_CSTAR), with RSP chosen by
/// `rsp_kind` (0 keep, 1 a kernel direct-map address, 2 zero). Returns
/// true if it ran in 32-bit mode and came back.
pub(crate) fn compat_syscall(selector: u16, rsp_kind: u64) -> bool {
    let mut far = [0_u32; 2];
    let compat: u64;
    let rsp = match rsp_kind {
        1 => 0xffff_8000_0010_0000_u64,
        2 => 0,
        _ => u64::MAX,
    };
    // SAFETY: as in `far_transfer`; rsp may point anywhere between the far
    // jump and the landing, where nothing uses it (a 64-bit `syscall`, if
    // the segment is 64-bit, never uses the user stack either), and is
    // restored from r12. The call word is the null call.
    unsafe {
        asm!(
            "mov r12, rsp",
            "lea rax, [rip + 2f]",
            "mov dword ptr [rdi], eax",
            "mov word ptr [rdi + 4], si",
            "cmp rdx, -1",
            "je 5f",
            "mov rsp, rdx",
            "5:",
            "mov rax, {null}",
            ".byte 0xff, 0x2f",
            "2:",
            // syscall (same bytes in both modes)
            ".byte 0x0f, 0x05",
            landing!(),
            null = const NULL_WORD,
            in("rdi") far.as_mut_ptr(),
            in("rsi") u64::from(selector),
            in("rdx") rsp,
            out("rax") compat,
            out("rcx") _,
            out("r11") _,
            out("r12") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
        );
    }
    compat != 0
}

/// Where `ldt-forge` writes its descriptors: LDT index 512 and up, if the
/// LDT register still held its reset value (base 0, limit 0xffff).
const FORGE_PAGE: u64 = 0x1000;
/// LDT selector (TI = 1, RPL 3) of the forged call gate (index 512).
const FORGED_GATE: u16 = 0x1007;
/// LDT selector of the forged 32-bit code segment (index 514).
const FORGED_CODE32: u16 = 0x1017;
/// A kernel text address for the forged gate to target.
const KERNEL_CODE: u64 = 0xffff_ffff_8010_8000;

/// Maps [`FORGE_PAGE`], writes a 64-bit call gate (DPL 3, to kernel code
/// 0x08:[`KERNEL_CODE`]) and a DPL-3 32-bit code segment at LDT indexes
/// 512 and 514, then far-calls through the gate (`kind` 0) or far-jumps
/// through the code segment (`kind` 1). `None` if the page could not be
/// mapped; else whether 32-bit code ran.
pub(crate) fn ldt_forge(kind: u64) -> Option<bool> {
    let page = match Smem::create_at(FORGE_PAGE, 4096, Prot::READ | Prot::WRITE) {
        Ok(page) => page,
        Err(e) => {
            println!("hostile: cannot map {FORGE_PAGE:#x}: {e}");
            return None;
        }
    };
    let gate_low = (KERNEL_CODE & 0xffff)
        | (0x08 << 16)
        | (0xec << 40) // P, DPL 3, type 0xc (64-bit call gate)
        | (((KERNEL_CODE >> 16) & 0xffff) << 48);
    let descriptors: [u64; 4] = [gate_low, KERNEL_CODE >> 32, 0x00cf_fb00_0000_ffff, 0];
    let base = page.as_mut_ptr().cast::<u64>();
    for (i, d) in descriptors.iter().enumerate() {
        // SAFETY: the page is mapped read-write for us and 4096 bytes long;
        // the four words are at its start, 8-byte aligned.
        unsafe { base.add(i).write_volatile(*d) };
    }
    let compat = if kind == 0 {
        far_transfer(1, FORGED_GATE)
    } else {
        far_transfer(0, FORGED_CODE32)
    };
    let _ = page.free();
    Some(compat)
}
