//! The character devices: `/dev/null`, `/dev/zero`, `/dev/mem` and the
//! console.
//!
//! Owns [`Devices`]: the `/dev/mem` window (kernel-owned bytes set aside
//! for it; their address is baked into synthesized reads, so the window
//! lives as long as the kernel) and the console's line discipline with the
//! threads waiting to read it. Console bytes arrive through
//! [`Devices::console_input`] (the kernel polls the UART on timer ticks)
//! and leave through the output function the caller passes.

use alloc::vec::Vec;
pub use sk_abi::DEV_MEM_BYTES;
use sk_tty::{LineDiscipline, ReadResult};

/// The devices' state.
pub struct Devices {
    /// The `/dev/mem` window.
    pub mem: &'static [u8],
    /// The console's line discipline.
    pub tty: LineDiscipline,
    /// Threads blocked reading the console (woken on input).
    pub tty_readers: Vec<u64>,
    /// Threads blocked on pipes (woken by the other end's transfer or
    /// close).
    pub pipe_waiters: crate::PipeWaiters,
    /// Threads blocked on ports, by port number ("readers" are receivers,
    /// "writers" senders; woken by the other side's transfer or close).
    pub port_waiters: crate::PipeWaiters,
    /// Handles in flight through ports.
    pub port_grants: crate::PortGrants,
}

impl core::fmt::Debug for Devices {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Devices")
            .field("mem_bytes", &self.mem.len())
            .field("tty_mode", &self.tty.mode())
            .finish_non_exhaustive()
    }
}

impl Devices {
    /// Devices with `mem` as the `/dev/mem` window.
    pub fn new(mem: &'static [u8]) -> Self {
        Self {
            mem,
            tty: LineDiscipline::new(),
            tty_readers: Vec::new(),
            pipe_waiters: crate::PipeWaiters::default(),
            port_waiters: crate::PipeWaiters::default(),
            port_grants: crate::PortGrants::default(),
        }
    }

    /// Feeds one console input byte to the line discipline; echo goes to
    /// `echo_out`.
    pub fn console_input(&mut self, byte: u8, echo_out: &mut impl FnMut(&[u8])) {
        self.tty.input(byte, echo_out);
    }

    /// Threads to wake after input arrived (the list is emptied).
    pub fn take_tty_readers(&mut self) -> Vec<u64> {
        core::mem::take(&mut self.tty_readers)
    }

    /// Registers `thread` as blocked reading the console.
    ///
    /// # Errors
    /// [`sk_abi::SysError::NoMemory`] if the list cannot grow.
    pub fn wait_for_input(&mut self, thread: u64) -> Result<(), sk_abi::SysError> {
        if !self.tty_readers.contains(&thread) {
            self.tty_readers
                .try_reserve(1)
                .map_err(|_| sk_abi::SysError::NoMemory)?;
            self.tty_readers.push(thread);
        }
        Ok(())
    }

    /// Forgets `thread` as a console reader (it ended while blocked).
    pub fn forget_reader(&mut self, thread: u64) {
        self.tty_readers.retain(|&t| t != thread);
    }

    /// Writes console output through the line discipline.
    pub fn tty_write(&self, bytes: &[u8], out: &mut impl FnMut(&[u8])) {
        self.tty.output(bytes, out);
    }

    /// Reads from the console into `buf`; `None` means "would block".
    pub fn tty_read(&mut self, buf: &mut [u8]) -> Option<usize> {
        match self.tty.read(buf) {
            ReadResult::Data(n) => Some(n),
            ReadResult::Eof => Some(0),
            ReadResult::WouldBlock => None,
        }
    }
}
