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
//! | 17 | `leaf-call` | object, RSP kind, buffer kind, length ([`leaf`](mod@leaf)) | live: a stackless synthesized call with a hostile RSP and a good or bad buffer returns what the generic path would, with RCX and R11 kept |
//!
//! Each prints `hostile: doing <mode> <param>` first. Exit statuses:
//! 0 = a "live" mode passed its checks; 3 = a "die" mode survived (returned
//! to ordinary 64-bit code); 4 = the far transfer ran code in
//! compatibility (32-bit) mode and came back; 5 = a "live" mode's check
//! failed; 2 = unknown argument.
//!
//! The modes live in three modules: [`far_transfer`](mod@far_transfer)
//! (0-4 and 15: far transfers through chosen selectors),
//! [`privileged`](mod@privileged) (5-7 and 14: instructions ring 3 may not
//! run) and [`entry_state`] (8-13 and 16: kernel entries with hostile
//! RFLAGS or RSP); `main` decodes the start argument and turns each
//! outcome into an exit status.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "hostile instructions are the point; each block says why nothing of Rust's breaks"
)]

mod entry_state;
mod far_transfer;
mod leaf;
mod privileged;

use sk_user::abi::{Call, CallWord, Handle};
use sk_user::println;

use entry_state::{
    ac_spin, mov_ss_syscall_tf, rsp_value, syscall_with_flags, syscall_with_rsp, tf_popf,
    traced_call, AC, DF, NT,
};
use far_transfer::{compat_syscall, far_transfer, ldt_forge};
use privileged::{icebp, int_n, privileged, sysenter, PRIV_NAMES};

sk_user::entry!(main);

/// A "die" mode came back.
const SURVIVED: i32 = 3;
/// Unknown argument.
const UNKNOWN: i32 = 2;
/// A far transfer ran 32-bit code and came back.
const COMPAT: i32 = 4;
/// A "live" mode's check failed.
const CHECK_FAILED: i32 = 5;

const NULL_WORD: u64 = CallWord::new(Handle::SELF, Call::Null).get();

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
        17 => "leaf-call",
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
        17 => {
            return if leaf::leaf_call(param) {
                0
            } else {
                CHECK_FAILED
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

/// The low 16 bits (a selector).
fn low16(value: u64) -> u16 {
    u16::try_from(value & 0xffff).unwrap_or_default()
}
