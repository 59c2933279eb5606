//! `sharetest`: SIOs shared between SMACHs, and revocation. The parent
//! modes run the scenario with a child SMACH (this same program in a child
//! mode), made suspended so the shares are in place at known handles (2,
//! 3, ...) before it runs; every parent mode also runs with every call
//! forced down the generic path.
//!
//! The start argument is `mode << 40 | generic << 32 | param`.
//!
//! | mode | name | passes when |
//! |---|---|---|
//! | 0 | `use` | a RAM file (read-write), a semaphore, a pipe's write end and another pipe's read end shared with a child: the child writes the file, V's the semaphore, sends `ping` and reads `pong`; the parent sees it all; the child's `query` shows its rights |
//! | 1 | `readonly` | a file and a semaphore shared read-only: the child reads and P's, its writes and V's fail with `NotPermitted` and change nothing; sharing rights the open lacks is `NotPermitted` |
//! | 2 | `race` | `param` revokes (≥ 10,000) while the child loops calling V on a shared semaphore and writing a shared file: after each revoke returns, the semaphore's count and the file's size never move again (no holder call completes after revoke); each round shares them again |
//! | 3 | `long` | as `race` with 1 MiB writes (16 pieces with preemption points between them), 40 rounds, the child at the lowest priority and never yielding (the parent runs when the timer preempts it, mostly inside a write): a revoke between two pieces stops the write there (the count of such revokes is printed) |
//! | 4 | `blocked` | a child blocked in P on a shared semaphore, then in a read of a shared empty pipe, then in a read of the parent's console (no input comes): each revoke wakes it and its call fails with `Revoked`; its slots read back as the stubs |
//! | 5 | `hostile` | share to a bad handle, to a non-SMACH, to oneself, with rights it lacks or unknown; a holder cannot share or revoke; revoke twice (1 then 0); the owner's close revokes; close after revoke works once; the child exits holding a share and the parent's object still works |
//! | 6 | `pingpong` | `param` 1-byte round trips through two pipes between two SMACHs; prints TSC ticks per round trip |
//! | 7 | `selfcheck` | mode 2 with 200 rounds; exits 0 if a call DID complete after a revoke (run with the kernel's revoke replug disabled: the check can fail) |
//! | 10-17 | — | the children of modes 0-7 |
//!
//! Exit status: 0 = passed, 1 = a check failed (the line says which),
//! 2 = unknown mode.
#![no_std]
#![no_main]

use sk_user::abi::{Handle, OpenFlags, SioKind, SmachState, SysError, Whence};
use sk_user::{println, rdtsc, Sio, Smach};

sk_user::entry!(main);

const PATH: &str = "/bin/sharetest";
const RW: OpenFlags = OpenFlags::READ.union(OpenFlags::WRITE);
const BIG: usize = 1 << 20;
/// The children's write buffer (zeros: no room in the image).
static BIG_BUF: [u8; BIG] = [0; BIG];

/// `Err(line)` on a failed check; `main` prints it.
type Check = Result<(), &'static str>;

fn ensure(ok: bool, what: &'static str) -> Check {
    if ok {
        Ok(())
    } else {
        Err(what)
    }
}

fn h(n: u32) -> Sio {
    Sio::from_handle(Handle::new(n))
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let (mode, generic, param) = (arg >> 40, (arg >> 32) & 0xff != 0, arg & 0xffff_ffff);
    sk_user::set_generic_mode(generic);
    let result = match mode {
        0 => use_shared(arg),
        1 => read_only(arg),
        2 => race(arg, param.max(1), 64, false),
        3 => race(arg, 40, BIG, false),
        4 => blocked(arg),
        5 => hostile(arg),
        6 => pingpong(arg, param.max(1)),
        7 => race(arg, 200, 64, true),
        10 => child_use(),
        11 => child_read_only(),
        12 => child_loop(
            usize::try_from(param & 0xff_ffff).unwrap_or(0),
            param >> 24 == 0,
        ),
        14 => child_blocked(),
        15 => child_hostile(),
        16 => Ok(()),
        18 => child_pingpong(param),
        _ => return 2,
    };
    match result {
        Ok(()) => 0,
        Err(what) => {
            println!("sharetest mode {mode} (generic {generic}): FAILED: {what}");
            1
        }
    }
}

