//! Modes 4, 5 and 6: a RAM file growing, or cut, while another SCPU counts.
//!
//! A call runs with interrupts masked; growing a file maps (and zeroes)
//! its new pages inside the call. These modes check that growth is done
//! in bounded steps with preemption points between them: a far write past
//! the end of an empty file (mode 4) and a file grown 64 KiB at a time,
//! then again with memory nearly full (mode 5), must keep the counting
//! SCPU off the CPU no longer than a long read does
//! ([`LONGEST_OFF_CPU_MS`]). A kernel that zeroed or copied the whole
//! file inside one stretch kept it off for the whole file. Mode 6 opens a
//! 256 MiB file with `TRUNCATE`, which zeroes the bytes it cuts off: it
//! must cut in bounded steps too.

use sk_user::abi::SysError;
use sk_user::{println, rdtsc, OpenFlags, Prot, Sio, Smem, Whence};

use super::{
    fresh_quantum, ms_to_ticks, ticks_to_us, watch, watched, Watched, FAILED, LONGEST_OFF_CPU_MS,
    MIB,
};

/// Where mode 4 writes its byte.
const FAR_OFFSET: u64 = 512 * MIB;
/// The byte it writes.
const FAR_BYTE: u8 = 0x5a;
/// Mode 5's file size before memory is filled.
const GROWN_BYTES: u64 = 256 * MIB;
/// Bytes per write in mode 5.
const PIECE_BYTES: usize = 64 << 10;
/// Writes past the end with memory nearly full.
const PRESSED_WRITES: u64 = 16;
/// Size of the SMEM regions that fill memory.
const REGION_BYTES: u64 = 16 * MIB;
/// Most regions held (1 GiB of RAM under the kernel tests; few enough for
/// the caller's stack).
const MAX_REGIONS: usize = 64;
/// Free memory left beyond the file's size once memory is filled: enough
/// for one copy of the file, never for a doubled one.
const SLACK_BYTES: u64 = 32 * MIB;

/// What mode 5 writes: each 64 KiB piece carries its index.
static PIECE: [u8; PIECE_BYTES] = [0xa5; PIECE_BYTES];

/// Prints a failure and gives the status.
fn fail(what: &str) -> i32 {
    println!("cpuhog: FAILED: {what}");
    FAILED
}

/// Prints what the counting SCPU saw and checks it was never kept off
/// the CPU for [`LONGEST_OFF_CPU_MS`] or more.
fn report(what: &str, start: u64, end: u64, seen: Watched) -> Result<(), i32> {
    println!(
        "cpuhog: {what}: {} TSC ticks ({} us); meanwhile the counting SCPU resumed {} times, was off the CPU {} ticks in all and at most {} ticks ({} us) at a time",
        end - start,
        ticks_to_us(end - start),
        seen.gaps,
        seen.total,
        seen.longest,
        ticks_to_us(seen.longest)
    );
    if seen.longest >= ms_to_ticks(LONGEST_OFF_CPU_MS) {
        return Err(fail(
            "the call kept the other SCPU off the CPU for 20 ms or more",
        ));
    }
    Ok(())
}

/// Reads `buf.len()` bytes of `file` at `offset`; how many it got.
fn read_at(file: &Sio, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
    let offset = i64::try_from(offset).map_err(|_| fail("offset"))?;
    file.seek(Whence::Set, offset)
        .map_err(|_| fail("seek for a read-back"))?;
    file.read(buf).map_err(|_| fail("read-back"))
}

/// Whether the 4 KiB at `offset` read back as zeros.
fn reads_zeros(file: &Sio, offset: u64) -> Result<bool, i32> {
    let mut buf = [0xff_u8; 4096];
    let got = read_at(file, offset, &mut buf)?;
    Ok(got == buf.len() && buf.iter().all(|&b| b == 0))
}

