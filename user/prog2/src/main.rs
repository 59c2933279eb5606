//! `prog2`: Program 2 of the Synthesis paper (§4.2), on the native ABI.
//!
//! Opens `/dev/mem` read-only and makes 10,000 reads of 1,000 bytes into a
//! 1,000-byte buffer (10 MB, inside the 16 MiB window). The timed loop is
//! the paper's: reads only, each checked to return 1,000 (fenced TSC,
//! [`rdtsc`] before, [`rdtscp`] after). Summing 1,000 bytes would cost
//! more than the read itself on this target (no SIMD in user code), so
//! the checksum comes from a second, untimed pass over the same 10 MB
//! after a seek back to 0; then the file is closed.
//!
//! Start argument: 0 = normal calls (the synthesized routines); 1 = every
//! call forced down the kernel's generic path
//! ([`sk_user::set_generic_mode`]), and the lines say so.
//!
//! Prints exactly:
//!
//! ```text
//! prog2: 10000 reads of 1000 bytes from /dev/mem, checksum 0x4bfef0c0
//! prog2: <ticks> TSC ticks, <ticks / 10000, one decimal> per read
//! ```
//!
//! or, with argument 1, the same with `prog2 (generic path):` in front.
//! The checksum is the wrapping `u64` sum of the bytes read: `/dev/mem`
//! byte `i` is `(i * 7 + 3) mod 256`, so it is always `0x4bfef0c0`
//! (1,274,998,976). Exit status 0; 1 if `/dev/mem` cannot be opened, the
//! seek fails, any read returned anything but 1,000, or the checksum is not
//! `0x4bfef0c0` (so two runs that exit 0 printed the same checksum).
#![no_std]
#![no_main]

use sk_user::{println, rdtsc, rdtscp, start_arg, OpenFlags, Sio, Whence};

sk_user::entry!(main);

/// Number of reads, as in the paper.
const READS: u64 = 10_000;

/// Bytes per read, as in the paper.
const READ_LEN: usize = 1000;

/// The checksum every correct run prints.
const EXPECTED_CHECKSUM: u64 = 0x4bfe_f0c0;

fn main() -> i32 {
    let name = if start_arg() == 1 {
        sk_user::set_generic_mode(true);
        "prog2 (generic path)"
    } else {
        "prog2"
    };
    let mem = match Sio::open("/dev/mem", OpenFlags::READ) {
        Ok(mem) => mem,
        Err(error) => {
            println!("{name}: cannot open /dev/mem: {error}");
            return 1;
        }
    };
    let mut buf = [0_u8; READ_LEN];

    // Timed pass: the paper's loop.
    let mut bad_reads = 0_u64;
    let start = rdtsc();
    for _ in 0..READS {
        if mem.read(&mut buf) != Ok(READ_LEN) {
            bad_reads += 1;
        }
    }
    let ticks = rdtscp().wrapping_sub(start);

    // Untimed pass: the same bytes again, summed.
    let mut checksum = 0_u64;
    if let Err(error) = mem.seek(Whence::Set, 0) {
        println!("{name}: seek to 0 failed: {error}");
        bad_reads += 1;
    }
    for _ in 0..READS {
        match mem.read(&mut buf) {
            Ok(READ_LEN) => {
                let sum = buf.iter().map(|&byte| u64::from(byte)).sum::<u64>();
                checksum = checksum.wrapping_add(sum);
            }
            _ => bad_reads += 1,
        }
    }
    let _ = mem.close();

    println!("{name}: {READS} reads of {READ_LEN} bytes from /dev/mem, checksum {checksum:#x}");
    let tenths = tenths_per_read(ticks, READS);
    println!(
        "{name}: {ticks} TSC ticks, {}.{} per read",
        tenths / 10,
        tenths % 10
    );
    let mut status = 0;
    if bad_reads != 0 {
        println!("{name}: {bad_reads} reads did not return {READ_LEN} bytes");
        status = 1;
    }
    if checksum != EXPECTED_CHECKSUM {
        println!("{name}: checksum {checksum:#x}, expected {EXPECTED_CHECKSUM:#x}");
        status = 1;
    }
    status
}

/// `ticks / reads` in tenths, rounded to nearest.
fn tenths_per_read(ticks: u64, reads: u64) -> u64 {
    ticks.saturating_mul(10).saturating_add(reads / 2) / reads.max(1)
}
