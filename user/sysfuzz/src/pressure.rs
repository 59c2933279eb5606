//! Fuzzing with memory full.
//!
//! Owns [`run`]: fills memory with SMEM regions (64 MiB, then smaller,
//! down to one page) and with file data (a file grown 64 KiB at a time)
//! until the kernel answers `NoMemory` (or `NoSpace`, or
//! `TooManyHandles`), keeps fuzzing (every call must then work or get
//! `NoMemory`: [`Fuzzer::sys`] accepts exactly that while `pressure` is
//! set), frees everything, and checks memory is usable again.

use sk_abi::{Call, Kind, OpenFlags, Prot, SmemCreateArgs, SysError};
use sk_user::println;
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{word, Expect, Fuzzer, SELF};
use crate::sio::format_into;

/// Most regions the fill keeps (the handle table has 1024 slots).
const MAX_REGIONS: usize = 600;

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
    let mut path = [0_u8; 48];
    let len = format_into(
        &mut path,
        format_args!("/tmp/fz-{:06x}-pressure", fuzzer.tag),
    );
    let path =
        core::str::from_utf8(path.get(..len).unwrap_or_default()).unwrap_or("/tmp/fz-pressure");
    let flags = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let file = fuzzer.open_plain(path, flags);
    let mut file_bytes = 0_u64;
    if let Some(file) = file {
        let source = fuzzer.arena.source_addr(0);
        let chunk = 64 << 10;
        let cell = Cell::new(Call::Write, Some(Kind::Sio), true);
        while file_bytes < 256 << 20 {
            let got = fuzzer.sys(
                word(file, Call::Write),
                &[source, chunk],
                [(source, source + chunk), (0, 0)],
                cell,
                "fill file",
                Expect::Is(Ok(chunk)),
            );
            match got {
                Ok(n) if n > 0 => file_bytes += n,
                _ => break,
            }
        }
    }
    for len in [4 << 20, 256 << 10, 16 << 10, 4 << 10] {
        fill_regions(fuzzer, len, &mut regions, &mut count, &mut bytes);
    }
    println!(
        "sysfuzz[{:x}]: memory full: {count} regions of {} MiB in all, a file of {} MiB",
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
    if let Some(file) = file {
        // Free the file's data: close it, open it truncated, close that.
        fuzzer.close_plain(file);
        if let Some(again) = fuzzer.open_plain(path, flags) {
            fuzzer.close_plain(again);
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
