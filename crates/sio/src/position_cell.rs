//! Position cells: one `AtomicU64` per open SIO whose address never moves
//! while the SIO is open (synthesized routines bake it in).
//!
//! Owns [`CellPool`] and [`PositionCell`]. An open takes a cell from a
//! static pool (a bitmap of free cells, no heap traffic: an open + close
//! of `/dev/null` spent about 300 kernel instructions allocating and
//! freeing a heap cell); when the pool is exhausted it falls back to a
//! heap cell of its own, as before. A pooled cell returns to its pool
//! when the [`PositionCell`] drops (the SIO closed: its routines, which
//! baked the address, were retired first), so the next open may reuse
//! the address, as the heap would.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::SysError;

/// Cells in a pool word's bitmap.
const BITS: usize = 64;

/// A fixed set of `WORDS * 64` cells with a bitmap of the free ones
/// (bit set = free). Lock-free: taking a cell clears its bit with a
/// compare-exchange, giving it back sets it.
pub struct CellPool<const WORDS: usize> {
    free: [AtomicU64; WORDS],
    cells: [[AtomicU64; BITS]; WORDS],
}

impl<const WORDS: usize> CellPool<WORDS> {
    /// A pool with every cell free.
    pub const fn new() -> Self {
        Self {
            free: [const { AtomicU64::new(u64::MAX) }; WORDS],
            cells: [const { [const { AtomicU64::new(0) }; BITS] }; WORDS],
        }
    }

    /// A free cell, zeroed, and its number; `None` if every cell is taken.
    fn take(&'static self) -> Option<(&'static AtomicU64, u16)> {
        for (word, (bits, cells)) in self.free.iter().zip(&self.cells).enumerate() {
            let mut seen = bits.load(Ordering::Relaxed);
            while seen != 0 {
                let bit = seen.trailing_zeros() as usize;
                let taken = seen & !(1u64 << bit);
                match bits.compare_exchange_weak(seen, taken, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => {
                        let cell = cells.get(bit)?;
                        cell.store(0, Ordering::Relaxed);
                        let number = word.checked_mul(BITS)?.checked_add(bit)?;
                        return Some((cell, u16::try_from(number).ok()?));
                    }
                    Err(now) => seen = now,
                }
            }
        }
        None
    }

    /// Gives cell `number` back.
    fn give_back(&self, number: u16) {
        let number = usize::from(number);
        if let Some(bits) = self.free.get(number / BITS) {
            bits.fetch_or(1u64 << (number % BITS), Ordering::Release);
        }
    }

    /// Cells free now (for tests and leak checks).
    pub fn free_cells(&self) -> usize {
        self.free
            .iter()
            .map(|bits| bits.load(Ordering::Relaxed).count_ones() as usize)
            .sum()
    }
}

impl<const WORDS: usize> Default for CellPool<WORDS> {
    fn default() -> Self {
        Self::new()
    }
}

/// The SIOs' pool: 1,024 cells (8 KiB), more than the open SIOs of any
/// workload the bench and tests run; past them an open takes a heap cell.
pub static POSITION_CELLS: CellPool<16> = CellPool::new();

/// One SIO's position cell: from a pool, or on the heap when the pool
/// had none. Its address does not change while it lives.
pub enum PositionCell {
    /// Cell `number` of a static pool, given back on drop.
    Pooled {
        /// The pool's cell.
        cell: &'static AtomicU64,
        /// Its number in `pool`.
        number: u16,
        /// Its pool.
        pool: &'static CellPool<16>,
    },
    /// A heap cell (the pool was exhausted).
    Heap(Box<[AtomicU64; 1]>),
}

impl PositionCell {
    /// A zeroed cell from `pool`, else from the heap.
    ///
    /// # Errors
    /// [`SysError::NoMemory`] if the pool is exhausted and the heap too.
    pub fn new_in(pool: &'static CellPool<16>) -> Result<Self, SysError> {
        if let Some((cell, number)) = pool.take() {
            return Ok(Self::Pooled { cell, number, pool });
        }
        let mut v = Vec::new();
        v.try_reserve_exact(1).map_err(|_| SysError::NoMemory)?;
        v.push(AtomicU64::new(0));
        v.into_boxed_slice()
            .try_into()
            .map(Self::Heap)
            .map_err(|_| SysError::NoMemory)
    }

    /// A zeroed cell from [`POSITION_CELLS`], else from the heap.
    ///
    /// # Errors
    /// [`SysError::NoMemory`] if the pool is exhausted and the heap too.
    pub fn new() -> Result<Self, SysError> {
        Self::new_in(&POSITION_CELLS)
    }

    /// The cell.
    pub fn cell(&self) -> &AtomicU64 {
        match self {
            Self::Pooled { cell, .. } => cell,
            Self::Heap(boxed) => {
                let [cell] = &**boxed;
                cell
            }
        }
    }

    /// Whether it came from a pool (not the heap).
    pub const fn is_pooled(&self) -> bool {
        matches!(self, Self::Pooled { .. })
    }
}

impl Drop for PositionCell {
    fn drop(&mut self) {
        if let Self::Pooled { number, pool, .. } = self {
            pool.give_back(*number);
        }
    }
}

impl core::fmt::Debug for PositionCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PositionCell")
            .field("pooled", &self.is_pooled())
            .field("value", &self.cell().load(Ordering::Relaxed))
            .finish()
    }
}