/// A child in mode `child` (same generic flag), suspended.
fn spawn(arg: u64, child: u64, param: u64) -> Result<Smach, &'static str> {
    let arg = (child << 40) | (arg & (0xff << 32)) | (param & 0xffff_ffff);
    Smach::spawn_suspended(PATH, arg).map_err(|_| "spawn the child")
}

fn run_child(child: &Smach) -> Check {
    child.resume().map_err(|_| "resume")?;
    ensure(child.wait() == Ok(0), "the child failed (see its line)")
}

fn file(name: &str) -> Result<Sio, &'static str> {
    Sio::open(name, RW | OpenFlags::CREATE | OpenFlags::TRUNCATE).map_err(|_| "open the file")
}

fn size(sio: &Sio) -> u64 {
    sio.query().map_or(u64::MAX, |i| i.size)
}

// ---- mode 0: use --------------------------------------------------------

fn use_shared(arg: u64) -> Check {
    let f = file("/tmp/share-use")?;
    let sem = Sio::semaphore().map_err(|_| "semaphore")?;
    let (to_child_r, to_child_w) = Sio::pipe().map_err(|_| "pipe")?;
    let (to_parent_r, to_parent_w) = Sio::pipe().map_err(|_| "pipe")?;
    let child = spawn(arg, 10, 0)?;
    ensure(f.share(&child, RW) == Ok(Handle::new(2)), "file at 2")?;
    ensure(
        sem.share(&child, RW) == Ok(Handle::new(3)),
        "semaphore at 3",
    )?;
    ensure(
        to_parent_w.share(&child, OpenFlags::WRITE) == Ok(Handle::new(4)),
        "pipe w at 4",
    )?;
    ensure(
        to_child_r.share(&child, OpenFlags::READ) == Ok(Handle::new(5)),
        "pipe r at 5",
    )?;
    child.resume().map_err(|_| "resume")?;
    sem.p().map_err(|_| "P the child's V")?;
    let mut buf = [0u8; 8];
    ensure(
        to_parent_r.read(&mut buf) == Ok(4) && &buf[..4] == b"ping",
        "ping",
    )?;
    ensure(to_child_w.write(b"pong") == Ok(4), "pong")?;
    ensure(child.wait() == Ok(0), "the child failed (see its line)")?;
    // The child's write is in the file, at the shared position.
    ensure(f.seek(Whence::Set, 0) == Ok(0), "seek")?;
    let mut text = [0u8; 16];
    ensure(
        f.read(&mut text) == Ok(11) && &text[..11] == b"from child\n",
        "file",
    )?;
    // The child exited holding its shares: the parent's objects live on.
    ensure(f.write(b"more") == Ok(4), "write after the child")?;
    ensure(
        sem.v().is_ok() && sem.p().is_ok(),
        "semaphore after the child",
    )?;
    f.close().map_err(|_| "close")
}

fn child_use() -> Check {
    let (f, sem, w, r) = (h(2), h(3), h(4), h(5));
    let info = f.query().map_err(|_| "query the shared file")?;
    ensure(
        info.flags() == RW && info.kind() == Ok(SioKind::File),
        "file info",
    )?;
    let info = w.query().map_err(|_| "query the pipe end")?;
    ensure(info.flags() == OpenFlags::WRITE, "pipe end rights")?;
    ensure(f.write(b"from child\n") == Ok(11), "write the shared file")?;
    ensure(sem.v().is_ok(), "V")?;
    ensure(w.write(b"ping") == Ok(4), "send ping")?;
    let mut buf = [0u8; 8];
    ensure(
        r.read(&mut buf) == Ok(4) && &buf[..4] == b"pong",
        "receive pong",
    )?;
    // Rights: the write end cannot be read, the read end not written.
    ensure(
        w.read(&mut buf) == Err(SysError::NotPermitted),
        "read a write end",
    )?;
    ensure(
        r.write(b"x") == Err(SysError::NotPermitted),
        "write a read end",
    )
}

// ---- mode 1: read-only ----------------------------------------------------

