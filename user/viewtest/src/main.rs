//! `viewtest`: SIO views (a window of a file or `/dev/mem`, read-only,
//! views of views) on the synthesized path or (`generic`) with every call
//! forced down the generic path.
//!
//! The start argument is `mode << 40 | generic << 32 | param`.
//!
//! | mode | name | passes when |
//! |---|---|---|
//! | 0 | `basic` | windows of a file and of `/dev/mem` at depths 1-3 read what the base has at the summed offset; a read crossing a window's end is short, then end of file; a seek past the window reads nothing; a read-only view's write is `NotPermitted`; a writable window writes its file in place and never grows it; `offset + length` overflowing is `BadOffset`; a pipe has no views (`WrongKind`); depth 17 is `BadValue`; on the synthesized path every window's read slot is `dev_mem_read` (at every depth) |
//! | 1 | `hostile` | a view of a closed SIO, of a revoked view, below a revoked view: `Revoked`; reshape of a non-view `WrongKind`; reshape and revoke by a holder `NotPermitted`; a bad buffer `BadAddress`; revoke mid-loop |
//! | 2 | `fuzz` | `param` random seeks, reads and reshapes aimed at the window edges, on a depth-3 chain through the table and on the same chain forced generic: same results, bytes and positions |
//! | 3 | `invalidate` | a child loops reading through a view it holds (and a view of it it made) while the parent shrinks it, then revokes it: after each change returns (the parent raises a semaphore's count), no read of the child returns a byte the change removed, and after the revoke every read fails with `Revoked` |
//! | 4 | `truncate` | a window of a file: truncating the file (open with `TRUNCATE`) and growing it past its capacity replug the view (reads then see the file as it is) |
//! | 5 | `prefix` | prefix views of the tty: writes through a depth-1 and a depth-2 view, and through the depth-1 view shared with a child, put their prefixes at every line's start (the kernel test checks the console bytes); bad lengths, a `\n` in the prefix (`BadValue`), bad pointers and bad write buffers (`BadAddress`), a file or a window of one (`WrongKind`), a read-only tty (`NotPermitted`), a read, a window or a reshape of a prefix view, a revoked one (`Revoked`); a writable view of an APPEND open is `NotPermitted`, a read-only one reads |
//! | 6 | `root` | a child given `/jail` as its root (the kernel test makes it) opens `/inside` there, and every escape (`..`, `/..`, repeated slashes, `.`, a long `../` chain, `/jail/...`, `/dev/tty`) finds nothing outside; its own `Root` is `NotPermitted`; a grandchild's program path is confined too; `Root` with a file is `WrongKind`, with a bad handle `BadHandle` |
//! | 13 | — | the child of mode 3 |
//! | 15 | — | the child of mode 5 (writes through the prefix view it was given; a prefix view it makes of that one, its write synthesized, is `Revoked` once it closes the shared handle) |
//! | 16 | — | the child of mode 6 |
//!
//! Exit status: 0 = passed, 1 = a check failed (the line says which),
//! 2 = unknown mode.
#![no_std]
// Test arithmetic on small, known values (lengths below 1000, a byte
// pattern): truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]
#![no_main]

use sk_user::abi::{Handle, OpenFlags, SysError, Whence};
use sk_user::{println, routine_of, Routine, Sio, Smach};

mod prefix_and_root;

sk_user::entry!(main);

const PATH: &str = "/bin/viewtest";
const RW: OpenFlags = OpenFlags::READ.union(OpenFlags::WRITE);

/// `Err(line)` on a failed check; `main` prints it.
type Check = Result<(), &'static str>;

