//! Bounding the work one call does with interrupts masked.
//!
//! Owns [`transfer_in_chunks`], [`Piece`], [`CHUNK_BYTES`] and
//! [`TTY_CHUNK_BYTES`]. The kernel runs each generic operation under its
//! lock with interrupts masked; a read or write of many megabytes would then
//! hold the CPU for its whole length. The dispatcher instead moves a long
//! transfer as consecutive pieces of at most [`CHUNK_BYTES`] (the console,
//! polled byte by byte: [`TTY_CHUNK_BYTES`]), each a complete generic call
//! of its own, with a preemption point between pieces. Synthesized routines
//! take only calls of at most one piece and send longer ones to the generic
//! path, so the same bound holds there (`docs/caveats.md`).
//!
//! Semantics (those of POSIX for a transfer that stops early): pieces run
//! in order; the transfer stops at the first piece that moves fewer bytes
//! than asked (end of file) or fails; a failure after some progress returns
//! the progress, the next call sees the failure. A zero-length transfer
//! still runs one (empty) piece, so it gets the same checks.
//!
//! A piece may also prepare instead of moving bytes ([`Piece::Prepared`]):
//! a write far past the end of a file first grows the file, at most
//! `sk_fs::GROWTH_STEP_BYTES` per piece, and the transfer goes on after the
//! preemption point with no bytes counted. Such a piece must make progress
//! (each grows the file's capacity toward the write's end, which is
//! bounded), so the transfer still ends.

use sk_abi::SysError;

/// Most bytes one piece of a file or device transfer moves.
pub const CHUNK_BYTES: u64 = 64 << 10;
/// Most bytes one piece of a console transfer moves (each is polled out
/// of the UART: 64 bytes take about 5.6 ms at 115,200 baud).
pub const TTY_CHUNK_BYTES: u64 = 64;

impl<R> crate::Sio<R> {
    /// The largest piece a read (`is_write` false) or write of this SIO is
    /// split into: [`CHUNK_BYTES`] where the call copies user memory,
    /// [`TTY_CHUNK_BYTES`] for console output, and no split where the call
    /// does no work per byte (`/dev/null` and a `/dev/zero` write discard;
    /// a directory read fails at once).
    pub fn chunk_bytes(&self, is_write: bool) -> u64 {
        use crate::Target;
        match (self.target(), is_write) {
            (Target::Null | Target::Dir(_), _) | (Target::Zero, true) => u64::MAX,
            (Target::Tty, true) => TTY_CHUNK_BYTES,
            _ => CHUNK_BYTES,
        }
    }

    /// The next piece of a transfer with `remaining` bytes to go.
    pub fn piece_len(&self, is_write: bool, remaining: u64) -> u64 {
        remaining.min(self.chunk_bytes(is_write))
    }
}

/// What one piece (or the whole transfer) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// Moved this many bytes.
    Done(u64),
    /// Nothing to read yet: the caller blocks and retries the transfer.
    WouldBlock,
    /// Moved nothing but made progress toward the next piece (a file grew
    /// toward the write's end): the transfer goes on after the preemption
    /// point. Only pieces say this, never a whole transfer; a piece says it
    /// only after progress that cannot repeat forever.
    Prepared,
}

/// What one piece did, and how many bytes it was (the piece decides its
/// own size, from the SIO it finds: [`crate::Sio::piece_len`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// What it did.
    pub outcome: Piece,
    /// Bytes it tried to move.
    pub asked: u64,
}

