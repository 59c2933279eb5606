//! COM1 serial console (16550 UART at port 0x3f8, through `uart_16550`).
//!
//! Owns the console port and its lock. Printing masks interrupts so an
//! interrupt handler that prints can never deadlock against the code it
//! interrupted; fatal paths may [`force_unlock`] first.

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

/// Writes formatted text to the console.
pub fn print_fmt(args: fmt::Arguments<'_>) {
    interrupts::without_interrupts(|| {
        // Writing to a UART cannot fail; a lost message is the only outcome.
        let _ = PORT.lock().write_fmt(args);
        WRITTEN.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    });
}

/// Writes raw bytes to the console (used by `/dev/tty`).
pub fn write_bytes(bytes: &[u8]) {
    interrupts::without_interrupts(|| {
        let mut port = PORT.lock();
        for &b in bytes {
            port.send_raw(b);
        }
        WRITTEN.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    });
}

/// Reads one byte if the UART has one waiting.
pub fn try_read_byte() -> Option<u8> {
    interrupts::without_interrupts(|| PORT.lock().try_receive().ok())
}

/// Breaks the console lock for a path that will never return (panic,
/// fatal exception), so its message gets out even if the interrupted code
/// held the lock.
pub fn force_unlock() {
    if PORT.is_locked() {
        // SAFETY: only called on paths that end the machine; the previous
        // holder never runs again, so no two writers use the port at once.
        unsafe { PORT.force_unlock() };
    }
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
