//! The suite's files and data: the byte pattern and the two RAM files.
//!
//! Owns [`fill_pattern`] (byte `i` is `(i * 7 + 3) mod 256`, as Synthesis's
//! `/dev/mem`), [`Fixture`] (`/tmp/bench-data` and `/tmp/bench-write`, 1 MiB
//! each, written before any metric runs).

use crate::os::{Access, File};
use crate::paths::{DATA_FILE, WRITE_FILE};
use crate::suite::Failure;

/// Size of each RAM file.
pub(crate) const FILE_BYTES: usize = 1 << 20;

/// Fills `buf` with the pattern as it runs from byte `offset` on.
pub(crate) fn fill_pattern(buf: &mut [u8], offset: u64) {
    for (index, byte) in (offset..).zip(buf.iter_mut()) {
        *byte = sk_abi::dev_mem_byte(index);
    }
}

/// The two RAM files, created and filled.
pub(crate) struct Fixture;

impl Fixture {
    /// Creates `/tmp/bench-data` and `/tmp/bench-write` with [`FILE_BYTES`]
    /// of the pattern each, so reads never hit the end and writes stay
    /// within the files' capacity.
    pub(crate) fn create() -> Result<Self, Failure> {
        for path in [DATA_FILE, WRITE_FILE] {
            let file = File::open(path, Access::CreateTruncate)
                .map_err(|e| Failure::os("create a RAM file", e))?;
            let mut chunk = [0_u8; 4096];
            fill_pattern(&mut chunk, 0);
            let mut written = 0;
            while written < FILE_BYTES {
                match file.write(&chunk) {
                    Ok(n) if n > 0 => written += n,
                    Ok(n) => return Err(Failure::Short("fill a RAM file", n)),
                    Err(e) => return Err(Failure::os("fill a RAM file", e)),
                }
            }
            file.close()
                .map_err(|e| Failure::os("close a RAM file", e))?;
        }
        Ok(Self)
    }
}
