//! `hostile`: tries, from ring 3, one way into ring 0 that its start
//! argument selects, to show the kernel either refuses it (the program is
//! killed alone, exit status 137, `ExitStatus::KILLED`) or serves it without
//! ever trusting user state (the program carries on).
//!
//! The start argument is `mode << 32 | param`:
//!
//! | mode | name | param | must |
//! |---|---|---|---|
//! | 0 | `far-jmp` | selector | die (#GP), except 0x28..=0x2b (the 64-bit user code segment) |
//! | 1 | `far-call` | selector | as `far-jmp` |
//! | 2 | `retf` | selector | as `far-jmp` |
//! | 3 | `iretq` | selector (CS; SS = 0x23) | as `far-jmp` |
//! | 4 | `compat-syscall` | selector, bits 16..: RSP (0 keep, 1 kernel direct map, 2 zero) | die: far jump into compatibility mode, then `syscall` (enters at IA32_CSTAR) |
//! | 5 | `sysenter` | - | die (#GP with IA32_SYSENTER_CS = 0, #UD on AMD) |
//! | 6 | `int-n` | vector n | die (#GP, or #BP for n = 3) |
//! | 7 | `icebp` | - | die (#DB from `int1`, 0xf1) |
//! | 8 | `tf-popf` | - | die (#DB: TF set with `popfq`) |
//! | 9 | `mov-ss-syscall-tf` | - | die after the call returns (#DB deferred by `mov ss` lands on the kernel's first instruction; the kernel must survive it) |
//! | 10 | `syscall-flags` | 1 = force the generic path | live: null call with AC, DF, NT set; returns 0 and the flags are as left |
//! | 11 | `syscall-flags-tf` | as 10 | die: as 10 with TF too; the call returns, then #DB |
//! | 12 | `syscall-rsp` | RSP kind (see [`rsp_value`]), bit 8 = generic | live: null call with a hostile RSP returns 0 |
//! | 13 | `ac-spin` | - | spin forever with RFLAGS.AC set (the kernel test kills it) |
//! | 14 | `priv` | index into [`PRIV_NAMES`] | die (#GP or #UD) |
//! | 15 | `ldt-forge` | 0 = call gate, 1 = 32-bit code segment | die (#GP): maps page 0x1000 and writes descriptors there, where a reset-value LDT (base 0) would find them for selectors 0x1007 (a DPL-3 call gate to kernel code) and 0x1017 (DPL-3 32-bit code), then far-calls/jumps through them |
//! | 16 | `traced-call` | 1 = force the generic path | live: the kernel's instruction counter (`TraceNextCall`, TF, `syscall`) still counts a null call (> 0 instructions) |
//!
//! Each prints `hostile: doing <mode> <param>` first. Exit statuses:
//! 0 = a "live" mode passed its checks; 3 = a "die" mode survived (returned
//! to ordinary 64-bit code); 4 = the far transfer ran code in
//! compatibility (32-bit) mode and came back; 5 = a "live" mode's check
//! failed; 2 = unknown argument.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "hostile instructions are the point; each block says why nothing of Rust's breaks"
)]

use core::arch::{asm, global_asm};

use sk_user::abi::{Call, CallWord, Handle, QuerySelector, SmachReconfigure};
use sk_user::{println, Prot, Smach, Smem};

sk_user::entry!(main);

/// A "die" mode came back.
const SURVIVED: i32 = 3;
/// Unknown argument.
const UNKNOWN: i32 = 2;
/// A far transfer ran 32-bit code and came back.
const COMPAT: i32 = 4;
/// A "live" mode's check failed.
const CHECK_FAILED: i32 = 5;

const TF: u64 = 1 << 8;
const DF: u64 = 1 << 10;
const NT: u64 = 1 << 14;
const AC: u64 = 1 << 18;

const NULL_WORD: u64 = CallWord::new(Handle::SELF, Call::Null).get();

/// Names of the `priv` mode's instructions (index = param).
const PRIV_NAMES: [&str; 45] = [
    "hlt",
    "cli",
    "sti",
    "in al, 0x80",
    "out 0x80, al",
    "rdmsr",
    "wrmsr",
    "mov rax, cr0",
    "mov cr3, rax",
    "lgdt",
    "lidt",
    "ltr",
    "lldt",
    "sgdt (UMIP)",
    "sidt (UMIP)",
    "sldt (UMIP)",
    "str (UMIP)",
    "smsw (UMIP)",
    "invlpg",
    "wbinvd",
    "invd",
    "clts",
    "rdpmc",
    "xsetbv",
    "clac",
    "stac",
    "mov dr7, rax",
    "swapgs",
    "sysretq",
    "sysexit",
    "wrgsbase",
    "wrfsbase",
    "int3 (0xcc)",
    "into (0xce)",
    "ud2",
    "lmsw",
    "rdgsbase",
    "mov rax, dr6",
    "invpcid",
    "mwait",
    "vmcall",
    "mov ss, kernel data 0x10",
    "mov gs, kernel code 0x08",
    "mov ds, tss 0x30",
    "popfq IOPL=3 then cli",
];

