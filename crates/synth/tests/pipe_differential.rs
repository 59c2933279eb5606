//! Differential test of the synthesized pipe routines (`pipe_write`,
//! `pipe_read`) against the generic ring, `sk-queue`'s `ByteRing`.
//!
//! Both routines run in one `sk-hostexec` sandbox on a ring laid out as
//! `sk_queue::RingCells` (cells at 0, 64, 128) and a buffer in the sandbox's
//! data region, the counters starting near `u64::MAX`. Each random
//! operation runs through the routine first. If it takes the fast path,
//! the same operation on the reference ring must agree (result, bytes,
//! counters, no wake owed), and the fast path must have been allowed (the
//! wait word 0, the transfer fitting). If it jumps to the slow path (the
//! helper is a bare `ret`, so the result is the call word), the ring must
//! be untouched and the fast path must have been impossible; the reference
//! ring then performs the call (it *is* the generic path's ring code) and
//! the test mirrors what it did into the sandbox's ring (bytes, counters,
//! waiting and closed bits), as the kernel's generic path would on the same
//! memory. Every byte a read returns, on either path, is compared with the
//! reference's. Faulting buffers (the sandbox's guard page) must return
//! `bad_address` and leave the counters unchanged.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_hostexec::{Fixup, Registers, Sandbox};
use sk_queue::{ByteRingReader, ByteRingWriter, ReadOutcome, RingConfig, WaitMode, Wake};
use sk_queue::{RingCells, WriteOutcome};
use sk_synth::templates::{PipeReadHoles, PipeWriteHoles};
use sk_synth::{instantiate, verify_instance, Imm32, Imm64, Instance, Smap};

const BAD_ADDRESS: i64 = -14;
const MAX_CAPACITY: usize = 16 << 10;
const ATOMIC: usize = 4096;
/// Data region: cells, buffer, user area (the guard page follows it).
const CELLS: usize = 0;
const BUFFER: usize = 0x1000;
const USER: usize = BUFFER + MAX_CAPACITY;
const USER_LEN: usize = 0x2000;
const DATA_LEN: usize = USER + USER_LEN;
/// Code region: the write, the read, the "slow path" (a bare `ret`).
const WRITE_AT: u64 = 0;
const READ_AT: u64 = 0x400;
const SLOW_AT: u64 = 0xc00;
/// Call words far above any result: a result equal to one means "slow".
const WRITE_WORD: u64 = 0x5a5a_0000_0000_0005;
const READ_WORD: u64 = 0x5a5a_0000_0000_0004;

const READER_WAITING: u64 = 1;
const WRITER_WAITING: u64 = 2;
const READER_CLOSED: u64 = 4;
const WRITER_CLOSED: u64 = 8;

struct Pipe {
    sandbox: Sandbox,
    /// The two instances (kept for their fault tables' lifetime).
    _write: Instance,
    _read: Instance,
    fixups: Vec<Fixup>,
    capacity: usize,
    writer: Option<ByteRingWriter>,
    reader: Option<ByteRingReader>,
    /// Slow-path calls seen, fast ones seen (the test must see both).
    slow: usize,
    fast: usize,
}

/// The cells (produced, consumed, wait).
type Cells = (u64, u64, u64);

