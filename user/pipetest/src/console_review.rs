//! Modes 14 to 21: the attacker's review of `program | tty`
//! (`reconfigure(PipeToConsole)` on a pipe's write end).
//!
//! | mode | name | passes when |
//! |---|---|---|
//! | 14 | `refusals` | twice on one end: `Exists`, the routine unchanged; on the read end, the console, `/dev/null`, a semaphore, both port ends: `WrongKind`; a bad or closed handle: `BadHandle`; by a holder of a shared end (child mode 19): `NotPermitted` and the end still a pipe |
//! | 14 | `ends` | the read end closed before: the switch works and writes reach the console (the console is the reader now, not `BrokenPipe`); closed after: the same; a reader blocked on the empty ring is woken by the switch and sees end of file after the bytes written before it; a writer blocked on the full ring is woken and writes the rest to the console |
//! | 14 | `buffers` | unmapped, kernel, straddling, non-canonical, wrapping and huge buffers and 0 bytes: the console-bound end answers as the console does, on both paths |
//! | 15 | `swapped` | one long write on a console-bound end, then blocks (the in-kernel test, between two pieces, closes the end and puts a new console-bound end at the same handle: no piece of the write may go out through the new open) |
//! | 16 | `modes` | one SCPU writes lines through the end while another flips the console raw and cooked 200 times: every write whole |
//! | 17, 20 | `owner` | makes a pipe, its write end console-bound (17) or not (20), and blocks (the in-kernel test shares and revokes it, or switches it with the heap full) |
//! | 18 | `holder` | writes on every console-bound end it holds, closing a revoked one (never exits) |
//! | 19 | — | the holder child of mode 14 |
//! | 21 | `churn` | `param` times: a pipe, a byte, the switch, a write, the read end drained (the byte, then end of file), both ends closed |
//!
//! All modes honour the generic bit (every call forced down the generic
//! path).

use core::sync::atomic::Ordering;

use sk_user::abi::{Call, Handle, OpenFlags, Prot, SioKind, SysError, TtyMode};
use sk_user::{Sio, Smach, Smem};

use crate::{
    end, fail, finish, finish_write, new_pipe, raw, start, DONE, GENERIC, RESULT, WRITE_END,
};

/// Dots for long writes to the console (no newline: one line of dots).
static DOTS: [u8; 20_000] = [b'.'; 20_000];

/// The write routine's template, or `generic`.
fn write_routine(w: &Sio) -> &'static str {
    let mut text = [0u8; 512];
    let len = w.routines(&mut text).unwrap_or(0).min(text.len());
    match sk_user::routine_of(text.get(..len).unwrap_or_default(), "write") {
        Some(sk_user::Routine::Synthesized("tty_write_cooked")) => "tty_write_cooked",
        Some(sk_user::Routine::Synthesized("tty_write")) => "tty_write",
        Some(sk_user::Routine::Synthesized("pipe_write")) => "pipe_write",
        Some(sk_user::Routine::Synthesized(_)) => "another routine",
        _ => "generic",
    }
}

/// Yields until `DONE` reaches `n`, at most `tries` times.
fn done_within(n: u32, tries: u64) -> bool {
    for _ in 0..tries {
        if DONE.load(Ordering::Acquire) >= n {
            return true;
        }
        let _ = sk_user::yield_now();
    }
    false
}

fn yields(n: u32) {
    for _ in 0..n {
        let _ = sk_user::yield_now();
    }
}

// ---- 14: refusals, ends, buffers ---------------------------------------------

pub(crate) fn hostile(arg: u64) {
    refusals(arg);
    ends();
    buffers();
}

fn refusals(arg: u64) {
    let Some((r, w)) = new_pipe() else { return };
    if w.pipe_to_console() != Ok(()) {
        fail(format_args!("the first switch"));
        return;
    }
    let before = write_routine(&w);
    let twice = w.pipe_to_console();
    if twice != Err(SysError::Exists) || write_routine(&w) != before {
        fail(format_args!(
            "a second switch: {twice:?}, the write {before} -> {}",
            write_routine(&w)
        ));
    }
    let line = b"pipetest: console review: after a second switch\n";
    if w.write(line) != Ok(line.len()) {
        fail(format_args!("a write after the refused second switch"));
    }
    let not_pipes: [(&str, Result<Sio, SysError>); 3] = [
        ("the read end", Ok(Sio::from_handle(r.handle()))),
        ("the console", Ok(Sio::console())),
        ("/dev/null", Sio::open("/dev/null", OpenFlags::WRITE)),
    ];
    for (what, sio) in not_pipes {
        let got = sio.map(|s| s.pipe_to_console());
        if got != Ok(Err(SysError::WrongKind)) {
            fail(format_args!("switch of {what}: {got:?}"));
        }
    }
    let sem = Sio::semaphore();
    let ports = Sio::port();
    let got = (
        sem.as_ref().map(Sio::pipe_to_console),
        ports
            .as_ref()
            .map(|(rx, tx)| (rx.pipe_to_console(), tx.pipe_to_console())),
    );
    let wrong = Err(SysError::WrongKind);
    if got != (Ok(wrong), Ok((wrong, wrong))) {
        fail(format_args!("switch of a semaphore and a port: {got:?}"));
    }
    let bad = Sio::from_handle(Handle::new(999)).pipe_to_console();
    if bad != Err(SysError::BadHandle) {
        fail(format_args!("switch of handle 999: {bad:?}"));
    }
    let closed_end = w.handle();
    let _ = (r.close(), w.close());
    let closed = Sio::from_handle(closed_end).pipe_to_console();
    if closed != Err(SysError::BadHandle) {
        fail(format_args!("switch of a closed end: {closed:?}"));
    }
    holder_refused(arg);
}

