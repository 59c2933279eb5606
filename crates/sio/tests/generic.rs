//! The SIO kind's generic path on the host: every target, every operation,
//! the error paths, and a property test of random file operations against
//! a model (bytes and position).

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_abi::{dev_mem_byte, OpenFlags, SioKind, SioReconfigure, SysError, TtyMode, Whence};
use sk_fs::FileSystem;
use sk_sio::testing::FakeUserMemory;
use sk_sio::{
    transfer_in_chunks, Devices, PartialWrite, Piece, ReadOutcome, Reconfigured, Sio, Step,
    UserMemory, CHUNK_BYTES,
};

const BUF: u64 = 0x10_0000;
type TestSio = Sio<()>;

fn world() -> (FileSystem, Devices, FakeUserMemory) {
    let mut fs = FileSystem::new().unwrap();
    fs.mkdir("/tmp").unwrap();
    let window: Vec<u8> = (0..4096u64).map(dev_mem_byte).collect();
    let devices = Devices::new(Box::leak(window.into_boxed_slice()));
    (fs, devices, FakeUserMemory::new(BUF, 64 * 1024))
}

const R: OpenFlags = OpenFlags::READ;
const W: OpenFlags = OpenFlags::WRITE;

fn rw() -> OpenFlags {
    R | W
}

fn no_console() -> impl FnMut(&[u8]) {
    |_: &[u8]| {}
}

#[test]
fn dev_null_and_dev_zero() {
    let (mut fs, mut dev, mut user) = world();
    let null = TestSio::open(&mut fs, "/dev/null", rw()).unwrap();
    assert_eq!(
        null.read(&fs, &mut dev, &mut user, BUF, 10),
        Ok(ReadOutcome::Data(0))
    );
    assert_eq!(
        null.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, 10),
        Ok(10)
    );
    let zero = TestSio::open(&mut fs, "/dev/zero", rw()).unwrap();
    user.bytes[..5].fill(9);
    assert_eq!(
        zero.read(&fs, &mut dev, &mut user, BUF, 4),
        Ok(ReadOutcome::Data(4))
    );
    assert_eq!(&user.bytes[..5], &[0, 0, 0, 0, 9]);
    assert_eq!(
        zero.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, 3),
        Ok(3)
    );
    assert_eq!(zero.seek(&fs, Whence::Set, 100), Ok(0));
    assert_eq!(zero.kind(), SioKind::Zero);
}

#[test]
fn dev_mem_reads_the_window_and_refuses_writes() {
    let (mut fs, mut dev, mut user) = world();
    assert_eq!(
        TestSio::open(&mut fs, "/dev/mem", rw()).err(),
        Some(SysError::NotPermitted)
    );
    let mem = TestSio::open(&mut fs, "/dev/mem", R).unwrap();
    assert_eq!(
        mem.read(&fs, &mut dev, &mut user, BUF, 3),
        Ok(ReadOutcome::Data(3))
    );
    assert_eq!(
        user.slice(BUF, 3),
        &[dev_mem_byte(0), dev_mem_byte(1), dev_mem_byte(2)]
    );
    assert_eq!(mem.position(), 3);
    // Past the window: short, then nothing.
    assert_eq!(mem.seek(&fs, Whence::Set, 4094), Ok(4094));
    assert_eq!(
        mem.read(&fs, &mut dev, &mut user, BUF, 10),
        Ok(ReadOutcome::Data(2))
    );
    assert_eq!(
        mem.read(&fs, &mut dev, &mut user, BUF, 10),
        Ok(ReadOutcome::Data(0))
    );
    assert_eq!(mem.seek(&fs, Whence::Set, 1 << 40), Ok(1 << 40));
    assert_eq!(
        mem.read(&fs, &mut dev, &mut user, BUF, 10),
        Ok(ReadOutcome::Data(0))
    );
    assert_eq!(
        mem.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, 1),
        Err(SysError::NotPermitted)
    );
}

#[test]
fn bad_buffers_are_errors_and_move_nothing() {
    let (mut fs, mut dev, mut user) = world();
    let mem = TestSio::open(&mut fs, "/dev/mem", R).unwrap();
    assert_eq!(
        mem.read(&fs, &mut dev, &mut user, 0xffff_8000_0000_0000, 1),
        Err(SysError::BadAddress)
    );
    assert_eq!(
        mem.read(&fs, &mut dev, &mut user, u64::MAX, 2),
        Err(SysError::BadAddress)
    );
    assert_eq!(
        mem.read(&fs, &mut dev, &mut user, 0x1000, 1),
        Err(SysError::BadAddress),
        "unmapped"
    );
    assert_eq!(mem.position(), 0);
}

