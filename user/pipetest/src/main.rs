//! `pipetest`: pipes (`/dev/pipe`) between SCPUs of one SMACH, one
//! scenario per mode; every mode also runs with every call forced down the
//! generic path.
//!
//! The start argument is `param << 16 | mode << 8 | generic`.
//!
//! | mode | name | passes when |
//! |---|---|---|
//! | 0 | `transfers` | 1, 1,024, 4,096 and 65,536 bytes (four times the pipe) written in one call by one SCPU and read in random-sized pieces by another arrive intact; once with the reader first (it blocks on empty), once with the writer first (it blocks on full) |
//! | 1 | `ends` | bytes written then the write end closed: read back, then 0 (end of file) twice; a reader blocked on empty wakes with 0 when the write end closes; a writer blocked on full returns what it wrote when the read end closes, and the next write is `BrokenPipe` |
//! | 2 | `atomic` | 4 writer SCPUs write 150 records each of 16 to 4,096 bytes (one call per record, through one shared write handle): the reader finds every record whole (never interleaved), each writer's in order |
//! | 3 | `many` | 4 writers and 3 readers on one pipe: every byte written is read exactly once (count and sum) |
//! | 4 | `hostile` | open flags other than READ and WRITE: `BadFlags`; read on the write end and write on the read end: `NotPermitted`; an unmapped or kernel buffer: `BadAddress`, and no byte lost or written; seek: `NotSupported`; 0-byte read and write: 0 |
//! | 5 | `pingpong` | two SCPUs bounce one byte through two pipes 10,000 times, the byte counting up |
//! | 6 to 11 | the hostile review's | see [`review`] |
//! | 13 | `to_console` | `program \| tty`: a pipe whose reader is the console (`to_console.rs`; the write end's routine is the console's collapsed write, replanned with the console's mode; writes reach the console on both paths; the read end keeps the bytes written before and sees end of file) |
//! | 14 to 21 | the `program \| tty` review's | see [`console_review`] |
//! | 12 | `differential` | 100,000 random operations on a synthesized pipe and a generic one, results and bytes compared (`differential.rs`; run once, the generic bit ignored) |
//!
//! Exit status: 0 = passed, 1 = a check failed (the line says which),
//! 2 = unknown mode.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "raw calls with buffers that are not ours; SAFETY per block"
)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "x86-64 only; narrowing random bits and bounded sizes on purpose"
)]

mod console_review;
mod review;
mod to_console;

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{Call, CallWord, Handle, OpenFlags, SysError, Whence};
use sk_user::{println, Scpu, Sio, Stack};

sk_user::entry!(main);

mod differential;

const THREADS: usize = 16;
static STACKS: [Stack<16384>; THREADS] = [const { Stack::new() }; THREADS];
static NEXT_STACK: AtomicU32 = AtomicU32::new(0);

pub(crate) static FAILED: AtomicBool = AtomicBool::new(false);
static GENERIC: AtomicBool = AtomicBool::new(false);
/// The pipe ends the workers use (handle indices).
static READ_END: AtomicU32 = AtomicU32::new(0);
static WRITE_END: AtomicU32 = AtomicU32::new(0);
static BACK_READ: AtomicU32 = AtomicU32::new(0);
static BACK_WRITE: AtomicU32 = AtomicU32::new(0);
/// What a worker is asked to do and what it reports.
static SIZE: AtomicU64 = AtomicU64::new(0);
static RESULT: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU32 = AtomicU32::new(0);
static SUM_IN: AtomicU64 = AtomicU64::new(0);
static SUM_OUT: AtomicU64 = AtomicU64::new(0);
static BYTES_OUT: AtomicU64 = AtomicU64::new(0);

const SIZES: [u64; 4] = [1, 1024, 4096, 65536];
const RECORD_WRITERS: u64 = 4;
const RECORDS: u64 = 150;
const MANY_WRITERS: u64 = 4;
const MANY_READERS: u64 = 3;
const MANY_BYTES: u64 = 40_000;
const PINGPONG_ROUNDS: u64 = 10_000;
/// An address no program has mapped.
pub(crate) const UNMAPPED: u64 = 0x0000_6000_0000_0000;
/// A kernel address.
const KERNEL_ADDR: u64 = 0xffff_ffff_8000_0000;

pub(crate) fn fail(what: core::fmt::Arguments<'_>) {
    println!("pipetest: FAILED: {what}");
    FAILED.store(true, Ordering::Relaxed);
}