fn ensure(ok: bool, what: &'static str) -> Check {
    if ok {
        Ok(())
    } else {
        Err(what)
    }
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let (mode, generic, param) = (arg >> 40, (arg >> 32) & 0xff != 0, arg & 0xffff_ffff);
    sk_user::set_generic_mode(generic);
    let result = match mode {
        0 => basic(generic),
        1 => hostile(),
        2 => fuzz(param.max(1)),
        3 => invalidate(arg),
        4 => truncate(),
        5 => prefix_and_root::prefix(generic),
        6 => prefix_and_root::root(),
        7 => prefix_and_root::root_linux_escape(),
        8 => prefix_and_root::root_rmdir_escape(),
        18 => prefix_and_root::rooted_rmdir_child(),
        17 => prefix_and_root::rooted_linux_spawner(),
        15 => prefix_and_root::prefix_child(generic),
        16 => prefix_and_root::rooted_child(),
        13 => child_loop(),
        _ => return 2,
    };
    match result {
        Ok(()) => 0,
        Err(what) => {
            println!("viewtest mode {mode} (generic {generic}): FAILED: {what}");
            1
        }
    }
}

/// The byte of the test file at `i`.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 3)) as u8
}

/// A file of `len` pattern bytes, open read-write.
fn pattern_file(name: &str, len: u64) -> Result<Sio, &'static str> {
    let f = Sio::open(name, RW | OpenFlags::CREATE | OpenFlags::TRUNCATE).map_err(|_| "open")?;
    let mut buf = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(256);
        for (k, b) in buf.iter_mut().enumerate().take(n as usize) {
            *b = pattern(done + k as u64);
        }
        f.write_all(&buf[..n as usize])
            .map_err(|_| "fill the file")?;
        done += n;
    }
    Ok(f)
}

/// The read slot's routine, as `query(Routines)` names it.
fn read_routine(sio: &Sio, buf: &mut [u8; 512]) -> Option<&'static str> {
    let n = sio.routines(buf).ok()?;
    match routine_of(&buf[..n], "read")? {
        Routine::Synthesized(name) if name.starts_with("dev_mem_read") => Some("dev_mem_read"),
        Routine::Synthesized(_) => Some("other"),
        _ => Some("generic"),
    }
}

/// Checks the read slot is `dev_mem_read` (synthesis on, not generic).
fn expect_window_routine(sio: &Sio, generic: bool, what: &'static str) -> Check {
    if generic {
        return Ok(());
    }
    let mut text = [0u8; 512];
    match read_routine(sio, &mut text) {
        // synth=off: every slot generic.
        Some("dev_mem_read") => Ok(()),
        Some("generic") if !synth_on() => Ok(()),
        _ => Err(what),
    }
}

/// Whether the kernel synthesizes at all (`/dev/zero`'s read slot).
fn synth_on() -> bool {
    let Ok(zero) = Sio::open("/dev/zero", OpenFlags::READ) else {
        return true;
    };
    let mut text = [0u8; 512];
    let n = zero.routines(&mut text).unwrap_or(0);
    let on = routine_of(&text[..n], "read").is_some_and(|r| r.is_synthesized());
    let _ = zero.close();
    on
}

fn read_at(sio: &Sio, pos: u64, buf: &mut [u8]) -> Result<usize, SysError> {
    sio.seek(Whence::Set, pos as i64)?;
    sio.read(buf)
}

// ---- mode 0: basic --------------------------------------------------------

