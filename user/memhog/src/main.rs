//! `memhog`: fills RAM with user memory and file data, then makes every
//! call on every kind while nothing is left.
//!
//! The regression test of "memory exhaustion panics the kernel": once
//! user memory and RAM-file data had filled RAM, the old kernel panicked
//! allocating an SCPU's routine table (file data lived on the kernel heap
//! and ignored the frame reserve that user memory respects). Here:
//!
//! 1. before the squeeze, make one object of each kind to use later: a
//!    child SMACH (`/bin/worker 1`, waited for), a suspended SCPU, a
//!    one-page SMEM, a file in `/tmp` and `/dev/zero`;
//! 2. map SMEM regions (16 MiB, then halving sizes down to one page) until
//!    `create` says `NoMemory`;
//! 3. free two 16 MiB regions and write growing files `/tmp/memhog.N` in
//!    64 KiB writes, each until a write fails (`NoMemory`, `NoSpace` or
//!    `FileTooLarge`), until a fresh file takes nothing;
//! 4. map SMEM again until `NoMemory` (RAM is now full of both);
//! 5. create every kind (SMACH, SCPU, SMEM, SIO) and call every op on
//!    every kind, on the synthesized and the generic path: each call must
//!    work or fail with a known error (never kill this program or the
//!    kernel), and calls that need no memory (queries, priorities,
//!    protection of a mapped region, reads into mapped memory) must work;
//! 6. free everything (regions unmapped, files truncated to 0 and closed)
//!    and exit 0. The files stay in `/tmp`, empty (the ABI cannot unlink):
//!    the kernel test removes them before it compares memory.
//!
//! Prints one line per phase and per call made under exhaustion. Exit
//! status: 0 = every check held; 1 = a check failed (the line says which).
#![no_std]
#![no_main]

use sk_user::abi::{ScpuReconfigure, SysError};
use sk_user::{println, OpenFlags, Prot, Scpu, Sio, Smach, Smem, Stack, Whence};

sk_user::entry!(main);

const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;
const READ_WRITE: Prot = Prot::READ.union(Prot::WRITE);

/// Most regions held at once (RAM is 1 GiB under the kernel tests: about
/// 64 regions of 16 MiB plus one or two per smaller size).
const MAX_REGIONS: usize = 512;
/// Most files written while filling.
const MAX_FILES: usize = 64;
/// Bytes per file write while filling.
const WRITE_BYTES: usize = 64 * 1024;

/// What the files are filled with.
static PATTERN: [u8; WRITE_BYTES] = [0x5a; WRITE_BYTES];

static PARKED_STACK: Stack<16384> = Stack::new();
static LATE_STACK: Stack<16384> = Stack::new();

/// An SCPU that only spins; it is suspended or terminated by `main`.
extern "C" fn parked(_arg: u64) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// A failed check: what and why.
struct Failed;

/// Prints a failed check and returns `Err(Failed)`.
macro_rules! fail {
    ($($arg:tt)*) => {{
        println!("memhog: FAILED: {}", format_args!($($arg)*));
        return Err(Failed);
    }};
}

/// Fails unless `cond` holds.
macro_rules! check {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            fail!($($arg)*);
        }
    };
}

/// The regions mapped while filling.
struct Regions {
    held: [Option<Smem>; MAX_REGIONS],
    bytes: u64,
}

impl Regions {
    fn new() -> Self {
        Self {
            held: core::array::from_fn(|_| None),
            bytes: 0,
        }
    }

    fn count(&self) -> usize {
        self.held.iter().filter(|r| r.is_some()).count()
    }

    /// Maps regions of `size`, halving it down to one page, until
    /// `NoMemory` at one page (or the table is full).
    fn fill(&mut self, mut size: u64) -> Result<(), Failed> {
        while size >= PAGE {
            let Some(slot) = self.held.iter_mut().find(|r| r.is_none()) else {
                println!("memhog: region table full");
                return Ok(());
            };
            match Smem::create(size, READ_WRITE) {
                Ok(region) => {
                    self.bytes += region.len();
                    *slot = Some(region);
                }
                Err(SysError::NoMemory) => size /= 2,
                Err(e) => fail!("SMEM create of {size} bytes: {e:?}"),
            }
        }
        Ok(())
    }

