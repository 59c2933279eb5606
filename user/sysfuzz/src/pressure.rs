//! Fuzzing with memory full.
//!
//! Owns [`run`]: fills memory with SMEM regions (64 MiB, then smaller,
//! down to one page) and with file data (files of at most 4 MiB, each
//! grown 64 KiB at a time) until the kernel answers `NoMemory` (or
//! `NoSpace`, or `TooManyHandles`), keeps fuzzing (every call must then work or get
//! `NoMemory`: [`Fuzzer::sys`] accepts exactly that while `pressure` is
//! set), frees everything, and checks memory is usable again.

use sk_abi::{Call, Kind, OpenFlags, Prot, SioCreateArgs, SmemCreateArgs, SysError};
use sk_user::println;
use sk_user_sysfuzz::stats::Cell;

use crate::format::format_into;
use crate::fuzzer::{word, Expect, Fuzzer, SELF};

/// Most regions the fill keeps (the handle table has 1024 slots).
const MAX_REGIONS: usize = 600;

/// Most files the fill writes (256 MiB of file data in all).
const MAX_FILES: usize = 64;

/// Bytes of each file the fill writes. A file's buffer doubles as it
/// grows; once memory is too short to double it, each write past the end
/// moves the whole file to a buffer just large enough (a copy of the file
/// per 64 KiB written). Small files keep that copying small: one file
/// grown to 46 MiB that way cost about 65 billion guest instructions, more
/// than the rest of a 250,000-call run.
const FILE_BYTES: u64 = 4 << 20;

/// Makes an SMEM of `len` bytes where the kernel likes; the handle, or the
/// error.
fn fill_smem(fuzzer: &mut Fuzzer<'_>, len: u64) -> Result<u32, SysError> {
    let args = SmemCreateArgs {
        addr_hint: 0,
        len,
        prot: (Prot::READ | Prot::WRITE).bits(),
        flags: 0,
    }
    .to_bytes();
    let ptr = args.as_ptr() as u64;
    let cell = Cell::new(Call::Create, Some(Kind::Smem), true);
    let got = fuzzer.sys(
        word(SELF, Call::Create),
        &[u64::from(Kind::Smem), ptr, 24],
        [(ptr, ptr + 24), (0, 0)],
        cell,
        "fill SMEM",
        Expect::OkOr(SysError::TooManyHandles),
    )?;
    u32::try_from(got).map_err(|_| SysError::BadHandle)
}

/// Regions of `len` bytes until the kernel refuses; appended to
/// `regions`, their bytes added to `bytes`.
fn fill_regions(
    fuzzer: &mut Fuzzer<'_>,
    len: u64,
    regions: &mut [u32; MAX_REGIONS],
    count: &mut usize,
    bytes: &mut u64,
) {
    while *count < MAX_REGIONS {
        match fill_smem(fuzzer, len) {
            Ok(handle) => {
                if let Some(slot) = regions.get_mut(*count) {
                    *slot = handle;
                }
                *count += 1;
                *bytes += len;
            }
            Err(_) => break,
        }
    }
}