/// Moves `len` bytes as consecutive pieces: `piece(offset, remaining)`
/// moves a piece of the bytes at `offset..offset + remaining` of the
/// transfer and says how big it was; `between()` runs between two pieces
/// (the kernel's preemption point). A piece that says
/// [`Piece::Prepared`] is followed by another at the same offset. The
/// result is [`Piece::Done`] or [`Piece::WouldBlock`], never `Prepared`.
///
/// # Errors
/// The first piece's error, if nothing was moved before it.
// Always inlined: every generic read and write runs it once, and when the
// compiler stopped inlining it (an unrelated change to another module of
// sk-core, 560a413) each generic call took 55 kernel instructions more
// (`cargo xtask profile`: `/dev/zero` read 485 -> 540).
#[inline(always)]
pub fn transfer_in_chunks(
    len: u64,
    mut piece: impl FnMut(u64, u64) -> Result<Step, SysError>,
    mut between: impl FnMut(),
) -> Result<Piece, SysError> {
    let mut done = 0u64;
    loop {
        let remaining = len.saturating_sub(done);
        match piece(done, remaining) {
            Ok(Step {
                outcome: Piece::Done(n),
                asked,
            }) => {
                let asked = asked.min(remaining);
                done = done.saturating_add(n.min(asked));
                if n < asked || done >= len {
                    return Ok(Piece::Done(done));
                }
            }
            Ok(Step {
                outcome: Piece::Prepared,
                ..
            }) => {}
            Ok(Step {
                outcome: Piece::WouldBlock,
                ..
            }) if done == 0 => return Ok(Piece::WouldBlock),
            Ok(Step {
                outcome: Piece::WouldBlock,
                ..
            }) => return Ok(Piece::Done(done)),
            Err(e) if done == 0 => return Err(e),
            Err(_) => return Ok(Piece::Done(done)),
        }
        between();
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn run(
        len: u64,
        chunk: u64,
        mut answer: impl FnMut(u64, u64) -> Result<Piece, SysError>,
    ) -> (Result<Piece, SysError>, Vec<(u64, u64)>, usize) {
        let mut calls = Vec::new();
        let mut betweens = 0;
        let r = transfer_in_chunks(
            len,
            |o, remaining| {
                let w = remaining.min(chunk);
                calls.push((o, w));
                answer(o, w).map(|outcome| Step { outcome, asked: w })
            },
            || betweens += 1,
        );
        (r, calls, betweens)
    }

    #[test]
    fn a_long_transfer_is_split_with_a_preemption_point_between_pieces() {
        let (r, calls, betweens) = run(10, 4, |_, w| Ok(Piece::Done(w)));
        assert_eq!(r, Ok(Piece::Done(10)));
        assert_eq!(calls, [(0, 4), (4, 4), (8, 2)]);
        assert_eq!(betweens, 2);
    }

    #[test]
    fn zero_length_runs_one_empty_piece() {
        let (r, calls, _) = run(0, 4, |_, _| Err(SysError::BadHandle));
        assert_eq!(r, Err(SysError::BadHandle));
        assert_eq!(calls, [(0, 0)]);
    }

    #[test]
    fn a_short_piece_ends_the_transfer() {
        let (r, calls, _) = run(10, 4, |o, w| Ok(Piece::Done(if o == 4 { 1 } else { w })));
        assert_eq!(r, Ok(Piece::Done(5)));
        assert_eq!(calls.len(), 2);
    }

    #[test]
    fn an_error_after_progress_returns_the_progress() {
        let (r, _, _) = run(10, 4, |o, w| {
            if o == 8 {
                Err(SysError::BadAddress)
            } else {
                Ok(Piece::Done(w))
            }
        });
        assert_eq!(r, Ok(Piece::Done(8)));
        let (r, _, _) = run(10, 4, |_, _| Err(SysError::BadAddress));
        assert_eq!(r, Err(SysError::BadAddress));
    }

    #[test]
    fn would_block_only_before_progress() {
        let (r, _, _) = run(10, 4, |_, _| Ok(Piece::WouldBlock));
        assert_eq!(r, Ok(Piece::WouldBlock));
        let (r, _, _) = run(10, 4, |o, w| {
            if o == 0 {
                Ok(Piece::Done(w))
            } else {
                Ok(Piece::WouldBlock)
            }
        });
        assert_eq!(r, Ok(Piece::Done(4)));
    }

    #[test]
    fn a_prepared_piece_is_followed_by_one_at_the_same_offset() {
        // Two preparing pieces at the start, one after the first piece.
        let mut prepared = 0;
        let (r, calls, betweens) = run(10, 4, |o, w| {
            if (o == 0 && prepared < 2) || (o == 4 && prepared < 3) {
                prepared += 1;
                Ok(Piece::Prepared)
            } else {
                Ok(Piece::Done(w))
            }
        });
        assert_eq!(r, Ok(Piece::Done(10)));
        assert_eq!(calls, [(0, 4), (0, 4), (0, 4), (4, 4), (4, 4), (8, 2)]);
        assert_eq!(
            betweens, 5,
            "a preemption point after every piece but the last"
        );
    }

    #[test]
    fn a_prepared_piece_moves_nothing_and_keeps_later_outcomes() {
        // An error after preparing only: nothing was moved, so the error.
        let mut first = true;
        let (r, _, _) = run(10, 4, |_, _| {
            if core::mem::take(&mut first) {
                Ok(Piece::Prepared)
            } else {
                Err(SysError::NoMemory)
            }
        });
        assert_eq!(r, Err(SysError::NoMemory));
        // A short piece after preparing ends the transfer with its bytes.
        let mut first = true;
        let (r, calls, _) = run(10, 4, |_, _| {
            if core::mem::take(&mut first) {
                Ok(Piece::Prepared)
            } else {
                Ok(Piece::Done(1))
            }
        });
        assert_eq!((r, calls.len()), (Ok(Piece::Done(1)), 2));
        // Zero-length: a preparing piece, then the empty one.
        let mut first = true;
        let (r, calls, _) = run(0, 4, |_, _| {
            if core::mem::take(&mut first) {
                Ok(Piece::Prepared)
            } else {
                Ok(Piece::Done(0))
            }
        });
        assert_eq!(r, Ok(Piece::Done(0)));
        assert_eq!(calls, [(0, 0), (0, 0)]);
    }

    #[test]
    fn a_piece_claiming_more_than_asked_is_capped() {
        let (r, _, _) = run(6, 4, |_, _| Ok(Piece::Done(100)));
        assert_eq!(r, Ok(Piece::Done(6)));
    }
}
