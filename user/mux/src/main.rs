//! `mux`: the multiplexor (issue 15; docs/nesting.md, "The multiplexor").
//!
//! Reads a configuration (one child per line, see [`sk_mux::config`]),
//! chooses weighted sub-scheduling for itself, and starts each child
//! suspended with its budget, its weight and its views (handle 2: the run
//! flag, a read-only byte; then the line's views), then resumes it. A
//! child that is itself `/bin/mux` reads its configuration from its first
//! read-only view, so the tree nests as deep as the configurations do.
//!
//! Start argument 0: the top multiplexor. It reads `/etc/mux.conf`, makes
//! the run flag (`/tmp/mux.run`, `1`), lets the tree work [`WARM_UP_MS`]
//! and then [`MEASURE_MS`] of guest time, prints its tree (names from the
//! configurations, budget, mapped frames, weight, CPU time and share of
//! the parent's time over the measured interval, [`sk_mux::report`]),
//! drops the flag, waits for every child and prints how each ended. The
//! report also goes to `/tmp/mux.tree` (the kernel's mux test reads it).
//!
//! Any other start argument is a nested multiplexor's name: it takes its
//! configuration from handle 3, passes its run flag on (a read-only view
//! of its own), waits for the flag to drop, then for its children.
//!
//! A bad configuration line gets one line saying what is wrong and is
//! skipped; so is a child the kernel refuses (budget, weight, a view).
//! Exit status: 0 if every line was good and every child exited 0, 1
//! otherwise; 2 if the configuration cannot be read.
#![no_std]
#![no_main]

mod tree;

use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering};
use sk_mux::config::{self, unpack_name, Child, View};
use sk_user::abi::SioKind;
use sk_user::abi::{
    Handle, OpenFlags, SmachReconfigure, SmachTreeEntry, SubPolicy, SysError, Whence,
};
use sk_user::{Sio, Smach};

sk_user::entry!(main);

/// The top multiplexor's configuration.
pub const TOP_CONFIG: &str = "/etc/mux.conf";
/// The run flag the top multiplexor makes.
const RUN_FLAG_PATH: &str = "/tmp/mux.run";
/// Guest time the tree works before the measurement starts.
pub const WARM_UP_MS: u64 = 200;
/// Guest time over which shares are measured.
pub const MEASURE_MS: u64 = 2000;
/// Most children one multiplexor starts.
const MAX_CHILDREN: usize = 8;
/// Largest configuration read.
const CONFIG_BYTES: usize = 2048;

const MS: u64 = 1_000_000;

/// The handle this multiplexor writes its lines to: the console, or the
/// prefix view of a tty its parent gave it (found at start).
static OUT: AtomicU32 = AtomicU32::new(1);

/// `println!` to [`OUT`].
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = Sio::from_handle(Handle::new(OUT.load(Ordering::Relaxed)));
        let _ = writeln!(out, $($arg)*);
    }};
}

