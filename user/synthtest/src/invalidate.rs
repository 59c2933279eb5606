//! The invalidation cases: one per event that must replug A's routines
//! ("stale code never runs").
//!
//! Each case opens A (normal calls) and its twin B (`FORCE_GENERIC` on
//! every call), checks the Routines text before the event where the
//! kernel promises a synthesized routine, triggers the event, and checks
//! that the next calls get what the generic path gets and that the
//! Routines text says what the kernel promises after it. Files are
//! `/tmp/invA` and `/tmp/invB`, emptied at the end.

use sk_abi::{Handle, OpenFlags, SysError, TtyMode, Whence};
use sk_user::{println, Sio};
use sk_user_synthtest::{mem_byte, MAX_IO, SOURCE};

use crate::share::{self, PROBE_LEN};
use crate::support::{
    compare_files, ensure, expect_eq, expect_routine, fail, first_difference, must, routine_facts,
    same, Msg, Outcome, Pair, Want,
};

/// A's file.
const FILE_A: &str = "/tmp/invA";

/// B's file.
const FILE_B: &str = "/tmp/invB";

/// Any synthesized routine.
const SYNTHESIZED: Want = Want::Synthesized(None);

/// The tty's raw-mode write routine.
const TTY_WRITE: Want = Want::Synthesized(Some("tty_write"));

/// The tty's cooked-mode write routine (line discipline and UART collapsed).
const TTY_WRITE_COOKED: Want = Want::Synthesized(Some("tty_write_cooked"));

/// Opens both files emptied, runs `body` on them, closes and empties them.
fn with_files(body: fn(&Sio, &Sio, &mut Pair) -> Outcome) -> Outcome {
    let flags = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let a = must(FILE_A, Sio::open(FILE_A, flags))?;
    let b = match Sio::open_generic(FILE_B, flags) {
        Ok(b) => b,
        Err(error) => {
            let _ = a.close();
            fail!("{FILE_B}: Err({error:?})");
        }
    };
    let mut pair = Pair::new();
    let result = body(&a, &b, &mut pair);
    let _ = a.close();
    let _ = b.close();
    let empty = OpenFlags::WRITE | OpenFlags::TRUNCATE;
    for path in [FILE_A, FILE_B] {
        let _ = Sio::open(path, empty).and_then(Sio::close);
    }
    result
}

/// Writes `bytes` to both; the results must match and be complete.
fn write_both(a: &Sio, b: &Sio, bytes: &[u8], what: &str) -> Outcome {
    let got = a.write(bytes);
    same(what, &got, &b.write(bytes))?;
    expect_eq(what, got, Ok(bytes.len()))
}

/// Reads up to `len` bytes from both; results and bytes must match.
/// Returns the count.
fn read_both(a: &Sio, b: &Sio, len: usize, pair: &mut Pair, what: &str) -> Result<usize, Msg> {
    let len = len.min(MAX_IO);
    let got = a.read(&mut pair.a[..len]);
    same(what, &got, &b.read(&mut pair.b[..len]))?;
    let count = must(what, got)?;
    if let Some((at, x, y)) = first_difference(&pair.a[..count], &pair.b[..count]) {
        fail!("{what}: byte {at} differs: A {x:#04x}, B (generic) {y:#04x}");
    }
    Ok(count)
}

/// Seeks both; the results must match and be `offset`.
fn seek_both(a: &Sio, b: &Sio, offset: u64) -> Outcome {
    let signed = i64::try_from(offset).unwrap_or(i64::MAX);
    let got = a.seek(Whence::Set, signed);
    same("seek", &got, &b.seek(Whence::Set, signed))?;
    expect_eq("seek", got, Ok(offset))
}

/// Both infos must match; returns A's (size, position).
fn same_info(a: &Sio, b: &Sio) -> Result<(u64, u64), Msg> {
    let info = must("query A", a.query())?;
    same("info", &info, &must("query B", b.query())?)?;
    Ok((info.size, info.position))
}

/// Passes if bytes `from..to` of `path` are all zero (read generically).
fn expect_zeros(path: &str, from: u64, to: u64, pair: &mut Pair) -> Outcome {
    let file = must(path, Sio::open_generic(path, OpenFlags::READ))?;
    let result = zeros_in(&file, from, to, pair);
    let _ = file.close();
    result
}

fn zeros_in(file: &Sio, from: u64, to: u64, pair: &mut Pair) -> Outcome {
    let start = i64::try_from(from).unwrap_or(i64::MAX);
    expect_eq("seek", file.seek(Whence::Set, start), Ok(from))?;
    let mut at = from;
    while at < to {
        let len = usize::try_from(to - at).map_or(MAX_IO, |left| left.min(MAX_IO));
        let count = must("read", file.read(&mut pair.a[..len]))?;
        ensure!(count != 0, "file ends at {at}, before {to}");
        if let Some(index) = pair.a[..count].iter().position(|&byte| byte != 0) {
            fail!(
                "byte {} is {:#04x}, not 0",
                at + index as u64,
                pair.a[index]
            );
        }
        at += count as u64;
    }
    Ok(())
}

