//! Prefixed tty streams: the prefix of one prefix-view level and the rule
//! that splices a chain of them into the bytes written.
//!
//! Owns [`LinePrefix`] (1 to [`MAX_PREFIX_LEN`] bytes, no `\n`) and
//! [`splice`], the one rule for where prefixes go: before the first byte
//! of every line, each level with its own line state, the level nearest
//! the tty first. The kernel's generic path (`crates/core/src/prefix_views.rs`)
//! walks the chain with it.

use sk_abi::{SysError, MAX_PREFIX_LEN};

/// Bytes of one level's prefix, as a `usize`.
const PREFIX_BYTES: usize = MAX_PREFIX_LEN as usize;

/// One prefix-view level's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinePrefix {
    bytes: [u8; PREFIX_BYTES],
    len: u8,
}

impl LinePrefix {
    /// The prefix `bytes`.
    ///
    /// # Errors
    /// [`SysError::BadValue`] for no bytes, more than [`MAX_PREFIX_LEN`],
    /// or a `\n` (a prefix is inside one line).
    pub fn new(bytes: &[u8]) -> Result<Self, SysError> {
        if bytes.is_empty() || bytes.len() > PREFIX_BYTES || bytes.contains(&b'\n') {
            return Err(SysError::BadValue);
        }
        let mut prefix = Self {
            bytes: [0; PREFIX_BYTES],
            len: u8::try_from(bytes.len()).map_err(|_| SysError::BadValue)?,
        };
        prefix
            .bytes
            .get_mut(..bytes.len())
            .ok_or(SysError::BadValue)?
            .copy_from_slice(bytes);
        Ok(prefix)
    }

    /// Its bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// Writes `input` through a chain of prefix levels to `out`: `prefixes`
/// and `at_line_start` are the levels' prefixes and line states, the
/// level nearest the tty first. Before each byte, every level at the
/// start of a line writes its prefix (nearest first) and leaves that
/// state; after a `\n`, every level is at the start of a line. Output
/// goes in runs (prefix, then the line's bytes up to its `\n`).
pub fn splice(
    prefixes: &[LinePrefix],
    at_line_start: &mut [bool],
    input: &[u8],
    out: &mut impl FnMut(&[u8]),
) {
    let mut rest = input;
    while !rest.is_empty() {
        for (prefix, start) in prefixes.iter().zip(at_line_start.iter_mut()) {
            if *start {
                out(prefix.bytes());
                *start = false;
            }
        }
        let line_end = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |i| i.saturating_add(1));
        let (line, after) = rest.split_at(line_end);
        out(line);
        if line.last() == Some(&b'\n') {
            at_line_start.iter_mut().for_each(|s| *s = true);
        }
        rest = after;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn run(prefixes: &[&[u8]], states: &mut [bool], input: &[u8]) -> Vec<u8> {
        let levels: Vec<LinePrefix> = prefixes
            .iter()
            .map(|p| LinePrefix::new(p).unwrap())
            .collect();
        let mut out = Vec::new();
        splice(&levels, states, input, &mut |b| out.extend_from_slice(b));
        out
    }

    #[test]
    fn every_line_starts_with_the_prefix() {
        let mut s = [true];
        assert_eq!(
            run(&[b"[a] "], &mut s, b"hello\nworld\n"),
            b"[a] hello\n[a] world\n"
        );
        assert_eq!(s, [true]);
        // A line split over two writes gets one prefix.
        assert_eq!(run(&[b"[a] "], &mut s, b"he"), b"[a] he");
        assert_eq!(run(&[b"[a] "], &mut s, b"llo\n\n"), b"llo\n[a] \n");
        assert_eq!(run(&[b"[a] "], &mut s, b""), b"");
        assert_eq!(s, [true]);
    }

    #[test]
    fn a_chain_writes_the_prefixes_nearest_the_tty_first() {
        let mut s = [true, true];
        assert_eq!(
            run(&[b"[a] ", b"[x] "], &mut s, b"hi\nyo"),
            b"[a] [x] hi\n[a] [x] yo"
        );
        assert_eq!(s, [false, false]);
        // A lower level mid-line (its own stream wrote half a line) adds
        // nothing until its line ends.
        let mut s = [false, true];
        assert_eq!(run(&[b"[a] ", b"[x] "], &mut s, b"hi\n"), b"[x] hi\n");
    }

    #[test]
    fn bad_prefixes_are_bad_values() {
        assert_eq!(LinePrefix::new(b""), Err(SysError::BadValue));
        assert_eq!(LinePrefix::new(&[b'a'; 33]), Err(SysError::BadValue));
        assert_eq!(LinePrefix::new(b"a\nb"), Err(SysError::BadValue));
        assert_eq!(LinePrefix::new(&[b'a'; 32]).unwrap().bytes(), &[b'a'; 32]);
    }

    #[test]
    fn splice_matches_a_byte_at_a_time_model() {
        // Pseudo-random inputs of a few symbols, '\n' frequent.
        let mut seed = 0x9e37_79b9_u32;
        for _ in 0..500 {
            let mut input = Vec::new();
            for _ in 0..(seed % 40) {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                input.push(b"ab\n"[(seed >> 16) as usize % 3]);
            }
            let prefixes: [&[u8]; 3] = [b"1", b"22", b"333"];
            let mut states = [seed & 1 != 0, seed & 2 != 0, seed & 4 != 0];
            let mut model_states = states;
            let got = run(&prefixes, &mut states, &input);
            let mut want = Vec::new();
            for &b in &input {
                for (p, s) in prefixes.iter().zip(model_states.iter_mut()) {
                    if *s {
                        want.extend_from_slice(p);
                        *s = false;
                    }
                }
                want.push(b);
                if b == b'\n' {
                    model_states = [true; 3];
                }
            }
            assert_eq!(got, want);
            assert_eq!(states, model_states);
        }
    }
}
