//! The differential test: random operations on two SIOs of one kind, A
//! through normal calls (the synthesized routines), B with
//! `FORCE_GENERIC` on every call; every result must be identical.
//!
//! Owns [`run`]. After each operation the two results are compared (for
//! reads also the bytes returned, and one byte past the length asked
//! for); the SIOs' info (kind, flags, size, position) is compared after
//! every operation for `/dev/mem` and files and every 1,000 for the rest;
//! every [`CHECK_EVERY`](sk_user_synthtest::CHECK_EVERY) operations (every
//! one with [`CHECK_ALWAYS`](sk_user_synthtest::CHECK_ALWAYS)) and at the
//! end the two files' contents are read back through the generic path and
//! compared. The run stops at
//! the first difference and names the operation's index, the operation
//! and both results.

use sk_abi::{OpenFlags, SioInfo, TtyMode};
use sk_user::{println, Sio};
use sk_user_synthtest::{Buf, DiffKind, Op, OpGen, Plan, MAX_IO, SOURCE, SOURCE_LEN};

use crate::share;
use crate::support::{
    alias, compare_files, expect_routine, fail, first_difference, must, raw_read, raw_write,
    routine_summary, same, Arena, Msg, Outcome, Pair, Want,
};

/// What tty writes write: dots, which leave the console readable.
static DOTS: [u8; 4] = *b"....";

/// Operations between info checks for kinds without a position.
const INFO_EVERY: u64 = 1000;

/// Runs `plan.ops` operations on a twin of `kind`; returns a summary
/// (the op count and which routine served A's main op at open).
pub(crate) fn run(kind: DiffKind, plan: &Plan, arena: &mut Arena) -> Result<Msg, Msg> {
    if kind != DiffKind::Tty {
        return run_kind(kind, plan, arena);
    }
    // Bytes a straddling write puts out before it faults are dots, not
    // what earlier reads left in the arena.
    arena.fill(b'.');
    // Twice: in raw mode (`tty_write`), then in cooked mode, where A's
    // write is the collapsed `tty_write_cooked` (line discipline and UART
    // in one routine). The dots carry no newline; each run's end with one.
    must("tty to raw mode", Sio::console().set_tty_mode(TtyMode::RAW))?;
    let result = run_kind(kind, plan, arena);
    let restored = Sio::console().set_tty_mode(TtyMode::DEFAULT);
    println!();
    let raw = result?;
    must("tty back to cooked mode", restored)?;
    arena.fill(b'.');
    let cooked = run_kind(kind, plan, arena);
    println!();
    let cooked = cooked?;
    Ok(Msg::new(format_args!("raw: {raw}; cooked: {cooked}")))
}

fn run_kind(kind: DiffKind, plan: &Plan, arena: &Arena) -> Result<Msg, Msg> {
    let mut twin = Twin::open(kind, kind.first_flags())?;
    let routine = routine_summary(&twin.a, kind.synthesized_op());
    // The point of the run: A's calls must really reach a synthesized
    // routine (synthtest runs with synthesis on).
    expect_routine(&twin.a, kind.synthesized_op(), Want::Synthesized(None))?;
    let mut ops = OpGen::new(kind, plan.seed);
    let share_at = ops.share_at(plan.ops);
    let mut pair = Pair::new();
    let mut info = twin.info()?;
    for index in 0..plan.ops {
        let op = if index == share_at {
            Op::Share
        } else {
            ops.next(info.position, info.size)
        };
        let at = |detail: Msg| Msg::new(format_args!("op {index} {op}: {detail}"));
        if let Err(detail) = twin.apply(op, index, arena, &mut pair) {
            // Say whether the files already differed (an earlier write
            // went wrong) or not (this call did).
            let files = twin.contents_now(&mut pair);
            return Err(Msg::new(format_args!("op {index} {op}: {detail}{files}")));
        }
        let done = index + 1;
        if kind.tracks_position() || done % INFO_EVERY == 0 {
            info = twin.info().map_err(at)?;
        }
        if done % plan.check_every.max(1) == 0 {
            twin.check_contents(&mut pair).map_err(at)?;
        }
    }
    twin.info()?;
    twin.check_contents(&mut pair)?;
    twin.close()?;
    if kind == DiffKind::File {
        // Give the memory back (the ABI cannot remove files).
        let (path_a, path_b) = kind.paths();
        truncate(path_a, path_b)?;
    }
    Ok(Msg::new(format_args!(
        "{} ops, A's {routine} at open",
        plan.ops
    )))
}

/// A and B: the same kind, opened with the same flags.
struct Twin {
    kind: DiffKind,
    /// Normal calls.
    a: Sio,
    /// `FORCE_GENERIC` on every call.
    b: Sio,
}

impl Twin {
    fn open(kind: DiffKind, flags: OpenFlags) -> Result<Self, Msg> {
        let (path_a, path_b) = kind.paths();
        match (Sio::open(path_a, flags), Sio::open_generic(path_b, flags)) {
            (Ok(a), Ok(b)) => Ok(Self { kind, a, b }),
            (a, b) => {
                let shown_a = a.as_ref().map(Sio::handle).map_err(|error| *error);
                let shown_b = b.as_ref().map(Sio::handle).map_err(|error| *error);
                let _ = a.map(Sio::close);
                let _ = b.map(Sio::close);
                fail!("open {flags:?}: A {shown_a:?}, B (generic) {shown_b:?}")
            }
        }
    }

