//! The pure computation of `worker`, kept apart from its `main` so it can
//! be tested on the host (`cargo test -p sk-user-worker`).
//!
//! # The formula
//!
//! For start argument `n`:
//!
//! - `limit  = 2000 + (n mod 65536)`
//! - `result = number of primes p with p < limit`
//! - `status = result mod 200`
//!
//! So a kernel test can predict the exit status: `n = 0` gives 303 primes
//! (status 103), `n = 7` gives 304 (104; 2003 is prime), `n = 42` gives 309
//! (109), `n = 1000` gives 430 (30). The modulus bounds the work (at most
//! 67,535 trial divisions up to 260 each) whatever `n` is.
#![no_std]
#![forbid(unsafe_code)]

/// The start argument's contribution to the limit is `n mod ARG_MODULUS`.
pub const ARG_MODULUS: u64 = 65_536;

/// The limit for `n = 0`.
pub const BASE_LIMIT: u64 = 2000;

/// Exit statuses are `result mod STATUS_MODULUS`.
pub const STATUS_MODULUS: u64 = 200;

/// Whether `value` is prime, by trial division.
#[must_use]
pub fn is_prime(value: u64) -> bool {
    if value < 4 {
        return value >= 2;
    }
    if value.is_multiple_of(2) {
        return false;
    }
    let mut divisor = 3_u64;
    // `divisor <= value / divisor` is `divisor² <= value` without overflow.
    while divisor <= value / divisor {
        if value.is_multiple_of(divisor) {
            return false;
        }
        divisor += 2;
    }
    true
}

/// How many primes lie below `limit`.
#[must_use]
pub fn count_primes_below(limit: u64) -> u64 {
    let count = (0..limit).filter(|&value| is_prime(value)).count();
    u64::try_from(count).unwrap_or(u64::MAX)
}

/// The worker's result for start argument `n` (see the crate docs).
#[must_use]
pub fn result(n: u64) -> u64 {
    count_primes_below(BASE_LIMIT + n % ARG_MODULUS)
}

/// The worker's exit status for start argument `n`: `result(n) mod 200`.
#[must_use]
pub fn status(n: u64) -> i32 {
    // Below 200: always fits.
    i32::try_from(result(n) % STATUS_MODULUS).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_primes() {
        let primes: [u64; 10] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29];
        let found = (0..30).filter(|&value| is_prime(value));
        assert!(found.eq(primes));
        assert!(is_prime(2003) && !is_prime(2001) && !is_prime(1));
        assert_eq!(count_primes_below(100), 25);
    }

    #[test]
    fn documented_results_and_statuses() {
        // (n, result, status), as in the crate docs; cross-checked with a sieve.
        let table = [
            (0, 303, 103),
            (1, 303, 103),
            (7, 304, 104),
            (42, 309, 109),
            (100, 317, 117),
            (1000, 430, 30),
            (65_535, 6728, 128),
            (65_536, 303, 103),
            (u64::MAX, 6728, 128),
        ];
        for (n, want_result, want_status) in table {
            assert_eq!(
                (result(n), status(n)),
                (want_result, want_status),
                "n = {n}"
            );
        }
    }
}