/// A holder of a shared write end (child mode 19) cannot switch it: the
/// end stays a pipe, its byte reaches the read end.
fn holder_refused(arg: u64) {
    let Some((r, w)) = new_pipe() else { return };
    let child = match Smach::spawn_suspended("/bin/pipetest", (arg & 1) | 19 << 8) {
        Ok(c) => c,
        Err(e) => return fail(format_args!("spawn the holder: {e:?}")),
    };
    if w.share(&child, OpenFlags::WRITE) != Ok(Handle::new(2)) {
        return fail(format_args!("share the write end at 2"));
    }
    let status = child.resume().and_then(|()| child.wait());
    let mut buf = [0u8; 4];
    let got = r.read(&mut buf);
    if status != Ok(0) || got != Ok(1) || buf[0] != b'h' {
        fail(format_args!(
            "the holder: status {status:?}, read {got:?} {buf:?}"
        ));
    }
    if write_routine(&w) == "tty_write_cooked" || w.write(b"o") != Ok(1) {
        fail(format_args!("the holder's refused switch changed the end"));
    }
    let _ = (r.close(), w.close());
}

/// Child mode 19: the holder's switch is refused; a write still goes to
/// the pipe.
pub(crate) fn holder_child() {
    let w = Sio::from_handle(Handle::new(2));
    let got = w.pipe_to_console();
    if got != Err(SysError::NotPermitted) {
        fail(format_args!("a holder's switch: {got:?}"));
    }
    if w.write(b"h") != Ok(1) {
        fail(format_args!("the holder's write after the refusal"));
    }
}

extern "C" fn drain_reader(_: u64) -> ! {
    let r = end(&crate::READ_END);
    let mut buf = [0u8; 64];
    let mut total = 0u64;
    let result = loop {
        match r.read(&mut buf) {
            Ok(0) => break total,
            Ok(n) => total += n as u64,
            Err(e) => break 1000 + u64::from(e.code()),
        }
    };
    RESULT.store(result, Ordering::Release);
    finish()
}

extern "C" fn dots_writer(_: u64) -> ! {
    let w = end(&WRITE_END);
    finish_write(w.write(&DOTS))
}