#[test]
fn flags_are_enforced() {
    let (mut fs, mut dev, mut user) = world();
    let null_w = TestSio::open(&mut fs, "/dev/null", W).unwrap();
    assert_eq!(
        null_w.read(&fs, &mut dev, &mut user, BUF, 1),
        Err(SysError::NotPermitted)
    );
    let null_r = TestSio::open(&mut fs, "/dev/null", R).unwrap();
    assert_eq!(
        null_r.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, 1),
        Err(SysError::NotPermitted)
    );
}

#[test]
fn files_directories_and_open_flags() {
    let (mut fs, mut dev, mut user) = world();
    assert_eq!(
        TestSio::open(&mut fs, "/tmp/nope", rw()).err(),
        Some(SysError::NotFound)
    );
    let f = TestSio::open(&mut fs, "/tmp/f", rw() | OpenFlags::CREATE).unwrap();
    user.bytes[..5].copy_from_slice(b"hello");
    assert_eq!(
        f.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, 5),
        Ok(5)
    );
    assert_eq!(f.position(), 5);
    assert_eq!(f.info(&fs).size, 5);
    assert_eq!(f.seek(&fs, Whence::Set, 1), Ok(1));
    assert_eq!(
        f.read(&fs, &mut dev, &mut user, BUF + 100, 10),
        Ok(ReadOutcome::Data(4))
    );
    assert_eq!(user.slice(BUF + 100, 4), b"ello");
    assert_eq!(f.seek(&fs, Whence::End, -2), Ok(3));
    assert_eq!(f.seek(&fs, Whence::Current, -4), Err(SysError::BadOffset));
    assert_eq!(f.seek(&fs, Whence::Set, -1), Err(SysError::BadOffset));
    assert_eq!(
        TestSio::open(
            &mut fs,
            "/tmp/f",
            rw() | OpenFlags::CREATE | OpenFlags::EXCLUSIVE
        )
        .err(),
        Some(SysError::Exists)
    );
    let t = TestSio::open(&mut fs, "/tmp/f", rw() | OpenFlags::TRUNCATE).unwrap();
    assert_eq!(t.info(&fs).size, 0);
    let a = TestSio::open(&mut fs, "/tmp/f", W | OpenFlags::APPEND).unwrap();
    assert_eq!(
        a.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, 2),
        Ok(2)
    );
    assert_eq!(
        a.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, 2),
        Ok(2)
    );
    assert_eq!(t.info(&fs).size, 4);
    assert_eq!(
        TestSio::open(&mut fs, "/tmp", W).err(),
        Some(SysError::IsDir)
    );
    let d = TestSio::open(&mut fs, "/tmp", R).unwrap();
    assert_eq!(
        d.read(&fs, &mut dev, &mut user, BUF, 1),
        Err(SysError::IsDir)
    );
    assert_eq!(d.kind(), SioKind::Dir);
    for s in [f, t, a, d] {
        s.close(&mut fs);
    }
}

#[test]
fn a_fault_part_way_through_a_write_keeps_the_prefix() {
    let (mut fs, dev, mut user) = world();
    let f = TestSio::open(&mut fs, "/tmp/f", rw() | OpenFlags::CREATE).unwrap();
    user.bytes[..8].copy_from_slice(b"abcdefgh");
    user.fault_at = Some(BUF + 5);
    assert_eq!(
        f.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, 8),
        Err(SysError::BadAddress)
    );
    assert_eq!(
        f.position(),
        5,
        "the bytes before the fault are written and counted"
    );
    assert_eq!(f.info(&fs).size, 5);
    let mut back = [0u8; 5];
    let node = f.node().unwrap();
    fs.read(node, 0, &mut back).unwrap();
    assert_eq!(&back, b"abcde");
}