fn basic(generic: bool) -> Check {
    let f = pattern_file("/tmp/view-basic", 600)?;
    // Depth 1, 2, 3: offsets 100, +20, +5; lengths 300, 200, 50.
    let v1 = f.view(100, 300, false).map_err(|_| "view 1")?;
    let v2 = v1.view(20, 200, false).map_err(|_| "view 2")?;
    let v3 = v2.view(5, 50, true).map_err(|_| "view 3")?;
    for (v, base, len) in [(&v1, 100u64, 300u64), (&v2, 120, 200), (&v3, 125, 50)] {
        let mut b = [0u8; 1];
        for pos in [0, 1, len / 2, len - 1] {
            ensure(
                read_at(v, pos, &mut b) == Ok(1),
                "1-byte read in the window",
            )?;
            ensure(b[0] == pattern(base + pos), "the byte at the summed offset")?;
        }
        ensure(
            read_at(v, len, &mut b) == Ok(0),
            "end of file at the window's end",
        )?;
        ensure(
            read_at(v, len + 1000, &mut b) == Ok(0),
            "a seek past the window reads nothing",
        )?;
        expect_window_routine(v, generic, "a file window's read is dev_mem_read")?;
        ensure(
            v.query().map(|i| i.size) == Ok(len),
            "query size is the window",
        )?;
    }
    // A read crossing the end: short, then end of file.
    let mut b = [0u8; 16];
    ensure(read_at(&v3, 45, &mut b) == Ok(5), "short read at the end")?;
    ensure(
        b[..5]
            .iter()
            .enumerate()
            .all(|(k, x)| *x == pattern(170 + k as u64)),
        "short bytes",
    )?;
    ensure(v3.read(&mut b) == Ok(0), "then end of file")?;
    ensure(
        v3.query().map(|i| i.position) == Ok(50),
        "position at the end",
    )?;
    // Read-only: write refused on both paths, file unchanged.
    ensure(
        v3.write(b"x") == Err(SysError::NotPermitted),
        "read-only write refused",
    )?;
    ensure(
        Sio::from_handle(v3.handle()).generic().write(b"x") == Err(SysError::NotPermitted),
        "read-only generic write refused",
    )?;
    ensure(
        v3.view(0, 1, false).map(|v| v.write(b"x")) == Ok(Err(SysError::NotPermitted)),
        "a view of a read-only view is read-only",
    )?;
    // A writable window writes in place, clipped, never grows the file.
    ensure(v2.seek(Whence::Set, 198) == Ok(198), "seek")?;
    ensure(
        v2.write(b"ABCD") == Ok(2),
        "write clipped at the window's end",
    )?;
    let mut c = [0u8; 2];
    ensure(
        read_at(&f, 318, &mut c) == Ok(2) && &c == b"AB",
        "written in the file",
    )?;
    let tail = f.view(590, 100, false).map_err(|_| "tail view")?;
    ensure(tail.seek(Whence::Set, 8) == Ok(8), "seek")?;
    ensure(tail.write(b"xyz") == Ok(2), "a window never grows its file")?;
    ensure(f.query().map(|i| i.size) == Ok(600), "file size unchanged")?;
    // The base's own position never moves.
    ensure(f.seek(Whence::Set, 7) == Ok(7), "seek base")?;
    let _ = read_at(&v1, 3, &mut b);
    ensure(
        f.query().map(|i| i.position) == Ok(7),
        "base position untouched",
    )?;
    // /dev/mem: a window at depth 3 reads what /dev/mem has there.
    let mem = Sio::open("/dev/mem", OpenFlags::READ).map_err(|_| "open /dev/mem")?;
    let m1 = mem.view(64, 1024, false).map_err(|_| "mem view")?;
    let m2 = m1.view(32, 512, false).map_err(|_| "mem view 2")?;
    let m3 = m2.view(16, 100, false).map_err(|_| "mem view 3")?;
    let (mut direct, mut through) = ([0u8; 100], [0u8; 100]);
    ensure(
        read_at(&mem, 112, &mut direct) == Ok(100),
        "direct /dev/mem",
    )?;
    ensure(
        read_at(&m3, 0, &mut through) == Ok(100),
        "/dev/mem at depth 3",
    )?;
    ensure(direct == through, "same bytes through three windows")?;
    ensure(
        m3.write(b"x") == Err(SysError::NotPermitted),
        "/dev/mem stays read-only",
    )?;
    for v in [&m1, &m2, &m3] {
        expect_window_routine(v, generic, "a /dev/mem window's read is dev_mem_read")?;
    }
    // Hostile windows.
    ensure(
        f.view(u64::MAX, 2, false).err() == Some(SysError::BadOffset),
        "overflow",
    )?;
    ensure(
        v1.reshape_view(2, u64::MAX).err() == Some(SysError::BadOffset),
        "reshape overflow",
    )?;
    let (pr, pw) = Sio::pipe().map_err(|_| "pipe")?;
    ensure(
        pr.view(0, 1, false).err() == Some(SysError::WrongKind),
        "no view of a pipe",
    )?;
    ensure(
        Sio::console().view(0, 1, false).err() == Some(SysError::WrongKind),
        "nor tty",
    )?;
    let _ = (pr.close(), pw.close());
    let mut deep = mem.view(0, 4096, false).map_err(|_| "depth 1")?;
    for _ in 2..=16 {
        deep = deep.view(0, 4096, false).map_err(|_| "depth <= 16")?;
    }
    ensure(
        deep.view(0, 1, false).err() == Some(SysError::BadValue),
        "depth 17",
    )?;
    Ok(())
}

