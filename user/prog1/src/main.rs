//! `prog1`: Program 1 of the Synthesis paper (§4.2), on the native ABI.
//!
//! Opens `/dev/mem` read-only, makes 100,000 one-byte reads into a 4-byte
//! buffer, closes it. The loop is timed with the fenced TSC reads
//! ([`rdtsc`] before, [`rdtscp`] after); adding each byte to the checksum
//! costs one add per read, next to a kernel call.
//!
//! Start argument: 0 = normal calls (the synthesized routines); 1 = every
//! call forced down the kernel's generic path
//! ([`sk_user::set_generic_mode`]), and the lines say so.
//!
//! Prints exactly:
//!
//! ```text
//! prog1: 100000 reads of 1 byte from /dev/mem, checksum 0xc288b0
//! prog1: <ticks> TSC ticks, <ticks / 100000, one decimal> per read
//! ```
//!
//! or, with argument 1, the same with `prog1 (generic path):` in front.
//! The checksum is the wrapping `u64` sum of the bytes read: `/dev/mem`
//! byte `i` is `(i * 7 + 3) mod 256`, so it is always `0xc288b0` (12,748,976).
//! Exit status 0; 1 if `/dev/mem` cannot be opened, any read returned
//! anything but 1, or the checksum is not `0xc288b0` (so two runs that
//! exit 0 printed the same checksum).
#![no_std]
#![no_main]

use sk_user::{println, rdtsc, rdtscp, start_arg, OpenFlags, Sio};

sk_user::entry!(main);

/// Number of reads, as in the paper.
const READS: u64 = 100_000;

/// The checksum every correct run prints.
const EXPECTED_CHECKSUM: u64 = 0xc2_88b0;

fn main() -> i32 {
    let name = if start_arg() == 1 {
        sk_user::set_generic_mode(true);
        "prog1 (generic path)"
    } else {
        "prog1"
    };
    let mem = match Sio::open("/dev/mem", OpenFlags::READ) {
        Ok(mem) => mem,
        Err(error) => {
            println!("{name}: cannot open /dev/mem: {error}");
            return 1;
        }
    };
    let mut buf = [0_u8; 4];
    let mut checksum = 0_u64;
    let mut bad_reads = 0_u64;
    let start = rdtsc();
    for _ in 0..READS {
        match mem.read(&mut buf[..1]) {
            Ok(1) => checksum = checksum.wrapping_add(u64::from(buf[0])),
            _ => bad_reads += 1,
        }
    }
    let ticks = rdtscp().wrapping_sub(start);
    let _ = mem.close();

    println!("{name}: {READS} reads of 1 byte from /dev/mem, checksum {checksum:#x}");
    let tenths = tenths_per_read(ticks, READS);
    println!(
        "{name}: {ticks} TSC ticks, {}.{} per read",
        tenths / 10,
        tenths % 10
    );
    let mut status = 0;
    if bad_reads != 0 {
        println!("{name}: {bad_reads} reads did not return 1 byte");
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
