//! Host tests for the frame bitmap.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate std;
use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::vec::Vec;

type Small = FrameBitmap<4>; // 256 frames, 1 MiB

#[test]
fn starts_with_nothing_free() {
    let mut b = Small::new();
    assert_eq!(b.free_count(), 0);
    assert_eq!(b.allocate(), None);
}

#[test]
fn add_free_rounds_inward_and_counts() {
    let mut b = Small::new();
    assert_eq!(b.add_free(100, 3 * FRAME_SIZE + 5), 2);
    assert!(b.is_free(FRAME_SIZE) && b.is_free(2 * FRAME_SIZE));
    assert!(!b.is_free(0) && !b.is_free(3 * FRAME_SIZE));
}

#[test]
fn reserve_rounds_outward() {
    let mut b = Small::new();
    b.add_free(0, 16 * FRAME_SIZE);
    assert_eq!(b.reserve(FRAME_SIZE + 1, 2 * FRAME_SIZE + 1), 2);
    assert_eq!(b.free_count(), 14);
    assert!(!b.is_free(FRAME_SIZE) && !b.is_free(2 * FRAME_SIZE));
}

#[test]
fn allocate_and_free_keep_count_exact() {
    let mut b = Small::new();
    b.add_free(0, Small::limit());
    let before = b.free_count();
    let frames: Vec<u64> = (0..100).map(|_| b.allocate().unwrap()).collect();
    assert_eq!(b.free_count(), before - 100);
    let unique: BTreeSet<u64> = frames.iter().copied().collect();
    assert_eq!(unique.len(), 100, "no frame handed out twice");
    for f in frames {
        b.free(f).unwrap();
    }
    assert_eq!(b.free_count(), before);
}

#[test]
fn exhaustion_returns_none() {
    let mut b = Small::new();
    b.add_free(0, 3 * FRAME_SIZE);
    assert!(b.allocate().is_some() && b.allocate().is_some() && b.allocate().is_some());
    assert_eq!(b.allocate(), None);
}

#[test]
fn double_free_is_an_error() {
    let mut b = Small::new();
    b.add_free(0, 8 * FRAME_SIZE);
    let f = b.allocate().unwrap();
    b.free(f).unwrap();
    assert_eq!(b.free(f), Err(FreeError::AlreadyFree));
}

#[test]
fn bad_frees_are_errors() {
    let mut b = Small::new();
    assert_eq!(b.free(7), Err(FreeError::Unaligned));
    assert_eq!(b.free(Small::limit()), Err(FreeError::OutOfRange));
}

#[test]
fn allocate_below_respects_limit() {
    let mut b = Small::new();
    b.add_free(64 * FRAME_SIZE, 128 * FRAME_SIZE);
    assert_eq!(b.allocate_below(64 * FRAME_SIZE), None);
    let f = b.allocate_below(65 * FRAME_SIZE).unwrap();
    assert_eq!(f, 64 * FRAME_SIZE);
}

#[test]
fn contiguous_run_is_contiguous_and_free() {
    let mut b = Small::new();
    b.add_free(0, 32 * FRAME_SIZE);
    b.reserve(3 * FRAME_SIZE, 4 * FRAME_SIZE);
    let start = b.allocate_contiguous(8).unwrap();
    assert_eq!(start, 4 * FRAME_SIZE);
    for i in 0..8 {
        assert!(!b.is_free(start + i * FRAME_SIZE));
    }
    assert_eq!(b.free_count(), 32 - 1 - 8);
    assert_eq!(b.allocate_contiguous(100), None);
}

#[test]
fn ranges_beyond_capacity_are_ignored() {
    let mut b = Small::new();
    assert_eq!(b.add_free(0, u64::MAX), 256);
    assert_eq!(b.reserve(Small::limit(), u64::MAX), 0);
}

proptest! {
    /// Random allocate/free sequences agree with a set-based model.
    #[test]
    fn matches_model(ops in proptest::collection::vec(any::<(bool, u8)>(), 0..400)) {
        let mut b = Small::new();
        b.add_free(0, Small::limit());
        let mut held: Vec<u64> = Vec::new();
        let mut model: BTreeSet<u64> = BTreeSet::new();
        for (alloc, pick) in ops {
            if alloc {
                match b.allocate() {
                    Some(f) => { prop_assert!(model.insert(f)); held.push(f); }
                    None => prop_assert_eq!(model.len(), 256),
                }
            } else if !held.is_empty() {
                let f = held.swap_remove(usize::from(pick) % held.len());
                prop_assert!(model.remove(&f));
                prop_assert_eq!(b.free(f), Ok(()));
            }
            prop_assert_eq!(b.free_count(), 256 - model.len());
        }
    }
}