// 256 `int n; ret` stubs, 8 bytes apart, and one 16-byte slot per
// privileged instruction, each followed by `ret` (reached only if the
// instruction did not trap).
global_asm!(
    ".pushsection .text.hostile_tables, \"ax\"",
    ".balign 16",
    ".global hostile_int_table",
    "hostile_int_table:",
    ".set hostile_n, 0",
    ".rept 256",
    ".balign 8",
    ".byte 0xcd, hostile_n",
    "ret",
    ".set hostile_n, hostile_n + 1",
    ".endr",
    ".balign 16",
    ".global hostile_priv_table",
    "hostile_priv_table:",
    ".balign 16",
    "hlt",
    "ret",
    ".balign 16",
    "cli",
    "ret",
    ".balign 16",
    "sti",
    "ret",
    ".balign 16",
    "in al, 0x80",
    "ret",
    ".balign 16",
    "out 0x80, al",
    "ret",
    ".balign 16",
    "rdmsr",
    "ret",
    ".balign 16",
    "wrmsr",
    "ret",
    ".balign 16",
    "mov rax, cr0",
    "ret",
    ".balign 16",
    "mov cr3, rax",
    "ret",
    ".balign 16",
    "lgdt [rsp]",
    "ret",
    ".balign 16",
    "lidt [rsp]",
    "ret",
    ".balign 16",
    "ltr ax",
    "ret",
    ".balign 16",
    "lldt ax",
    "ret",
    ".balign 16",
    "sgdt [rsp - 16]",
    "ret",
    ".balign 16",
    "sidt [rsp - 16]",
    "ret",
    ".balign 16",
    "sldt ax",
    "ret",
    ".balign 16",
    "str ax",
    "ret",
    ".balign 16",
    "smsw ax",
    "ret",
    ".balign 16",
    "invlpg [rsp]",
    "ret",
    ".balign 16",
    "wbinvd",
    "ret",
    ".balign 16",
    "invd",
    "ret",
    ".balign 16",
    "clts",
    "ret",
    ".balign 16",
    "rdpmc",
    "ret",
    ".balign 16",
    "xsetbv",
    "ret",
    ".balign 16",
    "clac",
    "ret",
    ".balign 16",
    "stac",
    "ret",
    ".balign 16",
    "mov dr7, rax",
    "ret",
    ".balign 16",
    "swapgs",
    "ret",
    ".balign 16",
    "sysretq",
    "ret",
    ".balign 16",
    ".byte 0x0f, 0x35",
    "ret",
    ".balign 16",
    "wrgsbase rax",
    "ret",
    ".balign 16",
    "wrfsbase rax",
    "ret",
    ".balign 16",
    "int3",
    "ret",
    ".balign 16",
    ".byte 0xce",
    "ret",
    ".balign 16",
    "ud2",
    "ret",
    ".balign 16",
    "lmsw ax",
    "ret",
    ".balign 16",
    "rdgsbase rax",
    "ret",
    ".balign 16",
    "mov rax, dr6",
    "ret",
    ".balign 16",
    "invpcid rax, [rsp]",
    "ret",
    ".balign 16",
    "mwait",
    "ret",
    ".balign 16",
    "vmcall",
    "ret",
    ".balign 16",
    "mov eax, 0x10",
    "mov ss, ax",
    "ret",
    ".balign 16",
    "mov eax, 0x08",
    "mov gs, ax",
    "ret",
    ".balign 16",
    "mov eax, 0x30",
    "mov ds, ax",
    "ret",
    ".balign 16",
    "pushfq",
    "or qword ptr [rsp], 0x3000",
    "popfq",
    "cli",
    "ret",
    ".balign 16",
    ".popsection",
);

