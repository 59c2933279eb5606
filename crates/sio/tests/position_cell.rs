//! Position cells on the host: a pooled cell is zeroed, distinct from every
//! live one and stable while it lives; it goes back to its pool on drop;
//! past the pool, cells come from the heap. Each test has a pool of its own
//! (the SIOs' static pool is shared by every test thread).

use sk_sio::{CellPool, PositionCell};
use std::collections::HashSet;
use std::sync::atomic::Ordering;

fn address(cell: &PositionCell) -> usize {
    std::ptr::from_ref(cell.cell()) as usize
}

#[test]
fn pooled_cells_are_zeroed_distinct_and_given_back() {
    static POOL: CellPool<16> = CellPool::new();
    let mut live = Vec::new();
    let mut seen = HashSet::new();
    for i in 0..16 * 64 {
        let cell = PositionCell::new_in(&POOL).unwrap();
        assert!(cell.is_pooled(), "cell {i} should come from the pool");
        assert_eq!(cell.cell().load(Ordering::Relaxed), 0);
        assert!(seen.insert(address(&cell)), "cell {i} is a live one's");
        // Dirty it: the next owner must still see 0.
        cell.cell().store(u64::MAX, Ordering::Relaxed);
        live.push(cell);
    }
    assert_eq!(POOL.free_cells(), 0);
    // Past the pool: the heap, still a distinct stable cell.
    let extra = PositionCell::new_in(&POOL).unwrap();
    assert!(!extra.is_pooled());
    assert!(seen.insert(address(&extra)));
    assert_eq!(extra.cell().load(Ordering::Relaxed), 0);
    // Dropping one gives exactly it back, zeroed for its next owner.
    let gone = address(&live.swap_remove(100));
    assert_eq!(POOL.free_cells(), 1);
    let again = PositionCell::new_in(&POOL).unwrap();
    assert!(again.is_pooled());
    assert_eq!(address(&again), gone);
    assert_eq!(again.cell().load(Ordering::Relaxed), 0);
    drop(again);
    drop(live);
    drop(extra);
    assert_eq!(POOL.free_cells(), 16 * 64);
}

#[test]
fn a_cell_does_not_move_with_its_owner() {
    static POOL: CellPool<16> = CellPool::new();
    let cell = PositionCell::new_in(&POOL).unwrap();
    let before = address(&cell);
    let moved = Box::new(cell);
    assert_eq!(address(&moved), before);
    moved.cell().store(7, Ordering::Relaxed);
    let back = *moved;
    assert_eq!(address(&back), before);
    assert_eq!(back.cell().load(Ordering::Relaxed), 7);
}

#[test]
fn cells_taken_by_several_threads_at_once_are_distinct() {
    static POOL: CellPool<16> = CellPool::new();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                (0..200)
                    .map(|_| PositionCell::new_in(&POOL).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let cells: Vec<PositionCell> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let addresses: HashSet<usize> = cells.iter().map(address).collect();
    assert_eq!(addresses.len(), 800);
    assert!(cells.iter().all(PositionCell::is_pooled));
    drop(cells);
    assert_eq!(POOL.free_cells(), 16 * 64);
}
