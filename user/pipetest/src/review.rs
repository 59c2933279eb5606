//! The hostile review's modes (6 to 11): the ends closed, killed and
//! abandoned under blocked threads, the atomic-size and capacity
//! boundaries, and buffers an attacker picks.
//!
//! | mode | name | passes when |
//! |---|---|---|
//! | 6 | `close_own_end` | a reader blocked on an empty pipe wakes with `BadHandle` when another SCPU closes the *read* end (as a semaphore's P does), and a writer blocked on a full pipe returns its count when another SCPU closes the *write* end, before any byte is read; the reader then gets exactly those bytes and end of file |
//! | 7 | `kill_blocked` | a reader suspended while blocked misses the write's wake and, resumed, reads the byte; a reader killed while blocked takes no byte; a writer killed while blocked in a 4,096-byte write leaves none of it; of 8 readers blocked on one end, 4 killed, the 4 others each get one of 4 bytes |
//! | 8 | `sizes` | writes of 4,096, 4,097, 16,384 and 16,385 bytes arrive intact; a 4,096-byte write into a pipe with 4,095 bytes free waits (not split) and goes in whole after a 1-byte read |
//! | 9 | `buffers` | read into our own code and read-only data, buffers straddling an unmapped page, the user/kernel boundary, non-canonical and wrapping addresses, `u64::MAX` lengths: `BadAddress`, no byte lost or added; a long write faulting in its third piece returns the two pieces it wrote; handles past the table, a closed end reused, `TtyMode` on an end, `query(Routines)` on an end; a full handle table fails the pipe with `TooManyHandles` and leaks no slot |
//! | 10 | `lone` | never ends: the only SCPU writes 16,385 bytes into its own pipe (parameter 1: reads its own empty pipe) and blocks for good, as on Linux (the kernel test kills it) |
//! | 11 | `exit_blocked` | returns 0 with 3 readers blocked on an empty pipe and 3 writers on a full one, both ends of both held (the kernel test checks the exit cleans up) |

use super::{
    end, fail, finish, finish_write, new_pipe, pattern, raw, start, BYTES_OUT, DONE, PATTERN,
    READ_END, RESULT, SIZE, SUM_OUT, WRITE_END,
};
use core::sync::atomic::Ordering;
use sk_user::abi::{Call, Handle, OpenFlags, Prot, ScpuState, SysError, TtyMode};
use sk_user::{Scpu, Sio, Smem};

/// Bytes a pipe holds.
const CAPACITY: u64 = 16384;

/// Yields granted to a worker to finish or block: a thread that never
/// wakes fails the check instead of hanging the test.
const PATIENCE: u64 = 300_000;

/// Waits until `n` workers are done; false (and a failure) if they never
/// are.
fn wait_for(n: u32, what: &str) -> bool {
    for _ in 0..PATIENCE {
        if DONE.load(Ordering::Acquire) >= n {
            return true;
        }
        let _ = sk_user::yield_now();
    }
    fail(format_args!(
        "{what}: {} of {n} workers finished",
        DONE.load(Ordering::Acquire)
    ));
    false
}

/// Waits until `scpu` is blocked (in its pipe call).
fn wait_blocked(scpu: &Scpu, what: &str) -> bool {
    for _ in 0..PATIENCE {
        if scpu
            .query()
            .is_ok_and(|i| i.state == ScpuState::Blocked.number())
        {
            return true;
        }
        let _ = sk_user::yield_now();
    }
    fail(format_args!("{what}: the worker never blocked"));
    false
}

fn size_of(r: &Sio) -> u64 {
    r.query().map_or(u64::MAX, |i| i.size)
}

/// Reads exactly `want` bytes and checks them with `expect(offset)`.
fn receive(r: &Sio, want: u64, expect: impl Fn(u64) -> u8, what: &str) -> bool {
    let mut got = 0u64;
    let mut buf = [0u8; 5000];
    while got < want {
        let ask = (want - got).min(buf.len() as u64 - (got % 7)) as usize;
        match r.read(&mut buf[..ask]) {
            Ok(n) if n > 0 => {
                for (i, &b) in buf[..n].iter().enumerate() {
                    if b != expect(got + i as u64) {
                        fail(format_args!("{what}: byte {} is {b:#x}", got + i as u64));
                        return false;
                    }
                }
                got += n as u64;
            }
            other => {
                fail(format_args!("{what}: read after {got} gave {other:?}"));
                return false;
            }
        }
    }
    true
}

