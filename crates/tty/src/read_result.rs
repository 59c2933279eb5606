//! What a read from the tty produced.
//!
//! Owns [`ReadResult`]. `sk-core` turns `Data(n)` and `Eof` into the
//! syscall's return value (`n`, `0`) and `WouldBlock` into sleeping until
//! the serial interrupt makes the tty readable (or `EAGAIN` for a
//! non-blocking handle).

/// The outcome of [`LineDiscipline::read`](crate::LineDiscipline::read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadResult {
    /// `n` bytes were copied into the buffer. `n` is 0 only when the buffer
    /// was empty and something was readable.
    Data(usize),
    /// End of file: Ctrl-D at the start of a line (cooked mode). Consumed:
    /// the next read sees what was typed after it.
    Eof,
    /// Nothing is readable yet.
    WouldBlock,
}
