//! User faults: a user program that faults is terminated alone, and the
//! kernel says why on the console.

use alloc::format;
use sk_abi::ExitStatus;
use sk_machine::traps::{self, TrapFrame};

pub(crate) fn install() {
    let mut hooks = traps::hooks();
    hooks.user_exception = on_user_exception;
    traps::set_hooks(hooks);
}

fn on_user_exception(frame: &mut TrapFrame, cr2: u64) {
    let why = match frame.vector {
        14 => format!(
            "{} at rip {:#x}: {} {:#x} ({})",
            traps::vector_name(frame.vector),
            frame.rip,
            if frame.error_code & 0x10 != 0 {
                "fetch from"
            } else if frame.error_code & 2 != 0 {
                "write to"
            } else {
                "read of"
            },
            cr2,
            if frame.error_code & 1 != 0 {
                "protection violation"
            } else {
                "not mapped"
            }
        ),
        _ => format!(
            "{} at rip {:#x} (error code {:#x})",
            traps::vector_name(frame.vector),
            frame.rip,
            frame.error_code
        ),
    };
    crate::smach::kill_current(ExitStatus::KILLED, &why)
}