#[test]
fn a_write_that_stops_part_way_says_how_much_it_wrote() {
    let (mut fs, dev, mut user) = world();
    let f = TestSio::open(&mut fs, "/tmp/f", rw() | OpenFlags::CREATE).unwrap();
    // Past the first 4 KiB bounce step, so one step was written whole.
    user.fault_at = Some(BUF + 5000);
    assert_eq!(
        f.write_partial(&mut fs, &dev, &mut user, &mut no_console(), BUF, 8192),
        Err(PartialWrite {
            written: 5000,
            error: SysError::BadAddress
        })
    );
    assert_eq!(f.position(), 5000, "the count matches the position's move");
    assert_eq!(f.info(&fs).size, 5000);
    let tty = TestSio::open(&mut fs, "/dev/tty", W).unwrap();
    let mut out = Vec::new();
    user.fault_at = Some(BUF + 7);
    assert_eq!(
        tty.write_partial(
            &mut fs,
            &dev,
            &mut user,
            &mut |b: &[u8]| out.extend_from_slice(b),
            BUF,
            20
        ),
        Err(PartialWrite {
            written: 7,
            error: SysError::BadAddress
        })
    );
    assert_eq!(out.len(), 7, "the console got exactly the counted bytes");
    let ro = TestSio::open(&mut fs, "/tmp/f", R).unwrap();
    assert_eq!(
        ro.write_partial(&mut fs, &dev, &mut user, &mut no_console(), BUF, 1),
        Err(PartialWrite {
            written: 0,
            error: SysError::NotPermitted
        })
    );
    for s in [f, tty, ro] {
        s.close(&mut fs);
    }
}

/// What a transfer of `len` bytes from `BUF` through `write_step` pieces
/// (as the kernel's dispatcher runs it) did.
#[derive(Debug, Default)]
struct Steps {
    result: Option<Result<Piece, SysError>>,
    pieces: usize,
    prepared: usize,
    /// The most one piece grew the file's capacity by.
    largest_growth: u64,
}

fn chunked_write(
    fs: &mut FileSystem,
    dev: &Devices,
    user: &mut FakeUserMemory,
    f: &TestSio,
    len: u64,
) -> Steps {
    let node = f.node().unwrap();
    let mut steps = Steps::default();
    let result = transfer_in_chunks(
        len,
        |offset, remaining| {
            let before = fs.stat(node).unwrap().capacity_bytes;
            let asked = f.piece_len(true, remaining);
            let outcome = match f.write_step(fs, dev, user, &mut no_console(), BUF + offset, asked)
            {
                Ok(outcome) => outcome,
                Err(stop) if offset > 0 => Piece::Done(stop.written),
                Err(stop) => return Err(stop.error),
            };
            let after = fs.stat(node).unwrap().capacity_bytes;
            steps.pieces += 1;
            steps.prepared += usize::from(outcome == Piece::Prepared);
            steps.largest_growth = steps.largest_growth.max(after - before);
            Ok(Step { outcome, asked })
        },
        || {},
    );
    steps.result = Some(result);
    steps
}

#[test]
fn a_far_write_proceeds_in_bounded_steps() {
    let (mut fs, dev, mut user) = world();
    let f = TestSio::open(&mut fs, "/tmp/far", rw() | OpenFlags::CREATE).unwrap();
    let far = 16 << 20;
    f.seek(&fs, Whence::Set, far as i64).unwrap();
    user.bytes[0] = 0x5a;
    let steps = chunked_write(&mut fs, &dev, &mut user, &f, 1);
    assert_eq!(steps.result, Some(Ok(Piece::Done(1))));
    // 1 MiB per step up to 16 MiB, then the step that covers the byte.
    assert_eq!((steps.pieces, steps.prepared), (17, 16));
    assert!(steps.largest_growth <= sk_fs::GROWTH_STEP_BYTES);
    assert_eq!(f.position(), far + 1);
    assert_eq!(f.info(&fs).size, far + 1);
    let node = f.node().unwrap();
    let mut back = vec![0xff_u8; 4096];
    for offset in [0, far / 2, far - 4096] {
        assert_eq!(fs.read(node, offset, &mut back).unwrap(), 4096);
        assert!(back.iter().all(|&b| b == 0), "the gap reads zeros");
    }
    assert_eq!(fs.read(node, far, &mut back).unwrap(), 1);
    assert_eq!(back[0], 0x5a);
}

#[test]
fn a_long_write_past_the_end_grows_within_each_piece() {
    // Sequential pieces of 64 KiB: each grows what it needs (doubling up
    // to one step), none prepares.
    let (mut fs, dev, mut user) = world();
    let f = TestSio::open(&mut fs, "/tmp/long", rw() | OpenFlags::CREATE).unwrap();
    user.bytes.fill(7);
    let mut total = Steps::default();
    for _ in 0..40 {
        let steps = chunked_write(&mut fs, &dev, &mut user, &f, CHUNK_BYTES);
        assert_eq!(steps.result, Some(Ok(Piece::Done(CHUNK_BYTES))));
        total.prepared += steps.prepared;
        total.largest_growth = total.largest_growth.max(steps.largest_growth);
    }
    assert_eq!(total.prepared, 0);
    assert!(total.largest_growth <= sk_fs::GROWTH_STEP_BYTES);
    assert_eq!(f.info(&fs).size, 40 * CHUNK_BYTES);
}