unsafe extern "C" {
    static hostile_int_table: u8;
    static hostile_priv_table: u8;
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let (mode, param) = (arg >> 32, arg & 0xffff_ffff);
    let name = match mode {
        0 => "far-jmp",
        1 => "far-call",
        2 => "retf",
        3 => "iretq",
        4 => "compat-syscall",
        5 => "sysenter",
        6 => "int-n",
        7 => "icebp",
        8 => "tf-popf",
        9 => "mov-ss-syscall-tf",
        10 => "syscall-flags",
        11 => "syscall-flags-tf",
        12 => "syscall-rsp",
        13 => "ac-spin",
        14 => "priv",
        15 => "ldt-forge",
        16 => "traced-call",
        _ => {
            println!("hostile: unknown mode {mode} (param {param:#x})");
            return UNKNOWN;
        }
    };
    if mode == 14 {
        let Some(what) = usize::try_from(param).ok().and_then(|i| PRIV_NAMES.get(i)) else {
            println!("hostile: unknown privileged instruction {param}");
            return UNKNOWN;
        };
        println!("hostile: doing {name} {param} ({what})");
    } else {
        println!("hostile: doing {name} {param:#x}");
    }
    match mode {
        0..=3 => {
            let compat = far_transfer(mode, low16(param));
            if compat {
                println!("hostile: {name} {param:#x} ran 32-bit code and came back");
                return COMPAT;
            }
        }
        4 => {
            let compat = compat_syscall(low16(param), param >> 16);
            if compat {
                println!("hostile: {name} {param:#x}: syscall in 32-bit mode came back");
                return COMPAT;
            }
        }
        5 => sysenter(),
        6 => int_n(param),
        7 => icebp(),
        8 => tf_popf(),
        9 => mov_ss_syscall_tf(),
        10 | 11 => {
            let generic = param & 1 != 0;
            let (rax, before, after) = syscall_with_flags(mode == 11, generic);
            if mode == 10 {
                let kept = AC | DF | NT;
                if rax != 0 || after & kept != before & kept {
                    println!(
                        "hostile: {name}: rax {rax:#x}, flags {before:#x} before, {after:#x} after"
                    );
                    return CHECK_FAILED;
                }
                println!("hostile: {name}: returned 0, AC/DF/NT kept ({after:#x})");
                return 0;
            }
        }
        12 => {
            let Some(rsp) = rsp_value(param & 0xff) else {
                println!("hostile: unknown rsp kind {param}");
                return UNKNOWN;
            };
            let rax = syscall_with_rsp(rsp, param & 0x100 != 0);
            if rax != 0 {
                println!("hostile: {name}: rax {rax:#x} with rsp {rsp:#x}");
                return CHECK_FAILED;
            }
            println!("hostile: {name}: returned 0 with rsp {rsp:#x}");
            return 0;
        }
        13 => ac_spin(),
        14 => privileged(param),
        15 => {
            let Some(compat) = ldt_forge(param) else {
                return CHECK_FAILED;
            };
            if compat {
                println!("hostile: {name} {param:#x} ran 32-bit code and came back");
                return COMPAT;
            }
        }
        _ => {
            let Some((rax, count)) = traced_call(param & 1 != 0) else {
                return CHECK_FAILED;
            };
            println!("hostile: {name}: rax {rax:#x}, {count} kernel instructions");
            return if rax == 0 && count > 0 {
                0
            } else {
                CHECK_FAILED
            };
        }
    }
    println!("hostile: survived {name} {param:#x}");
    SURVIVED
}

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

unsafe extern "C" {
    static LOW_STACK_TOP: u8;
}

/// Far `jmp`/`call`/`retf`/`iretq` (by `kind` 0..3) to `selector:label`.
/// The label's code runs in 64-bit mode or in 32-bit compatibility mode,
/// whichever the segment says: it detects which (`inc eax` in 32-bit mode
/// is a REX prefix in 64-bit mode) and far-jumps back through 0x2b from
/// 32-bit mode. Returns true if it ran in 32-bit mode.
fn far_transfer(kind: u64, selector: u16) -> bool {
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
fn compat_syscall(selector: u16, rsp_kind: u64) -> bool {
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
fn ldt_forge(kind: u64) -> Option<bool> {
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

/// Arms the kernel's instruction counter, makes a null call with TF set
/// (`pushfq; or; popfq; syscall`), reads the count. `None` if the kernel
/// refused a step.
fn traced_call(generic: bool) -> Option<(u64, u64)> {
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

fn sysenter() {
    // SAFETY: `sysenter` from ring 3 with IA32_SYSENTER_CS = 0 raises #GP
    // (#UD on AMD in long mode); were it to enter the kernel, the kernel
    // kills the caller. The C clobbers cover registers sysenter changes.
    unsafe {
        asm!(".byte 0x0f, 0x34", clobber_abi("C"), out("rcx") _, out("r11") _);
    }
}

fn int_n(vector: u64) {
    let vector = vector & 0xff;
    // SAFETY: calls the table's `int n; ret` stub: the interrupt either
    // traps (the program dies) or returns, then `ret` comes back here; the
    // C clobbers cover the call.
    unsafe {
        let table = &raw const hostile_int_table as u64;
        asm!("call {t}", t = in(reg) table + vector * 8, clobber_abi("C"));
    }
}

fn privileged(index: u64) {
    // SAFETY: as in `int_n`: one privileged instruction and `ret`. The ones
    // that take memory operands use the stack slots at or below rsp (no red
    // zone on this target; nothing of ours lives there).
    unsafe {
        let table = &raw const hostile_priv_table as u64;
        asm!("call {t}", t = in(reg) table + index * 16, clobber_abi("C"));
    }
}

fn icebp() {
    // SAFETY: `int1` raises #DB; it changes nothing else.
    unsafe {
        asm!(".byte 0xf1", options(nomem, nostack));
    }
}

fn tf_popf() {
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

fn mov_ss_syscall_tf() {
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
fn syscall_with_flags(tf: bool, generic: bool) -> (u64, u64, u64) {
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

/// The low 16 bits (a selector).
fn low16(value: u64) -> u16 {
    u16::try_from(value & 0xffff).unwrap_or_default()
}

/// RSP values for `syscall-rsp`.
fn rsp_value(kind: u64) -> Option<u64> {
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

fn syscall_with_rsp(rsp: u64, generic: bool) -> u64 {
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

fn ac_spin() -> ! {
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