// ---- mode 1: hostile ------------------------------------------------------

fn hostile() -> Check {
    let f = pattern_file("/tmp/view-hostile", 100)?;
    let mut b = [0u8; 4];
    // A view of a closed SIO.
    let g = pattern_file("/tmp/view-hostile2", 100)?;
    let orphan = g.view(0, 10, false).map_err(|_| "view")?;
    let below = orphan.view(0, 5, false).map_err(|_| "view below")?;
    g.close().map_err(|_| "close")?;
    ensure(
        orphan.read(&mut b) == Err(SysError::Revoked),
        "parent closed: Revoked",
    )?;
    ensure(
        below.read(&mut b) == Err(SysError::Revoked),
        "grandparent closed: Revoked",
    )?;
    ensure(
        orphan.view(0, 1, false).err() == Some(SysError::Revoked)
            || orphan.view(0, 1, false).map(|v| v.read(&mut b)) == Ok(Err(SysError::Revoked)),
        "a view of an orphan is dead",
    )?;
    // Revoking a view kills it and every view below it.
    let v = f.view(10, 50, false).map_err(|_| "view")?;
    let w = v.view(5, 10, false).map_err(|_| "view")?;
    ensure(w.read(&mut b) == Ok(4), "read before revoke")?;
    ensure(v.revoke() == Ok(0), "revoke the view (no shares)")?;
    ensure(v.read(&mut b) == Err(SysError::Revoked), "revoked view")?;
    ensure(
        w.read(&mut b) == Err(SysError::Revoked),
        "below a revoked view",
    )?;
    ensure(
        w.write(b"x") == Err(SysError::Revoked),
        "write below a revoked view",
    )?;
    ensure(f.read(&mut b).is_ok(), "the base still works")?;
    // Reshape: only on a view.
    ensure(
        f.reshape_view(0, 1) == Err(SysError::WrongKind),
        "reshape a file",
    )?;
    // A bad buffer.
    let v = f.view(0, 50, false).map_err(|_| "view")?;
    ensure(v.seek(Whence::Set, 0) == Ok(0), "seek")?;
    ensure(
        read_into(&v, 0xffff_ffff_8000_0000, 4) == Err(SysError::BadAddress),
        "kernel buffer",
    )?;
    ensure(
        read_into(&v, 0, 4) == Err(SysError::BadAddress),
        "null buffer",
    )?;
    ensure(
        v.query().map(|i| i.position) == Ok(0),
        "no move on a bad buffer",
    )?;
    Ok(())
}

/// A read of `len` bytes into `addr` (a bad address: no Rust object).
fn read_into(sio: &Sio, addr: u64, len: u64) -> Result<u64, SysError> {
    transfer_raw(sio, sk_user::abi::Call::Read, addr, len)
}

/// `call` (read or write) through `sio` of `len` bytes at `addr`, a bad
/// address (null or in the kernel half): no Rust object is involved.
pub(crate) fn transfer_raw(
    sio: &Sio,
    call: sk_user::abi::Call,
    addr: u64,
    len: u64,
) -> Result<u64, SysError> {
    let word = (u64::from(sio.handle().index()) << sk_user::abi::Call::BITS)
        | u64::from(call.number())
        | if sio.is_generic() || sk_user::generic_mode() {
            sk_user::abi::CallWord::FORCE_GENERIC
        } else {
            0
        };
    // SAFETY: `addr` is in the kernel half or null: the kernel refuses to
    // touch it, and no Rust object lives there.
    SysError::decode_return(unsafe { sk_user::raw::syscall3(word, addr, len, 0) })
}

