//! How long an SCPU runs before the next one: its quantum, clamped, scaled
//! by its priority, in timer ticks.

/// Highest priority (0 is the lowest), and the priority of a new SCPU
/// unless asked otherwise: the ABI's.
pub use sk_abi::{DEFAULT_PRIORITY, MAX_PRIORITY};
/// Quantum of a new SCPU unless asked otherwise (50 ms).
pub const DEFAULT_QUANTUM_US: u32 = 50_000;
/// Shortest quantum a program may set (100 µs).
pub const MIN_QUANTUM_US: u32 = 100;
/// Longest quantum a program may set (100 ms): with priority scaling an SCPU
/// holds the CPU at most 200 ms per round.
pub const MAX_QUANTUM_US: u32 = 100_000;

/// The quantum the kernel applies for a requested one (0 means default).
pub fn clamp_quantum_us(requested_us: u32) -> u32 {
    if requested_us == 0 {
        DEFAULT_QUANTUM_US
    } else {
        requested_us.clamp(MIN_QUANTUM_US, MAX_QUANTUM_US)
    }
}

/// Timer ticks an SCPU with `quantum_us` (clamped here too) and `priority`
/// runs per turn at `timer_hz`: `quantum × (priority + 1) / 4`, at least one.
pub fn quantum_ticks(quantum_us: u32, priority: u32, timer_hz: u64) -> u64 {
    let quantum = u64::from(clamp_quantum_us(quantum_us));
    let base = quantum.saturating_mul(timer_hz.max(1)) / 1_000_000;
    let scale = u64::from(priority.min(MAX_PRIORITY)).saturating_add(1);
    (base.saturating_mul(scale) / 4).max(1)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn quanta_are_clamped_and_scaled() {
        assert_eq!(clamp_quantum_us(0), DEFAULT_QUANTUM_US);
        assert_eq!(clamp_quantum_us(1), MIN_QUANTUM_US);
        assert_eq!(clamp_quantum_us(u32::MAX), MAX_QUANTUM_US);
        // 50 ms at 100 Hz: 5 ticks at priority 3, 10 at 7, 1 at 0.
        assert_eq!(quantum_ticks(50_000, 3, 100), 5);
        assert_eq!(quantum_ticks(50_000, 7, 100), 10);
        assert_eq!(quantum_ticks(50_000, 0, 100), 1);
        // The longest turn: 100 ms at priority 7 = 20 ticks at 100 Hz.
        assert_eq!(quantum_ticks(u32::MAX, u32::MAX, 100), 20);
        assert_eq!(quantum_ticks(100, 0, 100), 1);
    }
}