extern "C" fn reader_to_result(_: u64) -> ! {
    let r = end(&READ_END);
    let mut buf = [0u8; 16];
    let result = match r.read(&mut buf) {
        Ok(n) => n as u64,
        Err(e) => 1000 + u64::from(e.code()),
    };
    RESULT.store(result, Ordering::Release);
    finish()
}

/// Writes `SIZE` bytes of `0xee` (at most 4,096) in one call.
extern "C" fn ee_writer(_: u64) -> ! {
    let w = end(&WRITE_END);
    let record = [0xeeu8; 4096];
    let n = (SIZE.load(Ordering::Acquire) as usize).min(record.len());
    finish_write(w.write(&record[..n]))
}

extern "C" fn pattern_writer(_: u64) -> ! {
    let w = end(&WRITE_END);
    let size = SIZE.load(Ordering::Acquire) as usize;
    finish_write(w.write(PATTERN.get(..size).unwrap_or(&[])))
}

extern "C" fn one_byte_reader(_: u64) -> ! {
    let r = end(&READ_END);
    let mut byte = [0u8; 1];
    match r.read(&mut byte) {
        Ok(n) => {
            BYTES_OUT.fetch_add(n as u64, Ordering::Relaxed);
            SUM_OUT.fetch_add(u64::from(byte[0]), Ordering::Relaxed);
        }
        Err(e) => fail(format_args!("one-byte reader: {e:?}")),
    }
    finish()
}

// ---- 6: close_own_end ------------------------------------------------------

