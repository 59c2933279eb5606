//! Modes 12 and 13: the generic write's count when a later piece stops
//! part-way (`Sio::write_partial`): at a buffer that ends in an unmapped
//! page, in append mode, past the end of the file, on the console, and
//! with the buffer unmapped by another SCPU between two pieces.

use core::sync::atomic::{AtomicU64, Ordering};

use sk_user::abi::{Call, SysError};
use sk_user::{println, OpenFlags, Prot, Sio, Smem, Whence};

use crate::support::{
    open, region, show, small_file, start_on, wait_flag, word, COUNT, MISSED, SETUP,
};

const KIB: u64 = 1024;
/// Mapped bytes of the buffer; the next 160 KiB are unmapped.
const MAPPED: u64 = 96 * KIB;
/// Length of the multi-piece writes (two pieces of 64 KiB).
const LONG: u64 = 128 * KIB;
/// What the buffer holds.
const FILL: u8 = b'P';

/// A raw write of `len` bytes at `buf` through `sio`.
fn raw_write(sio: &Sio, buf: u64, len: u64) -> Result<u64, SysError> {
    // SAFETY: the kernel only reads user memory for a write; an unmapped
    // part of the range is the point of the test and gets an error, not a
    // fault in this program.
    let rax =
        unsafe { sk_user::raw::syscall2(word(sio.handle(), Call::Write) | route(sio), buf, len) };
    SysError::decode_return(rax)
}

/// The route bits of `sio` (forced generic or not).
fn route(sio: &Sio) -> u64 {
    if sio.is_generic() {
        sk_user::abi::CallWord::FORCE_GENERIC
    } else {
        0
    }
}

/// Position and size of `sio`.
fn place(sio: &Sio) -> (u64, u64) {
    sio.query()
        .map_or((u64::MAX, u64::MAX), |i| (i.position, i.size))
}

/// Bytes of `path` from `from` to its end that are not `want` (None: the
/// file could not be read).
fn count_other(path: &str, from: u64, want: u8) -> Option<u64> {
    let f = Sio::open(path, OpenFlags::READ).ok()?;
    f.seek(Whence::Set, i64::try_from(from).ok()?).ok()?;
    let mut buf = [0u8; 4096];
    let mut other = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => other += buf[..n].iter().filter(|&&b| b != want).count() as u64,
            Err(_) => return None,
        }
    }
    let _ = f.close();
    Some(other)
}

/// One check: `got` must be `want`, and the file's position and size
/// after the call `pos` and `size`.
fn expect(
    what: &str,
    got: Result<u64, SysError>,
    want: Result<u64, SysError>,
    placed: (u64, u64),
    pos_size: (u64, u64),
) -> bool {
    let ok = got == want && placed == pos_size;
    println!(
        "reaper: partial-write: {what}: returned {got:?} (want {want:?}); position {}, size {} (want {}, {}){}",
        placed.0,
        placed.1,
        pos_size.0,
        pos_size.1,
        if ok { "" } else { "  <- FINDING" }
    );
    ok
}

/// Mode 12: writes from a buffer of [`MAPPED`] bytes of `P` followed by
/// unmapped pages; the count a multi-piece write returns must be exactly
/// the bytes written (the position's and the size's move).
pub(crate) fn partial_writes() -> Result<(), i32> {
    // A buffer whose end is followed by unmapped pages: map 256 KiB, free
    // it, map the first 96 KiB again at the same address.
    let probe = Smem::create(256 * KIB, Prot::READ | Prot::WRITE).map_err(|_| SETUP)?;
    let a = probe.addr();
    probe.free().map_err(|_| SETUP)?;
    let mut buf = Smem::create_at(a, MAPPED, Prot::READ | Prot::WRITE).map_err(|e| {
        println!("reaper: SMEM create_at: {e:?}");
        SETUP
    })?;
    // SAFETY: mapped read-write; only this SCPU uses it.
    unsafe { buf.as_mut_slice() }.fill(FILL);
    let end = a + MAPPED;
    let mut good = true;
    let rw = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;

    // (a) The second piece faults a third of the way in.
    let f = open("/tmp/rp.w1", rw)?;
    let got = raw_write(&f, a, LONG);
    good &= expect(
        "second piece faults part-way",
        got,
        Ok(MAPPED),
        place(&f),
        (MAPPED, MAPPED),
    );
    let _ = f.close();
    good &= count_other("/tmp/rp.w1", 0, FILL) == Some(0);

    // (b) The same in append mode, after 10 bytes.
    small_file("/tmp/rp.w2", b"0123456789")?;
    let f = open("/tmp/rp.w2", OpenFlags::WRITE | OpenFlags::APPEND)?;
    let got = raw_write(&f, a, LONG);
    let (pos, size) = place(&f);
    good &= expect(
        "append mode",
        got,
        Ok(MAPPED),
        (pos, size),
        (10 + MAPPED, 10 + MAPPED),
    );
    let _ = f.close();
    good &= count_other("/tmp/rp.w2", 10, FILL) == Some(0);

    // (c) Past the end of the file (a hole first).
    let f = open("/tmp/rp.w3", rw)?;
    f.seek(Whence::Set, 1 << 20).map_err(|_| SETUP)?;
    let got = raw_write(&f, a, LONG);
    let want = (1 << 20) + MAPPED;
    good &= expect("past the end", got, Ok(MAPPED), place(&f), (want, want));
    let _ = f.close();

    // (d) The fault in the middle of the second piece's bounce step.
    let f = open("/tmp/rp.w4", rw)?;
    let got = raw_write(&f, end - 68_000, LONG);
    good &= expect(
        "fault mid-step",
        got,
        Ok(68_000),
        place(&f),
        (68_000, 68_000),
    );
    let _ = f.close();

    // (e) The console: pieces of 64 bytes; the second stops after 36.
    let tty = Sio::console();
    println!("reaper: partial-write: 100 P follow on the console:");
    let got = raw_write(&tty, end - 100, 200);
    println!();
    good &= expect(
        "console, second piece part-way",
        got,
        Ok(100),
        (0, 0),
        (0, 0),
    );
    // (f) The console: the second piece faults at its first byte.
    println!("reaper: partial-write: 64 P follow on the console:");
    let got = raw_write(&tty, end - 64, 128);
    println!();
    good &= expect("console, second piece at once", got, Ok(64), (0, 0), (0, 0));

    // (g) A one-piece write that faults: both routes must agree.
    let mut seen = [(Err(SysError::BadCall), (0, 0)); 2];
    for (i, generic) in [false, true].into_iter().enumerate() {
        let path = if generic {
            "/tmp/rp.w5g"
        } else {
            "/tmp/rp.w5s"
        };
        let f = if generic {
            Sio::open_generic(path, rw)
        } else {
            Sio::open(path, rw)
        }
        .map_err(|_| SETUP)?;
        let got = raw_write(&f, end - 10, 100);
        seen[i] = (got, place(&f));
        let _ = f.close();
    }
    let agree = seen[0] == seen[1];
    println!(
        "reaper: partial-write: one piece faulting after 10 bytes: synthesized {:?}, generic {:?}{}",
        seen[0],
        seen[1],
        if agree { "" } else { "  <- FINDING: the routes disagree" }
    );
    good &= agree;

    // (h) The first of two pieces faults: the call fails (documented:
    // the bytes before the fault are written, as a one-piece write's).
    let f = open("/tmp/rp.w6", rw)?;
    let got = raw_write(&f, end - 10, LONG);
    let (pos, size) = place(&f);
    println!(
        "reaper: partial-write: first of two pieces faulting after 10 bytes: returned {got:?}; position {pos}, size {size}"
    );
    good &= got.is_err() && pos == size;
    let _ = f.close();

    let _ = buf.free();
    if good {
        Ok(())
    } else {
        println!(
            "reaper: FINDING: a partial write's count, position or size is wrong (lines above)"
        );
        Err(10)
    }
}