fn end(cell: &AtomicU32) -> Sio {
    let sio = Sio::from_handle(Handle::new(cell.load(Ordering::Acquire)));
    if GENERIC.load(Ordering::Relaxed) {
        sio.generic()
    } else {
        sio
    }
}

fn new_pipe() -> Option<(Sio, Sio)> {
    let pipe = if GENERIC.load(Ordering::Relaxed) {
        Sio::pipe_generic()
    } else {
        Sio::pipe()
    };
    match pipe {
        Ok((r, w)) => {
            READ_END.store(r.handle().index(), Ordering::Release);
            WRITE_END.store(w.handle().index(), Ordering::Release);
            Some((r, w))
        }
        Err(e) => {
            fail(format_args!("pipe: {e:?}"));
            None
        }
    }
}

fn start(entry: extern "C" fn(u64) -> !, arg: u64) -> Option<Scpu> {
    let index = NEXT_STACK.fetch_add(1, Ordering::Relaxed) as usize;
    let stack = STACKS.get(index)?.take()?;
    match Scpu::create_with(entry, stack, arg, 4, 100) {
        Ok(scpu) => Some(scpu),
        Err(e) => {
            fail(format_args!("create SCPU: {e:?}"));
            None
        }
    }
}

/// Ends a worker after counting it done.
/// Ends a writer worker: its write's result in [`RESULT`] (the byte
/// count, or 1,000,000 + the error's code), then [`finish`].
fn finish_write(result: Result<usize, SysError>) -> ! {
    let result = match result {
        Ok(n) => n as u64,
        Err(e) => 1_000_000 + u64::from(e.code()),
    };
    RESULT.store(result, Ordering::Release);
    finish()
}

fn finish() -> ! {
    DONE.fetch_add(1, Ordering::Release);
    loop {
        let _ = sk_user::sleep_ns(1 << 40);
    }
}

/// Yields until `n` workers are done (or too long: a hang is a failure).
fn wait_done(n: u32) {
    for _ in 0..20_000_000u64 {
        if DONE.load(Ordering::Acquire) >= n {
            return;
        }
        let _ = sk_user::yield_now();
    }
    fail(format_args!(
        "workers did not finish ({} of {n})",
        DONE.load(Ordering::Acquire)
    ));
}

/// The byte at `offset` of the test pattern.
const fn pattern(offset: u64) -> u8 {
    (offset.wrapping_mul(131).wrapping_add(offset >> 8) & 0xff) as u8
}

/// The largest transfer's bytes, built at compile time (the workers'
/// stacks are smaller than a transfer).
static PATTERN: [u8; 65536] = {
    let mut bytes = [0u8; 65536];
    let mut i = 0;
    while i < bytes.len() {
        bytes[i] = pattern(i as u64);
        i += 1;
    }
    bytes
};

/// A small deterministic generator (xorshift64).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Writes all of `bytes` (the pipe's write loops internally; a short
/// count is a failure here).
fn write_all(w: &Sio, bytes: &[u8], what: &str) -> bool {
    match w.write(bytes) {
        Ok(n) if n == bytes.len() => true,
        other => {
            fail(format_args!(
                "{what}: write of {} gave {other:?}",
                bytes.len()
            ));
            false
        }
    }
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    GENERIC.store(arg & 1 != 0, Ordering::Relaxed);
    match (arg >> 8) & 0xff {
        0 => transfers(),
        1 => ends(),
        2 => atomic(),
        3 => many(),
        4 => hostile(),
        5 => pingpong(),
        6 => review::close_own_end(),
        7 => review::kill_blocked(),
        8 => review::sizes(),
        9 => review::buffers(),
        10 => return review::lone(arg & (1 << 16) != 0),
        11 => review::exit_blocked(),
        12 => differential::differential(),
        13 => to_console::to_console(),
        14 => console_review::hostile(arg),
        15 => console_review::swapped_writer(),
        16 => console_review::modes(),
        17 => console_review::owner(true),
        20 => console_review::owner(false),
        21 => console_review::churn(arg >> 16),
        18 => console_review::holder_loop(),
        19 => console_review::holder_child(),
        mode => {
            println!("pipetest: unknown mode {mode}");
            return 2;
        }
    }
    i32::from(FAILED.load(Ordering::Relaxed))
}

// ---- 0: transfers -----------------------------------------------------------

extern "C" fn writer_of_size(_: u64) -> ! {
    let size = SIZE.load(Ordering::Acquire);
    let w = end(&WRITE_END);
    write_all(&w, PATTERN.get(..size as usize).unwrap_or(&[]), "transfer");
    finish()
}

