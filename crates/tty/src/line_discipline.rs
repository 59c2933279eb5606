//! The line discipline: received bytes in, echo and readable bytes out.
//!
//! Owns [`LineDiscipline`], which ties the [`Mode`], the echo flag, the line
//! being edited ([`LineEditor`]) and the read queue ([`InputQueue`])
//! together. It never touches hardware: `sk-core` passes each byte from the
//! UART's receive interrupt to [`LineDiscipline::input`] and sends what the
//! closures are given to the UART. Semantics follow Linux's `n_tty` with
//! `ICANON`, `ECHO`, `ECHOE`, `ECHOCTL`, `ICRNL` and `ONLCR` set
//! (`man 3 termios`), minus signals.

use crate::control::{
    classify, echo_inserted, is_word_separator, Key, BELL, ERASE_ECHO, LINE_FEED, NEWLINE_ECHO,
};
use crate::input_queue::{InputQueue, Taken};
use crate::line_editor::LineEditor;
use crate::{Mode, ReadResult};

/// The tty's input editing and output translation.
///
/// About 20 KiB (fixed buffers, no allocation): keep it in a `static`
/// (`new` is `const`) rather than on a kernel stack.
#[derive(Debug, Clone)]
pub struct LineDiscipline {
    mode: Mode,
    is_echo_on: bool,
    line: LineEditor,
    queue: InputQueue,
}

impl LineDiscipline {
    /// A tty in cooked mode with echo on, as a console starts.
    #[must_use]
    pub const fn new() -> Self {
        Self::with_mode(Mode::Cooked, true)
    }

    /// A tty in `mode`, echoing if `is_echo_on`.
    #[must_use]
    pub const fn with_mode(mode: Mode, is_echo_on: bool) -> Self {
        Self {
            mode,
            is_echo_on,
            line: LineEditor::new(),
            queue: InputQueue::new(),
        }
    }

    /// The input mode.
    #[must_use]
    pub const fn mode(&self) -> Mode {
        self.mode
    }

    /// Switches the input mode. Cooked to raw: the half-typed line becomes
    /// readable as it is (what does not fit in the read queue is dropped).
    /// Raw to cooked: bytes not yet read form one record, returned like a
    /// line (raw bytes carry no line boundaries, so it may hold newlines).
    pub fn set_mode(&mut self, mode: Mode) {
        match (self.mode, mode) {
            (Mode::Cooked, Mode::Raw) => {
                for &byte in self.line.as_bytes() {
                    if !self.queue.push_byte(byte) {
                        break;
                    }
                }
                self.line.clear();
            }
            (Mode::Raw, Mode::Cooked) => self.queue.end_record(),
            (Mode::Raw, Mode::Raw) | (Mode::Cooked, Mode::Cooked) => {}
        }
        self.mode = mode;
    }

    /// Whether input is echoed.
    #[must_use]
    pub const fn is_echo_on(&self) -> bool {
        self.is_echo_on
    }

    /// Turns echo on or off.
    pub fn set_echo(&mut self, is_echo_on: bool) {
        self.is_echo_on = is_echo_on;
    }

    /// Whether a [`read`](Self::read) would return data or end-of-file
    /// rather than [`ReadResult::WouldBlock`]: the condition to wake readers
    /// on after [`input`](Self::input).
    #[must_use]
    pub const fn is_readable(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Slots waiting to be read (bytes, and end-of-file marks): what a
    /// Linux `FIONREAD` on the console reports.
    #[must_use]
    pub const fn queued(&self) -> usize {
        crate::input_queue::READ_QUEUE_CAPACITY.saturating_sub(self.queue.free())
    }

    /// Feeds one received byte; whatever should be echoed to the terminal
    /// is passed to `echo_out` (nothing when echo is off).
    pub fn input(&mut self, byte: u8, echo_out: &mut impl FnMut(&[u8])) {
        match self.mode {
            Mode::Raw => {
                if self.queue.push_byte(byte) {
                    self.echo(echo_out, &[byte]);
                } else {
                    self.echo(echo_out, &[BELL]);
                }
            }
            Mode::Cooked => self.input_cooked(byte, echo_out),
        }
    }

    /// Writes `bytes` for the terminal through `out`: in cooked mode each
    /// `'\n'` becomes `"\r\n"`; raw mode passes bytes through.
    pub fn output(&self, bytes: &[u8], out: &mut impl FnMut(&[u8])) {
        if self.mode == Mode::Raw {
            if !bytes.is_empty() {
                out(bytes);
            }
            return;
        }
        for (index, piece) in bytes.split(|&byte| byte == LINE_FEED).enumerate() {
            if index > 0 {
                out(NEWLINE_ECHO);
            }
            if !piece.is_empty() {
                out(piece);
            }
        }
    }

    /// Reads into `buf`. Cooked mode returns at most one line (the rest of a
    /// line longer than `buf` comes with the next reads); raw mode returns
    /// whatever is there, up to `buf.len()`. An empty `buf` consumes nothing.
    pub fn read(&mut self, buf: &mut [u8]) -> ReadResult {
        if !self.is_readable() {
            return ReadResult::WouldBlock;
        }
        if buf.is_empty() {
            return ReadResult::Data(0);
        }
        match self.queue.read(buf, self.mode == Mode::Cooked) {
            Taken::EndOfFile => ReadResult::Eof,
            Taken::Bytes(copied) => ReadResult::Data(copied),
        }
    }

    fn input_cooked(&mut self, byte: u8, echo_out: &mut impl FnMut(&[u8])) {
        match classify(byte) {
            Key::EndLine => {
                if self
                    .queue
                    .push_record(self.line.as_bytes(), Some(LINE_FEED))
                {
                    self.line.clear();
                    self.echo(echo_out, NEWLINE_ECHO);
                } else {
                    // The read queue is full: keep the line, the user can
                    // press Enter again once the reader catches up.
                    self.echo(echo_out, &[BELL]);
                }
            }
            Key::EraseChar => self.erase_char(echo_out),
            Key::EraseWord => {
                while self.line.last().is_some_and(is_word_separator) {
                    self.erase_char(echo_out);
                }
                while self
                    .line
                    .last()
                    .is_some_and(|last| !is_word_separator(last))
                {
                    self.erase_char(echo_out);
                }
            }
            Key::KillLine => {
                while !self.line.is_empty() {
                    self.erase_char(echo_out);
                }
            }
            Key::EndOfFile => {
                let is_queued = if self.line.is_empty() {
                    self.queue.push_end_of_file()
                } else {
                    self.queue.push_record(self.line.as_bytes(), None)
                };
                if is_queued {
                    self.line.clear();
                } else {
                    self.echo(echo_out, &[BELL]);
                }
            }
            Key::Insert(byte) => {
                if self.line.push(byte) {
                    if self.is_echo_on {
                        echo_inserted(byte, echo_out);
                    }
                } else {
                    self.echo(echo_out, &[BELL]);
                }
            }
        }
    }

    /// Erases one character and rubs out its columns on the terminal.
    fn erase_char(&mut self, echo_out: &mut impl FnMut(&[u8])) {
        if let Some(columns) = self.line.erase_char() {
            for _ in 0..columns {
                self.echo(echo_out, ERASE_ECHO);
            }
        }
    }

    fn echo(&self, echo_out: &mut impl FnMut(&[u8]), bytes: &[u8]) {
        if self.is_echo_on {
            echo_out(bytes);
        }
    }
}

impl Default for LineDiscipline {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
