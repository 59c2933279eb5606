//! `viewtest` modes 5 and 6: prefixed tty streams (and views of an
//! APPEND open), and a directory as a child's root.

use crate::{ensure, pattern, pattern_file, Check, PATH, RW};
use sk_user::abi::{Handle, OpenFlags, SioReconfigure, SmachReconfigure, SysError, TtyMode};
use sk_user::{Sio, Smach};

/// What mode 5 writes to the console (the kernel test expects each line
/// with its prefixes, `\n` as `\r\n`).
/// The last two calls leave the levels in different line states (the
/// depth-1 level mid-line, the depth-2 one at a line's start): the
/// synthesized routine sends that call generic, which puts only `[x] `.
const PREFIX_SCRIPT: [(u8, &[u8]); 6] = [
    (1, b"hello\nwor"),
    (1, b"ld\n"),
    (2, b"deep\n"),
    (1, b"\n"),
    (1, b"par"),
    (2, b"tial\n"),
];

/// What begins mode 5's marker lines (then `A` or `B`, `begin` or `end`):
/// the script's console bytes lie between them, through the synthesized
/// routine (A) and forced generic (B); `xtask` compares the two on the
/// serial port, the kernel test compares B with what it captured.
const MARKER: &str = "viewtest: prefix output";

/// The write slot's routine, as `query(Routines)` names it.
fn write_routine<'a>(sio: &Sio, text: &'a mut [u8; 512]) -> Option<sk_user::Routine<'a>> {
    let n = sio.routines(text).ok()?;
    sk_user::routine_of(&text[..n], "write")
}

/// Whether `routine` is the folded prefix view's write.
fn is_prefixed_routine(routine: Option<sk_user::Routine<'_>>) -> bool {
    matches!(routine, Some(sk_user::Routine::Synthesized(name)) if name == "tty_write_prefixed")
}

/// Empty writes (they put nothing out) until the write slot of `sio` is
/// `tty_write_prefixed` (lazy synthesis makes it after a few generic
/// calls); an error if it never is while synthesis is on (a slot waiting
/// for its calls says `write lazy:`; with synthesis off it never does).
fn until_prefixed_routine(sio: &Sio) -> Check {
    for _ in 0..64 {
        let mut text = [0u8; 512];
        if is_prefixed_routine(write_routine(sio, &mut text)) {
            return Ok(());
        }
        let n = sio.routines(&mut text).unwrap_or(0);
        let waiting = text[..n].windows(11).any(|w| w == b"write lazy:");
        if !waiting {
            return Err("a prefix view's write slot is neither tty_write_prefixed nor waiting");
        }
        ensure(
            sio.write(b"") == Ok(0),
            "an empty write through a prefix view",
        )?;
    }
    Err("a prefix view's write slot never became tty_write_prefixed")
}

