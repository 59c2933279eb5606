//! User faults: a user program that faults is terminated alone, and the
//! kernel says why on the console.

use sk_abi::ExitStatus;
use sk_machine::traps::{self, TrapFrame};

pub(crate) fn install() {
    let mut hooks = traps::hooks();
    hooks.user_exception = on_user_exception;
    traps::set_hooks(hooks);
}

fn on_user_exception(frame: &mut TrapFrame, cr2: u64) {
    let name = traps::vector_name(frame.vector);
    if let Some(cause) = crate::fp::describe_fault(frame) {
        crate::smach::kill_current(
            ExitStatus::KILLED,
            format_args!("{name} at rip {:#x}: {cause}", frame.rip),
        )
    }
    // A Linux thread gets a signal (delivered on the way back to user
    // mode) instead.
    if crate::linux_signal_delivery::on_fault(frame, cr2) {
        return;
    }
    if frame.vector == 14 {
        let access = if frame.error_code & 0x10 != 0 {
            "fetch from"
        } else if frame.error_code & 2 != 0 {
            "write to"
        } else {
            "read of"
        };
        let cause = if frame.error_code & 1 != 0 {
            "protection violation"
        } else {
            "not mapped"
        };
        crate::smach::kill_current(
            ExitStatus::KILLED,
            format_args!(
                "{name} at rip {:#x}: {access} {cr2:#x} ({cause})",
                frame.rip
            ),
        )
    }
    crate::smach::kill_current(
        ExitStatus::KILLED,
        format_args!(
            "{name} at rip {:#x} (error code {:#x})",
            frame.rip, frame.error_code
        ),
    )
}