// ---- mode 2: fuzz ---------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A depth-3 chain: (base, v1, v2, v3).
fn chain(mem: bool, generic: bool) -> Result<[Sio; 4], &'static str> {
    let base = if mem {
        Sio::open("/dev/mem", OpenFlags::READ).map_err(|_| "open /dev/mem")?
    } else {
        pattern_file(
            if generic {
                "/tmp/view-fuzz-g"
            } else {
                "/tmp/view-fuzz-s"
            },
            400,
        )?
    };
    let base = if generic { base.generic() } else { base };
    let v1 = base.view(30, 300, false).map_err(|_| "v1")?;
    let v2 = v1.view(10, 200, false).map_err(|_| "v2")?;
    let v3 = v2.view(7, 150, true).map_err(|_| "v3")?;
    Ok([base, v1, v2, v3])
}

fn fuzz(ops: u64) -> Check {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for mem in [false, true] {
        let s = chain(mem, false)?;
        let g = chain(mem, true)?;
        ensure(!s[3].is_generic() && g[3].is_generic(), "routes")?;
        for _ in 0..ops {
            let level = 1 + rng.below(3) as usize;
            // Positions and lengths near the edges of every level.
            let edges = [0u64, 1, 150, 200, 300, 163, 183, 193];
            let pos = edges[rng.below(edges.len() as u64) as usize]
                .wrapping_add(rng.below(5))
                .wrapping_sub(2)
                % 1000;
            let len = [0u64, 1, 2, 7, 64, 400][rng.below(6) as usize];
            match rng.below(8) {
                0 => {
                    let (off, l) = (rng.below(40), rng.below(320));
                    let a = s[level].reshape_view(off, l);
                    let b = g[level].reshape_view(off, l);
                    ensure(a == b, "reshape results differ")?;
                }
                1 => {
                    let a = s[level].seek(Whence::End, 0);
                    let b = g[level].seek(Whence::End, 0);
                    ensure(a == b, "seek End differs")?;
                }
                _ => {
                    let (mut ba, mut bb) = ([0xAAu8; 400], [0xAAu8; 400]);
                    let a = read_at(&s[3], pos, &mut ba[..len as usize]);
                    let b = read_at(&g[3], pos, &mut bb[..len as usize]);
                    if a != b || ba != bb {
                        println!("viewtest fuzz: pos {pos} len {len}: {a:?} vs {b:?}");
                        return Err("synthesized and generic reads differ");
                    }
                    let pa = s[3].query().map(|i| i.position);
                    let pb = g[3].query().map(|i| i.position);
                    ensure(pa == pb, "positions differ")?;
                }
            }
        }
        for sio in s.into_iter().chain(g) {
            let _ = sio.close();
        }
    }
    Ok(())
}

// ---- mode 3: invalidate ----------------------------------------------------

/// The child's handles: the view (2), the phase semaphore (3: its count
/// is the number of changes done), the acknowledgement semaphore (4).
fn invalidate(arg: u64) -> Check {
    let mem = Sio::open("/dev/mem", OpenFlags::READ).map_err(|_| "open /dev/mem")?;
    let view = mem.view(0, 256, false).map_err(|_| "view")?;
    let phase = Sio::semaphore().map_err(|_| "semaphore")?;
    let ack = Sio::semaphore().map_err(|_| "semaphore")?;
    let child =
        Smach::spawn_suspended(PATH, (13 << 40) | (arg & (0xff << 32))).map_err(|_| "spawn")?;
    ensure(
        view.share(&child, OpenFlags::READ) == Ok(Handle::new(2)),
        "view at 2",
    )?;
    ensure(phase.share(&child, RW) == Ok(Handle::new(3)), "phase at 3")?;
    ensure(ack.share(&child, RW) == Ok(Handle::new(4)), "ack at 4")?;
    child.resume().map_err(|_| "resume")?;
    // The child loops at full length (it V's once it has read).
    wait_ack(&ack, &child)?;
    // Shrink to 100 bytes: from now on no read at 100.. returns a byte.
    view.reshape_view(0, 100).map_err(|_| "shrink")?;
    phase.v().map_err(|_| "V 1")?;
    wait_ack(&ack, &child)?;
    // Revoke: from now on every read fails.
    ensure(view.revoke() == Ok(1), "revoke one holder")?;
    phase.v().map_err(|_| "V 2")?;
    ensure(child.wait() == Ok(0), "the child failed (see its line)")?;
    Ok(())
}

