//! The accelerator probe: does a ring-3 `syscall` round trip work here?
//!
//! The xtask boots this mode under KVM before trusting it: on this project's
//! machines the paravirtual KVM enters LSTAR at CPL 3 (PLATFORM.md), so the
//! probe fails there and the xtask falls back to TCG.

use sk_machine::syscall::{self, SyscallFrame};
use sk_machine::traps::{self, TrapFrame};
use sk_machine::usermode::{self, PROBE_FIRST, PROBE_SECOND};
use sk_machine::{println, qemu};

fn probe_syscall(frame: &mut SyscallFrame) {
    match frame.rax {
        PROBE_FIRST => frame.rax = 0,
        PROBE_SECOND => {
            println!("probe: ring-3 syscall round trip ok");
            qemu::exit(qemu::ExitCode::Success)
        }
        other => {
            println!("probe: unexpected call word {other:#x}");
            qemu::exit(qemu::ExitCode::Failure)
        }
    }
}

fn probe_user_exception(frame: &mut TrapFrame, cr2: u64) {
    let cpl = frame.cs & 3;
    println!(
        "probe: FAILED: {} at rip {:#x} (cr2 {cr2:#x}, error {:#x}) in CPL {cpl}{}",
        traps::vector_name(frame.vector),
        frame.rip,
        frame.error_code,
        if cpl == 3 && frame.rip >= sk_machine::layout::USER_END {
            ": syscall entered the kernel without leaving ring 3"
        } else {
            ""
        }
    );
    qemu::exit(qemu::ExitCode::Failure)
}

pub fn run() -> ! {
    let mut hooks = traps::hooks();
    hooks.user_exception = probe_user_exception;
    traps::set_hooks(hooks);
    let stack = match sk_machine::stack::KernelStack::allocate(4) {
        Ok(s) => s,
        Err(e) => panic!("probe stack: {e:?}"),
    };
    syscall::set_handler(probe_syscall);
    println!("probe: entering ring 3 at {:#x}", usermode::PROBE_ADDRESS);
    let error = usermode::start_probe_program(stack);
    panic!("probe program: {error:?}")
}
