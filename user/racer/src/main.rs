//! `racer`: races a second SCPU of the same SMACH against a long call
//! that the kernel moves in pieces with preemption points between them
//! (`sk_sio::transfer_in_chunks`, `scheduler::preemption_point`).
//!
//! The *caller* SCPU runs at priority 0 (a one-tick quantum) and makes one
//! long call (16 MiB, about 256 pieces of 64 KiB, several timer ticks); the
//! main SCPU, the *racer*, waits until the caller is inside the call (the
//! caller raises `IN_CALL` right before the `syscall`, and the racer only
//! gets the CPU back when the caller's quantum ran out, i.e. at a
//! preemption point of the call), does one hostile thing, and checks what
//! the kernel did. The start argument is the mode:
//!
//! | mode | the call (caller) | the racer, between two pieces | passes when |
//! |---|---|---|---|
//! | 1 | 16 MiB write (table route: the synthesized RAM-file write sends it to the generic path) from a buffer of `A` to `/tmp/rv.a` at handle h | closes h, opens `/tmp/rv.b` for writing (gets h again) | the transfer ended at the close: `/tmp/rv.b` is empty and `/tmp/rv.a` holds exactly what the call returned |
//! | 2 | 16 MiB read of `/dev/zero` (table route) into a buffer of `0xa5` at handle h | closes h, opens `/dev/mem` (gets h again) | the buffer holds zeros up to what the call returned and `0xa5` after it (no `/dev/mem` bytes) |
//! | 3 | 16 MiB read of `/dev/zero` | terminates the caller's SCPU | the racer goes on, the caller never returns; exit 0 (the kernel test checks for leaks) |
//! | 4 | 16 MiB read of `/dev/zero` | exits the SMACH with status 42 | (the kernel test checks the status and leaks) |
//! | 5 | 16 MiB read of a 16 MiB file of `B` into SMEM region R | frees R, maps a read-only zeroed region at R's address | the call returned a partial count (or an error), the new region is still all zero: no kernel write through a read-only user page |
//! | 7 | (control for 3) 1-byte read, then spins | terminates the caller once it is back in user mode | exit 0 |
//! | 6 | 16 MiB read of a 16 MiB file of `B` | truncates the file and writes 1 MiB of `C` | every byte the call returned is `B` or `C` |
//! | 8 | read of `/dev/tty` (no input comes: it blocks) | terminates the caller once it is blocked | exit 0 (the kernel test checks that no console reader is left behind) |
//!
//! Exit status: 0 = the defence held; 1 = setup failed; 3 = the race was
//! not hit (the call ended before the racer ran: the test proves nothing);
//! 10 and up = a finding (the line printed says which).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use sk_user::abi::{Call, CallWord, SysError};
use sk_user::{println, OpenFlags, Prot, Scpu, Sio, Smem, Stack};

sk_user::entry!(main);

const MIB: u64 = 1 << 20;
/// Length of the long call.
const LEN: u64 = 16 * MIB;

const SETUP: i32 = 1;
const MISSED: i32 = 3;

/// Iterations of the racer's waiting loop (the caller starts its call
/// right after it advanced: a whole quantum lies ahead).
static COUNT: AtomicU64 = AtomicU64::new(0);
/// Set by the caller right before the `syscall`.
static IN_CALL: AtomicU64 = AtomicU64::new(0);
/// Set by the caller after the call returned.
static DONE: AtomicU64 = AtomicU64::new(0);
/// The call's `rax`.
static RESULT: AtomicI64 = AtomicI64::new(0);
/// Call word, buffer and length of the call (set by the racer).
static WORD: AtomicU64 = AtomicU64::new(0);
static BUF: AtomicU64 = AtomicU64::new(0);

static CALLER_STACK: Stack<16384> = Stack::new();