/// P on `ack` once the child V'd it; fails if the child exited first
/// (its failure line says why) rather than waiting for ever.
fn wait_ack(ack: &Sio, child: &Smach) -> Check {
    loop {
        if ack.query().map_or(0, |i| i.size) > 0 {
            return ack.p().map_err(|_| "P the child's V");
        }
        let state = child.query().map_or(u32::MAX, |i| i.state);
        ensure(
            state != sk_user::abi::SmachState::Exited.number(),
            "the child failed (see its line)",
        )?;
        let _ = sk_user::yield_now();
    }
}

fn child_loop() -> Check {
    let view = Sio::from_handle(Handle::new(2));
    let sem = Sio::from_handle(Handle::new(3));
    let ack = Sio::from_handle(Handle::new(4));
    // A holder may neither reshape nor revoke the view it was given.
    ensure(
        view.reshape_view(0, 1) == Err(SysError::NotPermitted),
        "holder reshape",
    )?;
    ensure(
        view.revoke() == Err(SysError::NotPermitted),
        "holder revoke",
    )?;
    // Its own view of the view (depth 2), in its own table.
    let mine = view.view(50, 200, false).map_err(|_| "child view")?;
    let mut b = [0u8; 1];
    ensure(read_at(&view, 150, &mut b) == Ok(1), "read at 150 before")?;
    ensure(
        read_at(&mine, 100, &mut b) == Ok(1),
        "own view at 100 before",
    )?;
    ack.v().map_err(|_| "V: started")?;
    let count = || sem.query().map_or(0, |i| i.size);
    let mut after = 0u32;
    let mut shrunk_seen = false;
    loop {
        // The count read first: a change the parent announced is done.
        let phase = count();
        let a = read_at(&view, 150, &mut b);
        let c = read_at(&mine, 60, &mut b);
        match phase {
            0 => {}
            1 => {
                // The revoke may come at any time now: Revoked is fine,
                // a byte the shrink removed is not.
                let gone = |r: Result<usize, SysError>| matches!(r, Ok(0) | Err(SysError::Revoked));
                ensure(gone(a), "stale: the holder read past the shrunk window")?;
                ensure(gone(c), "stale: the child's own view read past it")?;
                let inside = read_at(&mine, 49, &mut b);
                ensure(
                    matches!(inside, Ok(1) | Err(SysError::Revoked)),
                    "inside still reads",
                )?;
                if !shrunk_seen {
                    shrunk_seen = true;
                    ack.v().map_err(|_| "V: saw the shrink")?;
                }
            }
            _ => {
                ensure(
                    a == Err(SysError::Revoked),
                    "stale: a read after the revoke",
                )?;
                ensure(
                    c == Err(SysError::Revoked),
                    "stale: own view after the revoke",
                )?;
                after += 1;
                if after > 200 {
                    return Ok(());
                }
            }
        }
    }
}

// ---- mode 4: truncate -----------------------------------------------------

fn truncate() -> Check {
    let f = pattern_file("/tmp/view-trunc", 200)?;
    let v = f.view(50, 100, true).map_err(|_| "view")?;
    let mut b = [0u8; 1];
    ensure(
        read_at(&v, 10, &mut b) == Ok(1) && b[0] == pattern(60),
        "before",
    )?;
    // Cut the file to nothing: the window's bytes are gone.
    let again = Sio::open("/tmp/view-trunc", RW | OpenFlags::TRUNCATE).map_err(|_| "truncate")?;
    ensure(
        read_at(&v, 10, &mut b) == Ok(0),
        "stale: read after truncate",
    )?;
    // Grow it far past its capacity (the data moves): reads see the new bytes.
    let zeros = [0x5Au8; 4096];
    for _ in 0..16 {
        again.write_all(&zeros).map_err(|_| "grow")?;
    }
    ensure(
        read_at(&v, 10, &mut b) == Ok(1) && b[0] == 0x5A,
        "stale: read after growth",
    )?;
    let _ = again.close();
    Ok(())
}
