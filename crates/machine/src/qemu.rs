//! Leaving QEMU with a status through the `isa-debug-exit` device.
//!
//! Writing `v` to port 0xf4 makes QEMU exit with `(v << 1) | 1`. The codes
//! are the runner protocol (STYLE.md §7): success 0x10 (exit 33), failure
//! 0x11 (exit 35), and 0x12 (exit 37) for "this boot ended on purpose
//! mid-run, boot again from the next test". Status 0 is never a pass: it is
//! what a triple fault gives under `-no-reboot`.

use x86_64::instructions::port::Port;

/// Why the kernel asks QEMU to exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Everything passed (QEMU exit status 33).
    Success = 0x10,
    /// Something failed or the kernel panicked (QEMU exit status 35).
    Failure = 0x11,
    /// A test ended its boot on purpose; continue with the next (status 37).
    Continue = 0x12,
}

/// Exits QEMU; halts forever if no exit device is present.
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: port 0xf4 is the isa-debug-exit device the xtask configures;
    // on a machine without it the write is ignored and we halt below.
    unsafe { Port::<u32>::new(0xf4).write(code as u32) };
    crate::cpu::halt_forever()
}
