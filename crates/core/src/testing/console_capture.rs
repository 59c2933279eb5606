//! A capture of the console bytes the kernel's generic path writes
//! (`sio_calls::console_out`), for tests that check output byte for byte
//! (prefixed tty streams). Off unless a test starts it.

use alloc::vec::Vec;
use spin::Mutex;

/// Most bytes kept (later ones are dropped).
const CAPTURE_BYTES: usize = 64 << 10;

static CAPTURE: Mutex<Option<Vec<u8>>> = Mutex::new(None);

/// Starts capturing (an earlier capture is dropped).
pub fn start_console_capture() {
    *CAPTURE.lock() = Some(Vec::new());
}

/// Stops capturing; returns the bytes captured since the start.
pub fn take_console_capture() -> Vec<u8> {
    CAPTURE.lock().take().unwrap_or_default()
}

/// Keeps `bytes` if a capture is on (the kernel's console output hook).
pub(crate) fn capture_console(bytes: &[u8]) {
    if let Some(kept) = CAPTURE.lock().as_mut() {
        let room = CAPTURE_BYTES.saturating_sub(kept.len()).min(bytes.len());
        kept.extend_from_slice(bytes.get(..room).unwrap_or(&[]));
    }
}