/// The first tty among the handles a parent gave (3 and up), if any.
fn find_tty() -> Option<u32> {
    let views = u32::try_from(config::MAX_VIEWS).unwrap_or(0);
    (3..3 + views).find(|&h| {
        Sio::from_handle(Handle::new(h))
            .query()
            .is_ok_and(|info| info.kind() == Ok(SioKind::Tty))
    })
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let mut name_buf = [0; 8];
    let (name, top) = match arg {
        0 => ("top", true),
        _ => (unpack_name(arg, &mut name_buf).unwrap_or("mux?"), false),
    };
    if !top {
        if let Some(tty) = find_tty() {
            OUT.store(tty, Ordering::Relaxed);
        }
    }
    let mut text = [0_u8; CONFIG_BYTES];
    let config = if top {
        read_path(TOP_CONFIG, &mut text)
    } else {
        read_all(&Sio::from_handle(Handle::new(3)), &mut text)
    };
    let Ok(config) = config else {
        say!("mux {name}: cannot read its configuration: {config:?}");
        return 2;
    };
    let run_flag = if top {
        match make_run_flag() {
            Ok(flag) => flag,
            Err(e) => {
                say!("mux {name}: cannot make the run flag {RUN_FLAG_PATH}: {e}");
                return 2;
            }
        }
    } else {
        Sio::from_handle(Handle::new(2))
    };
    if let Err(e) = Smach::this().reconfigure(SmachReconfigure::SubPolicy(SubPolicy::Weighted)) {
        say!("mux {name}: weighted sub-scheduling refused: {e}");
        return 2;
    }
    let mut children: [Option<(Smach, Child<'_>)>; MAX_CHILDREN] = Default::default();
    let mut all_good = start_children(name, config, &run_flag, &mut children);
    if top {
        let _ = sk_user::sleep_ns(WARM_UP_MS * MS);
        all_good &= tree::measure_and_print(config, MEASURE_MS);
        let dropped = run_flag
            .seek(Whence::Set, 0)
            .and_then(|_| run_flag.write(b"0"));
        if let Err(e) = dropped {
            say!("mux: cannot drop the run flag: {e}");
            all_good = false;
        }
    } else {
        wait_for_the_flag_to_drop(&run_flag);
    }
    let (mut ended, mut ok) = (0, 0);
    for (child, line) in children.iter_mut().filter_map(Option::take) {
        ended += 1;
        match child.wait() {
            Ok(0) => ok += 1,
            Ok(status) => say!("mux {name}: {} exited with status {status}", line.name),
            Err(e) => say!("mux {name}: waiting for {} failed: {e}", line.name),
        }
        let _ = child.terminate();
    }
    let summary = if ok == ended {
        "every child finished"
    } else {
        "NOT every child finished well"
    };
    say!("mux {name}: {summary}: {ok} of {ended} exited with status 0");
    if top {
        tree::append_report(format_args!(
            "mux: {summary}: {ok} of {ended} exited with status 0\n"
        ));
    }
    i32::from(!(all_good && ok == ended))
}

/// Starts every good line's child; returns whether every line was good
/// and every child started.
fn start_children<'a>(
    name: &str,
    config: &'a str,
    run_flag: &Sio,
    children: &mut [Option<(Smach, Child<'a>)>; MAX_CHILDREN],
) -> bool {
    let mut all_good = true;
    let mut slots = children.iter_mut();
    for (n, line) in config.lines().enumerate() {
        let child = match config::parse_line(line) {
            Ok(None) => continue,
            Ok(Some(child)) => child,
            Err(e) => {
                say!("mux {name}: line {}: {e} (skipped)", n + 1);
                all_good = false;
                continue;
            }
        };
        let Some(slot) = slots.next() else {
            say!(
                "mux {name}: line {}: more than {MAX_CHILDREN} children (skipped)",
                n + 1
            );
            all_good = false;
            continue;
        };
        match start(&child, run_flag) {
            Ok(smach) => *slot = Some((smach, child)),
            Err((what, e)) => {
                say!(
                    "mux {name}: line {} ({}): {what}: {e} (skipped)",
                    n + 1,
                    child.name
                );
                all_good = false;
            }
        }
    }
    all_good
}

/// One child: spawned suspended, budget, weight, run flag, views, resumed.
/// On failure the child is terminated (its frames back).
fn start(child: &Child<'_>, run_flag: &Sio) -> Result<Smach, (&'static str, SysError)> {
    let smach = Smach::spawn_suspended(child.program, child.name_arg())
        .map_err(|e| ("cannot start its program", e))?;
    let set_up = || -> Result<(), (&'static str, SysError)> {
        if let Err(e) = smach.reconfigure(SmachReconfigure::Budget {
            frames: child.budget,
        }) {
            let mut tree = [SmachTreeEntry::default(); 1];
            let mapped = smach
                .query_tree(&mut tree)
                .map_or(0, |_| tree[0].mapped_frames);
            say!(
                "mux: {}: a budget of {} frames was refused ({e}); its program maps {mapped}, its parent has what its own budget leaves",
                child.name, child.budget
            );
            return Err(("its budget was refused", e));
        }
        smach
            .reconfigure(SmachReconfigure::Weight(child.weight))
            .map_err(|e| ("its weight was refused", e))?;
        // Each child gets a read-only view of the flag of its own: a view
        // has its own position (shares of one open share theirs, so two
        // children's seek-and-read would race), and a nested multiplexor
        // could not share its share again anyway.
        run_flag
            .view(0, 1, true)
            .and_then(|v| v.share(&smach, OpenFlags::READ))
            .map_err(|e| ("its run flag could not be shared", e))?;
        for view in child.views() {
            give(&smach, child.name, view).map_err(|e| ("a view could not be given", e))?;
        }
        smach.resume().map_err(|e| ("it could not be resumed", e))?;
        Ok(())
    };
    match set_up() {
        Ok(()) => Ok(smach),
        Err(e) => {
            let _ = smach.terminate();
            Err(e)
        }
    }
}

/// Opens the view's file and shares a view of it into `smach` (the file
/// stays open here: a view dies with its parent).
fn give(smach: &Smach, name: &str, view: &View<'_>) -> Result<Handle, SysError> {
    match *view {
        View::Window {
            path,
            offset,
            length,
        } => {
            let rw = OpenFlags::READ | OpenFlags::WRITE;
            let file = Sio::open(path, rw)?;
            file.view(offset, length, false)?.share(smach, rw)
        }
        View::ReadOnly { path } => {
            let file = Sio::open(path, OpenFlags::READ)?;
            let size = file.query()?.size;
            file.view(0, size, true)?.share(smach, OpenFlags::READ)
        }
        View::Tty => {
            let mut prefix = [0_u8; config::MAX_NAME + 3];
            let name = name.as_bytes();
            prefix[0] = b'[';
            prefix[1..=name.len()].copy_from_slice(name);
            prefix[name.len() + 1..name.len() + 3].copy_from_slice(b"] ");
            let tty = Sio::from_handle(Handle::new(OUT.load(Ordering::Relaxed)));
            tty.prefix_view(&prefix[..name.len() + 3])?
                .share(smach, OpenFlags::WRITE)
        }
        View::Root { path } => {
            // Kept open here like the views' files; the child gets no handle.
            let dir = Sio::open(path, OpenFlags::READ)?;
            smach.reconfigure(SmachReconfigure::Root {
                directory: dir.handle(),
            })?;
            Ok(dir.handle())
        }
        View::None => Err(SysError::BadValue),
    }
}

fn make_run_flag() -> Result<Sio, SysError> {
    let flags = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let flag = Sio::open(RUN_FLAG_PATH, flags)?;
    flag.write_all(b"1")?;
    Ok(flag)
}

/// Polls the flag every 20 ms of guest time until it is no longer `1`.
fn wait_for_the_flag_to_drop(flag: &Sio) {
    loop {
        let mut byte = [0_u8; 1];
        let read = flag.seek(Whence::Set, 0).and_then(|_| flag.read(&mut byte));
        if read != Ok(1) || byte[0] != b'1' {
            return;
        }
        let _ = sk_user::sleep_ns(20 * MS);
    }
}

/// The file at `path`, read whole into `buf` (as UTF-8).
pub fn read_path<'b>(path: &str, buf: &'b mut [u8]) -> Result<&'b str, SysError> {
    let file = Sio::open(path, OpenFlags::READ)?;
    let text = read_all(&file, buf);
    let _ = file.close();
    text
}

fn read_all<'b>(sio: &Sio, buf: &'b mut [u8]) -> Result<&'b str, SysError> {
    let mut len = 0;
    while len < buf.len() {
        let n = sio.read(&mut buf[len..])?;
        if n == 0 {
            break;
        }
        len += n;
    }
    core::str::from_utf8(&buf[..len]).map_err(|_| SysError::BadValue)
}
