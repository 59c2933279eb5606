//! Mode 14: SIO churn across SCPUs. Three threads at priority 0 (one-tick
//! quanta: preempted anywhere) open, use and close files and devices as
//! fast as they can, so handle numbers pass from thread to thread and
//! every open synthesizes routines into a recycled arena block; all three
//! also read one `/dev/zero` SIO they share. Every byte read is checked:
//! stale code (a routine baked for another SIO, a table slot left
//! pointing at a retired or reused block) would show as wrong bytes. With
//! `param` bit 0, memory is filled with SMEM first, so installs fail and
//! calls fall back to the generic path at random points.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{dev_mem_byte, Handle, SysError};
use sk_user::{println, OpenFlags, Prot, Scpu, Sio, Smem, Whence};

use crate::support::{start_on, wait_gone, COUNT, SETUP, SPIN_LIMIT};

/// Worker threads.
const WORKERS: usize = 3;
/// Iterations of each worker.
const ITERATIONS: u64 = 120;
const PATHS: [&str; WORKERS] = ["/tmp/rp.c0", "/tmp/rp.c1", "/tmp/rp.c2"];

static GO: AtomicU64 = AtomicU64::new(0);
static SHARED: AtomicU32 = AtomicU32::new(0);
static PRESSURE: AtomicU64 = AtomicU64::new(0);
/// Wrong bytes or unexpected errors seen.
static FAILS: AtomicU64 = AtomicU64::new(0);
/// Errors accepted under memory pressure (`NoMemory`, `NoSpace`).
static TOLERATED: AtomicU64 = AtomicU64::new(0);
/// Iterations done by all workers.
static PROGRESS: AtomicU64 = AtomicU64::new(0);
static FINISHED: AtomicU64 = AtomicU64::new(0);
static HANDLES: [AtomicU32; WORKERS] = [const { AtomicU32::new(0) }; WORKERS];

fn fail(worker: u64, k: u64, what: &str, detail: Result<usize, SysError>) {
    if FAILS.fetch_add(1, Ordering::SeqCst) < 8 {
        println!("reaper: FINDING: churn worker {worker} iteration {k}: {what}: {detail:?}");
    }
}

/// An error that memory pressure excuses.
fn excused(e: SysError) -> bool {
    PRESSURE.load(Ordering::SeqCst) != 0 && matches!(e, SysError::NoMemory | SysError::NoSpace)
}

fn open_or_note(path: &str, flags: OpenFlags, worker: u64, k: u64) -> Option<Sio> {
    match Sio::open(path, flags) {
        Ok(s) => Some(s),
        Err(e) if excused(e) => {
            TOLERATED.fetch_add(1, Ordering::SeqCst);
            None
        }
        Err(e) => {
            fail(worker, k, "open", Err(e));
            None
        }
    }
}

fn one_round(worker: u64, k: u64, shared: &Sio) {
    let rw = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    // A file of this worker: write 64 bytes, read them back.
    if let Some(f) = open_or_note(
        PATHS[usize::try_from(worker).unwrap_or(0) % WORKERS],
        rw,
        worker,
        k,
    ) {
        let mut pattern = [0u8; 64];
        for (j, b) in pattern.iter_mut().enumerate() {
            let [low, ..] = (worker * 64 + k * 7 + j as u64).to_le_bytes();
            *b = low | 1;
        }
        match f.write(&pattern) {
            Ok(64) => {
                let mut back = [0u8; 64];
                let r = f.seek(Whence::Set, 0).and_then(|_| f.read(&mut back));
                if r != Ok(64) || back != pattern {
                    fail(worker, k, "file read back", r);
                }
            }
            Err(e) if excused(e) => {
                TOLERATED.fetch_add(1, Ordering::SeqCst);
            }
            other => fail(worker, k, "file write", other),
        }
        let _ = f.close();
    }
    // /dev/zero of its own.
    if let Some(z) = open_or_note("/dev/zero", OpenFlags::READ, worker, k) {
        let mut buf = [0xffu8; 64];
        let r = z.read(&mut buf);
        if r != Ok(64) || buf.iter().any(|&b| b != 0) {
            fail(worker, k, "/dev/zero read", r);
        }
        let _ = z.close();
    }
    // /dev/mem at a moving offset.
    if let Some(m) = open_or_note("/dev/mem", OpenFlags::READ, worker, k) {
        let off = (k * 13 + worker * 1000) % 8192;
        let mut buf = [0u8; 32];
        let r = m
            .seek(Whence::Set, off as i64)
            .and_then(|_| m.read(&mut buf));
        let right = buf
            .iter()
            .enumerate()
            .all(|(j, &b)| b == dev_mem_byte(off + j as u64));
        if r != Ok(32) || !right {
            fail(worker, k, "/dev/mem read", r);
        }
        let _ = m.close();
    }
    // The shared /dev/zero.
    let mut buf = [0x5au8; 32];
    let r = shared.read(&mut buf);
    if r != Ok(32) || buf.iter().any(|&b| b != 0) {
        fail(worker, k, "shared /dev/zero read", r);
    }
}

