//! The line being typed in cooked mode, and how it is erased.
//!
//! Owns [`LineEditor`]: a fixed buffer with UTF-8-aware "erase one
//! character" that reports how many columns the character's echo took, so
//! the line discipline can echo the right number of `"\x08 \x08"`.

use crate::control::{echo_width, is_utf8_continuation, is_utf8_lead};

/// The longest line a cooked read can return, newline included. The line
/// being typed holds at most one byte less; the newline always fits.
pub const MAX_LINE_BYTES: usize = 4096;

/// Bytes of the line being edited.
const CAPACITY: usize = MAX_LINE_BYTES - 1;

/// The current, not yet readable, line.
#[derive(Debug, Clone)]
pub(crate) struct LineEditor {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl LineEditor {
    pub(crate) const fn new() -> Self {
        Self {
            bytes: [0; CAPACITY],
            len: 0,
        }
    }

    /// The line so far.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    pub(crate) const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `byte`; `false` (and nothing changes) when the line is full.
    pub(crate) fn push(&mut self, byte: u8) -> bool {
        let Some(slot) = self.bytes.get_mut(self.len) else {
            return false;
        };
        *slot = byte;
        self.len = self.len.saturating_add(1);
        true
    }

    /// The last byte of the line.
    pub(crate) fn last(&self) -> Option<u8> {
        self.as_bytes().last().copied()
    }

    /// Removes the last character: a UTF-8 lead byte with its continuation
    /// bytes, or one byte. Returns the columns its echo took; `None` if the
    /// line is empty.
    pub(crate) fn erase_char(&mut self) -> Option<usize> {
        let line = self.as_bytes();
        let (&last, before) = line.split_last()?;
        let start = if is_utf8_continuation(last) {
            // Walk back over continuation bytes to the lead byte that starts
            // the character; stray continuation bytes go as one character.
            match line.iter().rposition(|&byte| !is_utf8_continuation(byte)) {
                Some(lead) if line.get(lead).is_some_and(|&byte| is_utf8_lead(byte)) => lead,
                Some(other) => other.saturating_add(1),
                None => 0,
            }
        } else {
            before.len()
        };
        let first = line.get(start).copied().unwrap_or(last);
        self.len = start;
        Some(echo_width(first))
    }

    /// Empties the line.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor_with(bytes: &[u8]) -> LineEditor {
        let mut editor = LineEditor::new();
        for &byte in bytes {
            assert!(editor.push(byte));
        }
        editor
    }

    #[test]
    fn erases_ascii_one_byte_at_a_time() {
        let mut editor = editor_with(b"ab");
        assert_eq!(editor.erase_char(), Some(1));
        assert_eq!(editor.as_bytes(), b"a");
        assert_eq!(editor.erase_char(), Some(1));
        assert_eq!(editor.erase_char(), None);
    }

    #[test]
    fn erases_a_utf8_character_whole() {
        // "aé€": é is 2 bytes, € is 3.
        let mut editor = editor_with("aé€".as_bytes());
        assert_eq!(editor.erase_char(), Some(1));
        assert_eq!(editor.as_bytes(), "aé".as_bytes());
        assert_eq!(editor.erase_char(), Some(1));
        assert_eq!(editor.as_bytes(), b"a");
    }

    #[test]
    fn stray_continuation_bytes_go_together() {
        let mut editor = editor_with(b"a\x80\x80");
        assert_eq!(editor.erase_char(), Some(1));
        assert_eq!(editor.as_bytes(), b"a");
        let mut editor = editor_with(b"\x80\x80");
        assert_eq!(editor.erase_char(), Some(1));
        assert!(editor.is_empty());
    }

    #[test]
    fn control_bytes_take_two_columns() {
        let mut editor = editor_with(b"a\x01");
        assert_eq!(editor.erase_char(), Some(2));
    }

    #[test]
    fn holds_one_byte_less_than_a_line() {
        let mut editor = LineEditor::new();
        for _ in 0..MAX_LINE_BYTES - 1 {
            assert!(editor.push(b'x'));
        }
        assert!(!editor.push(b'x'));
        assert_eq!(editor.as_bytes().len(), MAX_LINE_BYTES - 1);
    }
}
