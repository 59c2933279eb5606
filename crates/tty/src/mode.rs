//! The two input modes of the line discipline.
//!
//! Owns [`Mode`]. Switching modes is done by
//! [`LineDiscipline::set_mode`](crate::LineDiscipline::set_mode), which also
//! says what happens to a half-typed line.

/// How received bytes become readable (termios `ICANON` on or off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Every byte is readable as soon as it arrives, unchanged.
    Raw,
    /// Bytes are edited into lines; a line is readable once it is ended.
    #[default]
    Cooked,
}
