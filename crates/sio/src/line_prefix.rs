//! Prefixed tty streams: the prefix of one prefix-view level and the rule
//! that splices a chain of them into the bytes written.
//!
//! Owns [`LinePrefix`] (1 to [`MAX_PREFIX_LEN`] bytes, no `\n`) and
//! [`splice`], the one rule for where prefixes go: before the first byte
//! of every line, each level with its own line state, the level nearest
//! the tty first. The kernel's generic path (`crates/core/src/prefix_views.rs`)
//! walks the chain with it.

use sk_abi::{SysError, MAX_PREFIX_LEN};

/// Bytes of one level's prefix, as a `usize` (32: no truncation).
#[allow(clippy::cast_possible_truncation)]
pub const PREFIX_BYTES: usize = MAX_PREFIX_LEN as usize;

/// Most prefix bytes a whole chain may carry (every level's together): one
/// input byte (a `\n`) puts out at most this plus itself, which bounds
/// the console output of one piece of the generic write
/// ([`input_bytes_per_piece`]).
pub const MAX_CHAIN_PREFIX_BYTES: usize = 64;

/// Input bytes one piece of a write through a chain whose prefixes total
/// `chain_prefix_bytes` may take so that its output stays within
/// `output_budget` bytes (or, when even one byte's worst case exceeds it,
/// one byte: progress): each input byte puts out at most itself and, after
/// a `\n`, every prefix.
#[must_use]
pub fn input_bytes_per_piece(output_budget: usize, chain_prefix_bytes: usize) -> usize {
    let worst_per_byte = chain_prefix_bytes.saturating_add(1);
    output_budget
        .checked_div(worst_per_byte)
        .unwrap_or(0)
        .max(1)
}

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
    /// or a control byte (below 0x20 but tab, or 0x7f: a prefix is printable
    /// text inside one line, so it cannot move the cursor over another
    /// level's label, hostile review).
    pub fn new(bytes: &[u8]) -> Result<Self, SysError> {
        let is_control = |b: &u8| (*b < 0x20 && *b != b'\t') || *b == 0x7f;
        if bytes.is_empty() || bytes.len() > PREFIX_BYTES || bytes.iter().any(is_control) {
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
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
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
    fn one_piece_puts_out_a_bounded_number_of_bytes() {
        // The hostile review's case: 64 newlines through 16 levels of 32
        // bytes put out 32,832 bytes in one piece (interrupts masked, the
        // console polled). With the chain's prefixes bounded and the
        // piece's input sized from them, a piece puts out at most the
        // budget, or one byte's worst case when that is larger.
        let budget = 64;
        for total in [0, 1, 4, 31, 63, 64] {
            let levels = total.clamp(1, 16);
            let per = total / levels;
            let p = [b'x'; 64];
            let mut prefixes: Vec<&[u8]> = Vec::new();
            for _ in 0..levels {
                if per > 0 {
                    prefixes.push(&p[..per]);
                }
            }
            let chain: usize = prefixes.iter().map(|p| p.len()).sum();
            let n = input_bytes_per_piece(budget, chain);
            let mut states = [true; 16];
            let out = run(&prefixes, &mut states[..prefixes.len()], &vec_of(b'\n', n));
            assert!(
                out.len() <= budget.max(chain + 1),
                "{chain} prefix bytes, {n} input: {} out",
                out.len()
            );
            assert!(n >= 1);
        }
        // Without the bound (64 bytes a piece, a 512-byte chain): 32,832.
        let p = [b'x'; 32];
        let prefixes: Vec<&[u8]> = (0..16).map(|_| &p[..]).collect();
        let mut states = [true; 16];
        assert_eq!(run(&prefixes, &mut states, &[b'\n'; 64]).len(), 64 * 513);
    }

    fn vec_of(b: u8, n: usize) -> Vec<u8> {
        std::vec![b; n]
    }

    #[test]
    fn control_bytes_are_not_prefixes() {
        for bad in [&b"\r[top] "[..], b"\x1b[2K", b"a\x7f", b"\x08", b"x\n"] {
            assert_eq!(LinePrefix::new(bad), Err(SysError::BadValue), "{bad:?}");
        }
        assert!(LinePrefix::new(b"[top]\t").is_ok());
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