fn read_only(arg: u64) -> Check {
    let f = file("/tmp/share-ro")?;
    ensure(f.write(b"parent") == Ok(6), "write")?;
    ensure(f.seek(Whence::Set, 0) == Ok(0), "seek")?;
    let sem = Sio::semaphore().map_err(|_| "semaphore")?;
    ensure(sem.v().is_ok(), "V one unit for the child")?;
    let child = spawn(arg, 11, 0)?;
    ensure(
        f.share(&child, OpenFlags::READ) == Ok(Handle::new(2)),
        "file at 2",
    )?;
    ensure(
        sem.share(&child, OpenFlags::READ) == Ok(Handle::new(3)),
        "sem at 3",
    )?;
    // Rights the open lacks: a read-only open cannot be shared for write.
    let ro = Sio::open("/tmp/share-ro", OpenFlags::READ).map_err(|_| "open ro")?;
    ensure(
        ro.share(&child, OpenFlags::WRITE) == Err(SysError::NotPermitted),
        "ro for write",
    )?;
    ensure(
        ro.share(&child, RW) == Err(SysError::NotPermitted),
        "ro for rw",
    )?;
    run_child(&child)?;
    ensure(size(&f) == 6, "the child's writes changed the file")?;
    ensure(size(&sem) == 0, "the child's V changed the count")?;
    ro.close().map_err(|_| "close")
}

fn child_read_only() -> Check {
    let (f, sem) = (h(2), h(3));
    let mut buf = [0u8; 8];
    ensure(f.read(&mut buf) == Ok(6) && &buf[..6] == b"parent", "read")?;
    ensure(
        f.write(b"child") == Err(SysError::NotPermitted),
        "write refused",
    )?;
    ensure(sem.p().is_ok(), "P")?;
    // Its own routines in its own table: P in code, V an error stub.
    expect_slots(&sem, "semaphore_p", "error stub -18")?;
    for _ in 0..3 {
        // The table path's stub and the generic path agree.
        ensure(sem.v() == Err(SysError::NotPermitted), "V refused")?;
        ensure(
            sem.generic_v() == Err(SysError::NotPermitted),
            "generic V refused",
        )?;
    }
    ensure(
        f.query().map(|i| i.flags()) == Ok(OpenFlags::READ),
        "rights",
    )
}

/// Checks the calling SCPU's slots for holder handle `sio`, as
/// `query(Routines)` reports them: `read: synthesized <read>` (or
/// `read: <read>` for a stub) and the write line likewise; with synthesis
/// off (every slot generic) both lines say `generic`.
fn expect_slots(sio: &Sio, read: &str, write: &str) -> Check {
    let mut text = [0u8; 256];
    let n = sio
        .routines(&mut text)
        .map_err(|_| "query the holder's routines")?;
    let text = core::str::from_utf8(text.get(..n).unwrap_or(&[])).unwrap_or("");
    let mut lines = text.lines();
    let (r, w) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    if r == "read: generic" && w == "write: generic" {
        return Ok(()); // synth=off
    }
    let is = |line: &str, op: &str, want: &str| {
        line.strip_prefix(op)
            .is_some_and(|rest| rest == want || rest.strip_prefix("synthesized ") == Some(want))
    };
    if is(r, "read: ", read) && is(w, "write: ", write) {
        Ok(())
    } else {
        println!("sharetest: holder slots: {r:?} / {w:?}, want {read:?} / {write:?}");
        Err("the holder's slots are not as planned")
    }
}

trait GenericV {
    fn generic_v(&self) -> Result<(), SysError>;
}

impl GenericV for Sio {
    fn generic_v(&self) -> Result<(), SysError> {
        Sio::from_handle(self.handle()).generic().v()
    }
}

// ---- modes 2, 3, 7: revocation races ----------------------------------------