/// Mode 4: one byte at 512 MiB of an empty file.
pub(super) fn far_write() -> Result<(), i32> {
    let file = Sio::open(
        "/tmp/cpuhog.far",
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )
    .map_err(|_| fail("open /tmp/cpuhog.far"))?;
    file.seek(Whence::Set, FAR_OFFSET as i64)
        .map_err(|_| fail("seek to 512 MiB"))?;
    // Start the call with a whole one-tick quantum ahead.
    fresh_quantum();
    let start = watch();
    let got = file.write(&[FAR_BYTE]);
    let end = rdtsc();
    let seen = watched();
    let grew = report("a 1-byte write at 512 MiB", start, end, seen);
    let info = file.query().map_err(|_| fail("query"))?;
    let mut tail = [0_u8; 2];
    let tail_got = read_at(&file, FAR_OFFSET, &mut tail)?;
    let mut gap_zeros = true;
    for offset in [0, 4096, FAR_OFFSET / 2, FAR_OFFSET - 4096] {
        gap_zeros &= reads_zeros(&file, offset)?;
    }
    let failures = [
        (got != Ok(1), "the far write did not return 1"),
        (
            info.size != FAR_OFFSET + 1 || info.position != FAR_OFFSET + 1,
            "the file's size is not 512 MiB + 1",
        ),
        (
            tail_got != 1 || tail[0] != FAR_BYTE,
            "the byte at 512 MiB did not read back",
        ),
        (!gap_zeros, "the gap did not read back as zeros"),
    ];
    let mut ok = grew.is_ok();
    for (failed, what) in failures {
        if failed {
            fail(what);
            ok = false;
        }
    }
    if !ok {
        println!("cpuhog: far write returned {got:?}; size {}", info.size);
        return Err(FAILED);
    }
    Ok(())
}

/// Writes one 64 KiB piece (all of it, or fails).
fn write_piece(file: &Sio) -> Result<(), SysError> {
    match file.write(&PIECE)? {
        PIECE_BYTES => Ok(()),
        _ => Err(SysError::NoSpace),
    }
}

/// SMEM regions of [`REGION_BYTES`] filling memory.
struct Regions([Option<Smem>; MAX_REGIONS]);

impl Regions {
    /// Maps regions until `NoMemory` (or the table is full); how many.
    fn fill() -> Result<(Self, usize), i32> {
        let mut regions = Self(core::array::from_fn(|_| None));
        let mut count = 0;
        for slot in &mut regions.0 {
            match Smem::create(REGION_BYTES, Prot::READ | Prot::WRITE) {
                Ok(region) => {
                    *slot = Some(region);
                    count += 1;
                }
                Err(SysError::NoMemory) => return Ok((regions, count)),
                Err(_) => return Err(fail("SMEM create")),
            }
        }
        Err(fail("memory did not fill with 64 regions of 16 MiB"))
    }

    /// Frees `n` regions.
    fn free(&mut self, n: usize) -> Result<(), i32> {
        for slot in self.0.iter_mut().filter(|r| r.is_some()).take(n) {
            if let Some(region) = slot.take() {
                region.free().map_err(|_| fail("SMEM free"))?;
            }
        }
        Ok(())
    }
}

