//! `faulty`: makes the fault its start argument selects, to show the
//! kernel kills a faulting SMACH (exit status 137, `ExitStatus::KILLED`)
//! and keeps running.
//!
//! | arg | kind | what | expected trap |
//! |---|---|---|---|
//! | 0 | `null-read` | load from address 0 | #PF (not present) |
//! | 1 | `kernel-write` | store to `0xffff_8000_0010_0000` (the kernel's direct map) | #PF (supervisor page) |
//! | 2 | `privileged-instruction` | `hlt` in ring 3 | #GP |
//! | 3 | `divide-by-zero` | `div` by a register holding 0 | #DE |
//! | 4 | `stack-overflow` | unbounded recursion, 4 KiB frames | #PF (below the stack) |
//! | 5 | `kernel-jump` | `call 0xffff_ffff_8010_8000` (kernel text) | #PF (supervisor fetch) |
//! | 6 | `nx-stack` | `call` into a `ret` on the stack | #PF (NX) |
//! | 7 | `nx-data` | `call` into a `ret` in a writable static | #PF (NX) |
//! | 8 | `kernel-read` | load from `0xffff_8000_0010_0000` (the kernel's direct map) | #PF (supervisor page) |
//!
//! Each prints `faulty: doing <kind>` first. If the fault does not end the
//! program it prints `faulty: survived <kind>` and exits with status 3; an
//! unknown argument prints `faulty: unknown fault <arg>` and exits with 2.
//! Every fault is made with `asm!` (or plain recursion), so it is a real
//! trap, never a Rust panic or something the compiler could fold away.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "faults are made on purpose; each block says why nothing else breaks"
)]

use core::arch::asm;
use core::hint::black_box;
use core::sync::atomic::{AtomicU8, Ordering};

use sk_user::println;

sk_user::entry!(main);

/// Exit status when the fault did not kill the program.
const SURVIVED: i32 = 3;

/// Exit status for an unknown argument.
const UNKNOWN: i32 = 2;

/// The kinds, indexed by start argument.
const KINDS: [(&str, fn()); 9] = [
    ("null-read", null_read),
    ("kernel-write", kernel_write),
    ("privileged-instruction", privileged_instruction),
    ("divide-by-zero", divide_by_zero),
    ("stack-overflow", stack_overflow),
    ("kernel-jump", kernel_jump),
    ("nx-stack", nx_stack),
    ("nx-data", nx_data),
    ("kernel-read", kernel_read),
];

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let Some(&(kind, fault)) = usize::try_from(arg).ok().and_then(|index| KINDS.get(index)) else {
        println!("faulty: unknown fault {arg}");
        return UNKNOWN;
    };
    println!("faulty: doing {kind}");
    fault();
    println!("faulty: survived {kind}");
    SURVIVED
}

/// A mapped, supervisor-only kernel address to read and write: the
/// kernel's direct map of physical 1 MiB.
const KERNEL_DATA: u64 = 0xffff_8000_0010_0000;

/// A mapped, supervisor-only kernel address to jump to: kernel text.
const KERNEL_CODE: u64 = 0xffff_ffff_8010_8000;

/// `ret`, as machine code.
const RET: u8 = 0xc3;

fn null_read() {
    let address = black_box(0_u64);
    let _value: u64;
    // SAFETY: a load from the null page, which is never mapped: the kernel
    // kills the program; if it returned instead, the loaded value is
    // discarded and no Rust memory was touched.
    unsafe {
        asm!("mov {value}, qword ptr [{address}]", address = in(reg) address, value = out(reg) _value, options(nostack, readonly));
    }
}

fn kernel_write() {
    let address = black_box(KERNEL_DATA);
    // SAFETY: a store to a supervisor page, which user mode may not write:
    // the CPU faults before the store; nothing of Rust's lives there.
    unsafe {
        asm!("mov qword ptr [{address}], {value}", address = in(reg) address, value = in(reg) 0_u64, options(nostack));
    }
}

fn kernel_read() {
    let address = black_box(KERNEL_DATA);
    let _value: u64;
    // SAFETY: a load from a supervisor page, which user mode may not read:
    // the CPU faults; the value would be discarded if it did not.
    unsafe {
        asm!("mov {value}, qword ptr [{address}]", address = in(reg) address, value = out(reg) _value, options(nostack, readonly));
    }
}

fn privileged_instruction() {
    // SAFETY: `hlt` in ring 3 raises #GP and does nothing else.
    unsafe {
        asm!("hlt", options(nomem, nostack));
    }
}

fn divide_by_zero() {
    let divisor = black_box(0_u64);
    // SAFETY: `div` by zero raises #DE before writing rax/rdx, both
    // declared clobbered; no memory is touched.
    unsafe {
        asm!(
            "div {divisor}",
            divisor = in(reg) divisor,
            inout("rax") 1_u64 => _,
            inout("rdx") 0_u64 => _,
            options(nomem, nostack),
        );
    }
}

fn stack_overflow() {
    black_box(recurse(black_box(0)));
}

/// Recurses with a 4 KiB frame until the stack runs out. The frame is
/// black-boxed so it is really allocated and the recursion is not a tail
/// call; the depth test is never true, it only keeps the recursion
/// conditional for the compiler.
fn recurse(depth: u64) -> u64 {
    let mut frame = [0_u8; 4096];
    frame[0] = depth.to_le_bytes()[0];
    black_box(&mut frame);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(u64::from(frame[4095]))
}

fn kernel_jump() {
    let target = black_box(KERNEL_CODE);
    // SAFETY: fetching from a supervisor page faults before any kernel
    // instruction runs in user mode; the C-ABI clobbers cover a return.
    unsafe {
        asm!("call {target}", target = in(reg) target, clobber_abi("C"));
    }
}

fn nx_stack() {
    let code = black_box([RET; 16]);
    call_bytes(code.as_ptr());
}

/// Writable data holding `ret`: `.data`, mapped NX.
static DATA_CODE: [AtomicU8; 16] = [const { AtomicU8::new(RET) }; 16];

fn nx_data() {
    DATA_CODE[0].store(black_box(RET), Ordering::Relaxed);
    call_bytes(DATA_CODE.as_ptr().cast::<u8>());
}

/// Calls into `code`, which starts with `ret`.
fn call_bytes(code: *const u8) {
    // SAFETY: `code` points at a `ret` in a live buffer: if the page is NX
    // (as it must be) the fetch faults; if not, `ret` returns at once, and
    // the C-ABI clobbers cover the call.
    unsafe {
        asm!("call {code}", code = in(reg) code, clobber_abi("C"));
    }
}