/// `rounds` rounds of: share a semaphore and a file with the looping
/// child, let it run, revoke both, note the count and the file position
/// (shared: every completed write moves it), let it run again, check they
/// did not move. With `expect_leak` (the self-check),
/// succeeds only if they did move.
fn race(arg: u64, rounds: u64, write_len: usize, expect_leak: bool) -> Check {
    let f = file("/tmp/share-race")?;
    let sem = Sio::semaphore().map_err(|_| "semaphore")?;
    // Long writes: the child never yields and runs short quanta, so the
    // parent mostly gets the CPU in the middle of one.
    let is_long = write_len == BIG;
    let child = spawn(arg, 12, write_len as u64 | (u64::from(is_long) << 24))?;
    if is_long {
        child.set_priority(0).map_err(|_| "priority")?;
    }
    child.resume().map_err(|_| "resume")?;
    let position = |f: &Sio| f.query().map_or(u64::MAX, |i| i.position);
    let (mut leaks, mut mid_call, mut before) = (0u64, 0u64, 0u64);
    for round in 0..rounds {
        sem.share(&child, RW).map_err(|_| "share the semaphore")?;
        f.share(&child, OpenFlags::WRITE)
            .map_err(|_| "share the file")?;
        for _ in 0..=(round % 3) {
            sk_user::yield_now().map_err(|_| "yield")?;
        }
        ensure(sem.revoke() == Ok(1), "revoke the semaphore: one holder")?;
        ensure(f.revoke() == Ok(1), "revoke the file: one holder")?;
        let (count, at) = (size(&sem), position(&f));
        // A write the revoke cut between two pieces.
        if (at - before) % write_len as u64 != 0 {
            mid_call += 1;
        }
        for _ in 0..2 {
            sk_user::yield_now().map_err(|_| "yield")?;
        }
        if size(&sem) != count || position(&f) != at {
            leaks += 1;
            if !expect_leak {
                println!(
                    "sharetest: round {round}: count {count} -> {}, position {at} -> {}",
                    size(&sem),
                    position(&f)
                );
                return Err("a holder call completed after revoke returned");
            }
        }
        before = position(&f);
        // Keep the file small (the position is the shared one).
        if before > (4 << 20) {
            before = f.seek(Whence::Set, 0).map_err(|_| "seek")?;
        }
    }
    let info = child.query().map_err(|_| "query the child")?;
    ensure(
        info.state() != Ok(SmachState::Exited),
        "the child stopped (see its line)",
    )?;
    child.terminate().map_err(|_| "kill the child")?;
    println!(
        "sharetest: {rounds} revokes, {} holder calls after them, {mid_call} revokes between two pieces of a write",
        leaks
    );
    f.close().map_err(|_| "close")?;
    if expect_leak {
        ensure(leaks > 0, "self-check: no call completed after revoke")
    } else {
        Ok(())
    }
}

/// Loops over handles 2..16: V on a semaphore, a write of `write_len` on
/// a file (each handle's kind learned once by `query`, then only calls on
/// it, so a stale routine would be called); a handle whose call says
/// `Revoked` is closed. Yields after each sweep if `yields`. Never exits
/// on its own.
fn child_loop(write_len: usize, yields: bool) -> Check {
    let buf: &[u8] = BIG_BUF.get(..write_len.min(BIG)).unwrap_or(&[]);
    let mut kinds = [None; 16];
    loop {
        for (n, known) in (2..16).zip(kinds.iter_mut().skip(2)) {
            let sio = h(n);
            let kind = match *known {
                Some(kind) => kind,
                None => match sio.query() {
                    Ok(info) => *known.insert(info.kind()),
                    Err(SysError::Revoked) => {
                        sio.close().map_err(|_| "close a revoked handle")?;
                        continue;
                    }
                    Err(_) => continue,
                },
            };
            let result = match kind {
                Ok(SioKind::Semaphore) => sio.v().map(|()| 0),
                Ok(SioKind::File) => sio.write(buf),
                _ => continue,
            };
            match result {
                Ok(_) => {}
                Err(SysError::Revoked) => {
                    *known = None;
                    sio.close().map_err(|_| "close after Revoked")?;
                }
                Err(_) => return Err("a call on a shared handle failed otherwise"),
            }
        }
        if yields {
            sk_user::yield_now().map_err(|_| "yield")?;
        }
    }
}

// ---- mode 4: blocked holders ------------------------------------------------