/// The memory-pressure phase: memory filled with 64 MiB regions until the
/// kernel refuses; one freed and filled with file data (a file grown
/// 64 KiB at a time) until the kernel refuses; smaller regions down to a
/// page until it refuses; fuzz `calls` more calls; free; check.
pub(crate) fn run(fuzzer: &mut Fuzzer<'_>, calls: u64) {
    let was_solo = fuzzer.solo;
    fuzzer.solo = false;
    fuzzer.pressure = true;
    let mut regions = [0_u32; MAX_REGIONS];
    let mut count = 0;
    let mut bytes = 0_u64;
    fill_regions(fuzzer, 64 << 20, &mut regions, &mut count, &mut bytes);
    if count > 0 {
        count -= 1;
        bytes -= 64 << 20;
        if let Some(&handle) = regions.get(count) {
            let cell = Cell::new(Call::Terminate, Some(Kind::Smem), true);
            let _ = fuzzer.sys(
                word(handle, Call::Terminate),
                &[0],
                [(0, 0); 2],
                cell,
                "free SMEM",
                Expect::Is(Ok(0)),
            );
        }
    }
    let mut files = [0_u32; MAX_FILES];
    let mut file_count = 0;
    let mut file_bytes = 0_u64;
    while file_count < MAX_FILES {
        let Some(file) = open_fill_file(fuzzer, file_count, true) else {
            break;
        };
        if let Some(slot) = files.get_mut(file_count) {
            *slot = file;
        }
        file_count += 1;
        let (written, full) = fill_file(fuzzer, file);
        file_bytes += written;
        if !full {
            break;
        }
    }
    for len in [4 << 20, 256 << 10, 16 << 10, 4 << 10] {
        fill_regions(fuzzer, len, &mut regions, &mut count, &mut bytes);
    }
    println!(
        "sysfuzz[{:x}]: memory full: {count} regions of {} MiB in all, {file_count} files of {} MiB in all",
        fuzzer.tag,
        bytes >> 20,
        file_bytes >> 20
    );
    let budget = fuzzer.stats.total + calls;
    fuzzer.run(budget);
    for &handle in regions.iter().take(count) {
        let cell = Cell::new(Call::Terminate, Some(Kind::Smem), true);
        let _ = fuzzer.sys(
            word(handle, Call::Terminate),
            &[0],
            [(0, 0); 2],
            cell,
            "free SMEM",
            Expect::Is(Ok(0)),
        );
    }
    // Close the files and empty them (their buffers stay with the files
    // until /tmp is cleaned).
    for (index, &file) in files.iter().enumerate().take(file_count) {
        close_fill_file(fuzzer, file);
        if let Some(again) = open_fill_file(fuzzer, index, false) {
            close_fill_file(fuzzer, again);
        }
    }
    fuzzer.pressure = false;
    fuzzer.solo = was_solo;
    // Memory is usable again: a region of 8 MiB.
    match fill_smem(fuzzer, 8 << 20) {
        Ok(handle) => {
            let cell = Cell::new(Call::Terminate, Some(Kind::Smem), true);
            let _ = fuzzer.sys(
                word(handle, Call::Terminate),
                &[0],
                [(0, 0); 2],
                cell,
                "free SMEM",
                Expect::Is(Ok(0)),
            );
        }
        Err(error) => fuzzer.fail(
            "after memory pressure",
            format_args!("an 8 MiB region: {error:?}"),
        ),
    }
}

/// Opens fill file `index` of this fuzzer, truncated (creating it);
/// `pressure`: memory is full, it may fail with `NoMemory`. The handle is
/// not tracked (the fill keeps its own list).
fn open_fill_file(fuzzer: &mut Fuzzer<'_>, index: usize, pressure: bool) -> Option<u32> {
    let mut path = [0_u8; 48];
    let len = format_into(
        &mut path,
        format_args!("/tmp/fz-{:06x}-pressure-{index}", fuzzer.tag),
    );
    let path = core::str::from_utf8(path.get(..len).unwrap_or_default()).ok()?;
    let flags = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let args = SioCreateArgs {
        path_ptr: path.as_ptr() as u64,
        path_len: path.len() as u64,
        flags: flags.bits(),
        _pad: 0,
    }
    .to_bytes();
    let ptr = args.as_ptr() as u64;
    let path_range = (
        path.as_ptr() as u64,
        path.as_ptr() as u64 + path.len() as u64,
    );
    let got = fuzzer.sys(
        word(SELF, Call::Create),
        &[u64::from(Kind::Sio), ptr, 24],
        [(ptr, ptr + 24), path_range],
        Cell::new(Call::Create, Some(Kind::Sio), true),
        "open fill file",
        if pressure {
            Expect::OkOr(SysError::TooManyHandles)
        } else {
            Expect::Ok
        },
    );
    got.ok().and_then(|handle| u32::try_from(handle).ok())
}

/// Writes fill file `file` 64 KiB at a time up to [`FILE_BYTES`]; the
/// bytes written, and whether it got them all.
fn fill_file(fuzzer: &mut Fuzzer<'_>, file: u32) -> (u64, bool) {
    let source = fuzzer.arena.source_addr(0);
    let chunk = 64 << 10;
    let cell = Cell::new(Call::Write, Some(Kind::Sio), true);
    let mut written = 0_u64;
    while written < FILE_BYTES {
        let got = fuzzer.sys(
            word(file, Call::Write),
            &[source, chunk],
            [(source, source + chunk), (0, 0)],
            cell,
            "fill file",
            Expect::Is(Ok(chunk)),
        );
        match got {
            Ok(n) if n > 0 => written += n,
            _ => return (written, false),
        }
    }
    (written, true)
}

/// Closes a fill file.
fn close_fill_file(fuzzer: &mut Fuzzer<'_>, file: u32) {
    let cell = Cell::new(Call::Terminate, Some(Kind::Sio), true);
    let _ = fuzzer.sys(
        word(file, Call::Terminate),
        &[0],
        [(0, 0); 2],
        cell,
        "close fill file",
        Expect::Is(Ok(0)),
    );
}