#[test]
fn a_failed_growth_writes_nothing_of_its_piece() {
    let mut fs = FileSystem::with_limits(sk_fs::Limits {
        max_total_bytes: 3 << 20,
        ..sk_fs::Limits::DEFAULT
    })
    .unwrap();
    let dev = Devices::new(&[]);
    let mut user = FakeUserMemory::new(BUF, 64 * 1024);
    let f = TestSio::open(&mut fs, "/f", rw() | OpenFlags::CREATE).unwrap();
    // Past the quota: refused before any step, nothing written.
    f.seek(&fs, Whence::Set, 4 << 20).unwrap();
    let steps = chunked_write(&mut fs, &dev, &mut user, &f, 1);
    assert_eq!(steps.result, Some(Err(SysError::NoSpace)));
    assert_eq!(
        (
            f.info(&fs).size,
            fs.stat(f.node().unwrap()).unwrap().capacity_bytes
        ),
        (0, 0)
    );
    // A piece that crosses the largest file size still writes the bounce
    // steps that fit, then fails (as before growth came in steps).
    let mut fs = FileSystem::with_limits(sk_fs::Limits {
        max_file_bytes: 10_000,
        ..sk_fs::Limits::DEFAULT
    })
    .unwrap();
    let f = TestSio::open(&mut fs, "/f", rw() | OpenFlags::CREATE).unwrap();
    assert_eq!(
        f.write_partial(&mut fs, &dev, &mut user, &mut no_console(), BUF, 20_000),
        Err(PartialWrite {
            written: 8192,
            error: SysError::FileTooLarge
        })
    );
    assert_eq!(f.info(&fs).size, 8192);
    assert_eq!(fs.stat(f.node().unwrap()).unwrap().capacity_bytes, 8192);
}

#[test]
fn a_fault_in_a_read_moves_no_position() {
    let (mut fs, mut dev, mut user) = world();
    let f = TestSio::open(&mut fs, "/tmp/f", rw() | OpenFlags::CREATE).unwrap();
    user.bytes[..8].copy_from_slice(b"abcdefgh");
    f.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, 8)
        .unwrap();
    f.seek(&fs, Whence::Set, 0).unwrap();
    user.fault_at = Some(BUF + 3);
    assert_eq!(
        f.read(&fs, &mut dev, &mut user, BUF, 8),
        Err(SysError::BadAddress)
    );
    assert_eq!(f.position(), 0);
}

#[test]
fn the_console_reads_what_was_typed_and_writes_through_the_discipline() {
    let (mut fs, mut dev, mut user) = world();
    let tty = TestSio::open(&mut fs, "/dev/tty", rw()).unwrap();
    assert_eq!(
        tty.read(&fs, &mut dev, &mut user, BUF, 10),
        Ok(ReadOutcome::WouldBlock)
    );
    for &b in b"hi\r" {
        dev.console_input(b, &mut |_| {});
    }
    assert_eq!(
        tty.read(&fs, &mut dev, &mut user, BUF, 10),
        Ok(ReadOutcome::Data(3))
    );
    assert_eq!(user.slice(BUF, 3), b"hi\n");
    let mut out = Vec::new();
    user.bytes[..3].copy_from_slice(b"a\nb");
    assert_eq!(
        tty.write(
            &mut fs,
            &dev,
            &mut user,
            &mut |b: &[u8]| out.extend_from_slice(b),
            BUF,
            3
        ),
        Ok(3)
    );
    assert_eq!(out, b"a\r\nb", "cooked output maps NL to CR NL");
    assert_eq!(tty.seek(&fs, Whence::Set, 0), Err(SysError::NotSupported));
    let r = tty.reconfigure(&fs, &mut dev, SioReconfigure::TtyMode(TtyMode::RAW));
    assert_eq!(r, Ok((0, Reconfigured::ConsoleMode)));
    out.clear();
    tty.write(
        &mut fs,
        &dev,
        &mut user,
        &mut |b: &[u8]| out.extend_from_slice(b),
        BUF,
        3,
    )
    .unwrap();
    assert_eq!(out, b"a\nb", "raw output is untouched");
    let null = TestSio::open(&mut fs, "/dev/null", rw()).unwrap();
    assert_eq!(
        null.reconfigure(&fs, &mut dev, SioReconfigure::TtyMode(TtyMode::RAW)),
        Err(SysError::WrongKind)
    );
}

