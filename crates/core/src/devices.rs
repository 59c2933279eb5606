//! The character devices: `/dev/null`, `/dev/zero`, `/dev/mem` and
//! `/dev/tty`.
//!
//! Owns [`Devices`]: the `/dev/mem` window (a kernel-owned byte region set
//! aside for it, never arbitrary physical memory) and the console's line
//! discipline with the threads blocked reading it. Console input is polled
//! from the UART on every timer tick.

use crate::state::{self, ThreadId};
use alloc::boxed::Box;
use alloc::vec::Vec;
use sk_tty::{LineDiscipline, ReadResult};

/// Size of the `/dev/mem` window.
pub const DEV_MEM_BYTES: u64 = 16 << 20;

/// Byte `i` of the `/dev/mem` window.
pub const fn dev_mem_byte(i: u64) -> u8 {
    (i.wrapping_mul(7).wrapping_add(3) & 0xff) as u8
}

pub(crate) struct Devices {
    /// The `/dev/mem` window (never freed; its address is baked into code).
    pub(crate) mem: &'static [u8],
    pub(crate) tty: LineDiscipline,
    pub(crate) tty_readers: Vec<ThreadId>,
}

impl Devices {
    pub(crate) fn new() -> Self {
        let window: Vec<u8> = (0..DEV_MEM_BYTES).map(dev_mem_byte).collect();
        Self {
            mem: Box::leak(window.into_boxed_slice()),
            tty: LineDiscipline::new(),
            tty_readers: Vec::new(),
        }
    }
}

/// Feeds bytes waiting in the UART to the line discipline (timer tick).
pub(crate) fn poll_console_input() {
    let Some(first) = sk_machine::serial::try_read_byte() else {
        return;
    };
    state::with(|core| {
        let mut byte = Some(first);
        while let Some(b) = byte {
            core.devices
                .tty
                .input(b, &mut |echo: &[u8]| sk_machine::serial::write_bytes(echo));
            byte = sk_machine::serial::try_read_byte();
        }
        for reader in core.devices.tty_readers.drain(..).collect::<Vec<_>>() {
            crate::scheduler::wake(core, reader);
        }
    });
}

/// Writes console output through the line discipline.
pub(crate) fn tty_write(devices: &Devices, bytes: &[u8]) {
    devices.tty.output(bytes, &mut |out: &[u8]| {
        sk_machine::serial::write_bytes(out)
    });
}

/// Reads from the console into `buf`; `None` means "would block".
pub(crate) fn tty_read(devices: &mut Devices, buf: &mut [u8]) -> Option<usize> {
    match devices.tty.read(buf) {
        ReadResult::Data(n) => Some(n),
        ReadResult::Eof => Some(0),
        ReadResult::WouldBlock => None,
    }
}