    /// Both infos, which must be equal; returns A's.
    fn info(&self) -> Result<SioInfo, Msg> {
        let a = must("query A", self.a.query())?;
        let b = must("query B", self.b.query())?;
        same("info", &a, &b)?;
        Ok(a)
    }

    /// For files, compares the two files' contents.
    fn check_contents(&self, pair: &mut Pair) -> Outcome {
        if self.kind == DiffKind::File {
            let (path_a, path_b) = self.kind.paths();
            compare_files(path_a, path_b, pair)?;
        }
        Ok(())
    }

    /// For a failure line: `; files equal (N bytes)` or `; files: <how
    /// they differ>` for files, nothing for devices.
    fn contents_now(&self, pair: &mut Pair) -> Msg {
        if self.kind != DiffKind::File {
            return Msg::new(format_args!(""));
        }
        let (path_a, path_b) = self.kind.paths();
        match compare_files(path_a, path_b, pair) {
            Ok(len) => Msg::new(format_args!("; files equal ({len} bytes)")),
            Err(detail) => Msg::new(format_args!("; files: {detail}")),
        }
    }

    fn close(self) -> Outcome {
        let a = self.a.close();
        let b = self.b.close();
        same("close", &a, &b)
    }

    /// Applies `op` (the `index`th) to A and B and compares what they got.
    fn apply(&mut self, op: Op, index: u64, arena: &Arena, pair: &mut Pair) -> Outcome {
        match op {
            Op::Read {
                len,
                buf: Buf::Good,
            } => self.read_good(len.min(MAX_IO), index, pair),
            Op::Read { len, buf } => {
                let ptr = buf.bad_address(arena.end()).unwrap_or(0);
                let len = len as u64;
                // SAFETY: `ptr` is a bad buffer: null, kernel half or
                // non-canonical (no Rust object can lie there), or in or
                // past the arena (no Rust object lies in it, and nothing
                // is mapped past it).
                let a = unsafe { raw_read(&self.a, ptr, len) };
                // SAFETY: as for A.
                let b = unsafe { raw_read(&self.b, ptr, len) };
                same("result", &a, &b)
            }
            Op::Write {
                len,
                src,
                buf: Buf::Good,
            } => {
                let bytes = if self.kind == DiffKind::Tty {
                    DOTS.get(..len).unwrap_or_default()
                } else {
                    let end = src.saturating_add(len).min(SOURCE_LEN);
                    SOURCE.get(src..end).unwrap_or_default()
                };
                same("result", &self.a.write(bytes), &self.b.write(bytes))
            }
            Op::Write { len, buf, .. } => {
                let ptr = buf.bad_address(arena.end()).unwrap_or(0);
                let len = len as u64;
                same(
                    "result",
                    &raw_write(&self.a, ptr, len),
                    &raw_write(&self.b, ptr, len),
                )
            }
            Op::Seek { whence, offset } => same(
                "result",
                &self.a.seek(whence, offset),
                &self.b.seek(whence, offset),
            ),
            Op::Truncate => {
                let (path_a, path_b) = self.kind.paths();
                truncate(path_a, path_b)
            }
            Op::Reopen { flags } => self.reopen(flags),
            Op::Share => {
                let writes = self.kind == DiffKind::Tty;
                let (a, b) = share::probe(&self.a, &self.b, writes)?;
                same("second SCPU's call", &a, &b)
            }
        }
    }

    /// A read of `len` bytes into the pair's buffers, which hold the same
    /// sentinel up to one byte past `len`: results and all those bytes
    /// must match.
    fn read_good(&self, len: usize, index: u64, pair: &mut Pair) -> Outcome {
        let span = len + 1;
        let [sentinel, ..] = (index ^ 0x5a).to_le_bytes();
        pair.a[..span].fill(sentinel);
        pair.b[..span].fill(sentinel);
        let a = self.a.read(&mut pair.a[..len]);
        let b = self.b.read(&mut pair.b[..len]);
        same("result", &a, &b)?;
        if let Some((at, x, y)) = first_difference(&pair.a[..span], &pair.b[..span]) {
            fail!("both {a:?}, but byte {at} differs: A {x:#04x}, B (generic) {y:#04x}");
        }
        Ok(())
    }

    /// Closes both and opens both again with `flags`.
    fn reopen(&mut self, flags: OpenFlags) -> Outcome {
        let a = alias(&self.a).close();
        let b = alias(&self.b).close();
        same("close", &a, &b)?;
        *self = Self::open(self.kind, flags)?;
        Ok(())
    }
}

/// Another open of each file with `WRITE | TRUNCATE` (A's normally, B's
/// generic), closed at once.
fn truncate(path_a: &str, path_b: &str) -> Outcome {
    let flags = OpenFlags::WRITE | OpenFlags::TRUNCATE;
    let a = Sio::open(path_a, flags).and_then(Sio::close);
    let b = Sio::open_generic(path_b, flags).and_then(Sio::close);
    same("truncating open", &a, &b)?;
    must("truncating open", a)
}