fn transfers() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for reader_first in [true, false] {
        for size in SIZES {
            let Some((r, w)) = new_pipe() else { return };
            SIZE.store(size, Ordering::Release);
            let done = DONE.load(Ordering::Acquire);
            if !reader_first {
                // The writer runs first and fills the pipe (and blocks
                // when the size is larger than the pipe).
                let _ = start(writer_of_size, 0);
                for _ in 0..50 {
                    let _ = sk_user::yield_now();
                }
            } else {
                let _ = start(writer_of_size, 0);
            }
            let mut got = 0u64;
            let mut buf = [0u8; 8192];
            while got < size {
                let want = 1 + (rng.next() % 8192) as usize;
                match r.read(&mut buf[..want]) {
                    Ok(0) => {
                        fail(format_args!("size {size}: end of file after {got}"));
                        break;
                    }
                    Ok(n) => {
                        for (i, &b) in buf[..n].iter().enumerate() {
                            if b != pattern(got + i as u64) {
                                fail(format_args!(
                                    "size {size}: byte {} is {b:#x}",
                                    got + i as u64
                                ));
                                return;
                            }
                        }
                        got += n as u64;
                    }
                    Err(e) => {
                        fail(format_args!("size {size}: read: {e:?}"));
                        break;
                    }
                }
            }
            wait_done(done + 1);
            let _ = (r.close(), w.close());
        }
    }
}

// ---- 1: ends ---------------------------------------------------------------

extern "C" fn blocked_reader(_: u64) -> ! {
    let r = end(&READ_END);
    let mut buf = [0u8; 16];
    let result = match r.read(&mut buf) {
        Ok(n) => n as u64,
        Err(e) => 1000 + u64::from(e.code()),
    };
    RESULT.store(result, Ordering::Release);
    finish()
}

extern "C" fn blocked_writer(_: u64) -> ! {
    let w = end(&WRITE_END);
    finish_write(w.write(&PATTERN))
}

fn ends() {
    // Written, then the write end closed: the bytes, then end of file.
    let Some((r, w)) = new_pipe() else { return };
    write_all(&w, b"abc", "ends");
    let _ = w.close();
    let mut buf = [0u8; 8];
    let got = (r.read(&mut buf), r.read(&mut buf), r.read(&mut buf));
    if got != (Ok(3), Ok(0), Ok(0)) {
        fail(format_args!("read after the write end closed: {got:?}"));
    }
    let _ = r.close();
    // A reader blocked on empty wakes with end of file at the close.
    let Some((r, w)) = new_pipe() else { return };
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let _ = start(blocked_reader, 0);
    for _ in 0..50 {
        let _ = sk_user::yield_now();
    }
    if RESULT.load(Ordering::Acquire) != u64::MAX {
        fail(format_args!("the reader did not block on an empty pipe"));
    }
    let _ = w.close();
    wait_done(done + 1);
    if RESULT.load(Ordering::Acquire) != 0 {
        fail(format_args!(
            "blocked reader woke with {} (want 0)",
            RESULT.load(Ordering::Acquire)
        ));
    }
    let _ = r.close();
    // A writer blocked on full returns its count when the read end closes.
    let Some((r, w)) = new_pipe() else { return };
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let _ = start(blocked_writer, 0);
    for _ in 0..50 {
        let _ = sk_user::yield_now();
    }
    if RESULT.load(Ordering::Acquire) != u64::MAX {
        fail(format_args!("the writer did not block on a full pipe"));
    }
    let _ = r.close();
    wait_done(done + 1);
    let result = RESULT.load(Ordering::Acquire);
    if result == 0 || result >= 65536 {
        fail(format_args!(
            "blocked writer's write returned {result} (want the pipe's size)"
        ));
    }
    let again = w.write(b"x");
    if again != Err(SysError::BrokenPipe) {
        fail(format_args!("write after the read end closed: {again:?}"));
    }
    let _ = w.close();
}

// ---- 2: atomic ---------------------------------------------------------------

extern "C" fn record_writer(id: u64) -> ! {
    let w = end(&WRITE_END);
    let mut rng = Rng(0x1234_5678 ^ (id << 20) | 1);
    let mut record = [0u8; 4096];
    for seq in 0..RECORDS {
        let len = 16 + (rng.next() % (4096 - 16 + 1)) as usize;
        record[0] = id as u8;
        record[1..5].copy_from_slice(&(seq as u32).to_le_bytes());
        record[5..9].copy_from_slice(&(len as u32).to_le_bytes());
        for (i, b) in record[9..len].iter_mut().enumerate() {
            *b = (id as u8) ^ (seq as u8) ^ (i as u8);
        }
        if !write_all(&w, &record[..len], "record") {
            break;
        }
    }
    finish()
}