    /// Frees up to `n` regions of at least `size` bytes; returns the bytes.
    fn free_some(&mut self, n: usize, size: u64) -> Result<u64, Failed> {
        let mut freed = 0;
        let mut left = n;
        for slot in &mut self.held {
            if left == 0 {
                break;
            }
            if slot.as_ref().is_some_and(|r| r.len() >= size) {
                if let Some(region) = slot.take() {
                    let len = region.len();
                    let result = region.free();
                    check!(result.is_ok(), "SMEM free: {result:?}");
                    freed += len;
                    self.bytes -= len;
                    left -= 1;
                }
            }
        }
        Ok(freed)
    }

    fn free_all(&mut self) -> Result<(), Failed> {
        for slot in &mut self.held {
            if let Some(region) = slot.take() {
                let result = region.free();
                check!(result.is_ok(), "SMEM free: {result:?}");
            }
        }
        self.bytes = 0;
        Ok(())
    }
}

/// `/tmp/memhog.<n>` (at most two digits).
fn file_name(n: usize, buf: &mut [u8; 16]) -> &str {
    let prefix = b"/tmp/memhog.";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut len = prefix.len();
    if n >= 10 {
        buf[len] = b'0' + u8::try_from(n / 10 % 10).unwrap_or(0);
        len += 1;
    }
    buf[len] = b'0' + u8::try_from(n % 10).unwrap_or(0);
    len += 1;
    core::str::from_utf8(&buf[..len]).unwrap_or("/tmp/memhog.x")
}

/// Writes files until a fresh file's first write (or its open) says
/// `NoMemory` or `NoSpace` (a file that cannot grow further is closed and
/// the next one started: its buffer grows from nothing, so small pieces
/// fill what a doubling buffer cannot); returns the number of files and
/// the bytes written.
fn fill_files() -> Result<(usize, u64), Failed> {
    let mut bytes = 0;
    for n in 0..MAX_FILES {
        let mut name = [0_u8; 16];
        let path = file_name(n, &mut name);
        let file = match Sio::open(
            path,
            OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
        ) {
            Ok(file) => file,
            Err(e @ (SysError::NoMemory | SysError::NoSpace)) => {
                println!("memhog: open {path}: {e:?}: files full");
                return Ok((n, bytes));
            }
            Err(e) => fail!("open {path}: {e:?}"),
        };
        let mut in_file = 0;
        let ended = loop {
            match file.write(&PATTERN) {
                Ok(0) => fail!("write to {path} accepted nothing"),
                Ok(written) => in_file += written as u64,
                Err(e @ (SysError::FileTooLarge | SysError::NoMemory | SysError::NoSpace)) => {
                    break e;
                }
                Err(e) => fail!("write to {path} after {in_file} bytes: {e:?}"),
            }
        };
        bytes += in_file;
        let closed = file.close();
        check!(closed.is_ok(), "close {path}: {closed:?}");
        if in_file == 0 {
            println!("memhog: first write to {path}: {ended:?}: files full");
            return Ok((n + 1, bytes));
        }
    }
    Ok((MAX_FILES, bytes))
}

/// Truncates the files written by [`fill_files`] to nothing.
fn empty_files(count: usize) -> Result<(), Failed> {
    for n in 0..count {
        let mut name = [0_u8; 16];
        let path = file_name(n, &mut name);
        let file = Sio::open(path, OpenFlags::WRITE | OpenFlags::TRUNCATE);
        check!(file.is_ok(), "truncate {path}: {file:?}");
        if let Ok(file) = file {
            let closed = file.close();
            check!(closed.is_ok(), "close {path}: {closed:?}");
        }
    }
    Ok(())
}

/// A call made under exhaustion: prints its result; any error but
/// `Unknown` is a clear answer.
fn answer<T: core::fmt::Debug>(what: &str, got: Result<T, SysError>) -> Result<Option<T>, Failed> {
    println!("memhog: {what} -> {got:?}");
    match got {
        Ok(value) => Ok(Some(value)),
        Err(SysError::Unknown) => fail!("{what}: an unknown error code"),
        Err(_) => Ok(None),
    }
}