/// A write past the file's capacity falls back to the generic path, which
/// grows the file and synthesizes the write again.
pub(crate) fn growth_past_capacity() -> Outcome {
    with_files(|a, b, pair| {
        // Lazy synthesis: the same small write at 0, past the write's K
        // (the files end as after one), so the routine exists before.
        for _ in 0..8 {
            write_both(a, b, &SOURCE[..10], "small write")?;
            expect_eq("rewind", a.seek(Whence::Set, 0), Ok(0))?;
            expect_eq("rewind", b.seek(Whence::Set, 0), Ok(0))?;
        }
        write_both(a, b, &SOURCE[..10], "small write")?;
        expect_routine(a, "write", SYNTHESIZED)?;
        let before = routine_facts(a, "write");
        ensure!(before.contains("capacity"), "no facts before: [{before}]");
        for round in 0..4 {
            let what = Msg::new(format_args!("big write {round}"));
            write_both(a, b, &SOURCE, &what)?;
        }
        write_both(a, b, &SOURCE[..100], "write after growth")?;
        expect_routine(a, "write", SYNTHESIZED)?;
        // Not only the results: the routine now serving the write was made
        // for the grown file (new data, new capacity: new facts).
        let after = routine_facts(a, "write");
        ensure!(
            after.contains("capacity") && *after != *before,
            "the write routine's facts did not change with growth: before [{before}], after [{after}]"
        );
        let capacity = |facts: &str| -> u64 {
            facts
                .split("capacity: ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|digits| digits.parse().ok())
                .unwrap_or(0)
        };
        ensure!(
            capacity(&after) > capacity(&before),
            "capacity baked in did not grow: before [{before}], after [{after}]"
        );
        let want = (10 + 4 * SOURCE.len() + 100) as u64;
        expect_eq("(size, position)", same_info(a, b)?, (want, want))?;
        expect_eq("contents", compare_files(FILE_A, FILE_B, pair)?, want)
    })
}

/// Another open with `TRUNCATE` empties the file under A's read routine.
pub(crate) fn truncate_by_another_open() -> Outcome {
    with_files(|a, b, pair| {
        write_both(a, b, &SOURCE[..200], "write")?;
        seek_both(a, b, 100)?;
        expect_routine(a, "read", SYNTHESIZED)?;
        expect_eq("read before", read_both(a, b, 10, pair, "read")?, 10)?;
        let flags = OpenFlags::WRITE | OpenFlags::TRUNCATE;
        must("truncate A", Sio::open(FILE_A, flags).and_then(Sio::close))?;
        must(
            "truncate B",
            Sio::open_generic(FILE_B, flags).and_then(Sio::close),
        )?;
        expect_eq("read after", read_both(a, b, 64, pair, "read")?, 0)?;
        expect_eq("(size, position)", same_info(a, b)?, (0, 110))?;
        write_both(a, b, &SOURCE[..5], "write after")?;
        expect_eq("contents", compare_files(FILE_A, FILE_B, pair)?, 115)?;
        expect_zeros(FILE_A, 0, 110, pair)
    })
}

/// A second SCPU uses the handles: A's routines go generic for good.
pub(crate) fn share_with_a_second_scpu() -> Outcome {
    with_files(|a, b, pair| {
        write_both(a, b, &SOURCE[..300], "write")?;
        seek_both(a, b, 0)?;
        expect_routine(a, "read", SYNTHESIZED)?;
        expect_routine(a, "write", SYNTHESIZED)?;
        let (used_a, used_b) = share::probe(a, b, false)?;
        same("second SCPU's read", &used_a, &used_b)?;
        expect_eq("second SCPU's read", used_a.result, Ok(PROBE_LEN as u64))?;
        expect_routine(a, "read", Want::Generic)?;
        expect_routine(a, "write", Want::Generic)?;
        expect_eq("read after", read_both(a, b, 100, pair, "read")?, 100)?;
        write_both(a, b, &SOURCE[..50], "write after")?;
        let want = (PROBE_LEN + 100 + 50) as u64;
        expect_eq("(size, position)", same_info(a, b)?, (300, want))?;
        expect_eq("contents", compare_files(FILE_A, FILE_B, pair)?, 300)
    })
}

/// A seek past the end: the read gets 0 bytes, the write grows the file
/// with zeros in between. Seeks need no replug (both paths read the
/// position from one cell).
pub(crate) fn seek_beyond_eof() -> Outcome {
    with_files(|a, b, pair| {
        write_both(a, b, &SOURCE[..50], "write")?;
        expect_routine(a, "read", SYNTHESIZED)?;
        seek_both(a, b, 5000)?;
        expect_eq("read past the end", read_both(a, b, 64, pair, "read")?, 0)?;
        expect_routine(a, "read", SYNTHESIZED)?;
        write_both(a, b, &SOURCE[..10], "write past the end")?;
        expect_eq("(size, position)", same_info(a, b)?, (5010, 5010))?;
        expect_eq("contents", compare_files(FILE_A, FILE_B, pair)?, 5010)?;
        expect_zeros(FILE_A, 50, 5000, pair)
    })
}

/// The tty's write is synthesized in raw mode only: raw -> cooked makes
/// it generic, cooked -> raw synthesizes it again.
pub(crate) fn tty_mode_change() -> Outcome {
    must("tty to raw mode", Sio::console().set_tty_mode(TtyMode::RAW))?;
    let result = tty_twins();
    let restored = Sio::console().set_tty_mode(TtyMode::DEFAULT);
    println!();
    result?;
    must("tty back to cooked mode", restored)
}

fn tty_twins() -> Outcome {
    let a = must("open A", Sio::open("/dev/tty", OpenFlags::WRITE))?;
    let b = match Sio::open_generic("/dev/tty", OpenFlags::WRITE) {
        Ok(b) => b,
        Err(error) => {
            let _ = a.close();
            fail!("open B: Err({error:?})");
        }
    };
    let result = tty_modes(&a, &b);
    let _ = a.close();
    let _ = b.close();
    result
}

fn tty_modes(a: &Sio, b: &Sio) -> Outcome {
    expect_routine(a, "write", TTY_WRITE)?;
    write_both(a, b, b".", "write in raw mode")?;
    must("to cooked mode", a.set_tty_mode(TtyMode::DEFAULT))?;
    expect_routine(a, "write", TTY_WRITE_COOKED)?;
    write_both(a, b, b".", "write in cooked mode")?;
    // Echo is input processing: the cooked write stays.
    must("echo off", a.set_tty_mode(TtyMode::empty()))?;
    expect_routine(a, "write", TTY_WRITE_COOKED)?;
    write_both(a, b, b".", "write in cooked mode, no echo")?;
    must("echo on", a.set_tty_mode(TtyMode::DEFAULT))?;
    must("to raw mode", a.set_tty_mode(TtyMode::RAW))?;
    expect_routine(a, "write", TTY_WRITE)?;
    write_both(a, b, b".", "write in raw mode again")
}

/// Close, then an open of another kind takes the same handle (the lowest
/// free one): calls on the number reach the new object on both paths.
pub(crate) fn close_then_reuse() -> Outcome {
    let zero = must("open /dev/zero", Sio::open("/dev/zero", OpenFlags::READ))?;
    let before = zero_read(&zero);
    let old = zero.handle();
    must("close /dev/zero", zero.close())?;
    before?;
    let mem = must("open /dev/mem", Sio::open("/dev/mem", OpenFlags::READ))?;
    let result = reused(old, &mem);
    let _ = mem.close();
    result
}

/// `/dev/zero`'s synthesized read gives zeros.
fn zero_read(zero: &Sio) -> Outcome {
    expect_routine(zero, "read", SYNTHESIZED)?;
    let mut buf = [0xaa_u8; 16];
    expect_eq("/dev/zero read", zero.read(&mut buf), Ok(16))?;
    expect_eq("/dev/zero bytes", buf, [0; 16])
}

fn reused(old: Handle, mem: &Sio) -> Outcome {
    ensure!(
        mem.handle() == old,
        "handle {} not reused by the next open (got {})",
        old.index(),
        mem.handle().index()
    );
    expect_routine(mem, "read", SYNTHESIZED)?;
    let want = |from: u64| core::array::from_fn::<u8, 16, _>(|i| mem_byte(from + i as u64));
    let mut buf = [0xaa_u8; 16];
    let got = Sio::from_handle(old).read(&mut buf);
    expect_eq("read on the reused handle", got, Ok(16))?;
    expect_eq("bytes (/dev/mem's)", buf, want(0))?;
    let got = Sio::from_handle(old).generic().read(&mut buf);
    expect_eq("generic read on the reused handle", got, Ok(16))?;
    expect_eq("generic bytes (/dev/mem's)", buf, want(16))
}

/// A closed handle nobody reuses: both paths say `BadHandle`.
pub(crate) fn closed_handle_is_bad_on_both_paths() -> Outcome {
    let null = must("open /dev/null", Sio::open("/dev/null", OpenFlags::WRITE))?;
    let old = null.handle();
    let routine = expect_routine(&null, "write", SYNTHESIZED);
    must("close", null.close())?;
    routine?;
    let got = Sio::from_handle(old).write(b"x");
    same(
        "write on a closed handle",
        &got,
        &Sio::from_handle(old).generic().write(b"x"),
    )?;
    expect_eq("write on a closed handle", got, Err(SysError::BadHandle))
}