impl Pipe {
    fn new(capacity: usize, start: u64) -> Self {
        let mut sandbox = Sandbox::new(0x1000, DATA_LEN).unwrap();
        let (data, code) = (sandbox.data_address(), sandbox.code_address());
        let cell = |offset: usize| Imm64(data + (CELLS + offset) as u64);
        let (buffer, mask) = (Imm64(data + BUFFER as u64), Imm32(capacity as i32 - 1));
        let (produced, consumed, wait) = (
            cell(RingCells::PRODUCED_OFFSET),
            cell(RingCells::CONSUMED_OFFSET),
            cell(RingCells::WAIT_OFFSET),
        );
        let (max_len, bad_address, slow_path) = (
            Imm32(ATOMIC as i32),
            Imm32(BAD_ADDRESS as i32),
            Imm64(code + SLOW_AT),
        );
        let bytes = sandbox.code_mut().unwrap();
        let write = instantiate(
            &PipeWriteHoles {
                buffer,
                mask,
                produced,
                consumed,
                wait,
                max_len,
                bad_address,
                slow_path,
            },
            code + WRITE_AT,
            Smap::Disabled,
            &mut bytes[WRITE_AT as usize..READ_AT as usize],
        )
        .unwrap();
        verify_instance(&write, &bytes[WRITE_AT as usize..][..write.size()]).unwrap();
        let read = instantiate(
            &PipeReadHoles {
                buffer,
                mask,
                produced,
                consumed,
                wait,
                max_len,
                bad_address,
                slow_path,
            },
            code + READ_AT,
            Smap::Disabled,
            &mut bytes[READ_AT as usize..SLOW_AT as usize],
        )
        .unwrap();
        verify_instance(&read, &bytes[READ_AT as usize..][..read.size()]).unwrap();
        bytes[SLOW_AT as usize] = 0xc3;
        let fixups = write
            .fault_fixups()
            .chain(read.fault_fixups())
            .map(|f| Fixup {
                access: f.access,
                fixup: f.fixup,
            })
            .collect();
        sandbox.seal().unwrap();
        let (writer, reader) =
            sk_queue::pipe(RingConfig::new(capacity, ATOMIC.min(capacity)).starting_at(start))
                .unwrap();
        let mut pipe = Self {
            sandbox,
            _write: write,
            _read: read,
            fixups,
            capacity,
            writer: Some(writer),
            reader: Some(reader),
            slow: 0,
            fast: 0,
        };
        pipe.set_cells((start, start, 0));
        pipe
    }

    fn atomic(&self) -> usize {
        ATOMIC.min(self.capacity)
    }

    fn cells(&self) -> Cells {
        (
            self.sandbox.read_cell(CELLS + RingCells::PRODUCED_OFFSET),
            self.sandbox.read_cell(CELLS + RingCells::CONSUMED_OFFSET),
            self.sandbox.read_cell(CELLS + RingCells::WAIT_OFFSET),
        )
    }

    fn set_cells(&mut self, (produced, consumed, wait): Cells) {
        self.sandbox
            .write_cell(CELLS + RingCells::PRODUCED_OFFSET, produced);
        self.sandbox
            .write_cell(CELLS + RingCells::CONSUMED_OFFSET, consumed);
        self.sandbox
            .write_cell(CELLS + RingCells::WAIT_OFFSET, wait);
    }

    fn set_wait(&mut self, set: u64, clear: u64) {
        let (p, c, w) = self.cells();
        self.set_cells((p, c, (w | set) & !clear));
    }

    fn ring_offset(&self, counter: u64) -> usize {
        BUFFER + (counter as usize & (self.capacity - 1))
    }