fn blocked(arg: u64) -> Check {
    let sem = Sio::semaphore().map_err(|_| "semaphore")?;
    let (r, w) = Sio::pipe().map_err(|_| "pipe")?;
    let child = spawn(arg, 14, 0)?;
    ensure(sem.share(&child, RW) == Ok(Handle::new(2)), "sem at 2")?;
    ensure(
        r.share(&child, OpenFlags::READ) == Ok(Handle::new(3)),
        "pipe at 3",
    )?;
    let console = Sio::console();
    ensure(
        console.share(&child, OpenFlags::READ) == Ok(Handle::new(4)),
        "console at 4",
    )?;
    child.resume().map_err(|_| "resume")?;
    // Let the child block in P, then revoke.
    wait_blocked(&child)?;
    ensure(sem.revoke() == Ok(1), "revoke the semaphore")?;
    wait_blocked(&child)?;
    ensure(r.revoke() == Ok(1), "revoke the pipe's read end")?;
    wait_blocked(&child)?;
    ensure(console.revoke() == Ok(1), "revoke the console")?;
    ensure(child.wait() == Ok(0), "the child failed (see its line)")?;
    // The owner's objects still work.
    ensure(w.write(b"z") == Ok(1), "write")?;
    let mut b = [0u8; 1];
    ensure(r.read(&mut b) == Ok(1), "read")?;
    ensure(sem.v().is_ok() && sem.p().is_ok(), "V and P")
}

/// Gives the child time to block: 50 yields (it needs one turn; the
/// child's SCPU is not visible from here).
fn wait_blocked(_child: &Smach) -> Check {
    for _ in 0..50 {
        sk_user::yield_now().map_err(|_| "yield")?;
    }
    Ok(())
}

fn child_blocked() -> Check {
    expect_slots(&h(2), "semaphore_p", "semaphore_v")?;
    ensure(h(2).p() == Err(SysError::Revoked), "P woken by the revoke")?;
    // Replugged: both slots are the Revoked stub.
    expect_slots(&h(2), "error stub -28", "error stub -28")?;
    let mut b = [0u8; 4];
    ensure(
        h(3).read(&mut b) == Err(SysError::Revoked),
        "read woken by the revoke",
    )?;
    // No console input comes: only the revoke can end this read.
    ensure(
        h(4).read(&mut b) == Err(SysError::Revoked),
        "console read woken by the revoke",
    )?;
    ensure(h(2).p() == Err(SysError::Revoked), "P after revoke")?;
    ensure(
        h(2).close().is_ok() && h(3).close().is_ok(),
        "close after revoke",
    )?;
    ensure(h(4).close().is_ok(), "close the console's share")
}

// ---- mode 5: hostile ----------------------------------------------------------

fn hostile(arg: u64) -> Check {
    let f = file("/tmp/share-hostile")?;
    let sem = Sio::semaphore().map_err(|_| "semaphore")?;
    let child = spawn(arg, 15, 0)?;
    let bad = Smach::from_handle(Handle::new(999));
    ensure(
        f.share(&bad, RW) == Err(SysError::BadHandle),
        "share to a bad handle",
    )?;
    let not_smach = Smach::from_handle(sem.handle());
    ensure(
        f.share(&not_smach, RW) == Err(SysError::WrongKind),
        "share to a non-SMACH",
    )?;
    ensure(
        f.share(&Smach::this(), RW) == Err(SysError::NotPermitted),
        "share to oneself",
    )?;
    let raw = |rights: u64| {
        use sk_user::abi::SioSelector;
        let call = sk_user::abi::SioReconfigure::decode(
            u64::from(SioSelector::Share.number()),
            u64::from(child.handle().index()),
            rights,
        );
        call.and_then(|request| f.reconfigure(request))
    };
    ensure(raw(0) == Err(SysError::BadFlags), "no rights")?;
    ensure(raw(0x10) == Err(SysError::BadFlags), "unknown rights")?;
    ensure(
        Sio::from_handle(Handle::new(77)).share(&child, RW) == Err(SysError::BadHandle),
        "bad SIO",
    )?;
    ensure(f.share(&child, RW) == Ok(Handle::new(2)), "file at 2")?;
    ensure(sem.share(&child, RW) == Ok(Handle::new(3)), "sem at 3")?;
    // Revoke with no holder: 0; the file is shared again below.
    let lonely = Sio::semaphore().map_err(|_| "semaphore")?;
    ensure(lonely.revoke() == Ok(0), "revoke with no holder")?;
    child.resume().map_err(|_| "resume")?;
    // The child checks it cannot share or revoke, writes, then waits.
    sem.p().map_err(|_| "P the child's signal")?;
    ensure(size(&f) == 5, "the child's write")?;
    // The owner's close revokes: the child's next calls fail.
    f.close().map_err(|_| "close the shared file")?;
    ensure(sem.v().is_ok(), "signal the child")?;
    ensure(child.wait() == Ok(0), "the child failed (see its line)")?;
    // It exited holding the semaphore: the parent's works.
    ensure(
        sem.v().is_ok() && sem.p().is_ok(),
        "semaphore after the child",
    )?;
    // Revoke twice on a fresh share.
    let twice = Sio::semaphore().map_err(|_| "semaphore")?;
    let idle = spawn(arg, 16, 0)?;
    ensure(
        twice.share(&idle, RW) == Ok(Handle::new(2)),
        "share to idle",
    )?;
    ensure(twice.revoke() == Ok(1), "first revoke")?;
    ensure(twice.revoke() == Ok(0), "second revoke")?;
    run_child(&idle)
}

