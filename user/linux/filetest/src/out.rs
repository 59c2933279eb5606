//! Console output without allocation: a line of strings and integers.

/// A piece of a line.
pub enum Piece<'a> {
    /// Text.
    S(&'a str),
    /// A signed integer in decimal.
    I(i64),
}
pub use Piece::{I, S};

/// Writes `n` in decimal into `out`; the length.
pub fn format_u64(mut n: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        out[i] = digits[len - 1 - i];
    }
    len
}

/// Writes the pieces and a newline to descriptor 1 in one `write`.
pub fn line(pieces: &[Piece<'_>]) {
    let mut buf = [0u8; 256];
    let mut len = 0;
    for piece in pieces {
        match piece {
            S(text) => {
                for &b in text.as_bytes() {
                    if len < buf.len() - 1 {
                        buf[len] = b;
                        len += 1;
                    }
                }
            }
            I(n) => {
                if *n < 0 && len < buf.len() - 1 {
                    buf[len] = b'-';
                    len += 1;
                }
                if len + 21 < buf.len() {
                    len += format_u64(n.unsigned_abs(), &mut buf[len..]);
                }
            }
        }
    }
    buf[len] = b'\n';
    len += 1;
    let _ = crate::sys::write(1, &buf[..len]);
}
