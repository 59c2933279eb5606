//! The control bytes the line discipline knows, and how bytes are echoed.
//!
//! Owns the key map of cooked mode ([`Key`], [`classify`]) and echo
//! rendering: control bytes as `^X` (two columns), the rest as themselves.
//! Values follow the termios defaults (`VERASE`, `VKILL`, `VWERASE`,
//! `VEOF`; `man 3 termios`).

/// Backspace, Ctrl-H: erases a character in cooked mode.
pub const BACKSPACE: u8 = 0x08;
/// DEL, what most terminals send for the backspace key: erases a character.
pub const DELETE: u8 = 0x7f;
/// Ctrl-U (`VKILL`): erases the whole line.
pub const KILL_LINE: u8 = 0x15;
/// Ctrl-W (`VWERASE`): erases the word before the cursor.
pub const ERASE_WORD: u8 = 0x17;
/// Ctrl-D (`VEOF`): end of file at the start of a line, else "push the
/// partial line".
pub const END_OF_FILE: u8 = 0x04;
/// Carriage return: what a terminal sends for Enter; ends a line.
pub const CARRIAGE_RETURN: u8 = b'\r';
/// Line feed: ends a line.
pub const LINE_FEED: u8 = b'\n';
/// Bell: echoed when a byte is dropped because the line or queue is full.
pub const BELL: u8 = 0x07;

/// Erase echo for one column: back, blank, back.
pub(crate) const ERASE_ECHO: &[u8] = b"\x08 \x08";
/// Echo for a completed line.
pub(crate) const NEWLINE_ECHO: &[u8] = b"\r\n";

/// What a byte means in cooked mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// `'\r'` or `'\n'`.
    EndLine,
    /// Backspace or DEL.
    EraseChar,
    /// Ctrl-W.
    EraseWord,
    /// Ctrl-U.
    KillLine,
    /// Ctrl-D.
    EndOfFile,
    /// Anything else: goes into the line.
    Insert(u8),
}

/// The meaning of `byte` in cooked mode.
pub(crate) const fn classify(byte: u8) -> Key {
    match byte {
        CARRIAGE_RETURN | LINE_FEED => Key::EndLine,
        BACKSPACE | DELETE => Key::EraseChar,
        ERASE_WORD => Key::EraseWord,
        KILL_LINE => Key::KillLine,
        END_OF_FILE => Key::EndOfFile,
        other => Key::Insert(other),
    }
}

/// Whether `byte` is echoed in caret notation (`^X`).
pub(crate) const fn is_caret_echoed(byte: u8) -> bool {
    byte < 0x20 || byte == DELETE
}

/// Whether `byte` continues a UTF-8 character (`0b10xx_xxxx`).
pub(crate) const fn is_utf8_continuation(byte: u8) -> bool {
    byte & 0xc0 == 0x80
}

/// Whether `byte` starts a multi-byte UTF-8 character (`0b11xx_xxxx`).
pub(crate) const fn is_utf8_lead(byte: u8) -> bool {
    byte >= 0xc0
}

/// Whether `byte` separates words for Ctrl-W.
pub(crate) const fn is_word_separator(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// Columns the echo of a character starting with `first` takes.
pub(crate) const fn echo_width(first: u8) -> usize {
    if is_caret_echoed(first) {
        2
    } else {
        1
    }
}

/// Echoes an inserted byte: `^X` for control bytes, else the byte itself.
pub(crate) fn echo_inserted(byte: u8, out: &mut impl FnMut(&[u8])) {
    if is_caret_echoed(byte) {
        out(&[b'^', byte ^ 0x40]);
    } else {
        out(&[byte]);
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_editing_keys() {
        assert_eq!(classify(b'\r'), Key::EndLine);
        assert_eq!(classify(b'\n'), Key::EndLine);
        assert_eq!(classify(0x08), Key::EraseChar);
        assert_eq!(classify(0x7f), Key::EraseChar);
        assert_eq!(classify(0x17), Key::EraseWord);
        assert_eq!(classify(0x15), Key::KillLine);
        assert_eq!(classify(0x04), Key::EndOfFile);
        assert_eq!(classify(b'a'), Key::Insert(b'a'));
        assert_eq!(classify(0x03), Key::Insert(0x03));
    }

    #[test]
    fn control_bytes_echo_in_caret_notation() {
        let mut echoed = [0_u8; 2];
        let mut len = 0;
        echo_inserted(0x03, &mut |bytes: &[u8]| {
            echoed[..bytes.len()].copy_from_slice(bytes);
            len = bytes.len();
        });
        assert_eq!(&echoed[..len], b"^C");
        assert_eq!(echo_width(0x03), 2);
        assert_eq!(echo_width(b'a'), 1);
        assert_eq!(echo_width(0xc3), 1);
    }
}