#[test]
fn an_sio_opened_without_an_owner_belongs_to_its_first_user() {
    let (mut fs, ..) = world();
    let mut s = TestSio::open(&mut fs, "/dev/null", rw()).unwrap();
    assert_eq!(s.opener(), None);
    assert!(
        s.note_caller(8),
        "the first use makes an owner: a fact changed"
    );
    assert_eq!(s.opener(), Some(8));
    assert!(!s.note_caller(8));
    assert!(!s.is_shared());
    assert!(s.note_caller(9), "a second user makes it shared");
    assert!(s.is_shared());
    assert_eq!(s.opener(), Some(8));
}

#[test]
fn a_second_thread_makes_the_sio_shared_for_good() {
    let (mut fs, ..) = world();
    let mut s = TestSio::open(&mut fs, "/dev/null", rw()).unwrap();
    s.set_opener(7);
    assert!(!s.note_caller(7));
    assert!(s.note_caller(8));
    assert!(!s.note_caller(7), "reported once");
    assert!(s.is_shared());
}

#[derive(Debug, Clone)]
enum FileOp {
    /// Through `write` (one call), or as the kernel's dispatcher runs it
    /// (`chunked`: `write_step` pieces, growth in bounded steps).
    Write {
        len: usize,
        fill: u8,
        chunked: bool,
    },
    Read {
        len: usize,
    },
    Seek {
        to: u64,
    },
    Truncate {
        to: u64,
    },
}

fn file_op() -> impl Strategy<Value = FileOp> {
    prop_oneof![
        (0usize..9000, any::<u8>(), any::<bool>()).prop_map(|(len, fill, chunked)| FileOp::Write {
            len,
            fill,
            chunked
        }),
        (0usize..9000).prop_map(|len| FileOp::Read { len }),
        prop_oneof![4 => 0u64..20_000, 1 => 1_000_000u64..3_000_000]
            .prop_map(|to| FileOp::Seek { to }),
        (0u64..20_000).prop_map(|to| FileOp::Truncate { to }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Random writes (growing past capacity), reads, seeks and truncates
    /// through the generic path agree with a byte-vector model.
    #[test]
    fn file_operations_match_a_model(ops in proptest::collection::vec(file_op(), 1..40)) {
        let (mut fs, mut dev, mut user) = world();
        let f = TestSio::open(&mut fs, "/tmp/m", rw() | OpenFlags::CREATE).unwrap();
        let node = f.node().unwrap();
        let mut model: Vec<u8> = Vec::new();
        let mut pos = 0usize;
        for op in ops {
            match op {
                FileOp::Write { len, fill, chunked } => {
                    user.bytes[..len].fill(fill);
                    if chunked {
                        let steps = chunked_write(&mut fs, &dev, &mut user, &f, len as u64);
                        prop_assert_eq!(steps.result, Some(Ok(Piece::Done(len as u64))));
                        prop_assert!(steps.largest_growth <= sk_fs::GROWTH_STEP_BYTES);
                    } else {
                        prop_assert_eq!(f.write(&mut fs, &dev, &mut user, &mut no_console(), BUF, len as u64), Ok(len as u64));
                    }
                    // An empty write changes nothing (not even past the end).
                    if len > 0 {
                        if model.len() < pos + len { model.resize(pos + len, 0); }
                        model[pos..pos + len].fill(fill);
                    }
                    pos += len;
                }
                FileOp::Read { len } => {
                    let want = model.len().saturating_sub(pos).min(len);
                    prop_assert_eq!(f.read(&fs, &mut dev, &mut user, BUF, len as u64), Ok(ReadOutcome::Data(want as u64)));
                    prop_assert_eq!(user.slice(BUF, want), model.get(pos..pos + want).unwrap_or(&[]));
                    pos += want;
                }
                FileOp::Seek { to } => {
                    prop_assert_eq!(f.seek(&fs, Whence::Set, to as i64), Ok(to));
                    pos = to as usize;
                }
                FileOp::Truncate { to } => {
                    fs.truncate(node, to).unwrap();
                    model.resize(to as usize, 0);
                }
            }
            prop_assert_eq!(f.position(), pos as u64);
            prop_assert_eq!(f.info(&fs).size, model.len() as u64);
        }
        let mut all = vec![0u8; model.len()];
        fs.read(node, 0, &mut all).unwrap();
        prop_assert_eq!(all, model);
    }
}

#[test]
fn user_memory_fake_reports_prefixes() {
    let mut user = FakeUserMemory::new(BUF, 16);
    let mut dst = [0u8; 20];
    assert_eq!(
        user.read_prefix(&mut dst, BUF),
        Err((16, SysError::BadAddress))
    );
    assert_eq!(user.check(u64::MAX, 1), Err(SysError::BadAddress));
}