// ---- mode 13: the buffer unmapped between two pieces of a write ----

const MIB: u64 = 1 << 20;
const LEN: u64 = 16 * MIB;
static IN_CALL: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static RESULT: AtomicU64 = AtomicU64::new(0);
static WORD: AtomicU64 = AtomicU64::new(0);
static BUF: AtomicU64 = AtomicU64::new(0);

extern "C" fn long_writer(_arg: u64) -> ! {
    let seen = COUNT.load(Ordering::SeqCst);
    while COUNT.load(Ordering::SeqCst) == seen {
        core::hint::spin_loop();
    }
    IN_CALL.store(1, Ordering::SeqCst);
    // SAFETY: the kernel only reads the buffer; `main` may unmap it
    // between pieces (the point of the test: the kernel answers, this
    // program does not fault).
    let got = unsafe {
        sk_user::raw::syscall2(WORD.load(Ordering::SeqCst), BUF.load(Ordering::SeqCst), LEN)
    };
    RESULT.store(got as u64, Ordering::SeqCst);
    DONE.store(1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// Mode 13: thread W (priority 0) writes 16 MiB of `A` to a file; between
/// two pieces `main` unmaps the buffer. The call must return the bytes
/// written, equal to the file's position and size, all `A`.
pub(crate) fn write_unmap_race() -> Result<(), i32> {
    let src = region(LEN, b'A')?;
    let f = open(
        "/tmp/rp.wr",
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )?;
    WORD.store(word(f.handle(), Call::Write), Ordering::SeqCst);
    BUF.store(src.addr(), Ordering::SeqCst);
    // SAFETY: slot 0 was never used in this program.
    let w = unsafe { start_on(0, long_writer, 0, 0) }?;
    while IN_CALL.load(Ordering::SeqCst) == 0 {
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    if DONE.load(Ordering::SeqCst) != 0 {
        println!("reaper: the long write was over before main ran");
        return Err(MISSED);
    }
    src.free().map_err(|_| SETUP)?;
    wait_flag(&DONE, 16, "the end of the long write")?;
    let got = RESULT.load(Ordering::SeqCst) as i64;
    let (pos, size) = place(&f);
    let other = count_other("/tmp/rp.wr", 0, b'A');
    println!(
        "reaper: write-unmap: the 16 MiB write returned {got} ({}) after its buffer was unmapped between two pieces; position {pos}, size {size}; {other:?} bytes not A",
        show(got)
    );
    let _ = w.terminate(0);
    let _ = f.close();
    let Ok(n) = u64::try_from(got) else {
        if (pos, size) == (0, 0) {
            // Preempted before its `syscall`: the call began after the unmap.
            return Err(MISSED);
        }
        println!("reaper: FINDING: the write failed though pieces were written before the unmap");
        return Err(10);
    };
    if n == LEN {
        println!("reaper: FINDING: the write claims the whole length though its buffer went away");
        return Err(11);
    }
    if n != pos || n != size || other != Some(0) {
        println!("reaper: FINDING: the count, the position and the size disagree");
        return Err(12);
    }
    Ok(())
}
