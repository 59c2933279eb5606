//! The devices' kernel side: the `/dev/mem` window's memory and console
//! input polled from the UART on every timer tick.

use crate::state;
use alloc::boxed::Box;
use alloc::vec::Vec;
use sk_abi::{dev_mem_byte, DEV_MEM_BYTES};
use sk_sio::Devices;

/// The devices, with a `/dev/mem` window filled with its pattern. The
/// window is never freed: its address is baked into synthesized code.
pub(crate) fn new() -> Devices {
    let window: Vec<u8> = (0..DEV_MEM_BYTES).map(dev_mem_byte).collect();
    Devices::new(Box::leak(window.into_boxed_slice()))
}

/// Feeds bytes waiting in the UART to the line discipline (timer tick)
/// and wakes the threads waiting for them.
pub(crate) fn poll_console_input() {
    let Some(first) = sk_machine::serial::try_read_byte() else {
        return;
    };
    state::with(|core| {
        let mut byte = Some(first);
        while let Some(b) = byte {
            if crate::linux_sleep::console_interrupt(core, b) {
                sk_machine::serial::write_bytes(b"^C\r\n");
            } else {
                core.devices
                    .console_input(b, &mut |echo: &[u8]| sk_machine::serial::write_bytes(echo));
            }
            byte = sk_machine::serial::try_read_byte();
        }
        for reader in core.devices.take_tty_readers() {
            crate::scheduler::wake(core, reader);
        }
    });
}