pub(crate) fn close_own_end() {
    let Some((r, w)) = new_pipe() else { return };
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let Some(reader) = start(reader_to_result, 0) else {
        return;
    };
    if !wait_blocked(&reader, "reader on empty") {
        return;
    }
    let _ = r.close();
    if !wait_for(done + 1, "a reader blocked on the read end closed under it") {
        // Still blocked: the rest would race with it.
        return;
    }
    let got = RESULT.load(Ordering::Acquire);
    if got != 1000 + u64::from(SysError::BadHandle.code()) {
        fail(format_args!("the reader woke with {got} (want BadHandle)"));
    }
    let again = w.write(b"x");
    if again != Err(SysError::BrokenPipe) {
        fail(format_args!("write after the read end closed: {again:?}"));
    }
    let _ = w.close();

    let Some((r, w)) = new_pipe() else { return };
    RESULT.store(u64::MAX, Ordering::Release);
    SIZE.store(PATTERN.len() as u64, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let Some(writer) = start(pattern_writer, 0) else {
        return;
    };
    if !wait_blocked(&writer, "writer on full") {
        return;
    }
    let _ = w.close();
    // Before any byte is read: the close itself must wake the writer.
    if wait_for(
        done + 1,
        "a writer blocked on the write end closed under it",
    ) {
        let got = RESULT.load(Ordering::Acquire);
        if got != CAPACITY {
            fail(format_args!(
                "the writer returned {got} (want the capacity)"
            ));
        }
    }
    let held = size_of(&r);
    if receive(&r, held, pattern, "after the write end closed") {
        let mut buf = [0u8; 4];
        let eof = r.read(&mut buf);
        if eof != Ok(0) {
            fail(format_args!("after the bytes: {eof:?} (want end of file)"));
        }
    }
    let _ = r.close();
}

// ---- 7: kill_blocked --------------------------------------------------------

pub(crate) fn kill_blocked() {
    suspended_reader();
    // A reader killed while blocked takes nothing.
    let Some((r, w)) = new_pipe() else { return };
    let Some(reader) = start(reader_to_result, 0) else {
        return;
    };
    if !wait_blocked(&reader, "reader to kill") {
        return;
    }
    if let Err(e) = reader.terminate(0) {
        fail(format_args!("terminate the reader: {e:?}"));
    }
    let mut buf = [0u8; 4];
    let got = (w.write(b"z"), r.read(&mut buf));
    if got != (Ok(1), Ok(1)) || buf[0] != b'z' {
        fail(format_args!("after the reader was killed: {got:?} {buf:?}"));
    }
    // A writer killed while blocked in a 4,096-byte write leaves nothing.
    if w.write(&PATTERN[..16384]) != Ok(16384) {
        fail(format_args!("fill the pipe"));
        return;
    }
    SIZE.store(4096, Ordering::Release);
    let Some(writer) = start(ee_writer, 0) else {
        return;
    };
    if !wait_blocked(&writer, "writer to kill") {
        return;
    }
    if let Err(e) = writer.terminate(0) {
        fail(format_args!("terminate the writer: {e:?}"));
    }
    if receive(&r, 16384, pattern, "after the writer was killed") && size_of(&r) != 0 {
        fail(format_args!("the killed writer left {} bytes", size_of(&r)));
    }
    let got = (w.write(b"q"), r.read(&mut buf));
    if got != (Ok(1), Ok(1)) || buf[0] != b'q' {
        fail(format_args!("after the writer was killed: {got:?} {buf:?}"));
    }
    // 8 readers blocked on one end, 4 killed: the others get the bytes.
    let done = DONE.load(Ordering::Acquire);
    let mut readers = [const { None }; 8];
    for slot in &mut readers {
        *slot = start(one_byte_reader, 0);
    }
    for reader in readers.iter().flatten() {
        if !wait_blocked(reader, "one of 8 readers") {
            return;
        }
    }
    for (i, slot) in readers.iter_mut().enumerate() {
        if let (0, Some(reader)) = (i % 2, slot.take()) {
            if let Err(e) = reader.terminate(0) {
                fail(format_args!("terminate reader {i}: {e:?}"));
            }
        }
    }
    for byte in 1..=4u8 {
        if w.write(&[byte]) != Ok(1) {
            fail(format_args!("write byte {byte}"));
        }
    }
    if wait_for(done + 4, "the 4 surviving readers") {
        let (bytes, sum) = (
            BYTES_OUT.load(Ordering::Relaxed),
            SUM_OUT.load(Ordering::Relaxed),
        );
        if (bytes, sum, size_of(&r)) != (4, 10, 0) {
            fail(format_args!("survivors read {bytes} bytes, sum {sum}"));
        }
    }
    let _ = (r.close(), w.close());
}

/// A reader suspended while blocked is not woken by the write (its wake
/// is spent on a thread that cannot run); resumed, it looks again and
/// reads the byte.
fn suspended_reader() {
    let Some((r, w)) = new_pipe() else { return };
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let Some(reader) = start(reader_to_result, 0) else {
        return;
    };
    if !wait_blocked(&reader, "reader to suspend") {
        return;
    }
    let steps = (reader.suspend(), w.write(b"s"));
    if steps != (Ok(()), Ok(1)) || RESULT.load(Ordering::Acquire) != u64::MAX {
        fail(format_args!("suspend, then write: {steps:?}"));
    }
    if let Err(e) = reader.resume() {
        fail(format_args!("resume: {e:?}"));
    }
    if wait_for(done + 1, "the resumed reader") {
        let got = (RESULT.load(Ordering::Acquire), size_of(&r));
        if got != (1, 0) {
            fail(format_args!(
                "the resumed reader: {got:?} (want 1 byte read)"
            ));
        }
    }
    let _ = (r.close(), w.close());
}

// ---- 8: sizes -------------------------------------------------------------------

pub(crate) fn sizes() {
    for size in [4096u64, 4097, 16384, 16385] {
        let Some((r, w)) = new_pipe() else { return };
        SIZE.store(size, Ordering::Release);
        RESULT.store(u64::MAX, Ordering::Release);
        let done = DONE.load(Ordering::Acquire);
        let _ = start(pattern_writer, 0);
        receive(&r, size, pattern, "a boundary size");
        if wait_for(done + 1, "boundary writer") && RESULT.load(Ordering::Acquire) != size {
            fail(format_args!(
                "write of {size} returned {}",
                RESULT.load(Ordering::Acquire)
            ));
        }
        let _ = (r.close(), w.close());
    }
    // 4,095 bytes free: a 4,096-byte write waits, whole, for one more.
    let Some((r, w)) = new_pipe() else { return };
    if w.write(&PATTERN[..12289]) != Ok(12289) {
        fail(format_args!("fill to 12,289"));
        return;
    }
    SIZE.store(4096, Ordering::Release);
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let Some(writer) = start(ee_writer, 0) else {
        return;
    };
    if !wait_blocked(&writer, "atomic writer with 4,095 free") {
        return;
    }
    if size_of(&r) != 12289 {
        fail(format_args!(
            "split atomic write: {} bytes held",
            size_of(&r)
        ));
    }
    receive(&r, 1, pattern, "the byte that makes room");
    if wait_for(done + 1, "atomic writer") && RESULT.load(Ordering::Acquire) != 4096 {
        fail(format_args!(
            "atomic write: {}",
            RESULT.load(Ordering::Acquire)
        ));
    }
    receive(&r, 12288, |i| pattern(i + 1), "bytes before the record");
    receive(&r, 4096, |_| 0xee, "the record");
    let _ = (r.close(), w.close());
}

// ---- 9: buffers -----------------------------------------------------------------

/// A page at a fixed address, its next page unmapped.
const EDGE: u64 = 0x0000_5000_0000_0000;

fn raw_call(sio: &Sio, op: Call, addr: u64, len: u64) -> Result<usize, SysError> {
    raw(sio.handle(), op, addr, len)
}

pub(crate) fn buffers() {
    let Some((r, w)) = new_pipe() else { return };
    // Read into our own code and read-only data.
    let _ = w.write(b"kk");
    let code = main_address();
    let rodata = PATTERN.as_ptr() as u64 + 100;
    let first = rodata_byte();
    for (what, addr) in [("code", code), ("read-only data", rodata)] {
        let got = raw_call(&r, Call::Read, addr, 1);
        if got != Err(SysError::BadAddress) {
            fail(format_args!("read into our {what}: {got:?}"));
        }
    }
    if rodata_byte() != first || size_of(&r) != 2 {
        fail(format_args!("read-only read changed data or lost a byte"));
        return;
    }
    // Straddling an unmapped page, the user/kernel boundary, wrapping.
    let edge = match Smem::create_at(EDGE, 2 * 4096, Prot::READ | Prot::WRITE) {
        Ok(m) => m,
        Err(e) => {
            fail(format_args!("map the edge pages: {e:?}"));
            return;
        }
    };
    let end = edge.addr() + edge.len();
    let bad = [
        // One mapped byte, then the unmapped page: the 2 bytes held
        // cannot land whole, nor can 200 be taken.
        (end - 1, 200),
        (0x0000_7fff_ffff_f000, 0x2000),
        (0x0000_8000_0000_0000, 1),
        (0x8000_0000_0000_0000, 16),
        (u64::MAX - 7, 16),
        (edge.addr(), u64::MAX),
        (edge.addr(), 1 << 63),
    ];
    for (addr, len) in bad {
        if size_of(&r) != 2 {
            // A byte was lost: a read on the empty pipe would block.
            fail(format_args!(
                "before {addr:#x}+{len:#x}: {} held",
                size_of(&r)
            ));
            return;
        }
        let got = (
            raw_call(&w, Call::Write, addr, len),
            raw_call(&r, Call::Read, addr, len),
        );
        let want = Err(SysError::BadAddress);
        if got != (want, want) || size_of(&r) != 2 {
            fail(format_args!(
                "{addr:#x}+{len:#x}: {got:?}, {} held",
                size_of(&r)
            ));
        }
    }
    if size_of(&r) != 2 || !receive(&r, 2, |_| b'k', "after the bad buffers") {
        return;
    }
    // A long write faulting in its third piece: the two before it count.
    let got = raw_call(&w, Call::Write, edge.addr(), edge.len() + 100);
    if got != Ok(8192) || size_of(&r) != 8192 {
        fail(format_args!(
            "long faulting write: {got:?}, {} held",
            size_of(&r)
        ));
    }
    // Drain to a buffer that ends mid-way: what fits, nothing lost.
    let got = raw_call(&r, Call::Read, end - 100, 100);
    if got != Ok(100) || size_of(&r) != 8092 {
        fail(format_args!(
            "read at the edge: {got:?}, {} held",
            size_of(&r)
        ));
    }
    let _ = edge.free();
    // Handles past the table, an end closed then reused, the console's
    // mode, the routines text.
    for index in [0x00ff_ffff, u32::MAX >> 8, 4096] {
        let sio = Sio::from_handle(Handle::new(index));
        let got = (sio.read(&mut [0u8; 4]), sio.write(b"x"));
        if got.0.is_ok() || got.1.is_ok() {
            fail(format_args!("handle {index}: {got:?}"));
        }
    }
    let modes = (r.set_tty_mode(TtyMode::RAW), w.set_tty_mode(TtyMode::ECHO));
    if modes != (Err(SysError::WrongKind), Err(SysError::WrongKind)) {
        fail(format_args!("TtyMode on an end: {modes:?}"));
    }
    let mut text = [0u8; 512];
    let routines = (r.routines(&mut text), w.routines(&mut text));
    if !matches!(routines, (Ok(1..), Ok(1..))) {
        fail(format_args!("routines of the ends: {routines:?}"));
    }
    let stale = Sio::from_handle(r.handle());
    let _ = r.close();
    let again = (stale.read(&mut [0u8; 4]), w.write(b"x"));
    if again != (Err(SysError::BadHandle), Err(SysError::BrokenPipe)) {
        fail(format_args!("a closed read end: {again:?}"));
    }
    if let Ok(null) = Sio::open("/dev/null", OpenFlags::READ) {
        // The freed slot's new occupant is no pipe.
        let got = stale.read(&mut [0u8; 4]);
        if null.handle() == stale.handle() && got != Ok(0) {
            fail(format_args!("the reused slot read {got:?}"));
        }
        let _ = null.close();
    }
    let _ = w.close();
    full_table();
}

/// A full handle table: the pipe fails and gives its one slot back.
fn full_table() {
    let mut last = None;
    let mut opened = 0u32;
    loop {
        match Sio::open("/dev/null", OpenFlags::READ) {
            Ok(s) => {
                opened += 1;
                last = Some(s.handle());
                if opened > 100_000 {
                    fail(format_args!("the handle table never filled"));
                    return;
                }
            }
            Err(SysError::TooManyHandles) => break,
            Err(e) => {
                fail(format_args!("filling the table: {e:?}"));
                return;
            }
        }
    }
    let Some(last) = last else { return };
    let _ = Sio::from_handle(last).close();
    let got = Sio::pipe();
    if got.as_ref().err() != Some(&SysError::TooManyHandles) {
        fail(format_args!("a pipe with one free slot: {got:?}"));
    }
    match Sio::open("/dev/null", OpenFlags::READ) {
        Ok(s) if s.handle() == last => {}
        other => fail(format_args!("the slot after the pipe failed: {other:?}")),
    }
    // Every /dev/null goes at the SMACH's exit.
}

/// `PATTERN[100]` as memory holds it now (not as the compiler knows it).
fn rodata_byte() -> u8 {
    // SAFETY: a byte inside `PATTERN`, a static, read in place.
    unsafe { core::ptr::read_volatile(PATTERN.as_ptr().add(100)) }
}

/// The address of `main`'s code.
fn main_address() -> u64 {
    let f: fn() -> i32 = super::main;
    f as usize as u64
}

// ---- 10: lone -----------------------------------------------------------------------

pub(crate) fn lone(read: bool) -> i32 {
    let Some((r, w)) = new_pipe() else { return 1 };
    let got = if read {
        r.read(&mut [0u8; 16])
    } else {
        w.write(&PATTERN[..16385])
    };
    sk_user::println!("pipetest: lone: woke with {got:?}");
    1
}

// ---- 11: exit_blocked ------------------------------------------------------------------

pub(crate) fn exit_blocked() {
    let Some((_r, _w)) = new_pipe() else { return };
    let mut blocked = [const { None }; 6];
    for slot in &mut blocked[..3] {
        *slot = start(one_byte_reader, 0);
    }
    // Blocked before the second pipe takes over the shared end numbers.
    for scpu in blocked[..3].iter().flatten() {
        if !wait_blocked(scpu, "exit_blocked reader") {
            return;
        }
    }
    let Some((_r2, w2)) = new_pipe() else { return };
    if w2.write(&PATTERN[..16384]) != Ok(16384) {
        fail(format_args!("fill the second pipe"));
    }
    SIZE.store(4096, Ordering::Release);
    for slot in &mut blocked[3..] {
        *slot = start(ee_writer, 0);
    }
    for scpu in blocked[3..].iter().flatten() {
        if !wait_blocked(scpu, "exit_blocked writer") {
            return;
        }
    }
    // Return with every end held and 6 SCPUs blocked.
}