extern "C" fn worker(index: u64) -> ! {
    while GO.load(Ordering::SeqCst) == 0 {
        core::hint::spin_loop();
    }
    let shared = Sio::from_handle(Handle::new(SHARED.load(Ordering::SeqCst)));
    for k in 0..ITERATIONS {
        one_round(index, k, &shared);
        PROGRESS.fetch_add(1, Ordering::SeqCst);
    }
    FINISHED.fetch_add(1, Ordering::SeqCst);
    // End itself (its SIOs are closed; the shared one stays).
    let h = HANDLES[usize::try_from(index).unwrap_or(0) % WORKERS].load(Ordering::SeqCst);
    let _ = Scpu::from_handle(Handle::new(h)).terminate(0);
    FAILS.fetch_add(1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// Most regions held while memory is full.
const MAX_REGIONS: usize = 600;

/// Maps regions (16 MiB, then halving to a page) until `NoMemory`.
fn fill_memory(regions: &mut [Option<Smem>]) -> u64 {
    let mut held = 0usize;
    let mut bytes = 0u64;
    let mut size = 16u64 << 20;
    while size >= 4096 && held < regions.len() {
        match Smem::create(size, Prot::READ | Prot::WRITE) {
            Ok(r) => {
                regions[held] = Some(r);
                held += 1;
                bytes += size;
            }
            Err(_) => size /= 2,
        }
    }
    bytes
}

/// Mode 14 (see the module doc).
pub(crate) fn churn(param: u64) -> Result<(), i32> {
    let shared = Sio::open("/dev/zero", OpenFlags::READ).map_err(|_| SETUP)?;
    let mut first = [1u8; 8];
    if shared.read(&mut first) != Ok(8) {
        return Err(SETUP);
    }
    SHARED.store(shared.handle().index(), Ordering::SeqCst);
    let mut scpus = [Handle::new(0); WORKERS];
    for (i, h) in scpus.iter_mut().enumerate() {
        // SAFETY: each slot is used once in this program.
        let scpu = unsafe { start_on(i, worker, i as u64, 0) }?;
        *h = scpu.handle();
        HANDLES[i].store(h.index(), Ordering::SeqCst);
    }
    let mut regions: [Option<Smem>; MAX_REGIONS] = [const { None }; MAX_REGIONS];
    let mut filled = 0;
    if param & 1 != 0 {
        PRESSURE.store(1, Ordering::SeqCst);
        filled = fill_memory(&mut regions);
    }
    GO.store(1, Ordering::SeqCst);
    let total = WORKERS as u64 * ITERATIONS;
    let mut freed_midway = false;
    let mut spins = 0u64;
    while FINISHED.load(Ordering::SeqCst) < WORKERS as u64 {
        if !freed_midway && PROGRESS.load(Ordering::SeqCst) >= total / 2 {
            // Give some memory back mid-way: installs start to succeed.
            for r in regions.iter_mut().rev().filter(|r| r.is_some()).take(8) {
                if let Some(r) = r.take() {
                    let _ = r.free();
                }
            }
            freed_midway = true;
        }
        spins += 1;
        if spins > SPIN_LIMIT {
            println!("reaper: churn: the workers never finished");
            return Err(SETUP);
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    for h in scpus {
        wait_gone(h, 11)?;
    }
    for r in regions.iter_mut() {
        if let Some(r) = r.take() {
            let _ = r.free();
        }
    }
    let fails = FAILS.load(Ordering::SeqCst);
    println!(
        "reaper: churn: {total} rounds on {WORKERS} SCPUs ({} MiB of SMEM held while they ran); {fails} failures, {} errors excused by memory pressure",
        filled >> 20,
        TOLERATED.load(Ordering::SeqCst)
    );
    let _ = shared.close();
    if fails != 0 {
        return Err(10);
    }
    Ok(())
}