/// Reads exactly `buf.len()` bytes.
fn read_exact(r: &Sio, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(e) => {
                fail(format_args!("read_exact: {e:?}"));
                return false;
            }
        }
    }
    true
}

fn atomic() {
    let Some((r, w)) = new_pipe() else { return };
    let done = DONE.load(Ordering::Acquire);
    for id in 0..RECORD_WRITERS {
        let _ = start(record_writer, id);
    }
    let mut next_seq = [0u64; RECORD_WRITERS as usize];
    let mut record = [0u8; 4096];
    for _ in 0..RECORD_WRITERS * RECORDS {
        if !read_exact(&r, &mut record[..9]) {
            fail(format_args!("a record's header is missing"));
            return;
        }
        let id = u64::from(record[0]);
        let seq = u64::from(u32::from_le_bytes([
            record[1], record[2], record[3], record[4],
        ]));
        let len = u32::from_le_bytes([record[5], record[6], record[7], record[8]]) as usize;
        if id >= RECORD_WRITERS || !(16..=4096).contains(&len) || seq != next_seq[id as usize] {
            fail(format_args!(
                "interleaved or out of order: writer {id} seq {seq} len {len}"
            ));
            return;
        }
        next_seq[id as usize] += 1;
        if !read_exact(&r, &mut record[9..len]) {
            fail(format_args!("a record's body is missing"));
            return;
        }
        for (i, &b) in record[9..len].iter().enumerate() {
            if b != (id as u8) ^ (seq as u8) ^ (i as u8) {
                fail(format_args!("writer {id} record {seq}: byte {i} is {b:#x}"));
                return;
            }
        }
    }
    wait_done(done + RECORD_WRITERS as u32);
    let _ = (r.close(), w.close());
}

// ---- 3: many ---------------------------------------------------------------

extern "C" fn many_writer(id: u64) -> ! {
    let w = end(&WRITE_END);
    let mut rng = Rng(0xabcd ^ (id << 8) | 1);
    let mut left = MANY_BYTES;
    let mut chunk = [0u8; 3000];
    while left > 0 {
        let n = (1 + rng.next() % 3000).min(left) as usize;
        let mut sum = 0u64;
        for b in chunk[..n].iter_mut() {
            *b = rng.next() as u8;
            sum += u64::from(*b);
        }
        if !write_all(&w, &chunk[..n], "many") {
            break;
        }
        SUM_IN.fetch_add(sum, Ordering::Relaxed);
        left -= n as u64;
    }
    finish()
}

extern "C" fn many_reader(_: u64) -> ! {
    let r = end(&READ_END);
    let mut buf = [0u8; 5000];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let sum: u64 = buf[..n].iter().map(|&b| u64::from(b)).sum();
                SUM_OUT.fetch_add(sum, Ordering::Relaxed);
                BYTES_OUT.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => {
                fail(format_args!("many: read: {e:?}"));
                break;
            }
        }
    }
    finish()
}

fn many() {
    let Some((r, w)) = new_pipe() else { return };
    let done = DONE.load(Ordering::Acquire);
    for id in 0..MANY_READERS {
        let _ = start(many_reader, id);
    }
    for id in 0..MANY_WRITERS {
        let _ = start(many_writer, id);
    }
    wait_done(done + MANY_WRITERS as u32);
    // Every writer is done: close the write end, the readers see the end.
    let _ = w.close();
    wait_done(done + (MANY_WRITERS + MANY_READERS) as u32);
    let (bytes, sums) = (
        BYTES_OUT.load(Ordering::Relaxed),
        (
            SUM_IN.load(Ordering::Relaxed),
            SUM_OUT.load(Ordering::Relaxed),
        ),
    );
    if bytes != MANY_WRITERS * MANY_BYTES || sums.0 != sums.1 {
        fail(format_args!("many: {bytes} bytes read, sums {sums:?}"));
    }
    let _ = r.close();
}

// ---- 4: hostile ----------------------------------------------------------------