/// Mode 5: prefix views of the tty, and views of an APPEND open.
pub(crate) fn prefix(generic: bool) -> Check {
    let tty = Sio::open("/dev/tty", OpenFlags::WRITE).map_err(|_| "open tty")?;
    let a = tty.prefix_view(b"[child-a] ").map_err(|_| "prefix view")?;
    let x = a
        .prefix_view(b"[x] ")
        .map_err(|_| "prefix view of a prefix view")?;
    if !generic {
        until_prefixed_routine(&a)?;
        until_prefixed_routine(&x)?;
    }
    let run = if generic { 'B' } else { 'A' };
    sk_user::println!("{MARKER} {run} begin");
    for (level, bytes) in PREFIX_SCRIPT {
        let through = if level == 1 { &a } else { &x };
        ensure(
            through.write(bytes) == Ok(bytes.len()),
            "write through a prefix view",
        )?;
    }
    if !generic {
        // Still the routine: the script's calls were its own.
        let mut text = [0u8; 512];
        ensure(
            is_prefixed_routine(write_routine(&x, &mut text)),
            "a depth-2 prefix view writes with tty_write_prefixed",
        )?;
        // A raw console: the fold (cooked output) no longer holds, the
        // slot is replugged generic; cooked again, the routine is back.
        tty.set_tty_mode(TtyMode::RAW).map_err(|_| "raw mode")?;
        let raw = !is_prefixed_routine(write_routine(&x, &mut text));
        tty.set_tty_mode(TtyMode::DEFAULT)
            .map_err(|_| "cooked mode")?;
        ensure(raw, "a raw console replugs the prefix view's write")?;
        ensure(
            is_prefixed_routine(write_routine(&x, &mut text)),
            "cooked again: tty_write_prefixed again",
        )?;
    }
    // Bad buffers: BadAddress, and nothing reaches the console (the
    // kernel test compares every byte).
    for bad in [0, 0xffff_ffff_8000_0000] {
        ensure(
            write_from(&a, bad, 4) == Err(SysError::BadAddress),
            "write from a bad buffer through a prefix view",
        )?;
    }
    // Shared into a child, it prefixes the child's lines too.
    let child = Smach::spawn_suspended(PATH, (15 << 40) | (u64::from(generic) << 32))
        .map_err(|_| "spawn")?;
    ensure(
        a.share(&child, OpenFlags::WRITE) == Ok(Handle::new(2)),
        "prefix view shared at 2",
    )?;
    child.resume().map_err(|_| "resume")?;
    ensure(
        child.wait() == Ok(0),
        "the child's write through a shared prefix view",
    )?;
    sk_user::println!("{MARKER} {run} end");
    // Bad prefixes.
    for len in [0u64, 33, u64::MAX] {
        let request = SioReconfigure::PrefixView {
            prefix: b"[a]".as_ptr() as u64,
            len,
        };
        ensure(
            tty.reconfigure(request) == Err(SysError::BadValue),
            "bad prefix length: BadValue",
        )?;
    }
    ensure(
        tty.prefix_view(b"a\nb").err() == Some(SysError::BadValue),
        "newline in prefix: BadValue",
    )?;
    ensure(
        tty.prefix_view(b"\r[top] ").err() == Some(SysError::BadValue),
        "control byte in prefix: BadValue",
    )?;
    // A chain's prefixes total at most 64 bytes (MAX_CHAIN_PREFIX_BYTES):
    // two levels of 32 are fine, a third byte on top is refused.
    let wide = tty.prefix_view(&[b'w'; 32]).map_err(|_| "32-byte prefix")?;
    let wider = wide
        .prefix_view(&[b'v'; 32])
        .map_err(|_| "64 bytes in a chain")?;
    ensure(
        wider.prefix_view(b"u").err() == Some(SysError::BadValue),
        "65 prefix bytes in a chain: BadValue",
    )?;
    wider.close().map_err(|_| "close the 64-byte chain")?;
    wide.close().map_err(|_| "close the 32-byte prefix view")?;
    for bad in [0u64, 0x10, 0xffff_8000_0000_0000, u64::MAX - 3] {
        let request = SioReconfigure::PrefixView {
            prefix: bad,
            len: 8,
        };
        ensure(
            tty.reconfigure(request) == Err(SysError::BadAddress),
            "bad prefix pointer: BadAddress",
        )?;
    }
    // Kinds and rights.
    let f = pattern_file("/tmp/view-prefix", 100)?;
    ensure(
        f.prefix_view(b"[f] ").err() == Some(SysError::WrongKind),
        "prefix view of a file",
    )?;
    ensure(
        a.view(0, 10, false).err() == Some(SysError::WrongKind),
        "window of a prefix view",
    )?;
    ensure(
        a.reshape_view(0, 10) == Err(SysError::WrongKind),
        "reshape of a prefix view",
    )?;
    let mut b = [0u8; 4];
    ensure(
        a.read(&mut b) == Err(SysError::NotPermitted),
        "read through a prefix view",
    )?;
    let ro = Sio::open("/dev/tty", OpenFlags::READ).map_err(|_| "open tty read-only")?;
    ensure(
        ro.prefix_view(b"[r] ").err() == Some(SysError::NotPermitted),
        "prefix view of a read-only tty",
    )?;
    // Revoked: dead for it and every view below it.
    ensure(a.revoke() == Ok(0), "revoke a prefix view")?;
    ensure(
        a.write(b"gone\n") == Err(SysError::Revoked),
        "write through a revoked prefix view",
    )?;
    ensure(
        x.write(b"gone\n") == Err(SysError::Revoked),
        "write below a revoked prefix view",
    )?;
    // APPEND: a writable window is refused, a read-only one reads.
    let app = Sio::open("/tmp/view-prefix", RW | OpenFlags::APPEND).map_err(|_| "open append")?;
    ensure(
        app.view(0, 10, false).err() == Some(SysError::NotPermitted),
        "writable view of APPEND",
    )?;
    let ro_view = app
        .view(0, 10, true)
        .map_err(|_| "read-only view of APPEND")?;
    ensure(
        ro_view.read(&mut b) == Ok(4) && b[0] == pattern(0),
        "read through a view of APPEND",
    )?;
    Ok(())
}