/// The caller: waits for a fresh quantum, makes the call, records it.
extern "C" fn caller(_arg: u64) -> ! {
    let seen = COUNT.load(Ordering::SeqCst);
    while COUNT.load(Ordering::SeqCst) == seen {
        core::hint::spin_loop();
    }
    IN_CALL.store(1, Ordering::SeqCst);
    // SAFETY: the buffer is an SMEM region of LEN bytes mapped read-write
    // (or freed by the racer: then the kernel answers BadAddress); no Rust
    // reference to it lives during the call.
    let got = unsafe {
        sk_user::raw::syscall3(
            WORD.load(Ordering::SeqCst),
            BUF.load(Ordering::SeqCst),
            LEN,
            0,
        )
    };
    RESULT.store(got, Ordering::SeqCst);
    DONE.store(1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// Starts the caller (priority 0) and returns once it is inside its call;
/// `Err(MISSED)` if the call was already over.
fn start_call(word: u64, buf: u64) -> Result<Scpu, i32> {
    WORD.store(word, Ordering::SeqCst);
    BUF.store(buf, Ordering::SeqCst);
    let stack = CALLER_STACK.take().ok_or(SETUP)?;
    let scpu = Scpu::create_with(caller, stack, 0, 0, 0).map_err(|e| {
        println!("racer: SCPU create: {e:?}");
        SETUP
    })?;
    while IN_CALL.load(Ordering::SeqCst) == 0 {
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    if DONE.load(Ordering::SeqCst) != 0 {
        println!("racer: the call was over before the racer ran");
        return Err(MISSED);
    }
    Ok(scpu)
}

fn wait_done() -> i64 {
    while DONE.load(Ordering::SeqCst) == 0 {
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    RESULT.load(Ordering::SeqCst)
}

fn region(fill: u8) -> Result<Smem, i32> {
    let mut r = Smem::create(LEN, Prot::READ | Prot::WRITE).map_err(|e| {
        println!("racer: SMEM create: {e:?}");
        SETUP
    })?;
    // SAFETY: mapped read-write, only this SCPU uses it now.
    unsafe { r.as_mut_slice() }.fill(fill);
    Ok(r)
}

fn open(path: &str, flags: OpenFlags) -> Result<Sio, i32> {
    Sio::open(path, flags).map_err(|e| {
        println!("racer: open {path}: {e:?}");
        SETUP
    })
}

fn size_of(path: &str) -> Result<u64, i32> {
    let sio = open(path, OpenFlags::READ)?;
    let size = sio.query().map_err(|_| SETUP)?.size;
    let _ = sio.close();
    Ok(size)
}

fn word(sio: &Sio, call: Call) -> u64 {
    CallWord::new(sio.handle(), call).get()
}

fn show(got: i64) -> &'static str {
    match SysError::decode_return(got) {
        Ok(_) => "ok",
        Err(_) => "error",
    }
}

/// A file of LEN bytes of `fill`.
fn big_file(path: &str, fill: u8) -> Result<(), i32> {
    let src = region(fill)?;
    let f = open(
        path,
        OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )?;
    // SAFETY: the region is mapped and no reference to it lives.
    let got = unsafe { sk_user::raw::syscall2(word(&f, Call::Write), src.addr(), LEN) };
    let _ = f.close();
    let _ = src.free();
    if u64::try_from(got).ok() != Some(LEN) {
        println!("racer: writing {path}: {got}");
        return Err(SETUP);
    }
    Ok(())
}

// ---- mode 1: close and reopen a file under a long write ----

fn reopen_write() -> Result<(), i32> {
    let src = region(b'A')?;
    let a = open(
        "/tmp/rv.a",
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )?;
    let h = a.handle();
    let _scpu = start_call(word(&a, Call::Write), src.addr())?;
    let _ = a.close();
    let b = open(
        "/tmp/rv.b",
        OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )?;
    if b.handle() != h {
        println!(
            "racer: the reopened file got handle {} not {}",
            b.handle().index(),
            h.index()
        );
        return Err(SETUP);
    }
    let got = wait_done();
    let _ = b.close();
    let (size_a, size_b) = (size_of("/tmp/rv.a")?, size_of("/tmp/rv.b")?);
    println!(
        "racer: reopen-write: the 16 MiB write returned {got} ({}); /tmp/rv.a has {size_a} bytes, /tmp/rv.b (opened on the same handle between two pieces) has {size_b}",
        show(got)
    );
    if size_b != 0 {
        println!(
            "racer: FINDING: the write went on into another file after its handle was closed and reused ({size_b} bytes of it in /tmp/rv.b)"
        );
        return Err(10);
    }
    if u64::try_from(got).ok() != Some(size_a) {
        println!("racer: FINDING: the write returned {got} but /tmp/rv.a has {size_a} bytes");
        return Err(11);
    }
    Ok(())
}

// ---- mode 2: close and reopen a device under a long read ----

fn reopen_read() -> Result<(), i32> {
    let mut dst = region(0xa5)?;
    let zero = open("/dev/zero", OpenFlags::READ)?;
    let h = zero.handle();
    let _scpu = start_call(word(&zero, Call::Read), dst.addr())?;
    let _ = zero.close();
    let mem = open("/dev/mem", OpenFlags::READ)?;
    if mem.handle() != h {
        println!(
            "racer: /dev/mem got handle {} not {}",
            mem.handle().index(),
            h.index()
        );
        return Err(SETUP);
    }
    let got = wait_done();
    let n = u64::try_from(got).unwrap_or(0);
    // SAFETY: mapped read-write; the call is over.
    let bytes = unsafe { dst.as_mut_slice() };
    let split = usize::try_from(n).unwrap_or(0).min(bytes.len());
    let (head, tail) = bytes.split_at(split);
    let nonzero_head = head.iter().filter(|&&b| b != 0).count();
    let touched_tail = tail.iter().filter(|&&b| b != 0xa5).count();
    let mem_position = mem.query().map(|i| i.position).unwrap_or(u64::MAX);
    println!(
        "racer: reopen-read: the 16 MiB /dev/zero read returned {got} ({}); {nonzero_head} non-zero bytes before that, {touched_tail} bytes changed after it; /dev/mem (opened on the same handle between two pieces) is at position {mem_position}",
        show(got)
    );
    if nonzero_head != 0 || mem_position != 0 {
        println!(
            "racer: FINDING: the read went on from /dev/mem after its handle was closed and reused ({nonzero_head} /dev/mem bytes in the buffer)"
        );
        return Err(10);
    }
    if touched_tail != 0 {
        println!("racer: FINDING: bytes past the returned count changed");
        return Err(11);
    }
    Ok(())
}

// ---- modes 3 and 4: kill the caller, exit the SMACH ----

fn kill_caller() -> Result<(), i32> {
    let dst = region(0xa5)?;
    let zero = open("/dev/zero", OpenFlags::READ)?;
    let scpu = start_call(word(&zero, Call::Read), dst.addr())?;
    scpu.terminate(0).map_err(|e| {
        println!("racer: FINDING: terminating the SCPU inside its call: {e:?}");
        12
    })?;
    // Let whatever is left run: the caller must never come back.
    for _ in 0..20_000_000 {
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    if DONE.load(Ordering::SeqCst) != 0 {
        println!("racer: FINDING: a terminated SCPU returned from its call");
        return Err(13);
    }
    println!("racer: kill-caller: the SCPU was terminated between two pieces of its call");
    let _ = zero.close();
    let _ = dst.free();
    Ok(())
}

/// Control for mode 3: the same kill, but of an SCPU that is back in
/// user mode (its call, 1 byte, is over).
fn kill_idle_caller() -> Result<(), i32> {
    let dst = region(0xa5)?;
    let zero = open("/dev/zero", OpenFlags::READ)?;
    WORD.store(word(&zero, Call::Read), Ordering::SeqCst);
    BUF.store(dst.addr(), Ordering::SeqCst);
    let stack = CALLER_STACK.take().ok_or(SETUP)?;
    let scpu = Scpu::create_with(short_caller, stack, 0, 0, 0).map_err(|_| SETUP)?;
    while DONE.load(Ordering::SeqCst) == 0 {
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    scpu.terminate(0).map_err(|_| SETUP)?;
    println!("racer: kill-idle-caller: the SCPU was terminated in user mode");
    let _ = zero.close();
    let _ = dst.free();
    Ok(())
}

extern "C" fn short_caller(_arg: u64) -> ! {
    // SAFETY: as in `caller`, for one byte.
    let got = unsafe {
        sk_user::raw::syscall3(
            WORD.load(Ordering::SeqCst),
            BUF.load(Ordering::SeqCst),
            1,
            0,
        )
    };
    RESULT.store(got, Ordering::SeqCst);
    DONE.store(1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

fn exit_smach() -> Result<(), i32> {
    let dst = region(0xa5)?;
    let zero = open("/dev/zero", OpenFlags::READ)?;
    let _scpu = start_call(word(&zero, Call::Read), dst.addr())?;
    println!("racer: exit-smach: exiting while the other SCPU is between two pieces");
    sk_user::exit(42)
}

// ---- mode 5: unmap the buffer, map a read-only one in its place ----

fn unmap_buffer() -> Result<(), i32> {
    big_file("/tmp/rv.src", b'B')?;
    let dst = region(0xa5)?;
    let addr = dst.addr();
    let src = open("/tmp/rv.src", OpenFlags::READ)?;
    let _scpu = start_call(word(&src, Call::Read), addr)?;
    dst.free().map_err(|_| SETUP)?;
    let mut ro = Smem::create_at(addr, LEN, Prot::READ).map_err(|e| {
        println!("racer: SMEM create_at: {e:?}");
        SETUP
    })?;
    let got = wait_done();
    // Make it readable by Rust code as a slice (it is mapped read-only;
    // `as_mut_slice` needs write access only for writes, none are made).
    ro.protect(Prot::READ | Prot::WRITE).map_err(|_| SETUP)?;
    // SAFETY: mapped read-write now; the call is over.
    let bytes = unsafe { ro.as_mut_slice() };
    let written = bytes.iter().filter(|&&b| b != 0).count();
    println!(
        "racer: unmap-buffer: the 16 MiB read returned {got} ({}) after its buffer was unmapped and a read-only region mapped in its place; {written} bytes of that region are non-zero",
        show(got)
    );
    let _ = src.close();
    if written != 0 {
        println!("racer: FINDING: the kernel wrote into a read-only user page");
        return Err(10);
    }
    if u64::try_from(got).ok() == Some(LEN) {
        println!("racer: FINDING: the read claims the whole length though its buffer went away");
        return Err(11);
    }
    Ok(())
}

// ---- mode 6: truncate and rewrite the file under a long read ----

fn truncate_regrow() -> Result<(), i32> {
    big_file("/tmp/rv.src", b'B')?;
    let mut dst = region(0xa5)?;
    let src = open("/tmp/rv.src", OpenFlags::READ)?;
    let _scpu = start_call(word(&src, Call::Read), dst.addr())?;
    let w = open("/tmp/rv.src", OpenFlags::WRITE | OpenFlags::TRUNCATE)?;
    let c = region(b'C')?;
    // SAFETY: the region is mapped and no reference to it lives.
    let wrote = unsafe { sk_user::raw::syscall2(word(&w, Call::Write), c.addr(), MIB) };
    let got = wait_done();
    let n = usize::try_from(got).unwrap_or(0);
    // SAFETY: mapped read-write; the call is over.
    let bytes = unsafe { dst.as_mut_slice() };
    let head = bytes.get(..n).unwrap_or(&[]);
    let (b, c_count) = (
        head.iter().filter(|&&x| x == b'B').count(),
        head.iter().filter(|&&x| x == b'C').count(),
    );
    let other = head.len() - b - c_count;
    println!(
        "racer: truncate-regrow: the 16 MiB read returned {got} ({}); truncate + 1 MiB write returned {wrote}; bytes read: {b} B, {c_count} C, {other} other",
        show(got)
    );
    let _ = (src.close(), w.close());
    if other != 0 {
        println!("racer: FINDING: the read returned bytes that were never in the file");
        return Err(10);
    }
    Ok(())
}

// ---- mode 8: kill an SCPU blocked reading the console ----

fn kill_console_reader() -> Result<(), i32> {
    let dst = region(0xa5)?;
    let tty = open("/dev/tty", OpenFlags::READ)?;
    let scpu = start_call(word(&tty, Call::Read), dst.addr())?;
    loop {
        match scpu.query().map(|i| i.state()) {
            Ok(Ok(sk_user::abi::ScpuState::Blocked)) => break,
            Ok(_) => COUNT.fetch_add(1, Ordering::SeqCst),
            Err(e) => {
                println!("racer: query of the console reader: {e:?}");
                return Err(SETUP);
            }
        };
        if DONE.load(Ordering::SeqCst) != 0 {
            println!("racer: the console read returned without input");
            return Err(MISSED);
        }
    }
    scpu.terminate(0).map_err(|e| {
        println!("racer: FINDING: terminating a blocked console reader: {e:?}");
        12
    })?;
    println!("racer: kill-console-reader: the SCPU was terminated while blocked reading /dev/tty");
    let _ = tty.close();
    let _ = dst.free();
    Ok(())
}

fn main() -> i32 {
    let verdict = match sk_user::start_arg() {
        1 => reopen_write(),
        2 => reopen_read(),
        3 => kill_caller(),
        4 => exit_smach(),
        5 => unmap_buffer(),
        6 => truncate_regrow(),
        7 => kill_idle_caller(),
        8 => kill_console_reader(),
        mode => {
            println!("racer: unknown mode {mode}");
            Err(2)
        }
    };
    verdict.map_or_else(|status| status, |()| 0)
}