fn ends() {
    // The read end closed before the switch: the console is the reader.
    let Some((r, w)) = new_pipe() else { return };
    let _ = r.close();
    let broken = w.write(b"x");
    let switched = w.pipe_to_console();
    let line = b"pipetest: console review: read end closed before\n";
    let wrote = w.write(line);
    if (broken, switched, wrote) != (Err(SysError::BrokenPipe), Ok(()), Ok(line.len())) {
        fail(format_args!(
            "read end closed before: {broken:?} {switched:?} {wrote:?}"
        ));
    }
    let _ = w.close();
    // Closed after: writes still reach the console.
    let Some((r, w)) = new_pipe() else { return };
    let switched = w.pipe_to_console();
    let _ = r.close();
    let line = b"pipetest: console review: read end closed after\n";
    let wrote = w.write(line);
    if (switched, wrote) != (Ok(()), Ok(line.len())) {
        fail(format_args!(
            "read end closed after: {switched:?} {wrote:?}"
        ));
    }
    let _ = w.close();
    // A reader asleep on the empty ring: the switch wakes it; it reads the
    // bytes written before, then end of file.
    let Some((r, w)) = new_pipe() else { return };
    let _ = w.write(b"abc");
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let _ = start(drain_reader, 0);
    yields(50);
    if RESULT.load(Ordering::Acquire) != u64::MAX {
        fail(format_args!("the reader did not block"));
    }
    let _ = w.pipe_to_console();
    if !done_within(done + 1, 20_000) || RESULT.load(Ordering::Acquire) != 3 {
        fail(format_args!(
            "a reader asleep at the switch: {} (want 3 bytes, then end of file)",
            RESULT.load(Ordering::Acquire)
        ));
        return;
    }
    let _ = (r.close(), w.close());
    // A writer asleep on the full ring: woken, the rest goes to the console.
    let Some((r, w)) = new_pipe() else { return };
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let _ = start(dots_writer, 0);
    yields(50);
    if RESULT.load(Ordering::Acquire) != u64::MAX {
        fail(format_args!("the writer did not block"));
    }
    let _ = w.pipe_to_console();
    let woken = done_within(done + 1, 20_000);
    let _ = w.write(b"\n");
    if !woken || RESULT.load(Ordering::Acquire) != DOTS.len() as u64 {
        fail(format_args!(
            "a writer asleep at the switch: {} (want {})",
            RESULT.load(Ordering::Acquire),
            DOTS.len()
        ));
        return;
    }
    let _ = (r.close(), w.close());
    // The same, with the rest of the buffer unmapped: the console's first
    // piece faults after the ring took PIPE_CAPACITY bytes, which the
    // reader still gets; the call returns their count, not an error
    // (a caller that retried on the error would write them twice).
    let edge = match Smem::create_at(RING_EDGE, RING_BYTES, Prot::READ | Prot::WRITE) {
        Ok(m) => m,
        Err(e) => return fail(format_args!("map the ring-sized pages: {e:?}")),
    };
    let Some((r, w)) = new_pipe() else { return };
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let _ = start(edge_writer, 0);
    yields(50);
    if RESULT.load(Ordering::Acquire) != u64::MAX {
        fail(format_args!("the edge writer did not block"));
    }
    let _ = w.pipe_to_console();
    let woken = done_within(done + 1, 20_000);
    if !woken || RESULT.load(Ordering::Acquire) != RING_BYTES {
        fail(format_args!(
            "a writer asleep at the switch, its rest unmapped: {} (want {RING_BYTES}, the bytes in the ring)",
            RESULT.load(Ordering::Acquire)
        ));
    }
    let _ = (r.close(), w.close(), edge.free());
}

/// Where `edge_writer`'s buffer lies: [`RING_BYTES`] mapped, then nothing.
const RING_EDGE: u64 = 0x0000_5200_0000_0000;
/// The pipe's capacity (`sk_sio::PIPE_CAPACITY`).
const RING_BYTES: u64 = 16 * 1024;

/// Writes `RING_BYTES + 100` bytes from [`RING_EDGE`]: the ring takes the
/// mapped part, the rest is unmapped.
extern "C" fn edge_writer(_: u64) -> ! {
    let w = end(&WRITE_END);
    finish_write(crate::raw_write(&w, RING_EDGE, RING_BYTES + 100))
}

/// Where the edge pages go (unused by the other modes of this run).
const EDGE: u64 = 0x0000_5100_0000_0000;

fn buffers() {
    let Some((r, w)) = new_pipe() else { return };
    if w.pipe_to_console() != Ok(()) {
        return fail(format_args!("switch"));
    }
    let edge = match Smem::create_at(EDGE, 2 * 4096, Prot::READ | Prot::WRITE) {
        Ok(m) => m,
        Err(e) => return fail(format_args!("map the edge pages: {e:?}")),
    };
    let end_addr = edge.addr() + edge.len();
    // SAFETY: the 2 pages just mapped read-write, ours alone.
    let bytes =
        unsafe { core::slice::from_raw_parts_mut(edge.addr() as *mut u8, edge.len() as usize) };
    bytes.fill(b'-');
    let cases = [
        (crate::UNMAPPED, 4),
        (crate::UNMAPPED, 1 << 40),
        (0xffff_8000_0000_0000, 4),
        (0x10, 4),
        (end_addr - 3, 300),
        (end_addr - 300, 600),
        (0x0000_7fff_ffff_f000, 0x2000),
        (0x8000_0000_0000_0000, 16),
        (u64::MAX - 7, 16),
        (edge.addr(), u64::MAX),
        (edge.addr(), 1 << 63),
        (edge.addr(), 0),
        (crate::UNMAPPED, 0),
    ];
    let console = Sio::console();
    for (addr, len) in cases {
        let pipe = raw(w.handle(), Call::Write, addr, len);
        let tty = raw(console.handle(), Call::Write, addr, len);
        if pipe != tty || (len >= 1 << 40 && pipe.is_ok()) {
            fail(format_args!(
                "{addr:#x}+{len:#x}: the end {pipe:?}, the console {tty:?}"
            ));
        }
    }
    let _ = w.write(b"\n");
    let _ = (r.close(), w.close());
}

// ---- 15: a long write while the end is swapped -------------------------------