fn hostile() {
    // Flags other than READ | WRITE.
    for flags in [
        OpenFlags::READ,
        OpenFlags::WRITE,
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE,
    ] {
        let got = Sio::open(sk_user::abi::PIPE_PATH, flags);
        if got.as_ref().err() != Some(&SysError::BadFlags) {
            fail(format_args!("pipe open with {flags:?}: {got:?}"));
        }
    }
    let Some((r, w)) = new_pipe() else { return };
    let mut buf = [0u8; 8];
    let wrong = (r.write(b"x"), w.read(&mut buf));
    if wrong != (Err(SysError::NotPermitted), Err(SysError::NotPermitted)) {
        fail(format_args!("the wrong end: {wrong:?}"));
    }
    let zero = (r.read(&mut []), w.write(&[]));
    if zero != (Ok(0), Ok(0)) {
        fail(format_args!("0-byte read and write: {zero:?}"));
    }
    let seek = (r.seek(Whence::Set, 0), w.seek(Whence::Current, 1));
    if seek != (Err(SysError::NotSupported), Err(SysError::NotSupported)) {
        fail(format_args!("seek on a pipe: {seek:?}"));
    }
    // Bad buffers: nothing written, nothing lost.
    for bad in [UNMAPPED, KERNEL_ADDR] {
        let got = raw_write(&w, bad, 16);
        if got != Err(SysError::BadAddress) {
            fail(format_args!("write from {bad:#x}: {got:?}"));
        }
    }
    write_all(&w, b"hello", "hostile");
    for bad in [UNMAPPED, KERNEL_ADDR] {
        let got = raw_read(&r, bad, 16);
        if got != Err(SysError::BadAddress) {
            fail(format_args!("read into {bad:#x}: {got:?}"));
        }
    }
    let got = r.read(&mut buf);
    if got != Ok(5) || &buf[..5] != b"hello" {
        fail(format_args!(
            "after faulting reads: {got:?} {:?}",
            &buf[..5]
        ));
    }
    let info = (r.query(), w.query());
    if info.0.is_err() || info.1.is_err() {
        fail(format_args!("query: {info:?}"));
    }
    let _ = (r.close(), w.close());
}

/// `op` on `handle` with a buffer at `addr` (an address that is not
/// ours: unmapped, or the kernel's).
fn raw(handle: Handle, op: Call, addr: u64, len: u64) -> Result<usize, SysError> {
    let bits = if GENERIC.load(Ordering::Relaxed) {
        CallWord::FORCE_GENERIC
    } else {
        0
    };
    // SAFETY: `addr` is unmapped or a kernel address: the kernel refuses
    // it or its copy faults into the kernel's fixup; no memory of ours is
    // read or written.
    let rax = unsafe { sk_user::raw::syscall2(CallWord::new(handle, op).get() | bits, addr, len) };
    SysError::decode_return(rax).map(|n| n as usize)
}

/// A `write` of `len` bytes at `addr`.
pub(crate) fn raw_write(w: &Sio, addr: u64, len: u64) -> Result<usize, SysError> {
    raw(w.handle(), Call::Write, addr, len)
}

/// A `read` of `len` bytes into `addr`.
fn raw_read(r: &Sio, addr: u64, len: u64) -> Result<usize, SysError> {
    raw(r.handle(), Call::Read, addr, len)
}

// ---- 5: pingpong --------------------------------------------------------------

extern "C" fn echo(_: u64) -> ! {
    let (r, w) = (end(&READ_END), end(&BACK_WRITE));
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte) {
            Ok(1) => {
                byte[0] = byte[0].wrapping_add(1);
                if w.write(&byte) != Ok(1) {
                    fail(format_args!("echo: write failed"));
                    break;
                }
            }
            Ok(_) => break,
            Err(e) => {
                fail(format_args!("echo: read: {e:?}"));
                break;
            }
        }
    }
    finish()
}

fn pingpong() {
    let Some((r, w)) = new_pipe() else { return };
    let Some((back_r, back_w)) = new_pipe() else {
        return;
    };
    READ_END.store(r.handle().index(), Ordering::Release);
    BACK_READ.store(back_r.handle().index(), Ordering::Release);
    BACK_WRITE.store(back_w.handle().index(), Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let _ = start(echo, 0);
    let mut byte = [0u8; 1];
    for round in 0..PINGPONG_ROUNDS {
        let sent = round as u8;
        if w.write(&[sent]) != Ok(1) {
            fail(format_args!("pingpong: write at round {round}"));
            return;
        }
        match back_r.read(&mut byte) {
            Ok(1) if byte[0] == sent.wrapping_add(1) => {}
            other => {
                fail(format_args!("pingpong: round {round}: {other:?} {byte:?}"));
                return;
            }
        }
    }
    let _ = w.close();
    wait_done(done + 1);
    let _ = (r.close(), back_r.close(), back_w.close());
}
