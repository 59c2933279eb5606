//! What `/dev/mem` shows: a fixed-size window of kernel-owned bytes with a
//! known pattern (never arbitrary physical memory), so programs can check
//! what they read.
//!
//! Owns [`DEV_MEM_BYTES`] and [`dev_mem_byte`], the one definition the
//! kernel fills the window from and test and benchmark programs check
//! against.

/// Size of the `/dev/mem` window: reads past it return 0 bytes.
pub const DEV_MEM_BYTES: u64 = 16 << 20;

/// Byte `offset` of the `/dev/mem` window.
#[allow(clippy::arithmetic_side_effects)] // wrapping by definition
pub const fn dev_mem_byte(offset: u64) -> u8 {
    let [byte, ..] = offset.wrapping_mul(7).wrapping_add(3).to_le_bytes();
    byte
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_starts_3_10_17() {
        assert_eq!(
            [dev_mem_byte(0), dev_mem_byte(1), dev_mem_byte(2)],
            [3, 10, 17]
        );
        assert_eq!(dev_mem_byte(37), ((37u64 * 7 + 3) % 256).to_le_bytes()[0]);
    }
}