fn child_hostile() -> Check {
    let (f, sem) = (h(2), h(3));
    ensure(
        f.revoke() == Err(SysError::NotPermitted),
        "a holder revokes",
    )?;
    let grandchild = Smach::spawn_suspended(PATH, 16 << 40).map_err(|_| "spawn")?;
    ensure(
        f.share(&grandchild, OpenFlags::READ) == Err(SysError::NotPermitted),
        "re-share",
    )?;
    grandchild.terminate().map_err(|_| "kill the grandchild")?;
    ensure(f.write(b"child") == Ok(5), "write")?;
    ensure(sem.v().is_ok(), "signal the parent")?;
    ensure(sem.p().is_ok(), "wait for the parent's close")?;
    let mut b = [0u8; 4];
    ensure(
        f.write(b"late") == Err(SysError::Revoked),
        "write after the owner's close",
    )?;
    ensure(
        f.read(&mut b) == Err(SysError::Revoked),
        "read after the owner's close",
    )?;
    ensure(
        f.query().err() == Some(SysError::Revoked),
        "query after the owner's close",
    )?;
    ensure(
        f.seek(Whence::Set, 0) == Err(SysError::Revoked),
        "seek after the owner's close",
    )?;
    ensure(h(2).close().is_ok(), "close a revoked handle")?;
    ensure(h(2).close() == Err(SysError::BadHandle), "close it twice")
    // Exits holding the semaphore (handle 3).
}

// ---- mode 6: ping-pong between two SMACHs ---------------------------------

fn pingpong(arg: u64, rounds: u64) -> Check {
    let (to_child_r, to_child_w) = Sio::pipe().map_err(|_| "pipe")?;
    let (to_parent_r, to_parent_w) = Sio::pipe().map_err(|_| "pipe")?;
    let child = spawn(arg, 18, rounds)?;
    ensure(
        to_child_r.share(&child, OpenFlags::READ) == Ok(Handle::new(2)),
        "r at 2",
    )?;
    ensure(
        to_parent_w.share(&child, OpenFlags::WRITE) == Ok(Handle::new(3)),
        "w at 3",
    )?;
    child.resume().map_err(|_| "resume")?;
    let mut b = [0u8; 1];
    let start = rdtsc();
    for i in 0..rounds {
        let byte = i.to_le_bytes()[0];
        ensure(to_child_w.write(&[byte]) == Ok(1), "ping")?;
        ensure(to_parent_r.read(&mut b) == Ok(1) && b[0] == byte, "pong")?;
    }
    let ticks = rdtsc() - start;
    println!(
        "sharetest: pipe ping-pong between two SMACHs: {rounds} round trips, {} TSC ticks per round trip",
        ticks / rounds
    );
    ensure(child.wait() == Ok(0), "the child failed (see its line)")
}

fn child_pingpong(rounds: u64) -> Check {
    let (r, w) = (h(2), h(3));
    let mut b = [0u8; 1];
    for _ in 0..rounds {
        ensure(r.read(&mut b) == Ok(1), "ping")?;
        ensure(w.write(&b) == Ok(1), "pong")?;
    }
    Ok(())
}
