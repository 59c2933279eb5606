//! COM1 serial console (16550 UART at port 0x3f8, through `uart_16550`).
//!
//! Owns the console port and its lock. Printing masks interrupts so an
//! interrupt handler that prints can never deadlock against the code it
//! interrupted; fatal paths call [`force_unlock`] first, after which
//! printing bypasses the lock.

use core::fmt::{self, Write};
use spin::Mutex;
use uart_16550::SerialPort;
use x86_64::instructions::interrupts;

/// I/O port of COM1.
pub const COM1: u16 = 0x3f8;

// SAFETY: 0x3f8 is COM1 on every PC-compatible machine QEMU emulates; only
// this module drives it.
static PORT: Mutex<SerialPort> = Mutex::new(unsafe { SerialPort::new(COM1) });

/// Bytes written to the console so far (lets the test runner tell whether
/// anything was printed between two points).
static WRITTEN: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Number of console writes so far.
pub fn writes() -> u64 {
    WRITTEN.load(core::sync::atomic::Ordering::Relaxed)
}

/// Programs the UART (115200 8N1, FIFOs on). Called first thing at boot.
pub(crate) fn init() {
    PORT.lock().init();
}

/// Set by [`force_unlock`]: from then on printing bypasses [`PORT`].
static BYPASS: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Runs `f` on the console port: the locked one, or after
/// [`force_unlock`] a port value of its own.
fn with_port(f: impl FnOnce(&mut SerialPort)) {
    interrupts::without_interrupts(|| {
        if BYPASS.load(core::sync::atomic::Ordering::Acquire) {
            // SAFETY: COM1 as for PORT. A second port value only does port
            // I/O on the same UART (no memory is shared with PORT's value),
            // so the worst outcome is interleaved bytes; it is not
            // re-initialized.
            let mut port = unsafe { SerialPort::new(COM1) };
            f(&mut port);
        } else {
            f(&mut PORT.lock());
        }
        WRITTEN.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    });
}

/// Writes formatted text to the console.
pub fn print_fmt(args: fmt::Arguments<'_>) {
    // Writing to a UART cannot fail; a lost message is the only outcome.
    with_port(|port| {
        let _ = port.write_fmt(args);
    });
}

/// Writes raw bytes to the console (used by `/dev/tty`).
pub fn write_bytes(bytes: &[u8]) {
    with_port(|port| {
        for &b in bytes {
            port.send_raw(b);
        }
    });
}

/// Reads one byte if the UART has one waiting.
pub fn try_read_byte() -> Option<u8> {
    interrupts::without_interrupts(|| PORT.lock().try_receive().ok())
}

/// For a path that will never return (panic, fatal exception): from now
/// on printing no longer takes the console lock, so the message gets out
/// even if the interrupted code held it. Safe for any caller: the lock is
/// not broken (a holder keeps its exclusive port value), later prints just
/// use a port value of their own; the cost is possibly interleaved output.
pub fn force_unlock() {
    BYPASS.store(true, core::sync::atomic::Ordering::Release);
}

/// `print!` to the serial console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::serial::print_fmt(format_args!($($arg)*)) };
}

/// `println!` to the serial console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::serial::print_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

/// A `fmt::Write` sink for the console (for code that wants `write!`).
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        print_fmt(format_args!("{s}"));
        Ok(())
    }
}