/// Mode 15: a console-bound end, one long write of 20,000 dots on it
/// (the in-kernel test's hook, run between two of its pieces, swaps the
/// end for a new console-bound one at the same handle), then blocks for
/// good.
pub(crate) fn swapped_writer() {
    let Some((_r, w)) = new_pipe() else { return };
    if w.pipe_to_console() != Ok(()) {
        return fail(format_args!("switch"));
    }
    let _ = end(&WRITE_END).write(&DOTS);
    let Some((block_r, _block_w)) = new_pipe() else {
        return;
    };
    let mut b = [0u8; 1];
    let _ = block_r.read(&mut b);
    fail(format_args!("the writer's block ended"));
}

// ---- 16: mode changes during writes -----------------------------------------

extern "C" fn line_writer(_: u64) -> ! {
    let w = end(&WRITE_END);
    let mut line = [b':'; 300];
    line[299] = b'\n';
    let mut bad = 0u64;
    for i in 0..300u64 {
        let len = 1 + (i * 37 % 300) as usize;
        if w.write(&line[300 - len..]) != Ok(len) {
            bad += 1;
        }
    }
    RESULT.store(bad, Ordering::Release);
    finish()
}

pub(crate) fn modes() {
    let Some((r, w)) = new_pipe() else { return };
    if w.pipe_to_console() != Ok(()) {
        return fail(format_args!("switch"));
    }
    let console = Sio::console();
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let _ = start(line_writer, 0);
    let mut flips = 0;
    while DONE.load(Ordering::Acquire) == done && flips < 200 {
        let mode = if flips % 2 == 0 {
            TtyMode::RAW
        } else {
            TtyMode::DEFAULT
        };
        if console.set_tty_mode(mode) != Ok(()) {
            fail(format_args!("mode change {flips}"));
        }
        flips += 1;
        let _ = sk_user::yield_now();
    }
    let _ = console.set_tty_mode(TtyMode::DEFAULT);
    if !done_within(done + 1, 20_000_000) || RESULT.load(Ordering::Acquire) != 0 {
        fail(format_args!(
            "writes during {flips} mode changes: {} not whole",
            RESULT.load(Ordering::Acquire)
        ));
    }
    let template = write_routine(&w);
    let want = if GENERIC.load(Ordering::Relaxed) || template == "generic" {
        "generic"
    } else {
        "tty_write_cooked"
    };
    if template != want {
        fail(format_args!(
            "after the mode changes the write is {template}"
        ));
    }
    let _ = (r.close(), w.close());
}

// ---- 21: churn ---------------------------------------------------------------

/// Mode 21: `n` times a pipe, a byte in it, the switch, a write to the
/// console, the read end drained and both ends closed (the leak check's
/// workload).
pub(crate) fn churn(n: u64) {
    for i in 0..n {
        let Some((r, w)) = new_pipe() else { return };
        let mut b = [0u8; 2];
        let got = (
            w.write(b"c"),
            w.pipe_to_console(),
            w.write(b"+"),
            r.read(&mut b),
            r.read(&mut b),
        );
        if got != (Ok(1), Ok(()), Ok(1), Ok(1), Ok(0)) {
            return fail(format_args!("churn {i}: {got:?}"));
        }
        if i % 2 == 0 {
            let _ = (r.close(), w.close());
        } else {
            let _ = (w.close(), r.close());
        }
    }
    let _ = Sio::console().write(b"\n");
}

// ---- 17, 18: the revocation race's owner and holder ------------------------

/// Modes 17 and 20: a pipe, its write end console-bound (`switch`) or
/// not, then blocks for good (the test finds the end itself).
pub(crate) fn owner(switch: bool) {
    let Some((_r, w)) = new_pipe() else { return };
    if switch && w.pipe_to_console() != Ok(()) {
        return fail(format_args!("switch"));
    }
    let Some((block_r, _block_w)) = new_pipe() else {
        return;
    };
    let mut b = [0u8; 1];
    let _ = block_r.read(&mut b);
    fail(format_args!("the owner's block ended"));
}

/// Mode 18: writes 130 spaces (3 pieces) on every console-bound end it
/// holds (handles 2..16), closing one whose call says `Revoked`; yields
/// after each sweep (the console's output stays small).
pub(crate) fn holder_loop() {
    let spaces = [b' '; 130];
    let generic = GENERIC.load(Ordering::Relaxed);
    loop {
        for n in 2..16 {
            let mut sio = Sio::from_handle(Handle::new(n));
            if generic {
                sio = sio.generic();
            }
            match sio.query() {
                Ok(info) if info.kind() == Ok(SioKind::PipeWrite) => {}
                Err(SysError::Revoked) => {
                    let _ = sio.close();
                    continue;
                }
                _ => continue,
            }
            match sio.write(&spaces) {
                Ok(_) => {}
                Err(SysError::Revoked) => {
                    let _ = sio.close();
                }
                Err(e) => fail(format_args!("a holder's write: {e:?}")),
            }
        }
        let _ = sk_user::yield_now();
    }
}