/// Mode 5: a file grown to 256 MiB in 64 KiB writes, then grown further
/// with memory nearly full.
pub(super) fn pressure_growth() -> Result<(), i32> {
    let file = Sio::open(
        "/tmp/cpuhog.grow",
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )
    .map_err(|_| fail("open /tmp/cpuhog.grow"))?;
    let pieces = GROWN_BYTES / PIECE_BYTES as u64;
    fresh_quantum();
    let start = watch();
    for _ in 0..pieces {
        write_piece(&file).map_err(|e| {
            println!("cpuhog: growing to 256 MiB: {e:?}");
            fail("a 64 KiB write while growing to 256 MiB")
        })?;
    }
    let end = rdtsc();
    let grown = report("256 MiB in 64 KiB writes", start, end, watched());

    // Fill memory, then give back the file's size and some slack: a
    // kernel that moves the file to grow it can copy it once, never
    // double it.
    let (mut regions, count) = Regions::fill()?;
    let give_back = (GROWN_BYTES + SLACK_BYTES) / REGION_BYTES;
    let give_back = usize::try_from(give_back).unwrap_or(usize::MAX);
    if count < give_back {
        return Err(fail("too little memory to fill"));
    }
    regions.free(give_back)?;
    println!("cpuhog: memory filled with {count} regions of 16 MiB, {give_back} given back");
    fresh_quantum();
    let start = watch();
    let mut pressed = Ok(());
    for _ in 0..PRESSED_WRITES {
        pressed = write_piece(&file);
        if pressed.is_err() {
            break;
        }
    }
    let end = rdtsc();
    let pressed_gaps = report(
        "16 writes of 64 KiB past a 256 MiB file, memory nearly full",
        start,
        end,
        watched(),
    );
    regions.free(MAX_REGIONS)?;

    let info = file.query().map_err(|_| fail("query"))?;
    let want = GROWN_BYTES + PRESSED_WRITES * PIECE_BYTES as u64;
    let mut buf = [0_u8; 4096];
    let mut reads_back = true;
    for offset in [0, GROWN_BYTES / 2, GROWN_BYTES, want - 4096] {
        reads_back &=
            read_at(&file, offset, &mut buf)? == buf.len() && buf.iter().all(|&b| b == 0xa5);
    }
    let at_end = read_at(&file, want, &mut buf)?;
    let failures = [
        (grown.is_err(), "growing to 256 MiB"),
        (
            pressed.is_err(),
            "a write past 256 MiB with memory nearly full failed",
        ),
        (pressed_gaps.is_err(), "growing with memory nearly full"),
        (info.size != want, "the file's size is not 257 MiB"),
        (!reads_back || at_end != 0, "the file did not read back"),
    ];
    let mut ok = true;
    for (failed, what) in failures {
        if failed {
            fail(what);
            ok = false;
        }
    }
    if !ok {
        println!(
            "cpuhog: writes past 256 MiB: {pressed:?}; size {}",
            info.size
        );
        return Err(FAILED);
    }
    Ok(())
}

/// Mode 6's file size before it is opened with `TRUNCATE`.
const CUT_BYTES: u64 = 256 * MIB;

/// Mode 6: a 256 MiB file opened again with `TRUNCATE`.
pub(super) fn truncating_open() -> Result<(), i32> {
    const PATH: &str = "/tmp/cpuhog.cut";
    let flags = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let file = Sio::open(PATH, flags).map_err(|_| fail("open /tmp/cpuhog.cut"))?;
    let filled = file
        .write(&[FAR_BYTE; 4096])
        .map_err(|_| fail("write at 0"))?;
    file.seek(Whence::Set, (CUT_BYTES - 1) as i64)
        .map_err(|_| fail("seek to 256 MiB"))?;
    let grown = file
        .write(&[FAR_BYTE])
        .map_err(|_| fail("write at 256 MiB"))?;
    file.close().map_err(|_| fail("close"))?;
    if filled != 4096 || grown != 1 {
        return Err(fail("the file did not grow to 256 MiB"));
    }
    fresh_quantum();
    let start = watch();
    let reopened = Sio::open(PATH, flags);
    let end = rdtsc();
    let cut = report(
        "opening a 256 MiB file with TRUNCATE",
        start,
        end,
        watched(),
    );
    let file = reopened.map_err(|_| fail("the open with TRUNCATE failed"))?;
    let size = file.query().map_err(|_| fail("query"))?.size;
    // Bytes past a cut read as zeros when the file grows again.
    file.seek(Whence::Set, 8191)
        .map_err(|_| fail("seek to 8191"))?;
    let regrown = file.write(&[1]).map_err(|_| fail("write at 8191"))?;
    let zeros = reads_zeros(&file, 0)?;
    let failures = [
        (cut.is_err(), "cutting 256 MiB"),
        (size != 0, "the file's size after TRUNCATE is not 0"),
        (
            regrown != 1 || !zeros,
            "the cut bytes did not read back as zeros",
        ),
    ];
    let mut ok = true;
    for (failed, what) in failures {
        if failed {
            fail(what);
            ok = false;
        }
    }
    if !ok {
        println!("cpuhog: size after TRUNCATE {size}");
        return Err(FAILED);
    }
    Ok(())
}
