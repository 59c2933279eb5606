//! Reading the text of [`Sio::routines`](crate::Sio::routines).
//!
//! Owns [`Routine`] and [`routine_of`]. The text starts with a header, one
//! line per op that has a routine slot:
//!
//! ```text
//! read: synthesized file_read
//! write: generic
//! ...details (disassembly)...
//! ```
//!
//! The header ends at the first line that is not of that form; only the
//! header is searched, so details can never be mistaken for it. Pure code,
//! tested on the host.

/// Which routine serves one op of an SIO, for the calling thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Routine<'a> {
    /// A routine synthesized for this SIO from the named template (empty if
    /// the kernel named none).
    Synthesized(&'a str),
    /// The generic path.
    Generic,
}

impl Routine<'_> {
    /// Whether a synthesized routine serves the op.
    #[must_use]
    pub const fn is_synthesized(&self) -> bool {
        matches!(self, Self::Synthesized(_))
    }
}

/// The routine the header of `text` (bytes a Routines query wrote) names
/// for `op` (`"read"`, `"write"`); `None` if the header has no line for it.
/// A character cut by truncation at the end of `text` is ignored.
#[must_use]
pub fn routine_of<'a>(text: &'a [u8], op: &str) -> Option<Routine<'a>> {
    header(text)
        .find(|&(name, _)| name == op)
        .map(|(_, routine)| routine)
}

/// Lazy synthesis: `op`'s routine is waiting for its calls to show it pays.
/// `Some((calls, k))` from the kernel's line `op lazy: generic calls N,
/// synthesized at generic call K` (the slot is generic until the `K`-th
/// call on the generic path); `None` if there is no such line.
pub fn pending_of(text: &[u8], op: &str) -> Option<(u32, u32)> {
    let text = match core::str::from_utf8(text) {
        Ok(text) => text,
        Err(error) => core::str::from_utf8(text.get(..error.valid_up_to())?).ok()?,
    };
    text.lines().find_map(|line| {
        let rest = line
            .strip_prefix(op)?
            .strip_prefix(" lazy: generic calls ")?;
        let (calls, rest) = rest.split_once(", synthesized at generic call ")?;
        Some((calls.trim().parse().ok()?, rest.trim().parse().ok()?))
    })
}

/// True if `op` is synthesized, or generic only because lazy synthesis
/// waits for its `K`-th generic call ([`pending_of`], fewer calls than
/// `K` so far): what a check that wants a routine accepts.
pub fn is_synthesized_or_pending(text: &[u8], op: &str) -> bool {
    match routine_of(text, op) {
        Some(Routine::Synthesized(_)) => true,
        Some(Routine::Generic) => pending_of(text, op).is_some_and(|(calls, k)| calls < k),
        None => false,
    }
}

/// The header lines of `text`, as `(op, routine)`.
fn header(text: &[u8]) -> impl Iterator<Item = (&str, Routine<'_>)> {
    let valid = match core::str::from_utf8(text) {
        Ok(text) => text,
        Err(error) => {
            let prefix = text.get(..error.valid_up_to()).unwrap_or_default();
            core::str::from_utf8(prefix).unwrap_or_default()
        }
    };
    valid.lines().map_while(header_line)
}

/// Parses `op: generic` or `op: synthesized <template>`.
fn header_line(line: &str) -> Option<(&str, Routine<'_>)> {
    let (op, rest) = line.split_once(": ")?;
    let is_op_name = !op.is_empty()
        && op
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte == b'_');
    if !is_op_name {
        return None;
    }
    let routine = match rest.trim_end() {
        "generic" => Routine::Generic,
        "synthesized" => Routine::Synthesized(""),
        other => Routine::Synthesized(other.strip_prefix("synthesized ")?.trim()),
    };
    Some((op, routine))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = b"read: synthesized file_read\nwrite: generic\n\
        read routine at 0xffff_c000_0000_1000, 93 bytes\n  mov rax, [rdi]\n";

    #[test]
    fn lazy_lines_are_found() {
        let text = b"read: generic\nwrite: generic\nread lazy: generic calls 1, synthesized at generic call 3\n";
        assert_eq!(pending_of(text, "read"), Some((1, 3)));
        assert_eq!(pending_of(text, "write"), None);
        assert!(is_synthesized_or_pending(text, "read"));
        assert!(!is_synthesized_or_pending(text, "write"));
        let due = b"read: generic\nread lazy: generic calls 3, synthesized at generic call 3\n";
        assert!(!is_synthesized_or_pending(due, "read"));
    }

    #[test]
    fn header_lines_are_found() {
        assert_eq!(
            routine_of(TEXT, "read"),
            Some(Routine::Synthesized("file_read"))
        );
        assert_eq!(routine_of(TEXT, "write"), Some(Routine::Generic));
        assert!(routine_of(TEXT, "read").is_some_and(|r| r.is_synthesized()));
        assert!(!Routine::Generic.is_synthesized());
    }

    #[test]
    fn missing_ops_and_details_are_not_header() {
        assert_eq!(routine_of(TEXT, "seek"), None);
        // A detail line that looks like a header line is past the header.
        let text = b"write: synthesized null_write\nsome details\nread: generic\n";
        assert_eq!(routine_of(text, "read"), None);
        assert_eq!(
            routine_of(text, "write"),
            Some(Routine::Synthesized("null_write"))
        );
        assert_eq!(routine_of(b"", "read"), None);
        assert_eq!(routine_of(b"read: maybe\n", "read"), None);
        assert_eq!(routine_of(b"Read: generic\n", "Read"), None);
    }

    #[test]
    fn crlf_bare_synthesized_and_truncation() {
        assert_eq!(
            routine_of(b"write: synthesized tty_write\r\n", "write"),
            Some(Routine::Synthesized("tty_write"))
        );
        assert_eq!(
            routine_of(b"read: synthesized\n", "read"),
            Some(Routine::Synthesized(""))
        );
        // Truncated in the middle of a UTF-8 character: the cut is dropped.
        let cut: &[u8] = b"read: generic\nwrite: generic\n\xc3";
        assert_eq!(routine_of(cut, "write"), Some(Routine::Generic));
        let cut = cut.get(..20).unwrap_or_default();
        assert_eq!(routine_of(cut, "read"), Some(Routine::Generic));
        assert_eq!(routine_of(cut, "write"), None);
        // A truncated last line still parses if its fields are whole.
        assert_eq!(
            routine_of(b"read: generic\nwrite: synthesized mem_r", "write"),
            Some(Routine::Synthesized("mem_r"))
        );
    }
}