/// Mode 15: the child of mode 5 writes one line through the prefix view
/// it was given (handle 2).
pub(crate) fn prefix_child(generic: bool) -> Check {
    let line = b"from the child\n";
    let shared = Sio::from_handle(Handle::new(2));
    ensure(
        shared.write(line) == Ok(line.len()),
        "write through the shared prefix view",
    )?;
    // A prefix view of the shared one, its write synthesized (its cells
    // include the shared level's); once the child closes the shared
    // handle, the view has no parent: `Revoked` on both paths, and the
    // routine must be gone (the hostile review's finding: it still wrote).
    let mine = shared
        .prefix_view(b"[c] ")
        .map_err(|_| "prefix view of a shared prefix view")?;
    if !generic {
        until_prefixed_routine(&mine)?;
    }
    shared.close().map_err(|_| "close the shared prefix view")?;
    ensure(
        mine.write(b"after close\n") == Err(SysError::Revoked),
        "a prefix view of a closed shared handle still writes",
    )
}

/// The file the kernel test puts inside the jail, and its bytes.
const INSIDE: &str = "/inside";
const INSIDE_BYTES: &[u8] = b"inside the jail";

/// Mode 6: the parent's side. The kernel test made `/jail` (with
/// `inside`) and `/secret`.
pub(crate) fn root() -> Check {
    let jail = Sio::open("/jail", OpenFlags::READ).map_err(|_| "open /jail")?;
    let file = Sio::open("/secret", OpenFlags::READ).map_err(|_| "open /secret")?;
    let child = Smach::spawn_suspended(PATH, 16 << 40).map_err(|_| "spawn")?;
    let root_of = |handle: u32| SmachReconfigure::Root {
        directory: Handle::new(handle),
    };
    ensure(
        child.reconfigure(root_of(file.handle().index())) == Err(SysError::WrongKind),
        "Root with a file: WrongKind",
    )?;
    ensure(
        child.reconfigure(root_of(999)) == Err(SysError::BadHandle),
        "Root with a bad handle: BadHandle",
    )?;
    ensure(
        Smach::this().reconfigure(root_of(jail.handle().index())) == Err(SysError::NotPermitted),
        "Root on SELF: NotPermitted",
    )?;
    ensure(
        child.reconfigure(root_of(jail.handle().index())) == Ok(0),
        "Root with /jail",
    )?;
    child.resume().map_err(|_| "resume")?;
    ensure(
        child.wait() == Ok(0),
        "the rooted child failed (see its line)",
    )
}

/// Mode 16: the rooted child.
pub(crate) fn rooted_child() -> Check {
    let mut buf = [0u8; 32];
    let f = Sio::open(INSIDE, OpenFlags::READ).map_err(|_| "open /inside under the root")?;
    let n = f.read(&mut buf).map_err(|_| "read /inside")?;
    ensure(&buf[..n] == INSIDE_BYTES, "/inside is the jail's file")?;
    for same in [
        "inside",
        "//inside",
        "/./inside",
        "/../inside",
        "../../inside",
        "a/../inside",
    ] {
        let g = Sio::open(same, OpenFlags::READ).map_err(|_| "a spelling of /inside")?;
        ensure(g.read(&mut buf) == Ok(n), "a spelling of /inside reads it")?;
    }
    let mut long = [0u8; 4000];
    for (i, b) in long.iter_mut().enumerate() {
        *b = b"../"[i % 3];
    }
    long[3990..].copy_from_slice(b"..//secret");
    let long = core::str::from_utf8(&long).map_err(|_| "utf8")?;
    for escape in [
        "../secret",
        "/../secret",
        "/../../secret",
        "//..//secret",
        "a/../../secret",
        "./../secret",
        "/jail/inside",
        "/dev/tty",
        "/bin/viewtest",
        long,
    ] {
        ensure(
            Sio::open(escape, OpenFlags::READ).err() == Some(SysError::NotFound),
            "an escape finds nothing",
        )?;
    }
    // Created files land inside too (the kernel test checks /jail/made).
    let made = Sio::open("../made", RW | OpenFlags::CREATE).map_err(|_| "create ../made")?;
    ensure(made.write(b"m") == Ok(1), "write /made")?;
    let root_of = SmachReconfigure::Root {
        directory: Handle::new(f.handle().index()),
    };
    ensure(
        Smach::this().reconfigure(root_of) == Err(SysError::NotPermitted),
        "a child's own Root: NotPermitted",
    )?;
    ensure(
        Smach::spawn(PATH).err() == Some(SysError::NotFound),
        "a grandchild's program path is confined",
    )?;
    Ok(())
}

