//! `drain`: tries to eat the kernel's frame reserve (16 MiB that user
//! memory, file data and admitted kernel objects never take) through
//! kernel memory that no call admits: file-system metadata (nodes and
//! names of empty files) and the kernel heap behind it.
//!
//! Mode 1 (the only mode):
//!
//! 1. opens `/dev/zero` (handle 2: it gets a synthesized read routine),
//!    then `/dev/null` until the handle table's routine slots (handles
//!    below 64) are used, so later opens synthesize nothing;
//! 2. maps SMEM (16 MiB, then halving to one page) until `NoMemory`: user
//!    memory now stops at the reserve line;
//! 3. creates empty files in `/tmp` with 255-byte names (increasing, so
//!    each is appended to the directory), opened and closed at once, until
//!    the kernel refuses; then shorter names (128, 64, 32, 16, 8 bytes),
//!    each until refused; then opens `/dev/null` until refused;
//! 4. while RAM is at its fullest: `query(Routines)` of the `/dev/zero`
//!    SIO (its text lists the facts each routine baked in), and an open of
//!    `/dev/zero` on a handle below 64 (synthesis on the open path); each
//!    must answer (an error is fine), never panic the kernel;
//! 5. spins a few timer ticks (the kernel test samples free frames at each
//!    of its turns), frees everything, creates `/tmp/dr.done` (the test's
//!    signal that the program is past its fullest point) and exits 0.
//!
//! The kernel test checks that free frames never fell far below the
//! reserve while the program ran. Exit status: 0 = ran to the end; 1 =
//! setup failed.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use sk_user::abi::SysError;
use sk_user::{print, println, OpenFlags, Prot, Sio, Smem};

sk_user::entry!(main);

const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;
/// Most SMEM regions held.
const MAX_REGIONS: usize = 256;
/// Most `/dev/null` handles held.
const MAX_NULLS: usize = 1024;
/// Longest file-name component the file system takes.
const NAME_MAX: usize = 255;

static SPIN: AtomicU64 = AtomicU64::new(0);

/// `/tmp/<counter><padding>`: a path whose last component is `len` bytes
/// (at least 8), increasing with `n`.
fn path_of(buf: &mut [u8; 5 + NAME_MAX], n: u64, len: usize) -> &str {
    let prefix = b"/tmp/";
    buf[..5].copy_from_slice(prefix);
    let mut digits = [b'0'; 8];
    let mut v = n;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf[5..13].copy_from_slice(&digits);
    let len = len.clamp(8, NAME_MAX);
    for b in &mut buf[13..5 + len] {
        *b = b'x';
    }
    core::str::from_utf8(&buf[..5 + len]).unwrap_or("/tmp/bad")
}

fn main() -> i32 {
    // 1. A synthesized SIO for later, and the routine slots used up.
    let Ok(zero) = Sio::open("/dev/zero", OpenFlags::READ) else {
        println!("drain: open /dev/zero failed");
        return 1;
    };
    let mut nulls: [Option<Sio>; MAX_NULLS] = [const { None }; MAX_NULLS];
    let mut null_count = 0;
    while null_count < MAX_NULLS {
        match Sio::open("/dev/null", OpenFlags::WRITE) {
            Ok(s) if s.handle().index() < 64 => {
                nulls[null_count] = Some(s);
                null_count += 1;
            }
            Ok(s) => {
                let _ = s.close();
                break;
            }
            Err(e) => {
                println!("drain: open /dev/null: {e:?}");
                return 1;
            }
        }
    }
    println!("drain: {null_count} /dev/null handles fill the routine slots");

    // 2. User memory up to the reserve line.
    let mut regions: [Option<Smem>; MAX_REGIONS] = [const { None }; MAX_REGIONS];
    let mut held = 0;
    let mut size = 16 * MIB;
    let mut mapped = 0;
    while size >= PAGE && held < MAX_REGIONS {
        match Smem::create(size, Prot::READ | Prot::WRITE) {
            Ok(r) => {
                mapped += r.len();
                regions[held] = Some(r);
                held += 1;
            }
            Err(SysError::NoMemory) => size /= 2,
            Err(e) => {
                println!("drain: SMEM create of {size}: {e:?}");
                return 1;
            }
        }
    }
    println!(
        "drain: {held} SMEM regions, {} MiB: user memory is at the reserve line",
        mapped / MIB
    );

    // 3. File-system metadata until the kernel refuses.
    let mut buf = [0u8; 5 + NAME_MAX];
    let mut n = 0u64;
    for len in [NAME_MAX, 128, 64, 32, 16, 8] {
        let before = n;
        let error = loop {
            let path = path_of(&mut buf, n, len);
            match Sio::open(
                path,
                OpenFlags::READ | OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
            ) {
                Ok(f) => {
                    let _ = f.close();
                    n += 1;
                }
                Err(e) => break e,
            }
        };
        println!(
            "drain: {} files with {len}-byte names, then {error:?}",
            n - before
        );
    }
    let mut extra = 0;
    let error = loop {
        if null_count >= MAX_NULLS {
            break SysError::TooManyHandles;
        }
        match Sio::open("/dev/null", OpenFlags::WRITE) {
            Ok(s) => {
                nulls[null_count] = Some(s);
                null_count += 1;
                extra += 1;
            }
            Err(e) => break e,
        }
    };
    println!("drain: {n} files created, then {extra} more /dev/null handles, then {error:?}");

    // 4. Calls on paths that allocate on the kernel heap, at the fullest.
    let mut text = [0u8; 256];
    match zero.routines(&mut text) {
        Ok(len) => println!("drain: query(Routines) gave {len} bytes"),
        Err(e) => println!("drain: query(Routines): {e:?}"),
    }
    if let Some(s) = nulls[0].take() {
        let _ = s.close();
        match Sio::open("/dev/zero", OpenFlags::READ) {
            Ok(z) => {
                print!(
                    "drain: open /dev/zero on handle {} worked",
                    z.handle().index()
                );
                let mut b = [1u8; 4];
                println!("; read: {:?}", z.read(&mut b));
                let _ = z.close();
            }
            Err(e) => println!("drain: open /dev/zero on a routine slot: {e:?}"),
        }
    }

    // 5. Stay at the fullest point for a few ticks, then give it all back.
    for _ in 0..30_000_000 {
        SPIN.fetch_add(1, Ordering::Relaxed);
    }
    for r in regions.iter_mut().filter_map(Option::take) {
        let _ = r.free();
    }
    for s in nulls.iter_mut().filter_map(Option::take) {
        let _ = s.close();
    }
    let _ = zero.close();
    match Sio::open("/tmp/dr.done", OpenFlags::WRITE | OpenFlags::CREATE) {
        Ok(f) => {
            let _ = f.close();
        }
        Err(e) => {
            println!("drain: creating /tmp/dr.done: {e:?}");
            return 1;
        }
    }
    println!("drain: done");
    0
}