/// A call under exhaustion that needs no memory: it must work.
fn works<T: core::fmt::Debug>(what: &str, got: Result<T, SysError>) -> Result<T, Failed> {
    println!("memhog: {what} -> {got:?}");
    match got {
        Ok(value) => Ok(value),
        Err(e) => fail!("{what} needs no memory but failed: {e:?}"),
    }
}

/// Objects made before the squeeze.
struct Early {
    child: Smach,
    child_status: i32,
    scpu: Scpu,
    smem: Smem,
    file: Sio,
    zero: Sio,
}

fn make_early() -> Result<Early, Failed> {
    let child = Smach::spawn_with_arg("/bin/worker", 1);
    check!(child.is_ok(), "spawn /bin/worker: {child:?}");
    let child = child.map_err(|_| Failed)?;
    let child_status = child.wait();
    check!(child_status.is_ok(), "wait /bin/worker: {child_status:?}");
    let stack = PARKED_STACK.take().ok_or(Failed)?;
    let scpu = Scpu::create(parked, stack, 0);
    check!(scpu.is_ok(), "SCPU create: {scpu:?}");
    let scpu = scpu.map_err(|_| Failed)?;
    let suspended = scpu.suspend();
    check!(suspended.is_ok(), "SCPU suspend: {suspended:?}");
    let smem = Smem::create(PAGE, READ_WRITE);
    check!(smem.is_ok(), "SMEM create: {smem:?}");
    let file = Sio::open(
        "/tmp/memhog.early",
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    );
    check!(file.is_ok(), "open /tmp/memhog.early: {file:?}");
    let zero = Sio::open("/dev/zero", OpenFlags::READ);
    check!(zero.is_ok(), "open /dev/zero: {zero:?}");
    Ok(Early {
        child,
        child_status: child_status.unwrap_or(-1),
        scpu,
        smem: smem.map_err(|_| Failed)?,
        file: file.map_err(|_| Failed)?,
        zero: zero.map_err(|_| Failed)?,
    })
}