/// A write through `sio` of `len` bytes at `addr` (a bad address).
fn write_from(sio: &Sio, addr: u64, len: u64) -> Result<u64, SysError> {
    crate::transfer_raw(sio, sk_user::abi::Call::Write, addr, len)
}

/// Mode 7 (the hostile review's escape, inverted): the parent roots a
/// child (mode 17) at `/jail`, which the kernel test gave a copy of
/// `/bin/rootlin` as `/jail/rootlin`; 0 if the Linux program the child
/// starts there stays inside the root.
pub(crate) fn root_linux_escape() -> Check {
    let status = run_rooted_child("/jail", 17)?;
    ensure(status == 0, "a Linux program under a root saw outside it")
}

/// Runs viewtest `mode` as a child rooted at `dir` (held open meanwhile,
/// as a multiplexor holds it) and returns its exit status.
fn run_rooted_child(dir: &str, mode: u64) -> Result<i32, &'static str> {
    let jail = Sio::open(dir, OpenFlags::READ).map_err(|_| "open the root directory")?;
    let child = Smach::spawn_suspended(PATH, mode << 40).map_err(|_| "spawn")?;
    ensure(
        child.reconfigure(SmachReconfigure::Root {
            directory: Handle::new(jail.handle().index()),
        }) == Ok(0),
        "Root with the directory",
    )?;
    child.resume().map_err(|_| "resume")?;
    let status = child.wait().map_err(|_| "wait")?;
    sk_user::println!("viewtest: rooted child (mode {mode}) exited {status}");
    Ok(status)
}

/// Mode 17: the rooted native child runs the Linux program at its
/// `/rootlin` (= /jail/rootlin), which tries every Linux way out of the
/// root (user/linux/rootlin.c): 0 if its own checks all held.
pub(crate) fn rooted_linux_spawner() -> Check {
    ensure(
        Sio::open("/secret", OpenFlags::READ).err() == Some(SysError::NotFound),
        "/secret is outside the root",
    )?;
    let linux = Smach::spawn_linux("/rootlin").map_err(|_| "spawn_linux /rootlin under a root")?;
    let status = linux.wait().map_err(|_| "wait for rootlin")?;
    sk_user::println!("viewtest: rootlin under the root exited {status}");
    ensure(
        status == 0,
        "rootlin saw outside its root (or failed a check)",
    )
}

/// Mode 8 (from the hostile review): roots a child (mode 18) at the empty
/// `/jail2` and keeps its handle open (as a multiplexor does); the kernel
/// test removes `/jail2` (rmdir) once the child holds its root open.
pub(crate) fn root_rmdir_escape() -> Check {
    let status = run_rooted_child("/jail2", 18)?;
    ensure(
        status == 0,
        "the rooted child escaped or never saw its root go",
    )
}

/// Mode 18: holds its root open, then keeps trying `/secret` (outside its
/// root) until its root is gone (opening `/` gives `NotFound`): 0 if it
/// never read the secret and saw the removal.
pub(crate) fn rooted_rmdir_child() -> Check {
    let _root = Sio::open("/", OpenFlags::READ).map_err(|_| "open its root")?;
    ensure(
        Sio::open("/secret", OpenFlags::READ).err() == Some(SysError::NotFound),
        "confined at first",
    )?;
    for _ in 0..200_000 {
        if Sio::open("/secret", OpenFlags::READ).is_ok() {
            sk_user::println!("viewtest: ESCAPED: /secret opened under a removed root");
            return Err("escaped through a removed root");
        }
        if Sio::open("/", OpenFlags::READ).err() == Some(SysError::NotFound) {
            return ensure(
                Sio::open("/secret", OpenFlags::READ).err() == Some(SysError::NotFound),
                "a removed root names nothing",
            );
        }
        let _ = sk_user::yield_now();
    }
    Err("its root's removal never showed")
}