    /// The ring's bytes from counter `at` on (around the wrap).
    fn ring_bytes(&self, at: u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| self.sandbox.data()[self.ring_offset(at.wrapping_add(i as u64))])
            .collect()
    }

    fn put_ring_bytes(&mut self, at: u64, bytes: &[u8]) {
        for (i, &byte) in bytes.iter().enumerate() {
            let offset = self.ring_offset(at.wrapping_add(i as u64));
            self.sandbox.data_mut()[offset] = byte;
        }
    }

    fn call(&mut self, instance_at: u64, word: u64, buffer: u64, len: u64) -> i64 {
        let entry = self.sandbox.code_address() + instance_at;
        let registers = Registers {
            rax: word,
            rdi: buffer,
            rsi: len,
            ..Registers::default()
        };
        let outcome = self.sandbox.call(entry, &registers, &self.fixups).unwrap();
        assert!(outcome.is_callee_saved_intact);
        outcome.result()
    }

    fn user_address(&self) -> u64 {
        self.sandbox.data_address() + USER as u64
    }

    /// A buffer whose first `len / 2` bytes are good and the rest in the
    /// guard page: a copy of `len` bytes faults half-way.
    fn faulting_address(&self, len: usize) -> u64 {
        self.sandbox.guard_address() - (len as u64 / 2)
    }

    fn write(&mut self, bytes: &[u8], mode: WaitMode, fault: bool) -> Result<(), TestCaseError> {
        let len = bytes.len();
        let user = self.user_address();
        self.sandbox.data_mut()[USER..USER + len].copy_from_slice(bytes);
        let before = self.cells();
        let (p, c, w) = before;
        let free = self.capacity - p.wrapping_sub(c) as usize;
        let may_be_fast = (1..=self.atomic()).contains(&len) && w == 0 && free >= len;
        let buffer = if fault {
            self.faulting_address(len)
        } else {
            user
        };
        let result = self.call(WRITE_AT, WRITE_WORD, buffer, len as u64);
        if result == WRITE_WORD as i64 {
            self.slow += 1;
            prop_assert!(!may_be_fast, "write of {len} went slow with {before:?}");
            prop_assert_eq!(self.cells(), before, "a slow write changed the ring");
            if fault {
                return Ok(());
            }
            let Some(writer) = self.writer.as_mut() else {
                return Ok(());
            };
            match writer.write_with(bytes, mode) {
                WriteOutcome::Wrote { len: n, wake } => {
                    self.put_ring_bytes(p, &bytes[..n]);
                    self.set_cells((p.wrapping_add(n as u64), c, w));
                    if wake == Wake::Readers {
                        self.set_wait(0, READER_WAITING);
                    }
                }
                WriteOutcome::Blocked => self.set_wait(WRITER_WAITING, 0),
                WriteOutcome::WouldBlock | WriteOutcome::BrokenPipe => {}
            }
            return Ok(());
        }
        self.fast += 1;
        prop_assert!(may_be_fast, "write of {len} went fast with {before:?}");
        if fault {
            prop_assert_eq!(result, BAD_ADDRESS);
            prop_assert_eq!(self.cells(), before, "a faulting write changed the ring");
            return Ok(());
        }
        prop_assert_eq!(result, len as i64);
        prop_assert_eq!(self.cells(), (p.wrapping_add(len as u64), c, w));
        prop_assert_eq!(self.ring_bytes(p, len), bytes);
        let writer = self.writer.as_mut().expect("a fast write has a writer");
        prop_assert_eq!(
            writer.write_with(bytes, mode),
            WriteOutcome::Wrote {
                len,
                wake: Wake::Nobody
            }
        );
        Ok(())
    }

    fn read(&mut self, len: usize, mode: WaitMode, fault: bool) -> Result<(), TestCaseError> {
        let user = self.user_address();
        let piece = len.min(self.atomic());
        self.sandbox.data_mut()[USER..USER + piece].fill(0xee);
        let before = self.cells();
        let (p, c, w) = before;
        let available = p.wrapping_sub(c) as usize;
        let may_be_fast = len >= 1 && w == 0 && available > 0;
        // A read copies at most what the ring holds: half of that is good.
        let buffer = if fault {
            self.faulting_address(piece.min(available))
        } else {
            user
        };
        let result = self.call(READ_AT, READ_WORD, buffer, len as u64);
        let mut out = vec![0u8; piece];
        if result == READ_WORD as i64 {
            self.slow += 1;
            prop_assert!(!may_be_fast, "read of {len} went slow with {before:?}");
            prop_assert_eq!(self.cells(), before, "a slow read changed the ring");
            if fault {
                return Ok(());
            }
            let Some(reader) = self.reader.as_mut() else {
                return Ok(());
            };
            match reader.read_with(&mut out, mode) {
                ReadOutcome::Read { len: n, wake } => {
                    prop_assert_eq!(self.ring_bytes(c, n), &out[..n], "ring bytes");
                    self.set_cells((p, c.wrapping_add(n as u64), w));
                    if wake == Wake::Writers {
                        self.set_wait(0, WRITER_WAITING);
                    }
                }
                ReadOutcome::Blocked => self.set_wait(READER_WAITING, 0),
                ReadOutcome::EndOfFile => {
                    prop_assert!(available == 0 && w & WRITER_CLOSED != 0);
                }
                ReadOutcome::WouldBlock => {}
            }
            return Ok(());
        }
        self.fast += 1;
        prop_assert!(may_be_fast, "read of {len} went fast with {before:?}");
        if fault {
            prop_assert_eq!(result, BAD_ADDRESS);
            prop_assert_eq!(self.cells(), before, "a faulting read consumed");
            return Ok(());
        }
        let n = piece.min(available);
        prop_assert_eq!(result, n as i64);
        prop_assert_eq!(self.cells(), (p, c.wrapping_add(n as u64), w));
        let reader = self.reader.as_mut().expect("a fast read has a reader");
        prop_assert_eq!(
            reader.read_with(&mut out, mode),
            ReadOutcome::Read {
                len: n,
                wake: Wake::Nobody
            }
        );
        prop_assert_eq!(
            &self.sandbox.data()[USER..USER + n],
            &out[..n],
            "bytes read"
        );
        Ok(())
    }

    fn close_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            let clear = if reader.close() == Wake::Writers {
                WRITER_WAITING
            } else {
                0
            };
            self.set_wait(READER_CLOSED, clear);
        }
    }

    fn close_writer(&mut self) {
        if let Some(writer) = self.writer.take() {
            let clear = if writer.close() == Wake::Readers {
                READER_WAITING
            } else {
                0
            };
            self.set_wait(WRITER_CLOSED, clear);
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Write {
        len: usize,
        seed: u8,
        blocking: bool,
        fault: bool,
    },
    Read {
        len: usize,
        blocking: bool,
        fault: bool,
    },
    CloseReader,
    CloseWriter,
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        1 => Just(0usize),
        4 => Just(1usize),
        4 => 2..=64usize,
        2 => 4090..=4100usize,
        2 => 0..=5000usize,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let flags = (prop::bool::weighted(0.7), prop::bool::weighted(0.05));
    prop_oneof![
        20 => (size(), any::<u8>(), flags).prop_map(|(len, seed, (blocking, fault))| {
            Op::Write { len, seed, blocking, fault }
        }),
        20 => (size(), flags).prop_map(|(len, (blocking, fault))| Op::Read { len, blocking, fault }),
        1 => Just(Op::CloseReader),
        1 => Just(Op::CloseWriter),
    ]
}

fn mode(blocking: bool) -> WaitMode {
    if blocking {
        WaitMode::Blocking
    } else {
        WaitMode::NonBlocking
    }
}

fn run(pipe: &mut Pipe, ops: &[Op]) -> Result<(), TestCaseError> {
    for op in ops {
        match *op {
            Op::Write {
                len,
                seed,
                blocking,
                fault,
            } => {
                let bytes: Vec<u8> = (0..len)
                    .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
                    .collect();
                pipe.write(&bytes, mode(blocking), fault)?;
            }
            Op::Read {
                len,
                blocking,
                fault,
            } => pipe.read(len, mode(blocking), fault)?,
            Op::CloseReader => pipe.close_reader(),
            Op::CloseWriter => pipe.close_writer(),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn synthesized_pipe_calls_match_the_generic_ring(
        capacity in prop::sample::select(vec![4096usize, 8192, 16 << 10]),
        below_max in 0..40_000u64,
        ops in prop::collection::vec(op(), 1..160),
    ) {
        let mut pipe = Pipe::new(capacity, u64::MAX - below_max);
        run(&mut pipe, &ops)?;
    }
}

/// A fixed sequence that must take both paths, wrap the buffer and the
/// counters, and fault on both ends.
#[test]
fn a_fixed_run_takes_both_paths_and_wraps() {
    let mut pipe = Pipe::new(4096, u64::MAX - 10);
    let mut ops = Vec::new();
    for round in 0..40usize {
        let len = [1, 3000, 7, 4096, 0, 200][round % 6];
        ops.push(Op::Write {
            len,
            seed: round as u8,
            blocking: round % 3 != 0,
            fault: round % 11 == 5,
        });
        ops.push(Op::Read {
            len: [1, 5000, 100, 4096, 2][round % 5],
            blocking: true,
            fault: round % 13 == 7,
        });
    }
    ops.push(Op::CloseWriter);
    ops.extend((0..4).map(|_| Op::Read {
        len: 4096,
        blocking: true,
        fault: false,
    }));
    run(&mut pipe, &ops).unwrap();
    assert!(
        pipe.fast > 20 && pipe.slow > 5,
        "{} fast, {} slow",
        pipe.fast,
        pipe.slow
    );
    let (produced, _, wait) = pipe.cells();
    assert!(produced < 100_000, "the counters wrapped past u64::MAX");
    assert_ne!(wait & WRITER_CLOSED, 0);
}

/// A bad user range is `bad_address` on the fast path, before the ring is
/// looked at.
#[test]
fn bad_ranges_are_bad_address_and_change_nothing() {
    let mut pipe = Pipe::new(4096, 5);
    let before = pipe.cells();
    let end = sk_abi::USER_END;
    for (buffer, len) in [(end, 1), (end - 1, 2), (u64::MAX - 3, 8), (end - 10, 11)] {
        assert_eq!(pipe.call(WRITE_AT, WRITE_WORD, buffer, len), BAD_ADDRESS);
        assert_eq!(pipe.call(READ_AT, READ_WORD, buffer, len), BAD_ADDRESS);
    }
    assert_eq!(pipe.cells(), before);
}