/// Step 5: create every kind and call every op on every kind.
fn squeeze(early: &mut Early) -> Result<(), Failed> {
    // SMACH: create (spawn), then every op on the child and on self.
    if let Some(late) = answer("SMACH create", Smach::spawn_with_arg("/bin/worker", 2))? {
        if let Some(status) = answer("SMACH wait (new child)", late.wait())? {
            let want = sk_user_worker::status(2);
            check!(
                status == want,
                "new worker exited with {status}, want {want}"
            );
        }
        answer("SMACH terminate (new child)", late.terminate())?;
    }
    let me = Smach::this();
    works("SMACH query self", me.query())?;
    works("SMACH priority self", me.set_priority(3))?;
    works("SMACH query child", early.child.query())?;
    let status = works("SMACH wait child (exited)", early.child.wait())?;
    check!(
        status == early.child_status,
        "child status {status}, was {}",
        early.child_status
    );
    answer("SMACH suspend child (exited)", early.child.suspend())?;
    answer("SMACH resume child (exited)", early.child.resume())?;
    works("null call", sk_user::null_call())?;

    // SCPU: create, then every op on the early one and the new one.
    let stack = LATE_STACK.take().ok_or(Failed)?;
    if let Some(late) = answer("SCPU create", Scpu::create(parked, stack, 0))? {
        works("SCPU query (new)", late.query())?;
        works("SCPU suspend (new)", late.suspend())?;
        works("SCPU terminate (new)", late.terminate(0))?;
    }
    works("SCPU query", early.scpu.query())?;
    works("SCPU priority", early.scpu.set_priority(5))?;
    works("SCPU quantum", early.scpu.set_quantum(20_000))?;
    works("SCPU resume", early.scpu.resume())?;
    works("SCPU suspend", early.scpu.suspend())?;
    answer(
        "SCPU priority 9 (bad)",
        early.scpu.reconfigure(ScpuReconfigure::Priority(9)),
    )?;

    // SMEM: create, then every op on the early one.
    if let Some(late) = answer("SMEM create (1 page)", Smem::create(PAGE, READ_WRITE))? {
        works("SMEM free (new)", late.free())?;
    }
    if let Some(late) = answer("SMEM create (16 MiB)", Smem::create(16 * MIB, READ_WRITE))? {
        works("SMEM free (new)", late.free())?;
    }
    works("SMEM query", early.smem.query())?;
    // Reading into mapped memory needs none.
    let zero_into = early.zero.read(&mut [0_u8; 512]);
    works("/dev/zero read into the stack", zero_into)?;
    works("SMEM protect read-only", early.smem.protect(Prot::READ))?;
    works("SMEM protect read-write", early.smem.protect(READ_WRITE))?;

    // SIO: create (a file, a device), then every op on every SIO, on both
    // paths.
    let late_file = answer(
        "SIO create /tmp/memhog.late",
        Sio::open(
            "/tmp/memhog.late",
            OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE,
        ),
    )?;
    let late_null = answer(
        "SIO create /dev/null",
        Sio::open("/dev/null", OpenFlags::WRITE),
    )?;
    let mut routines = [0_u8; 256];
    for (name, sio) in [
        ("file", Some(&early.file)),
        ("late file", late_file.as_ref()),
        ("/dev/zero", Some(&early.zero)),
        ("/dev/null", late_null.as_ref()),
        ("console", Some(&Sio::console())),
    ] {
        let Some(sio) = sio else { continue };
        for generic in [false, true] {
            let sio = if generic {
                Sio::from_handle(sio.handle()).generic()
            } else {
                Sio::from_handle(sio.handle())
            };
            let path = if generic { "generic" } else { "table" };
            println!("memhog: {name} ({path}):");
            if name != "console" && name != "/dev/null" {
                answer("  write 4 KiB", sio.write(&PATTERN[..4096]))?;
                answer("  seek 0", sio.seek(Whence::Set, 0))?;
            }
            if name != "/dev/null" && name != "console" {
                answer("  read 4 KiB", sio.read(&mut [0_u8; 4096]))?;
            }
            if name == "/dev/null" {
                answer("  write 4 KiB", sio.write(&PATTERN[..4096]))?;
            }
            works("  query", sio.query())?;
            works("  routines", sio.routines(&mut routines))?;
        }
    }
    if let Some(file) = late_file {
        works("SIO close /tmp/memhog.late", file.close())?;
    }
    if let Some(null) = late_null {
        works("SIO close /dev/null", null.close())?;
    }
    Ok(())
}

fn run() -> Result<(), Failed> {
    let mut early = make_early()?;
    let mut regions = Regions::new();
    regions.fill(16 * MIB)?;
    println!(
        "memhog: mapped {} MiB in {} regions until NoMemory",
        regions.bytes / MIB,
        regions.count()
    );
    let freed = regions.free_some(2, 16 * MIB)?;
    check!(freed >= 16 * MIB, "could not free 16 MiB of regions");
    let (files, file_bytes) = fill_files()?;
    println!(
        "memhog: freed {} MiB of regions, wrote {} KiB into {files} files until NoMemory/NoSpace",
        freed / MIB,
        file_bytes / 1024
    );
    regions.fill(16 * MIB)?;
    println!(
        "memhog: RAM full: {} MiB in {} regions, {} KiB of file data",
        regions.bytes / MIB,
        regions.count(),
        file_bytes / 1024
    );
    let squeezed = squeeze(&mut early);
    // Give everything back whatever happened.
    let freed = regions.free_all();
    let emptied = empty_files(files);
    let Early {
        child,
        scpu,
        smem,
        file,
        zero,
        ..
    } = early;
    let results = [
        child.terminate().is_ok(),
        scpu.terminate(0).is_ok(),
        smem.free().is_ok(),
        Sio::open("/tmp/memhog.early", OpenFlags::WRITE | OpenFlags::TRUNCATE)
            .and_then(Sio::close)
            .is_ok(),
        file.close().is_ok(),
        zero.close().is_ok(),
    ];
    squeezed?;
    freed?;
    emptied?;
    check!(
        results.iter().all(|&ok| ok),
        "freeing the early objects: {results:?}"
    );
    println!("memhog: freed everything");
    Ok(())
}

fn main() -> i32 {
    match run() {
        Ok(()) => 0,
        Err(Failed) => 1,
    }
}
